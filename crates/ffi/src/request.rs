//! Scan requests: the inputs (files and trees, container images, or a repository's history),
//! rules, suppressions and settings of one scan, as `capstan scan` takes them on its command
//! line (core's `scan::Request`).

use std::ffi::c_char;
use std::path::PathBuf;
use std::sync::Arc;

use core_capstan::exec::MAX_THREADS;
use core_capstan::git::GitOptions;
use core_capstan::image::{ImageOptions, ImageSource, Platform};
use core_capstan::scan::{
    CachePolicy, Confidence, IgnoreFiles, PACKS, Request, RuleSources, Rules, Shard,
    SharedCacheOptions, WalkOptions,
};

use crate::{
    FfiError, boundary, c_path, c_text, capstan_findings, capstan_rules, capstan_status, give,
    handle, handle_mut, out_param, put, take,
};

/// What a request scans: one kind of source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Files,
    Images,
    Git,
}

impl Source {
    /// The source, and the call that gives it, as a message names them.
    fn named(self) -> &'static str {
        match self {
            Source::Files => "files and trees (capstan_request_add_input)",
            Source::Images => "images (capstan_request_add_image)",
            Source::Git => "a repository (capstan_request_set_git)",
        }
    }
}

/// What to scan and how. Made by `capstan_request_new` with the defaults of `capstan scan`
/// (every built-in pack, `.capstanignore` files discovered, secrets redacted, one thread per
/// core, files over 10 MiB skipped) except the cache, which is off until
/// `capstan_request_set_cache_dir` names one. A request scans one kind of source: files and trees
/// (`capstan_request_add_input`), container images (`capstan_request_add_image`) or a
/// repository's history (`capstan_request_set_git`). Set it up from one thread; once set up,
/// `capstan_request_run` may run it from any number of threads at once.
pub struct capstan_request {
    inputs: Vec<PathBuf>,
    /// Images as given (each checked to parse as an `ImageSource` when added).
    images: Vec<String>,
    /// Platform, concurrent pulls and plain HTTP for `images`.
    image_options: ImageOptions,
    /// A repository and which part of it (`capstan_request_set_git`).
    git: Option<(PathBuf, GitOptions)>,
    /// Compiled rules (`capstan_request_set_rules`), or `None` for `sources`.
    rules: Option<Arc<Rules>>,
    /// Packs and a config, loaded and compiled on each run.
    sources: RuleSources,
    baselines: Vec<PathBuf>,
    /// Named ignore files: when any is named, no ignore file is discovered.
    ignore_files: Vec<PathBuf>,
    /// Whether `.capstanignore` files are looked for (when none is named).
    discover: bool,
    redact: bool,
    /// As asked (0: one per core), checked when set.
    threads: usize,
    max_file_size: u64,
    cache_dir: Option<PathBuf>,
    /// The shared cache level (`capstan_request_set_cache_url`).
    shared_cache: Option<SharedCacheOptions>,
    /// This request's part of a scan split across jobs (`capstan_request_set_shard`).
    shard: Option<Shard>,
    /// The least confidence a reported finding has (`capstan_request_set_min_confidence`).
    min_confidence: Confidence,
}

impl std::fmt::Debug for capstan_request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "capstan_request({} inputs, {} images, {} repository)",
            self.inputs.len(),
            self.images.len(),
            usize::from(self.git.is_some())
        )
    }
}

impl Default for capstan_request {
    fn default() -> Self {
        let walk = WalkOptions::default();
        capstan_request {
            inputs: Vec::new(),
            images: Vec::new(),
            image_options: ImageOptions::default(),
            git: None,
            rules: None,
            sources: RuleSources::default(),
            baselines: Vec::new(),
            ignore_files: Vec::new(),
            discover: true,
            redact: walk.redact,
            threads: walk.threads,
            max_file_size: walk.max_file_size,
            cache_dir: None,
            shared_cache: None,
            shard: None,
            min_confidence: Confidence::default(),
        }
    }
}

impl capstan_request {
    /// The core request this describes.
    fn to_core(&self) -> Request {
        let options = WalkOptions {
            threads: self.threads,
            redact: self.redact,
            max_file_size: self.max_file_size,
            ..WalkOptions::default()
        };
        let mut request = if let Some((repo, options)) = &self.git {
            Request::git(repo, options.clone())
        } else if self.images.is_empty() {
            Request::new(&self.inputs)
        } else {
            Request::images(self.images.iter().cloned())
        };
        request = request
            .options(options)
            .image_options(self.image_options.clone());
        request = match &self.rules {
            Some(rules) => request.rules(Arc::clone(rules)),
            None => request.rule_sources(self.sources.clone()),
        };
        for b in &self.baselines {
            request = request.baseline(b);
        }
        let ignore = if !self.ignore_files.is_empty() {
            IgnoreFiles::Only(self.ignore_files.clone())
        } else if self.discover {
            IgnoreFiles::Discover
        } else {
            IgnoreFiles::Only(Vec::new())
        };
        request = request.ignore_files(ignore).cache(match &self.cache_dir {
            Some(dir) => CachePolicy::Dir(dir.clone()),
            None => CachePolicy::Off,
        });
        if let Some(shared) = &self.shared_cache {
            request = request.shared_cache(shared.clone());
        }
        if let Some(shard) = self.shard {
            request = request.shard(shard);
        }
        request.min_confidence(self.min_confidence)
    }

    /// The kind of source the request has, if any yet.
    fn source(&self) -> Option<Source> {
        if self.git.is_some() {
            Some(Source::Git)
        } else if !self.images.is_empty() {
            Some(Source::Images)
        } else if !self.inputs.is_empty() {
            Some(Source::Files)
        } else {
            None
        }
    }

    /// Refuses `what`, a source of kind `kind`, when the request has another kind.
    fn one_kind(&self, what: &str, kind: Source) -> Result<(), FfiError> {
        match self.source() {
            Some(has) if has != kind => Err(FfiError::invalid(format!(
                "{what}: the request scans {}; a request scans one kind of source: files and \
                 trees, images or a repository",
                has.named()
            ))),
            _ => Ok(()),
        }
    }

    /// Refuses packs or a config once compiled rules were given.
    fn sources_allowed(&self, what: &str) -> Result<(), FfiError> {
        if self.rules.is_some() {
            return Err(FfiError::invalid(format!(
                "{what}: the request already has rules (capstan_request_set_rules); packs and a \
                 config are the other way to give them, not an addition"
            )));
        }
        Ok(())
    }
}

/// Runs a setter's work on the request behind `req`.
///
/// # Safety
/// `req` is NULL or a live handle used by no other thread meanwhile.
unsafe fn set(
    req: *mut capstan_request,
    f: impl FnOnce(&mut capstan_request) -> Result<(), FfiError>,
) -> capstan_status {
    boundary(|| {
        // SAFETY: forwarded from the caller.
        let r = unsafe { handle_mut(req, "req") }?;
        f(r)
    })
}

/// A new request with the defaults of `capstan scan` (see `capstan_request`) and nothing to scan
/// yet: add inputs with `capstan_request_add_input`.
///
/// # Safety
/// `out` points at writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_new(out: *mut *mut capstan_request) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: `out` was checked above.
        unsafe { put(out, give(capstan_request::default())) };
        Ok(())
    })
}

/// Adds an input: a file, a directory (walked), a tar / tar.gz archive (scanned inside), or
/// `-` for standard input. Findings report paths as given here. An input that does not exist
/// or cannot be read does not fail the run: it is listed by `capstan_findings_error`, as
/// `capstan scan` reports it. A request that has images (`capstan_request_add_image`) or a
/// repository (`capstan_request_set_git`) refuses inputs with `CAPSTAN_ERR_INVALID_ARGUMENT`: it
/// scans one kind of source.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile; `path` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_add_input(
    req: *mut capstan_request,
    path: *const c_char,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        // SAFETY: the caller promises a NUL-terminated string.
        let path = unsafe { c_path(path, "path") }?;
        r.one_kind(&path.display().to_string(), Source::Files)?;
        r.inputs.push(path.to_path_buf());
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Adds a container image to scan: a registry reference in docker's short form (`alpine`,
/// `ghcr.io/org/app:1.2`, `127.0.0.1:5000/team/app:v1`, `…@sha256:…`, optionally `docker://` in
/// front), an OCI image layout `oci:DIR[:TAG]` (without a tag the layout must hold one image) or
/// a `docker save` archive `docker-archive:FILE`. Every other setting applies as to files
/// (rules, baselines, ignore files, redaction, threads, size limit, cache: a layer scanned
/// before is not pulled again); `capstan_request_set_platform`, `_set_pulls` and
/// `_set_insecure` say how images are pulled. Registry credentials are resolved as the docker
/// CLI does (see `capstan_auth_header`).
///
/// Findings of an image carry where they were made: `capstan_findings_image`, the manifest
/// digest, the platform, the layer (index and digest) and the layer that deleted the file. Their
/// path is the file's inside the layer (`etc/app/.env`), or `config:…` for the image config's
/// `Env`, `Labels`, `Cmd`, `Entrypoint` and history (`config:Env[1]`). An image that cannot be
/// read (not found, unreachable, refused, not matching its digest, no image for the platform)
/// does not fail the run: it is listed by `capstan_findings_error` as `IMAGE: cause`, a layer
/// that cannot be read as `IMAGE@layerN: cause`.
///
/// Text that is not UTF-8 or not an image reference is `CAPSTAN_ERR_INVALID_ARGUMENT` (the
/// message says why), as is an image added to a request that has inputs
/// (`capstan_request_add_input`) or a repository (`capstan_request_set_git`): a request scans one
/// kind of source.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile; `image` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_add_image(
    req: *mut capstan_request,
    image: *const c_char,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        // SAFETY: the caller promises a NUL-terminated string.
        let image = unsafe { c_text(image, "image") }?;
        image_source(image)?;
        r.one_kind(image, Source::Images)?;
        r.images.push(image.to_owned());
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// `image` parsed as core parses it on a run, its error an invalid argument.
pub(crate) fn image_source(image: &str) -> Result<ImageSource, FfiError> {
    image
        .parse::<ImageSource>()
        .map_err(|e| FfiError::invalid(e.to_string()))
}

/// The platform to pick from a multi-platform image: `os/arch` or `os/arch/variant`
/// (`linux/amd64`, `linux/arm64/v8`); NULL for the default, this host's platform (`linux` and
/// this CPU), as docker pulls. Anything else is `CAPSTAN_ERR_INVALID_ARGUMENT` and leaves the
/// request as it was. A single-platform image is scanned whatever its platform.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile; `platform` is NULL or
/// NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_set_platform(
    req: *mut capstan_request,
    platform: *const c_char,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        if platform.is_null() {
            r.image_options.platform = None;
            return Ok(());
        }
        // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
        let text = unsafe { c_text(platform, "platform") }?;
        let p = text.parse::<Platform>().map_err(FfiError::invalid)?;
        r.image_options.platform = Some(p);
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Layers pulled (and scanned) at once, across all the request's images (default 3). 0, or
/// more than 1024, is `CAPSTAN_ERR_INVALID_ARGUMENT` (refused, not adjusted) and leaves the
/// request as it was.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_set_pulls(
    req: *mut capstan_request,
    pulls: u32,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        let n = usize::try_from(pulls).unwrap_or(usize::MAX);
        if n == 0 || n > MAX_THREADS {
            return Err(FfiError::invalid(format!(
                "{pulls} concurrent pulls: use 1 to {MAX_THREADS}"
            )));
        }
        r.image_options.pulls = n;
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Whether images may be pulled over plain HTTP from any registry (and its token server), not
/// only from loopback ones (default: off — HTTPS except to `localhost`, `127.0.0.0/8` and
/// `[::1]`).
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_set_insecure(
    req: *mut capstan_request,
    on: bool,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        r.image_options.insecure = on;
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Scans the history of the git repository at `repo` (a work tree or a bare repository; not a
/// directory inside one): every blob reachable from its refs (branches, tags, remotes, the
/// stash and its older entries), each unique blob once, read in-process. A finding is reported
/// at the commit that first had its blob (oldest in history order), with its path there:
/// `capstan_findings_commit`, `_author`, `_email`, `_date`, `_message` say which; and
/// `capstan_findings_commits` counts the commits walked. As `capstan git` takes them:
///
/// - `since` (NULL for none): only history after this revision (`v1.2`, `main`, an id): what it
///   reaches is left out;
/// - `branch` (NULL for every ref): only what this revision reaches (with `since`,
///   `since..branch`);
/// - `staged`: instead of history, what `git commit` would record: the staged files that differ
///   from `HEAD`, at their index paths, reporting only the lines they add (for a pre-commit
///   hook). Their findings have no commit (`capstan_findings_commit` is NULL).
///
/// Every other setting applies as to files (rules, baselines, ignore files — discovery looks in
/// the current directory and the repository's —, redaction, threads, cache: a blob scanned
/// before with the same rules is not read again); the size limit (`capstan_request_set_max_file_size`) is per blob.
/// A repository that cannot be opened, or a `since` or `branch` that does not resolve, does not
/// fail the run: it is listed by `capstan_findings_error` as `REPO: cause`, as are objects that
/// cannot be read (`REPO: commit …`, `PATH (blob …)`) beside the findings of the rest.
///
/// Setting it again replaces the repository and its options. `repo` NULL or empty, `since` or
/// `branch` empty or not UTF-8, `staged` with `since` or `branch` (they select history; staged
/// changes are not history), and a request that has inputs or images are
/// `CAPSTAN_ERR_INVALID_ARGUMENT`, leaving the request as it was: a request scans one kind of
/// source.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile; `repo` is NUL-terminated; `since`
/// and `branch` are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_set_git(
    req: *mut capstan_request,
    repo: *const c_char,
    since: *const c_char,
    branch: *const c_char,
    staged: bool,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        // SAFETY: the caller promises a NUL-terminated string.
        let repo = unsafe { c_path(repo, "repo") }?;
        // SAFETY: the caller promises NULL or NUL-terminated strings.
        let (since, branch) = unsafe { (revision(since, "since")?, revision(branch, "branch")?) };
        if staged && (since.is_some() || branch.is_some()) {
            return Err(FfiError::invalid(
                "staged with since or branch: those select history, and what the next commit \
                 would add is not history yet; give one or the other",
            ));
        }
        r.one_kind(&repo.display().to_string(), Source::Git)?;
        let options = GitOptions {
            since,
            branch,
            staged,
        };
        r.git = Some((repo.to_path_buf(), options));
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// A revision argument: NULL for none; otherwise non-empty UTF-8 text.
///
/// # Safety
/// `p` is NULL or a NUL-terminated string.
unsafe fn revision(p: *const c_char, what: &str) -> Result<Option<String>, FfiError> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
    let text = unsafe { c_text(p, what) }?;
    if text.is_empty() {
        return Err(FfiError::invalid(format!(
            "{what} is empty (NULL means none)"
        )));
    }
    Ok(Some(text.to_owned()))
}

/// Scans with these compiled rules (shared, not copied: `rules` may be freed afterwards). The
/// alternative to packs and a config: a request that named some already refuses them with
/// `CAPSTAN_ERR_INVALID_ARGUMENT`. Setting rules again replaces them.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile; `rules` is a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_set_rules(
    req: *mut capstan_request,
    rules: *const capstan_rules,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        // SAFETY: the caller promises a live rules handle or NULL.
        let rules = Arc::clone(&unsafe { handle(rules, "rules") }?.rules);
        if r.sources != RuleSources::default() {
            return Err(FfiError::invalid(
                "rules: the request already names packs or a config; compiled rules are the \
                 other way to give them, not an addition",
            ));
        }
        r.rules = Some(rules);
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Adds a built-in pack by name (`secrets`, `crypto`, `threats`, `dockerfile`; an unknown name
/// is `CAPSTAN_ERR_INVALID_ARGUMENT`). Packs and a config are loaded and compiled on each run,
/// as `capstan scan --rules` / `--config` do: with neither, every pack; with a config alone,
/// only its rules; with both, the config's rules then the packs.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile; `name` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_add_pack(
    req: *mut capstan_request,
    name: *const c_char,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        // SAFETY: the caller promises a NUL-terminated string.
        let name = unsafe { c_text(name, "name") }?;
        r.sources_allowed("pack")?;
        if !PACKS.contains(&name) {
            return Err(FfiError::invalid(format!(
                "unknown rule pack {name:?} (the packs are {})",
                PACKS.join(", ")
            )));
        }
        r.sources.packs.push(name.to_owned());
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Takes the rules from a config file (capstan's format or a gitleaks config, unchanged),
/// loaded on each run; see `capstan_request_add_pack` for how it combines with packs. Setting it
/// again replaces the file. A config that cannot be read makes the run fail with
/// `CAPSTAN_ERR_IO`, an invalid one with `CAPSTAN_ERR_CONFIG`.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile; `path` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_set_config(
    req: *mut capstan_request,
    path: *const c_char,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        // SAFETY: the caller promises a NUL-terminated string.
        let path = unsafe { c_path(path, "path") }?;
        r.sources_allowed("config")?;
        r.sources.config = Some(path.to_path_buf());
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Adds a baseline: every finding of that previous JSON report (`capstan scan --format json`,
/// a JSON array of findings, or JSON Lines) is left out, and counted by
/// `capstan_findings_suppressed`. Read on each run: a baseline that cannot be read makes it fail
/// with `CAPSTAN_ERR_IO` (the message names it), one that is not a report with
/// `CAPSTAN_ERR_CONFIG`.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile; `path` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_add_baseline(
    req: *mut capstan_request,
    path: *const c_char,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        // SAFETY: the caller promises a NUL-terminated string.
        let path = unsafe { c_path(path, "path") }?;
        r.baselines.push(path.to_path_buf());
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Adds an ignore file (fingerprints, or gitleaks' `path:rule:line`, one per line). Naming one
/// turns discovery off, as `capstan scan --ignore-file` does: only the files named apply. Read
/// on each run: one that cannot be read makes it fail with `CAPSTAN_ERR_IO`.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile; `path` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_add_ignore_file(
    req: *mut capstan_request,
    path: *const c_char,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        // SAFETY: the caller promises a NUL-terminated string.
        let path = unsafe { c_path(path, "path") }?;
        r.ignore_files.push(path.to_path_buf());
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Whether `.capstanignore` in the current directory and in each directory named as an input
/// (not in subdirectories the walk finds) applies (default: on, as in `capstan scan`). Turning
/// it on once ignore files are named is
/// `CAPSTAN_ERR_INVALID_ARGUMENT`: named files replace discovery.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_set_ignore_discovery(
    req: *mut capstan_request,
    on: bool,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        if on && !r.ignore_files.is_empty() {
            return Err(FfiError::invalid(
                "ignore files are named (capstan_request_add_ignore_file): they replace \
                 discovery, which cannot be turned back on",
            ));
        }
        r.discover = on;
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Whether secrets are redacted in findings (default: on, their first characters and `…`). An
/// unredacted scan never reads or writes the cache.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_set_redact(
    req: *mut capstan_request,
    on: bool,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        r.redact = on;
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Worker threads: 0 (the default) means one per core; more than 1024 is
/// `CAPSTAN_ERR_INVALID_ARGUMENT` (refused, not lowered) and leaves the request as it was.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_set_threads(
    req: *mut capstan_request,
    threads: u32,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        crate::threads(threads)?;
        r.threads = usize::try_from(threads).unwrap_or(usize::MAX);
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Files larger than `bytes` are skipped (and listed); default 10 MiB. Archives given as inputs
/// are exempt; in a repository's history the limit is per blob. 0 is
/// `CAPSTAN_ERR_INVALID_ARGUMENT`: it would skip every file.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_set_max_file_size(
    req: *mut capstan_request,
    bytes: u64,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        if bytes == 0 {
            return Err(FfiError::invalid(
                "a maximum file size of 0 skips every file: nothing would be scanned",
            ));
        }
        r.max_file_size = bytes;
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Keeps results in the cache in directory `dir` (its `scan.redb`), keyed by content and rule
/// set, so unchanged files are not scanned again by the next run. Default: no cache. A cache
/// that cannot be opened is passed over, never an error.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile; `dir` is NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_set_cache_dir(
    req: *mut capstan_request,
    dir: *const c_char,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        // SAFETY: the caller promises a NUL-terminated string.
        let dir = unsafe { c_path(dir, "dir") }?;
        r.cache_dir = Some(dir.to_path_buf());
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Adds a cache level shared by every machine that scans with the same rules: Redis (or
/// Valkey, KeyDB, Dragonfly) at `url`, `redis://[user:password@]host[:port][/db]` or `rediss://`
/// for TLS. Lookups go to the local cache (`capstan_request_set_cache_dir`) first, then to this
/// level; new results are written to both (without a cache dir, to this level alone). Entries
/// live `ttl_seconds` (0: 30 days); one call may take `timeout_ms` (0: 200 ms). A server that is
/// down, refuses or is slow never fails a run: the level is given up for that run and the
/// results are the same. Unredacted scans use no cache. NULL `url` removes the level. A URL
/// that is not one is `CAPSTAN_ERR_INVALID_ARGUMENT` from `capstan_request_run`, naming it
/// without its password.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile; `url` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_set_cache_url(
    req: *mut capstan_request,
    url: *const c_char,
    ttl_seconds: u64,
    timeout_ms: u32,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        if url.is_null() {
            r.shared_cache = None;
            return Ok(());
        }
        // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
        let url = unsafe { c_text(url, "url") }?;
        let mut o = SharedCacheOptions::new(url);
        if ttl_seconds != 0 {
            o.ttl = std::time::Duration::from_secs(ttl_seconds);
        }
        if timeout_ms != 0 {
            o.timeout = std::time::Duration::from_millis(u64::from(timeout_ms));
        }
        r.shared_cache = Some(o);
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Scans only part `index` of `count` (1-based) of the work, for jobs that split one scan and
/// merge their JSON reports (`capstan merge`): files by their path as given, a history's blobs
/// by path, images whole — a stable partition, the same on every machine. `count` 0 removes
/// the split; `index` 0 or above `count` is `CAPSTAN_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_set_shard(
    req: *mut capstan_request,
    index: u32,
    count: u32,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        if count == 0 {
            r.shard = None;
            return Ok(());
        }
        r.shard = Some(Shard::new(index, count).map_err(|e| FfiError::invalid(e.to_string()))?);
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Reports only findings of at least this confidence: `"low"`, `"medium"` (the default) or
/// `"high"` (a token in its provider's own format, or verified by its checksum). Low-confidence
/// matches are those in documentation, examples and vendored code; the ones left out are counted
/// by `capstan_findings_below_confidence`. NULL restores the default; any other text is
/// `CAPSTAN_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `req` is a live handle used by no other thread meanwhile; `level` is NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_set_min_confidence(
    req: *mut capstan_request,
    level: *const c_char,
) -> capstan_status {
    let f = |r: &mut capstan_request| {
        if level.is_null() {
            r.min_confidence = Confidence::default();
            return Ok(());
        }
        // SAFETY: non-NULL, and the caller promises a NUL-terminated string.
        let text = unsafe { c_text(level, "level") }?;
        r.min_confidence = text.parse::<Confidence>().map_err(FfiError::invalid)?;
        Ok(())
    };
    // SAFETY: forwarded from the caller.
    unsafe { set(req, f) }
}

/// Runs the request: compiles its rules (packs, config), reads its baselines and ignore files,
/// walks its inputs (or pulls its images, or reads its repository's history), and gives the
/// findings that were not suppressed — in order (path, line, column, rule); for images, image by
/// image, each image's config first, then layer by layer from the base, in that order inside
/// each — with the files, images, layers, repositories and objects that could not be read
/// (`capstan_findings_errors_len`), the number suppressed (`capstan_findings_suppressed`), for
/// images how layers were answered (`capstan_findings_layers_pulled`, `_layers_cached`,
/// `_layers_shared`) and for a repository the commits walked (`capstan_findings_commits`). The
/// request is left as it was: it may run again, from any number of threads at once.
///
/// Errors, with a message naming the file or setting at fault: no input, image or repository is
/// `CAPSTAN_ERR_INVALID_ARGUMENT`; a config, baseline or ignore file that cannot be read is
/// `CAPSTAN_ERR_IO`; an invalid config or a baseline that is not a report is
/// `CAPSTAN_ERR_CONFIG`.
///
/// # Safety
/// `req` is a live handle not being set up by another thread meanwhile; `out` points at
/// writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_run(
    req: *const capstan_request,
    out: *mut *mut capstan_findings,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises a live handle or NULL.
        let r = unsafe { handle(req, "req") }?;
        let outcome = r.to_core().prepare()?.run();
        capstan_findings::from_outcome(outcome).give_to(out);
        Ok(())
    })
}

/// Frees a request; NULL is accepted. Findings it gave stay valid.
///
/// # Safety
/// `req` is NULL or a handle from `capstan_request_new`, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_request_free(req: *mut capstan_request) {
    // SAFETY: forwarded from the caller.
    unsafe { take(req) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{TempDir, c, last_error, oci_layout, tar};
    use crate::{
        capstan_finding, capstan_findings_algorithm, capstan_findings_author,
        capstan_findings_commit, capstan_findings_commits, capstan_findings_date,
        capstan_findings_email, capstan_findings_error, capstan_findings_errors_len,
        capstan_findings_free, capstan_findings_get, capstan_findings_image,
        capstan_findings_layer_digest, capstan_findings_layer_index,
        capstan_findings_layers_cached, capstan_findings_layers_pulled,
        capstan_findings_layers_shared, capstan_findings_len, capstan_findings_manifest_digest,
        capstan_findings_message, capstan_findings_platform, capstan_findings_quantum_class,
        capstan_findings_removed_in_layer, capstan_findings_suppressed, capstan_findings_tags,
        capstan_findings_to_json, capstan_rules_builtin, capstan_rules_free, capstan_scan_bytes,
        capstan_scan_git, capstan_scan_image, capstan_string_free,
    };
    use std::ffi::CStr;
    use std::path::Path;

    const TOKENS: [&str; 3] = [
        "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",
        "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",
        "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",
    ];

    /// A tree with three tokens (`a/.env`, `b/.env`, `c/.env`) and an MD5 call (`app.py`).
    fn tree(name: &str) -> TempDir {
        let t = TempDir::new(name);
        let dir = &t.0;
        for (sub, token) in ["a", "b", "c"].iter().zip(TOKENS) {
            std::fs::create_dir_all(dir.join(sub)).expect("mkdir");
            std::fs::write(
                dir.join(sub).join(".env"),
                format!("GITHUB_TOKEN={token}\n"),
            )
            .expect("write");
        }
        std::fs::write(
            dir.join("app.py"),
            "import hashlib\ndigest = hashlib.md5(data).hexdigest()\n",
        )
        .expect("write");
        t
    }

    fn new_request() -> *mut capstan_request {
        let mut req = std::ptr::null_mut();
        // SAFETY: a local out-parameter.
        let st = unsafe { capstan_request_new(&raw mut req) };
        assert_eq!(st, capstan_status::CAPSTAN_OK);
        req
    }

    fn run(req: *const capstan_request) -> Result<*mut capstan_findings, capstan_status> {
        let mut out = std::ptr::null_mut();
        // SAFETY: a live request and a local out-parameter.
        match unsafe { capstan_request_run(req, &raw mut out) } {
            capstan_status::CAPSTAN_OK => Ok(out),
            st => {
                assert!(out.is_null(), "out written on failure");
                Err(st)
            }
        }
    }

    fn str_of(p: *const c_char) -> Option<String> {
        // SAFETY: a NULL or live NUL-terminated string borrowed from live findings.
        (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
    }

    /// (path, fingerprint, algorithm, quantum class) of each finding.
    fn rows(f: *const capstan_findings) -> Vec<(String, String, Option<String>, Option<String>)> {
        // SAFETY: live findings; each index is in range.
        unsafe {
            (0..capstan_findings_len(f))
                .map(|i| {
                    let mut one = std::mem::MaybeUninit::<capstan_finding>::uninit();
                    assert_eq!(
                        capstan_findings_get(f, i, one.as_mut_ptr()),
                        capstan_status::CAPSTAN_OK
                    );
                    let one = one.assume_init();
                    (
                        str_of(one.path).unwrap_or_default(),
                        str_of(one.fingerprint).unwrap_or_default(),
                        str_of(capstan_findings_algorithm(f, i)),
                        str_of(capstan_findings_quantum_class(f, i)),
                    )
                })
                .collect()
        }
    }

    #[test]
    fn baselines_and_ignore_files_suppress_and_are_counted() {
        let t = tree("request");
        let req = new_request();
        let mut rules = std::ptr::null_mut();
        // SAFETY: live handles, literals and local out-parameters throughout.
        unsafe {
            assert_eq!(
                capstan_rules_builtin(c"secrets,crypto".as_ptr(), &raw mut rules),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_add_input(req, c(&t.0).as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_set_rules(req, rules),
                capstan_status::CAPSTAN_OK
            );
            capstan_rules_free(rules); // the request holds its own reference
            assert_eq!(
                capstan_request_set_threads(req, 2),
                capstan_status::CAPSTAN_OK
            );
        }
        let first = run(req).expect("first run");
        let all = rows(first);
        assert_eq!(all.len(), 4, "{all:?}");
        let fp = |sub: &str| {
            all.iter()
                .find(|r| r.0.ends_with(&format!("{sub}/.env")))
                .map(|r| r.1.clone())
                .unwrap_or_default()
        };
        let crypto = all.iter().find(|r| r.0.ends_with("app.py"));
        assert_eq!(
            crypto.map(|r| (r.2.as_deref(), r.3.as_deref())),
            Some((Some("MD5"), Some("weak")))
        );
        let i_crypto = all.iter().position(|r| r.0.ends_with("app.py"));
        let i_secret = all.iter().position(|r| r.0.ends_with("a/.env"));
        // SAFETY: live findings; NULL findings.
        unsafe {
            let tags = str_of(capstan_findings_tags(first, i_crypto.unwrap_or(99)));
            assert!(tags.is_some_and(|t| t.contains("hash")));
            let i = i_secret.unwrap_or(99);
            assert_eq!(capstan_findings_algorithm(first, i), std::ptr::null());
            assert_eq!(capstan_findings_tags(first, 99), std::ptr::null());
            assert_eq!(capstan_findings_suppressed(first), 0);
            assert_eq!(capstan_findings_suppressed(std::ptr::null()), 0);
            capstan_findings_free(first);
        }

        let baseline = t.0.join("baseline.json");
        std::fs::write(
            &baseline,
            format!("{{\"findings\":[{{\"fingerprint\":\"{}\"}}]}}", fp("a")),
        )
        .expect("write");
        let ignore = t.0.join("ignore");
        std::fs::write(&ignore, format!("# known\n{}\n", fp("b"))).expect("write");
        // SAFETY: a live request and live strings.
        unsafe {
            assert_eq!(
                capstan_request_add_baseline(req, c(&baseline).as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_add_ignore_file(req, c(&ignore).as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_set_ignore_discovery(req, true),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
        }
        let second = run(req).expect("second run");
        let left = rows(second);
        // SAFETY: live findings, freed once.
        unsafe {
            assert_eq!(capstan_findings_suppressed(second), 2, "{left:?}");
            capstan_findings_free(second);
        }
        let paths: Vec<&str> = left.iter().map(|r| r.0.as_str()).collect();
        assert!(
            paths.len() == 2
                && paths.iter().any(|p| p.ends_with("c/.env"))
                && paths.iter().any(|p| p.ends_with("app.py")),
            "{paths:?}"
        );

        // A baseline that is not there: an I/O error naming it, and nothing written.
        let missing = t.0.join("missing-baseline.json");
        // SAFETY: a live request and a live string.
        unsafe {
            assert_eq!(
                capstan_request_add_baseline(req, c(&missing).as_ptr()),
                capstan_status::CAPSTAN_OK
            );
        }
        assert_eq!(run(req).err(), Some(capstan_status::CAPSTAN_ERR_IO));
        assert!(
            last_error().is_some_and(|m| m.contains("missing-baseline.json")),
            "{:?}",
            last_error()
        );
        // SAFETY: freed once.
        unsafe { capstan_request_free(req) };
    }

    #[test]
    fn packs_config_and_settings_are_checked() {
        let req = new_request();
        // SAFETY: a live request, literals and NULLs.
        unsafe {
            assert_eq!(
                capstan_request_set_threads(req, 100_000),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert!(last_error().is_some_and(|m| m.contains("100000") && m.contains("1024")));
            assert_eq!(
                capstan_request_set_threads(req, 1024),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_set_max_file_size(req, 0),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                capstan_request_add_pack(req, c"nope".as_ptr()),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert!(last_error().is_some_and(|m| m.contains("secrets, crypto")));
            assert_eq!(
                capstan_request_add_input(req, std::ptr::null()),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                capstan_request_add_input(std::ptr::null_mut(), c".".as_ptr()),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
        }
        // Nothing to scan yet.
        assert_eq!(
            run(req).err(),
            Some(capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT)
        );
        assert!(last_error().is_some_and(|m| m.contains("no input")));

        let t = tree("request-config");
        let config = t.0.join("rules.toml");
        std::fs::write(
            &config,
            "[[rules]]\nid = \"broken\"\nregex = '''(unclosed'''\n",
        )
        .expect("write");
        let mut rules = std::ptr::null_mut();
        // SAFETY: as above.
        unsafe {
            assert_eq!(
                capstan_request_add_input(req, c(&t.0).as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_add_pack(req, c"secrets".as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            // Compiled rules are the other way to give rules, not an addition.
            assert_eq!(
                capstan_rules_builtin(std::ptr::null(), &raw mut rules),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_set_rules(req, rules),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            capstan_rules_free(rules);
            assert_eq!(
                capstan_request_set_ignore_discovery(req, false),
                capstan_status::CAPSTAN_OK
            );
        }
        // The secrets pack alone: the three tokens, no crypto finding.
        let f = run(req).expect("packs");
        assert_eq!(rows(f).len(), 3);
        // SAFETY: freed once.
        unsafe { capstan_findings_free(f) };

        // SAFETY: as above.
        unsafe {
            assert_eq!(
                capstan_request_set_config(req, c(&config).as_ptr()),
                capstan_status::CAPSTAN_OK
            );
        }
        assert_eq!(run(req).err(), Some(capstan_status::CAPSTAN_ERR_CONFIG));
        assert!(last_error().is_some_and(|m| m.contains("broken")));
        // SAFETY: as above.
        unsafe {
            assert_eq!(
                capstan_request_set_config(req, c(&t.0.join("none.toml")).as_ptr()),
                capstan_status::CAPSTAN_OK
            );
        }
        assert_eq!(run(req).err(), Some(capstan_status::CAPSTAN_ERR_IO));
        assert!(last_error().is_some_and(|m| m.contains("none.toml")));
        // SAFETY: freed once; NULL is accepted.
        unsafe {
            capstan_request_free(req);
            capstan_request_free(std::ptr::null_mut());
        }
    }

    /// Where each image finding was made: (path, image, manifest digest, platform, layer
    /// index, layer digest, removed in layer).
    type Place = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        i64,
        Option<String>,
        i64,
    );

    fn places(f: *const capstan_findings) -> Vec<Place> {
        // SAFETY: live findings (or NULL); each index is in range.
        unsafe {
            (0..capstan_findings_len(f))
                .map(|i| {
                    let mut one = std::mem::MaybeUninit::<capstan_finding>::uninit();
                    assert_eq!(
                        capstan_findings_get(f, i, one.as_mut_ptr()),
                        capstan_status::CAPSTAN_OK
                    );
                    (
                        str_of(one.assume_init().path).unwrap_or_default(),
                        str_of(capstan_findings_image(f, i)),
                        str_of(capstan_findings_manifest_digest(f, i)),
                        str_of(capstan_findings_platform(f, i)),
                        capstan_findings_layer_index(f, i),
                        str_of(capstan_findings_layer_digest(f, i)),
                        capstan_findings_removed_in_layer(f, i),
                    )
                })
                .collect()
        }
    }

    /// An OCI layout `DIR/layout` tagged `v1`: a token in layer 0's `etc/app/.env` that layer 1
    /// deletes, another in layer 1's `srv/new.env`, and one in the config's `Env[1]`. Gives the
    /// image as `oci:DIR/layout:v1`, and the places its findings should have.
    fn image(t: &TempDir) -> (String, Vec<Place>) {
        let dir = t.0.join("layout");
        let base = tar(&[
            (
                "etc/app/.env",
                format!("GITHUB_TOKEN={}\n", TOKENS[0]).as_bytes(),
            ),
            ("srv/ok.txt", b"hello\n"),
        ]);
        let upper = tar(&[
            ("etc/app/.wh..env", b""),
            (
                "srv/new.env",
                format!("GITHUB_TOKEN={}\n", TOKENS[1]).as_bytes(),
            ),
        ]);
        let env = format!("API_TOKEN={}", TOKENS[2]);
        let w = oci_layout(&dir, "v1", &[base, upper], &["PATH=/usr/bin", &env]);
        let given = format!("oci:{}:v1", dir.display());
        let place = |path: &str, layer: i64, removed: i64| {
            (
                path.to_owned(),
                Some(given.clone()),
                Some(w.manifest.clone()),
                None,
                layer,
                usize::try_from(layer).ok().map(|i| w.layers[i].clone()),
                removed,
            )
        };
        let want = vec![
            place("config:Env[1]", -1, -1),
            place("etc/app/.env", 0, 1),
            place("srv/new.env", 1, -1),
        ];
        (given, want)
    }

    #[test]
    fn images_are_scanned_with_their_layers_and_what_deleted_them() {
        let t = TempDir::new("request-image");
        let (given, want) = image(&t);
        let req = new_request();
        let cache = t.0.join("cache");
        // SAFETY: a live request, literals and live strings.
        unsafe {
            let image = std::ffi::CString::new(given.as_str()).expect("no NUL");
            assert_eq!(
                capstan_request_add_image(req, image.as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_add_pack(req, c"secrets".as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_set_ignore_discovery(req, false),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_set_cache_dir(req, c(&cache).as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            // Files and images are not mixed in one request.
            assert_eq!(
                capstan_request_add_input(req, c(&t.0).as_ptr()),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert!(last_error().is_some_and(|m| m.contains("one kind")));
        }
        let f = run(req).expect("image scan");
        assert_eq!(places(f), want);
        // SAFETY: live findings, freed once; NULL and out-of-range indexes.
        unsafe {
            assert_eq!(capstan_findings_errors_len(f), 0);
            assert_eq!(capstan_findings_layers_pulled(f), 2);
            assert_eq!(capstan_findings_layers_cached(f), 0);
            assert_eq!(capstan_findings_layers_shared(f), 0);
            assert_eq!(capstan_findings_image(f, 99), std::ptr::null());
            assert_eq!(capstan_findings_layer_index(f, 99), -1);
            assert_eq!(capstan_findings_removed_in_layer(std::ptr::null(), 0), -1);
            assert_eq!(
                capstan_findings_layer_digest(std::ptr::null(), 0),
                std::ptr::null()
            );
            assert_eq!(capstan_findings_layers_pulled(std::ptr::null()), 0);
            let mut json = std::ptr::null_mut();
            assert_eq!(
                capstan_findings_to_json(f, &raw mut json),
                capstan_status::CAPSTAN_OK
            );
            let text = str_of(json).unwrap_or_default();
            capstan_string_free(json);
            assert!(
                text.contains("\"removed_in_layer\":1") && text.contains("\"manifest_digest\""),
                "{text}"
            );
            capstan_findings_free(f);
        }
        // Again: both layers come from the cache, the findings are the same.
        let again = run(req).expect("cached image scan");
        assert_eq!(places(again), want);
        // SAFETY: live findings, freed once.
        unsafe {
            assert_eq!(capstan_findings_layers_pulled(again), 0);
            assert_eq!(capstan_findings_layers_cached(again), 2);
            capstan_findings_free(again);
            capstan_request_free(req);
        }
    }

    #[test]
    fn the_short_form_scans_one_image_and_fails_on_an_unreadable_one() {
        let t = TempDir::new("scan-image");
        let (given, want) = image(&t);
        let mut rules = std::ptr::null_mut();
        let mut f = std::ptr::null_mut();
        // SAFETY: live handles, literals and local out-parameters.
        unsafe {
            assert_eq!(
                capstan_rules_builtin(c"secrets".as_ptr(), &raw mut rules),
                capstan_status::CAPSTAN_OK
            );
            let image = std::ffi::CString::new(given.as_str()).expect("no NUL");
            assert_eq!(
                capstan_scan_image(rules, image.as_ptr(), 2, &raw mut f),
                capstan_status::CAPSTAN_OK
            );
        }
        assert_eq!(places(f), want);
        // SAFETY: live findings, freed once.
        unsafe {
            assert_eq!(capstan_findings_layers_pulled(f), 2);
            capstan_findings_free(f);
        }
        // An image that is not there, a reference that is not one, too many threads.
        let missing = format!("oci:{}:v1", t.0.join("nope").display());
        let mut f = std::ptr::null_mut();
        // SAFETY: as above.
        unsafe {
            let image = std::ffi::CString::new(missing.as_str()).expect("no NUL");
            assert_eq!(
                capstan_scan_image(rules, image.as_ptr(), 0, &raw mut f),
                capstan_status::CAPSTAN_ERR_IO
            );
            assert!(f.is_null());
            assert!(
                last_error().is_some_and(|m| m.starts_with(&missing)),
                "{:?}",
                last_error()
            );
            assert_eq!(
                capstan_scan_image(rules, c"Not/An:Image:Ref".as_ptr(), 0, &raw mut f),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                capstan_scan_image(rules, image.as_ptr(), 100_000, &raw mut f),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                capstan_scan_image(std::ptr::null(), image.as_ptr(), 0, &raw mut f),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert!(f.is_null());
            capstan_rules_free(rules);
        }
    }

    #[test]
    fn image_settings_are_checked_and_unreadable_images_listed() {
        let t = TempDir::new("request-image-settings");
        let req = new_request();
        let missing = format!("oci:{}", t.0.join("nope").display());
        // SAFETY: a live request, literals, NULLs and live strings.
        unsafe {
            for bad in [c"Alpine", c"oci:", c"a b"] {
                assert_eq!(
                    capstan_request_add_image(req, bad.as_ptr()),
                    capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT,
                    "{bad:?}"
                );
            }
            assert_eq!(
                capstan_request_add_image(req, c"\xff".as_ptr()),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                capstan_request_add_image(req, std::ptr::null()),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                capstan_request_set_platform(req, c"linux".as_ptr()),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert!(last_error().is_some_and(|m| m.contains("linux/amd64")));
            assert_eq!(
                capstan_request_set_platform(req, c"linux/arm64/v8".as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_set_platform(req, std::ptr::null()),
                capstan_status::CAPSTAN_OK
            );
            for (pulls, want) in [
                (0, capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT),
                (1025, capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT),
                (1024, capstan_status::CAPSTAN_OK),
                (2, capstan_status::CAPSTAN_OK),
            ] {
                assert_eq!(capstan_request_set_pulls(req, pulls), want, "{pulls}");
            }
            assert_eq!(
                capstan_request_set_insecure(req, true),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_set_insecure(std::ptr::null_mut(), true),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            let image = std::ffi::CString::new(missing.as_str()).expect("no NUL");
            assert_eq!(
                capstan_request_add_image(req, image.as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            // A registry: this build has the client (nothing listens on port 1).
            assert_eq!(
                capstan_request_add_image(req, c"127.0.0.1:1/team/app:v1".as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_set_ignore_discovery(req, false),
                capstan_status::CAPSTAN_OK
            );
        }
        // Images that cannot be read do not fail the run: they are listed.
        let f = run(req).expect("runs");
        // SAFETY: live findings, freed once.
        unsafe {
            assert_eq!(capstan_findings_len(f), 0);
            let errors: Vec<String> = (0..capstan_findings_errors_len(f))
                .filter_map(|i| str_of(capstan_findings_error(f, i)))
                .collect();
            assert_eq!(errors.len(), 2, "{errors:?}");
            assert!(errors[0].starts_with(&format!("{missing}: ")), "{errors:?}");
            assert!(
                errors[1].starts_with("127.0.0.1:1/team/app:v1: ")
                    && !errors[1].contains("no registry client"),
                "{errors:?}"
            );
            capstan_findings_free(f);
        }
        // A request with inputs refuses images.
        let files = new_request();
        // SAFETY: live requests and strings; freed once.
        unsafe {
            assert_eq!(
                capstan_request_add_input(files, c(&t.0).as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_add_image(files, c"oci:/tmp/x".as_ptr()),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert!(last_error().is_some_and(|m| m.contains("one kind")));
            capstan_request_free(files);
            capstan_request_free(req);
        }
    }

    /// The author and committer dates of the fixture's two commits, and how findings show them.
    const DATES: [&str; 2] = ["2026-01-02T03:04:05+01:00", "2026-01-03T10:00:00-05:00"];

    /// The configuration every `git` call of the fixtures has, and no other.
    const GIT_CONFIG: [&str; 4] = [
        "init.defaultBranch=main",
        "user.name=Capstan Test",
        "user.email=test@example.invalid",
        "commit.gpgsign=false",
    ];

    /// Runs `git ARGS` in `DIR/repo`, isolated from the user's and the system's configuration
    /// (`HOME` is `DIR`), as `Capstan Test <test@example.invalid>` at `date`; gives its
    /// standard output, trimmed.
    fn git(t: &TempDir, date: &str, args: &[&str]) -> String {
        let out = std::process::Command::new("git")
            .arg("-C")
            .arg(t.0.join("repo"))
            .args(GIT_CONFIG.iter().flat_map(|kv| ["-c", kv]))
            .args(args)
            .env("HOME", &t.0)
            .env("XDG_CONFIG_HOME", t.0.join("xdg"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_DATE", date)
            .env("GIT_COMMITTER_DATE", date)
            .env_remove("GIT_DIR")
            .env_remove("GIT_WORK_TREE")
            .env_remove("GIT_INDEX_FILE")
            .output()
            .expect("git runs");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A repository `DIR/repo` on `main`: a first commit adds `app/.env` (token 0) and a README,
    /// a second removes `app/.env`. Gives the first commit's id.
    fn repository(t: &TempDir) -> String {
        let repo = t.0.join("repo");
        std::fs::create_dir_all(repo.join("app")).expect("mkdir");
        git(t, DATES[0], &["init", "-q"]);
        std::fs::write(
            repo.join("app/.env"),
            format!("GITHUB_TOKEN={}\n", TOKENS[0]),
        )
        .expect("write");
        std::fs::write(repo.join("README"), "hello\n").expect("write");
        git(t, DATES[0], &["add", "."]);
        git(t, DATES[0], &["commit", "-q", "-m", "Add the app's config"]);
        let added = git(t, DATES[0], &["rev-parse", "HEAD"]);
        git(t, DATES[1], &["rm", "-q", "app/.env"]);
        git(t, DATES[1], &["commit", "-q", "-m", "Remove the token"]);
        added
    }

    /// Stages (without committing) `staged.env` holding token 1 in the fixture's repository.
    fn stage(t: &TempDir) {
        std::fs::write(
            t.0.join("repo/staged.env"),
            format!("GITHUB_TOKEN={}\n", TOKENS[1]),
        )
        .expect("write");
        git(t, DATES[1], &["add", "staged.env"]);
    }

    /// Each finding's (path, line, commit, author, email, date, message).
    type Commit = (
        String,
        u32,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );

    fn commits_of(f: *const capstan_findings) -> Vec<Commit> {
        // SAFETY: live findings (or NULL); each index is in range.
        unsafe {
            (0..capstan_findings_len(f))
                .map(|i| {
                    let mut one = std::mem::MaybeUninit::<capstan_finding>::uninit();
                    assert_eq!(
                        capstan_findings_get(f, i, one.as_mut_ptr()),
                        capstan_status::CAPSTAN_OK
                    );
                    let one = one.assume_init();
                    (
                        str_of(one.path).unwrap_or_default(),
                        one.line,
                        str_of(capstan_findings_commit(f, i)),
                        str_of(capstan_findings_author(f, i)),
                        str_of(capstan_findings_email(f, i)),
                        str_of(capstan_findings_date(f, i)),
                        str_of(capstan_findings_message(f, i)),
                    )
                })
                .collect()
        }
    }

    /// What the fixture's history gives: token 0 once, at the commit that added it.
    fn added_at(commit: &str) -> Vec<Commit> {
        vec![(
            "app/.env".to_owned(),
            1,
            Some(commit.to_owned()),
            Some("Capstan Test".to_owned()),
            Some("test@example.invalid".to_owned()),
            Some(DATES[0].to_owned()),
            Some("Add the app's config".to_owned()),
        )]
    }

    fn set_git(
        req: *mut capstan_request,
        repo: &Path,
        since: Option<&CStr>,
        branch: Option<&CStr>,
        staged: bool,
    ) -> capstan_status {
        let none = std::ptr::null();
        // SAFETY: a live request, a live string and NULLs or live literals.
        unsafe {
            capstan_request_set_git(
                req,
                c(repo).as_ptr(),
                since.map_or(none, CStr::as_ptr),
                branch.map_or(none, CStr::as_ptr),
                staged,
            )
        }
    }

    #[test]
    fn history_is_scanned_with_the_commit_that_added_each_secret() {
        let t = TempDir::new("request-git");
        let added = repository(&t);
        let repo = t.0.join("repo");
        let req = new_request();
        let cache = t.0.join("cache");
        assert_eq!(
            set_git(req, &repo, None, None, false),
            capstan_status::CAPSTAN_OK
        );
        // SAFETY: a live request, literals and live strings.
        unsafe {
            assert_eq!(
                capstan_request_add_pack(req, c"secrets".as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_set_ignore_discovery(req, false),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_set_threads(req, 2),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_set_cache_dir(req, c(&cache).as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            // A repository is not mixed with files or images.
            assert_eq!(
                capstan_request_add_input(req, c(&repo).as_ptr()),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert!(
                last_error().is_some_and(
                    |m| m.contains("one kind") && m.contains("capstan_request_set_git")
                )
            );
            assert_eq!(
                capstan_request_add_image(req, c"alpine".as_ptr()),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert!(last_error().is_some_and(|m| m.contains("one kind")));
        }
        // Token 0 once (its blob is in one commit only), at the commit that added it; and again
        // from the cache.
        for _ in 0..2 {
            let f = run(req).expect("history scan");
            assert_eq!(commits_of(f), added_at(&added));
            // SAFETY: live findings, freed once.
            unsafe {
                assert_eq!(capstan_findings_errors_len(f), 0);
                assert_eq!(capstan_findings_commits(f), 2);
                assert_eq!(capstan_findings_layers_pulled(f), 0);
                assert_eq!(capstan_findings_image(f, 0), std::ptr::null());
                assert_eq!(capstan_findings_commit(f, 1), std::ptr::null());
                assert_eq!(capstan_findings_message(f, 1), std::ptr::null());
                let mut json = std::ptr::null_mut();
                assert_eq!(
                    capstan_findings_to_json(f, &raw mut json),
                    capstan_status::CAPSTAN_OK
                );
                let text = str_of(json).unwrap_or_default();
                capstan_string_free(json);
                let found: serde_json::Value = serde_json::from_str(&text).expect("JSON");
                assert_eq!(
                    found[0]["git"],
                    serde_json::json!({
                        "commit": added,
                        "author": "Capstan Test",
                        "email": "test@example.invalid",
                        "date": DATES[0],
                        "message": "Add the app's config",
                    }),
                    "{text}"
                );
                capstan_findings_free(f);
            }
        }
        // SAFETY: freed once.
        unsafe { capstan_request_free(req) };
    }

    #[test]
    fn staged_changes_since_and_branch_choose_what_is_scanned() {
        let t = TempDir::new("request-git-parts");
        let added = repository(&t);
        let repo = t.0.join("repo");
        let req = new_request();
        assert_eq!(
            set_git(req, &repo, None, None, false),
            capstan_status::CAPSTAN_OK
        );
        // SAFETY: a live request and literals.
        unsafe {
            assert_eq!(
                capstan_request_add_pack(req, c"secrets".as_ptr()),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_request_set_ignore_discovery(req, false),
                capstan_status::CAPSTAN_OK
            );
        }

        // What is staged is not history: the same finding. Staged alone: the staged token,
        // with no commit.
        stage(&t);
        let f = run(req).expect("history scan");
        assert_eq!(commits_of(f), added_at(&added));
        // SAFETY: live findings, freed once.
        unsafe { capstan_findings_free(f) };
        assert_eq!(
            set_git(req, &repo, None, None, true),
            capstan_status::CAPSTAN_OK
        );
        let f = run(req).expect("staged scan");
        assert_eq!(
            commits_of(f),
            vec![("staged.env".to_owned(), 1, None, None, None, None, None)]
        );
        // SAFETY: live findings, freed once.
        unsafe {
            assert_eq!(capstan_findings_commits(f), 0);
            capstan_findings_free(f);
        }

        // After the commit that added it, the token is not new; what main reaches has it.
        let since = std::ffi::CString::new(added.as_str()).expect("no NUL");
        assert_eq!(
            set_git(req, &repo, Some(&since), None, false),
            capstan_status::CAPSTAN_OK
        );
        let f = run(req).expect("since scan");
        // SAFETY: live findings, freed once.
        unsafe {
            assert_eq!(capstan_findings_len(f), 0);
            assert_eq!(capstan_findings_errors_len(f), 0);
            assert_eq!(capstan_findings_commits(f), 1);
            capstan_findings_free(f);
        }
        assert_eq!(
            set_git(req, &repo, None, Some(c"main"), false),
            capstan_status::CAPSTAN_OK
        );
        let f = run(req).expect("branch scan");
        assert_eq!(commits_of(f), added_at(&added));
        // SAFETY: live findings, freed once.
        unsafe { capstan_findings_free(f) };

        // A revision that does not resolve does not fail the run: it is listed.
        assert_eq!(
            set_git(req, &repo, Some(c"no-such-tag"), None, false),
            capstan_status::CAPSTAN_OK
        );
        let f = run(req).expect("runs");
        // SAFETY: live findings, freed once.
        unsafe {
            assert_eq!(capstan_findings_len(f), 0);
            assert_eq!(capstan_findings_errors_len(f), 1);
            let e = str_of(capstan_findings_error(f, 0)).unwrap_or_default();
            assert!(
                e.starts_with(&format!("{}: ", repo.display())) && e.contains("no-such-tag"),
                "{e}"
            );
            capstan_findings_free(f);
            capstan_request_free(req);
        }
    }

    #[test]
    fn git_settings_are_checked_and_unreadable_repositories_listed() {
        let t = TempDir::new("request-git-settings");
        let req = new_request();
        let none = std::ptr::null();
        // SAFETY: a live request, literals and NULLs.
        unsafe {
            for (repo, since, branch, staged) in [
                (none, none, none, false),
                (c"".as_ptr(), none, none, false),
                (c"repo".as_ptr(), c"".as_ptr(), none, false),
                (c"repo".as_ptr(), none, c"".as_ptr(), false),
                (c"repo".as_ptr(), c"\xff".as_ptr(), none, false),
                (c"repo".as_ptr(), c"v1".as_ptr(), none, true),
                (c"repo".as_ptr(), none, c"main".as_ptr(), true),
            ] {
                assert_eq!(
                    capstan_request_set_git(req, repo, since, branch, staged),
                    capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
                );
            }
            assert!(last_error().is_some_and(|m| m.contains("staged")));
            assert_eq!(
                capstan_request_set_git(std::ptr::null_mut(), c"repo".as_ptr(), none, none, false),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
        }
        // Each refusal left the request as it was: nothing to scan.
        assert_eq!(
            run(req).err(),
            Some(capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT)
        );

        // A directory that is not a repository, and one that is not there: listed.
        let missing = t.0.join("nope");
        for repo in [&t.0, &missing] {
            assert_eq!(
                set_git(req, repo, None, None, false),
                capstan_status::CAPSTAN_OK
            );
            let f = run(req).expect("runs");
            // SAFETY: live findings, freed once.
            unsafe {
                assert_eq!(capstan_findings_len(f), 0);
                assert_eq!(capstan_findings_errors_len(f), 1);
                let e = str_of(capstan_findings_error(f, 0)).unwrap_or_default();
                assert!(e.starts_with(&format!("{}: ", repo.display())), "{e}");
                capstan_findings_free(f);
            }
        }
        // SAFETY: freed once.
        unsafe { capstan_request_free(req) };

        // Requests with inputs or images refuse a repository.
        for add in [
            capstan_request_add_input as unsafe extern "C" fn(_, _) -> _,
            capstan_request_add_image,
        ] {
            let other = new_request();
            // SAFETY: a live request and literals; freed once.
            unsafe {
                assert_eq!(
                    add(other, c"oci:/tmp/x".as_ptr()),
                    capstan_status::CAPSTAN_OK
                );
                assert_eq!(
                    set_git(other, &t.0, None, None, false),
                    capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
                );
                assert!(last_error().is_some_and(|m| m.contains("one kind")));
                capstan_request_free(other);
            }
        }
    }

    #[test]
    fn the_short_form_scans_a_history_and_fails_on_an_unreadable_repository() {
        let t = TempDir::new("scan-git");
        let added = repository(&t);
        let repo = c(&t.0.join("repo"));
        let mut rules = std::ptr::null_mut();
        let mut f = std::ptr::null_mut();
        // SAFETY: live handles, literals and local out-parameters.
        unsafe {
            assert_eq!(
                capstan_rules_builtin(c"secrets".as_ptr(), &raw mut rules),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(
                capstan_scan_git(rules, repo.as_ptr(), 2, &raw mut f),
                capstan_status::CAPSTAN_OK
            );
        }
        assert_eq!(commits_of(f), added_at(&added));
        // SAFETY: live findings, freed once.
        unsafe {
            assert_eq!(capstan_findings_commits(f), 2);
            capstan_findings_free(f);
        }

        // Not a repository, too many threads, NULLs.
        let mut f = std::ptr::null_mut();
        let missing = t.0.join("nope");
        // SAFETY: as above.
        unsafe {
            for dir in [&t.0, &missing] {
                assert_eq!(
                    capstan_scan_git(rules, c(dir).as_ptr(), 0, &raw mut f),
                    capstan_status::CAPSTAN_ERR_IO
                );
                assert!(
                    last_error().is_some_and(|m| m.starts_with(&format!("{}: ", dir.display()))),
                    "{:?}",
                    last_error()
                );
            }
            assert_eq!(
                capstan_scan_git(rules, repo.as_ptr(), 100_000, &raw mut f),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                capstan_scan_git(std::ptr::null(), repo.as_ptr(), 0, &raw mut f),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                capstan_scan_git(rules, std::ptr::null(), 0, &raw mut f),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert_eq!(
                capstan_scan_git(rules, repo.as_ptr(), 0, std::ptr::null_mut()),
                capstan_status::CAPSTAN_ERR_INVALID_ARGUMENT
            );
            assert!(f.is_null());

            // Findings of files have no commit; NULL findings none either.
            let line = format!("GITHUB_TOKEN={}\n", TOKENS[0]);
            assert_eq!(
                capstan_scan_bytes(
                    rules,
                    line.as_ptr(),
                    line.len(),
                    c".env".as_ptr(),
                    &raw mut f
                ),
                capstan_status::CAPSTAN_OK
            );
            assert_eq!(capstan_findings_len(f), 1);
            assert_eq!(capstan_findings_commit(f, 0), std::ptr::null());
            assert_eq!(capstan_findings_author(f, 0), std::ptr::null());
            assert_eq!(capstan_findings_email(f, 0), std::ptr::null());
            assert_eq!(capstan_findings_date(f, 0), std::ptr::null());
            assert_eq!(capstan_findings_commits(f), 0);
            assert_eq!(
                capstan_findings_commit(std::ptr::null(), 0),
                std::ptr::null()
            );
            assert_eq!(capstan_findings_commits(std::ptr::null()), 0);
            capstan_findings_free(f);
            capstan_rules_free(rules);
        }
    }
}
