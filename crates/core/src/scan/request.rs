//! The one door to a scan: a [`Request`] says what to scan and how; [`Request::prepare`] turns
//! it into a ready [`Scan`] (rules compiled, baselines and ignore files read, the cache
//! opened); [`Scan::run`] walks the inputs and gives the [`ScanOutcome`], with suppressed
//! findings already left out and counted.
//!
//! The CLI, the C ABI and the Go package all build a request from their arguments and read an
//! outcome: how a config combines with the packs, where `.capstanignore` files are found, what
//! `0` threads means, when the cache may be used — each is decided here, once.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use super::outcome::{Progress, ScanOutcome};
use super::walk::{FileSink, TreeScanner, WalkOptions};
use super::{
    Confidence, ConfigError, Finding, PACKS, RuleSet, Rules, ScanCache, SharedCache,
    SharedCacheOptions, SuppressError, Suppressions,
};
use crate::image::{ImageError, ImageOptions, ImageSource};

/// The name of the ignore file a scan looks for when none is named.
pub const IGNORE_FILE_NAME: &str = ".capstanignore";

/// Where a scan's rules come from: a config file and built-in packs.
///
/// With neither, every built-in pack is used; with a config alone, only the config's rules
/// (a gitleaks config with `[extend] useDefault` brings its own defaults); with both, the
/// config's rules then the named packs.
///
/// ```
/// use capstan::scan::RuleSources;
///
/// let all = RuleSources::default().load()?;
/// let secrets = RuleSources { packs: vec!["secrets".into()], ..RuleSources::default() }.load()?;
/// assert!(secrets.rules.len() < all.rules.len());
/// # Ok::<(), capstan::scan::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleSources {
    /// A rule config: capstan's format or a gitleaks config, unchanged.
    pub config: Option<PathBuf>,
    /// Built-in packs by name (see [`PACKS`]).
    pub packs: Vec<String>,
}

impl RuleSources {
    /// The merged rule set.
    pub fn load(&self) -> Result<RuleSet, ConfigError> {
        let mut set = match &self.config {
            Some(path) => RuleSet::load(path)?,
            None => RuleSet::default(),
        };
        let packs: Vec<&str> = if self.packs.is_empty() && self.config.is_none() {
            PACKS.to_vec()
        } else {
            self.packs.iter().map(String::as_str).collect()
        };
        set.append(RuleSet::builtin(&packs)?);
        Ok(set)
    }

    /// The merged rule set, compiled.
    pub fn compile(&self) -> Result<Rules, ConfigError> {
        Rules::compile(&self.load()?)
    }
}

/// Which ignore files suppress findings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreFiles {
    /// [`IGNORE_FILE_NAME`], where present, in the current directory and in each input that is
    /// a directory (and a history scan's repository) — only there, not in the subdirectories
    /// the walk finds below them (the default).
    Discover,
    /// Exactly these files (none: no ignore file).
    Only(Vec<PathBuf>),
}

/// Whether and where results are kept between runs (keyed by content and rule set, so an
/// unchanged file is not scanned again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachePolicy {
    /// Scan everything, keep nothing (the default for embedders).
    Off,
    /// `$XDG_CACHE_HOME/capstan` or `~/.cache/capstan` (what `capstan scan` uses).
    UserDefault,
    /// The store in this directory.
    Dir(PathBuf),
}

/// What to scan and how: the one description of a scan every front end builds.
///
/// ```
/// use capstan::scan::Request;
///
/// let dir = std::env::temp_dir().join(format!("capstan-doc-request-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join(".env"), "GITHUB_TOKEN=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\n")?;
/// let outcome = Request::new([&dir]).packs(["secrets"]).prepare()?.run();
/// assert_eq!(outcome.findings.len(), 1);
///
/// // The same token, now listed in an ignore file: suppressed, and counted as such.
/// std::fs::write(dir.join(".capstanignore"), format!("{}\n", outcome.findings[0].fingerprint))?;
/// let again = Request::new([&dir]).packs(["secrets"]).prepare()?.run();
/// assert!(again.findings.is_empty());
/// assert_eq!(again.stats.suppressed, 1);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    inputs: Vec<PathBuf>,
    images: Vec<String>,
    image_options: ImageOptions,
    #[cfg(feature = "git")]
    git: Option<(PathBuf, crate::git::GitOptions)>,
    rules: RuleChoice,
    options: WalkOptions,
    baselines: Vec<PathBuf>,
    ignore_files: IgnoreFiles,
    cache: CachePolicy,
    shared_cache: Option<SharedCacheOptions>,
    shard: Option<super::Shard>,
    min_confidence: Confidence,
}

#[derive(Debug, Clone)]
enum RuleChoice {
    Sources(RuleSources),
    Compiled(Arc<Rules>),
}

impl Request {
    /// A scan of `inputs` (files, directories, tar / tar.gz archives; `-` is standard input)
    /// with every built-in pack, the default [`WalkOptions`], ignore files discovered, no
    /// baseline and no cache.
    pub fn new<P: Into<PathBuf>>(inputs: impl IntoIterator<Item = P>) -> Self {
        Request {
            inputs: inputs.into_iter().map(Into::into).collect(),
            images: Vec::new(),
            image_options: ImageOptions::default(),
            #[cfg(feature = "git")]
            git: None,
            rules: RuleChoice::Sources(RuleSources::default()),
            options: WalkOptions::default(),
            baselines: Vec::new(),
            ignore_files: IgnoreFiles::Discover,
            cache: CachePolicy::Off,
            shared_cache: None,
            shard: None,
            min_confidence: Confidence::default(),
        }
    }

    /// A scan of container images (every option of a tree scan applies the same way): each
    /// an [`ImageSource`] as text — a registry reference in docker's short form (`alpine`,
    /// `ghcr.io/org/app:1.2`, `…@sha256:…`), `oci:DIR[:TAG]` or `docker-archive:FILE`.
    /// Findings carry an [`ImageOrigin`](super::ImageOrigin) and come image by image: the
    /// config's first, then layer by layer from the base, in path order inside each.
    ///
    /// ```no_run
    /// use capstan::scan::{CachePolicy, Request};
    /// let outcome = Request::images(["ghcr.io/org/app:1.2"])
    ///     .packs(["secrets"])
    ///     .cache(CachePolicy::UserDefault) // a layer seen before is not pulled again
    ///     .prepare()?
    ///     .run();
    /// for f in &outcome.findings {
    ///     let origin = f.image.as_ref().expect("image findings say where");
    ///     println!("{} {} layer {:?} removed in {:?}", f.rule_id, f.path,
    ///         origin.layer.as_ref().map(|l| l.index), origin.removed_in_layer);
    /// }
    /// # Ok::<(), capstan::scan::RequestError>(())
    /// ```
    pub fn images<S: Into<String>>(images: impl IntoIterator<Item = S>) -> Self {
        let mut r = Request::new(Vec::<PathBuf>::new());
        r.images = images.into_iter().map(Into::into).collect();
        r
    }

    /// A scan of a git repository's history (feature `git`; a work tree or a bare repository):
    /// every blob reachable from its refs, each unique blob once, findings carrying the commit
    /// that introduced it ([`GitOrigin`](super::GitOrigin)); or with
    /// [`GitOptions::staged`](crate::git::GitOptions::staged) what `git commit` would add. Every
    /// other option of a tree scan applies the same way; the size limit is per blob.
    ///
    /// ```no_run
    /// use capstan::git::GitOptions;
    /// use capstan::scan::Request;
    /// let outcome = Request::git(".", GitOptions::default()).packs(["secrets"]).prepare()?.run();
    /// for f in &outcome.findings {
    ///     let commit = f.git.as_ref().map_or("", |g| g.commit.as_str());
    ///     println!("{} {}:{} in {commit}", f.rule_id, f.path, f.line);
    /// }
    /// # Ok::<(), capstan::scan::RequestError>(())
    /// ```
    #[cfg(feature = "git")]
    pub fn git(repo: impl Into<PathBuf>, options: crate::git::GitOptions) -> Self {
        let mut r = Request::new(Vec::<PathBuf>::new());
        r.git = Some((repo.into(), options));
        r
    }

    /// How images are pulled: platform, concurrent pulls, plain HTTP.
    pub fn image_options(mut self, options: ImageOptions) -> Self {
        self.image_options = options;
        self
    }

    /// Where the rules come from (replaces earlier rule choices).
    pub fn rule_sources(mut self, sources: RuleSources) -> Self {
        self.rules = RuleChoice::Sources(sources);
        self
    }

    /// Only these built-in packs (and the config, if one was given).
    pub fn packs<S: Into<String>>(mut self, packs: impl IntoIterator<Item = S>) -> Self {
        let packs = packs.into_iter().map(Into::into).collect();
        match &mut self.rules {
            RuleChoice::Sources(s) => s.packs = packs,
            RuleChoice::Compiled(_) => {
                self.rules = RuleChoice::Sources(RuleSources {
                    config: None,
                    packs,
                });
            }
        }
        self
    }

    /// Rules compiled already (shared, not copied).
    pub fn rules(mut self, rules: Arc<Rules>) -> Self {
        self.rules = RuleChoice::Compiled(rules);
        self
    }

    /// How to walk and read the inputs.
    pub fn options(mut self, options: WalkOptions) -> Self {
        self.options = options;
        self
    }

    /// Worker threads: 0 means one per core; more than [`MAX_THREADS`] is refused by
    /// [`prepare`](Self::prepare).
    ///
    /// [`MAX_THREADS`]: crate::exec::MAX_THREADS
    pub fn threads(mut self, threads: usize) -> Self {
        self.options.threads = threads;
        self
    }

    /// Whether secrets are redacted in findings (default on). An unredacted scan never reads
    /// or writes the cache.
    pub fn redact(mut self, on: bool) -> Self {
        self.options.redact = on;
        self
    }

    /// Reports only findings of at least this [`Confidence`] (default medium: low-confidence
    /// matches, in documentation and vendored code, are counted in
    /// [`ScanStats::below_confidence`](super::ScanStats::below_confidence) and left out). It
    /// filters what is reported, not what is scanned: cached results hold every finding.
    ///
    /// ```
    /// use capstan::scan::{Confidence, Request};
    /// let dir = std::env::temp_dir().join(format!("capstan-doc-conf-{}", std::process::id()));
    /// std::fs::create_dir_all(dir.join("docs"))?;
    /// std::fs::write(dir.join("docs/setup.md"), "export API_KEY=\"Q2hhbmdlTWVQbGVhc2U5OTk\"\n")?;
    /// let quiet = Request::new([&dir]).packs(["secrets"]).prepare()?.run();
    /// assert!(quiet.findings.is_empty());
    /// assert_eq!(quiet.stats.below_confidence, 1);
    /// let all = Request::new([&dir]).packs(["secrets"]).min_confidence(Confidence::Low).prepare()?.run();
    /// assert_eq!(all.findings[0].confidence, Confidence::Low);
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn min_confidence(mut self, min: Confidence) -> Self {
        self.min_confidence = min;
        self
    }

    /// Suppresses every finding of a previous JSON report (repeatable).
    pub fn baseline(mut self, path: impl Into<PathBuf>) -> Self {
        self.baselines.push(path.into());
        self
    }

    /// Adds an ignore file; naming one turns discovery off.
    pub fn ignore_file(mut self, path: impl Into<PathBuf>) -> Self {
        match &mut self.ignore_files {
            IgnoreFiles::Only(files) => files.push(path.into()),
            IgnoreFiles::Discover => self.ignore_files = IgnoreFiles::Only(vec![path.into()]),
        }
        self
    }

    /// Which ignore files apply.
    pub fn ignore_files(mut self, files: IgnoreFiles) -> Self {
        self.ignore_files = files;
        self
    }

    /// Whether and where results are cached between runs.
    pub fn cache(mut self, policy: CachePolicy) -> Self {
        self.cache = policy;
        self
    }

    /// A second cache level shared by a fleet (Redis): looked up after the local store, filled
    /// with every new result. A server that is down or slow never fails the scan (the outcome
    /// says so once, in its warnings); a URL that is not one is refused by
    /// [`prepare`](Self::prepare). With [`CachePolicy::Off`] it is the only level. Unredacted
    /// scans use no cache at all.
    pub fn shared_cache(mut self, options: SharedCacheOptions) -> Self {
        self.shared_cache = Some(options);
        self
    }

    /// Scans only `shard`'s part of the work, for a fleet of jobs that split one scan and
    /// [`merge`](super::merge()) their reports: files by their name as shown (directories are
    /// walked by every shard), a history's blobs by path (every commit is walked by every
    /// shard), images whole by the reference as given. The outcome records the shard.
    pub fn shard(mut self, shard: super::Shard) -> Self {
        self.shard = Some(shard);
        self
    }

    /// The inputs.
    pub fn inputs(&self) -> &[PathBuf] {
        &self.inputs
    }

    /// Checks the request, compiles its rules, reads its baselines and ignore files and opens
    /// its cache (a cache that cannot be opened is a warning, never an error).
    pub fn prepare(&self) -> Result<Scan, RequestError> {
        #[cfg(feature = "git")]
        let has_git = self.git.is_some();
        #[cfg(not(feature = "git"))]
        let has_git = false;
        if self.inputs.is_empty() && self.images.is_empty() && !has_git {
            return Err(RequestError::invalid("nothing to scan: no input was given"));
        }
        #[cfg(feature = "git")]
        if let Some((_, o)) = &self.git
            && o.staged
            && (o.since.is_some() || o.branch.is_some())
        {
            return Err(RequestError::invalid(
                "a staged scan reads the index: since and branch do not apply to it",
            ));
        }
        let images = self
            .images
            .iter()
            .map(|given| {
                given
                    .parse::<ImageSource>()
                    .map(|s| (given.clone(), s))
                    .map_err(RequestError::image)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if self.image_options.pulls == 0 || self.image_options.pulls > crate::exec::MAX_THREADS {
            return Err(RequestError::invalid(format!(
                "{} concurrent pulls: use 1 to {}",
                self.image_options.pulls,
                crate::exec::MAX_THREADS
            )));
        }
        let mut options = self.options.clone();
        options.threads = crate::exec::threads(options.threads)
            .map_err(|e| RequestError::invalid(e.to_string()))?;
        if options.max_file_size == 0 {
            return Err(RequestError::invalid(
                "a maximum file size of 0 skips every file: nothing would be scanned",
            ));
        }
        let rules = match &self.rules {
            RuleChoice::Sources(s) => Arc::new(s.compile().map_err(RequestError::config)?),
            RuleChoice::Compiled(r) => Arc::clone(r),
        };
        let suppress = self.suppressions().map_err(RequestError::suppress)?;
        let mut warnings = Vec::new();
        let cache = self.open_cache(&rules, &options, &mut warnings)?;
        Ok(Scan {
            #[cfg(feature = "git")]
            git: self.git.clone(),
            inputs: self.inputs.clone(),
            images,
            image_options: self.image_options.clone(),
            rules,
            options,
            suppress,
            min_confidence: self.min_confidence,
            cache,
            warnings,
            progress: Arc::default(),
            shard: self.shard,
        })
    }

    fn suppressions(&self) -> Result<Suppressions, SuppressError> {
        let mut s = Suppressions::default();
        for b in &self.baselines {
            s.add_baseline(b)?;
        }
        match &self.ignore_files {
            IgnoreFiles::Only(files) => {
                for f in files {
                    s.add_ignore_file(f)?;
                }
            }
            IgnoreFiles::Discover => {
                let mut seen = Vec::new();
                // A history scan's repository counts as an input directory: its work tree's
                // ignore file applies wherever capstan runs from.
                #[cfg(feature = "git")]
                let repo = self.git.as_ref().map(|(p, _)| p.as_path());
                #[cfg(not(feature = "git"))]
                let repo: Option<&Path> = None;
                let dirs = std::iter::once(Path::new(".")).chain(
                    self.inputs
                        .iter()
                        .map(PathBuf::as_path)
                        .chain(repo)
                        .filter(|p| p.is_dir()),
                );
                for dir in dirs {
                    let f = dir.join(IGNORE_FILE_NAME);
                    if !f.is_file() {
                        continue;
                    }
                    let canon = std::fs::canonicalize(&f).ok();
                    if !seen.contains(&canon) {
                        s.add_ignore_file(&f)?;
                        seen.push(canon);
                    }
                }
            }
        }
        Ok(s)
    }

    fn open_cache(
        &self,
        rules: &Rules,
        options: &WalkOptions,
        warnings: &mut Vec<String>,
    ) -> Result<Option<ScanCache>, RequestError> {
        if !options.cacheable() {
            return Ok(None);
        }
        let settings = options.settings_digest(rules);
        let shared = self
            .shared_cache
            .as_ref()
            .map(|o| SharedCache::connect(o, &settings))
            .transpose()
            .map_err(|e| RequestError::invalid(e.to_string()))?;
        let path = match &self.cache {
            CachePolicy::Off => None,
            CachePolicy::UserDefault => ScanCache::default_path(),
            CachePolicy::Dir(d) => Some(d.join("scan.redb")),
        };
        let local = path.and_then(|path| match ScanCache::open(&path, &settings) {
            Ok(c) => {
                if c.rebuilt() {
                    warnings.push(format!(
                        "{} was damaged and has been rebuilt",
                        c.path().unwrap_or(&path).display()
                    ));
                }
                Some(c)
            }
            Err(e) => {
                let without = if shared.is_some() {
                    "this run uses the shared cache only"
                } else {
                    "scanning without it"
                };
                warnings.push(format!("{e}; {without}"));
                None
            }
        });
        Ok(match (local, shared) {
            (Some(l), Some(s)) => Some(l.with_shared(s)),
            (Some(l), None) => Some(l),
            (None, Some(s)) => Some(ScanCache::shared_only(s)),
            (None, None) => None,
        })
    }
}

/// A prepared scan: rules compiled, suppressions read, cache open. [`run`](Self::run) it once.
#[derive(Debug)]
pub struct Scan {
    #[cfg(feature = "git")]
    git: Option<(PathBuf, crate::git::GitOptions)>,
    inputs: Vec<PathBuf>,
    images: Vec<super::image::Target>,
    image_options: ImageOptions,
    rules: Arc<Rules>,
    options: WalkOptions,
    suppress: Suppressions,
    min_confidence: Confidence,
    cache: Option<ScanCache>,
    warnings: Vec<String>,
    progress: Arc<Progress>,
    shard: Option<super::Shard>,
}

/// What a running scan tells its caller along the way.
#[derive(Clone, Copy, Default)]
pub struct Hooks<'a> {
    /// The walk stops soon after this becomes true; the outcome is marked `interrupted`.
    pub cancel: Option<&'a AtomicBool>,
    /// Called with each file's findings (suppressed ones left out) as soon as the file is
    /// done, from the worker threads (for streamed output).
    pub on_file: Option<FileSink<'a>>,
}

impl fmt::Debug for Hooks<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("cancel", &self.cancel)
            .field("on_file", &self.on_file.is_some())
            .finish()
    }
}

impl Scan {
    /// The history scan, when this is one.
    #[cfg(feature = "git")]
    fn run_git(&self, walker: &TreeScanner<'_>, hooks: Hooks<'_>) -> Option<ScanOutcome> {
        static NEVER: AtomicBool = AtomicBool::new(false);
        let (repo, options) = self.git.as_ref()?;
        Some(super::git::scan(
            walker,
            &repo.display().to_string(),
            repo,
            options,
            self.options.threads,
            hooks.cancel.unwrap_or(&NEVER),
        ))
    }

    #[cfg(not(feature = "git"))]
    #[allow(clippy::unused_self)]
    fn run_git(&self, _: &TreeScanner<'_>, _: Hooks<'_>) -> Option<ScanOutcome> {
        None
    }

    /// The compiled rules.
    pub fn rules(&self) -> &Arc<Rules> {
        &self.rules
    }

    /// The options the walk will use, thread count resolved.
    pub fn options(&self) -> &WalkOptions {
        &self.options
    }

    /// Live counters, readable from another thread while [`run`](Self::run) works.
    pub fn progress(&self) -> Arc<Progress> {
        Arc::clone(&self.progress)
    }

    /// Scans every input.
    pub fn run(self) -> ScanOutcome {
        self.run_with(Hooks::default())
    }

    /// Scans every input, calling `hooks` along the way.
    pub fn run_with(self, hooks: Hooks<'_>) -> ScanOutcome {
        let suppress = &self.suppress;
        let min = self.min_confidence;
        let filtered = |found: &[Finding]| {
            if let Some(sink) = hooks.on_file {
                let kept: Vec<Finding> = found
                    .iter()
                    .filter(|f| f.confidence >= min && !suppress.suppresses(f))
                    .cloned()
                    .collect();
                if !kept.is_empty() {
                    sink(&kept);
                }
            }
        };
        let mut walker = TreeScanner::new(&self.rules, self.options.clone())
            .report_to(Arc::clone(&self.progress));
        if let Some(c) = &self.cache {
            walker = walker.cache(c);
        }
        if let Some(flag) = hooks.cancel {
            walker = walker.cancel_on(flag);
        }
        if hooks.on_file.is_some() {
            walker = walker.on_file(&filtered);
        }
        if let Some(s) = self.shard {
            walker = walker.shard(s);
        }
        let mut outcome = if let Some(outcome) = self.run_git(&walker, hooks) {
            filtered(&outcome.findings);
            outcome
        } else if self.images.is_empty() {
            walker.scan(&self.inputs)
        } else {
            let run = super::image::Run::new(&walker, &self.image_options);
            let outcome = run.scan(&self.images);
            // Image findings are assembled per image, not per file: handed over at the end.
            filtered(&outcome.findings);
            outcome
        };
        drop(walker);
        outcome.shard = self.shard.map(|s| super::ShardInfo {
            index: s.index(),
            count: s.count(),
            images: self.images.iter().map(|(given, _)| given.clone()).collect(),
        });
        let total = outcome.findings.len();
        outcome.findings.retain(|f| f.confidence >= min);
        outcome.stats.below_confidence = (total - outcome.findings.len()) as u64;
        let total = outcome.findings.len();
        outcome.findings.retain(|f| !suppress.suppresses(f));
        outcome.stats.suppressed = (total - outcome.findings.len()) as u64;
        outcome.stats.count(&outcome.findings);
        let mut notes = std::mem::take(&mut outcome.warnings);
        outcome.warnings = self.warnings;
        outcome.warnings.append(&mut notes);
        if let Some(mut c) = self.cache {
            c.flush_shared();
            outcome.stats.cache_levels(&c);
            if let Some(fault) = c.shared().and_then(SharedCache::fault) {
                outcome.warnings.push(fault);
            }
            if let Err(e) = c.close() {
                outcome.warnings.push(e.to_string());
            }
        }
        outcome
    }
}

/// Why a [`Request`] could not be prepared: which file (config, baseline, ignore file) or
/// which setting, and why.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct RequestError(Repr);

#[derive(Debug, thiserror::Error)]
enum Repr {
    #[error(transparent)]
    Config(ConfigError),
    #[error(transparent)]
    Suppress(SuppressError),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Image(ImageError),
}

/// What kind of thing went wrong in a [`RequestError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestErrorKind {
    /// The rules: a config that cannot be read or is invalid, an unknown pack.
    Config,
    /// A baseline or ignore file that cannot be read or parsed.
    Suppression,
    /// A setting out of range (threads, sizes) or no input.
    Invalid,
    /// An image that is not a reference or source (`oci:` without a directory).
    Image,
}

impl RequestError {
    fn invalid(message: impl Into<String>) -> Self {
        RequestError(Repr::Invalid(message.into()))
    }
    fn config(e: ConfigError) -> Self {
        RequestError(Repr::Config(e))
    }
    fn suppress(e: SuppressError) -> Self {
        RequestError(Repr::Suppress(e))
    }
    fn image(e: ImageError) -> Self {
        RequestError(Repr::Image(e))
    }

    /// What went wrong.
    pub fn kind(&self) -> RequestErrorKind {
        match self.0 {
            Repr::Config(_) => RequestErrorKind::Config,
            Repr::Suppress(_) => RequestErrorKind::Suppression,
            Repr::Invalid(_) => RequestErrorKind::Invalid,
            Repr::Image(_) => RequestErrorKind::Image,
        }
    }

    /// The file at fault, when one is.
    pub fn path(&self) -> Option<&Path> {
        match &self.0 {
            Repr::Config(e) => e.path(),
            Repr::Suppress(e) => Some(e.path()),
            Repr::Invalid(_) | Repr::Image(_) => None,
        }
    }

    /// The rule config error, when the rules were at fault.
    pub fn as_config(&self) -> Option<&ConfigError> {
        match &self.0 {
            Repr::Config(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the cause was an I/O error (a file that could not be read).
    pub fn is_io(&self) -> bool {
        match &self.0 {
            Repr::Config(e) => e.is_io(),
            Repr::Suppress(e) => e.is_io(),
            Repr::Invalid(_) | Repr::Image(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_refused_before_anything_is_read() {
        let e = Request::new(["."])
            .threads(crate::exec::MAX_THREADS + 1)
            .prepare()
            .err();
        let e = e.map(|e| (e.kind(), e.to_string()));
        assert!(
            matches!(&e, Some((RequestErrorKind::Invalid, m)) if m.contains("maximum of 1024")),
            "{e:?}"
        );
        let zero = WalkOptions {
            max_file_size: 0,
            ..WalkOptions::default()
        };
        let e = Request::new(["."]).options(zero).prepare().err();
        assert!(
            e.is_some_and(|e| e.to_string().contains("skips every file")),
            "a size limit of 0 is an error"
        );
        let none: [&str; 0] = [];
        assert!(Request::new(none).prepare().is_err());
        #[cfg(feature = "git")]
        {
            let staged = crate::git::GitOptions {
                staged: true,
                since: Some("main".into()),
                ..crate::git::GitOptions::default()
            };
            let e = Request::git(".", staged).prepare().err();
            assert!(
                e.is_some_and(|e| e.to_string().contains("since and branch do not apply")),
                "staged with since is refused"
            );
        }
    }

    #[test]
    fn zero_threads_is_one_per_core() {
        let scan = Request::new(["."]).packs(["secrets"]).prepare();
        assert_eq!(
            scan.map(|s| s.options().threads).ok(),
            Some(crate::exec::default_threads())
        );
    }

    #[test]
    fn errors_name_the_file_at_fault() {
        let e = Request::new(["."])
            .baseline("/nonexistent/baseline.json")
            .prepare()
            .err();
        assert!(
            e.as_ref()
                .is_some_and(|e| e.kind() == RequestErrorKind::Suppression && e.is_io()),
            "{e:?}"
        );
        assert_eq!(
            e.as_ref().and_then(RequestError::path),
            Some(Path::new("/nonexistent/baseline.json"))
        );
        let e = Request::new(["."])
            .rule_sources(RuleSources {
                config: Some("/nonexistent/rules.toml".into()),
                packs: Vec::new(),
            })
            .prepare()
            .err();
        assert_eq!(
            e.as_ref().map(RequestError::kind),
            Some(RequestErrorKind::Config)
        );
        assert_eq!(
            e.as_ref().and_then(RequestError::path),
            Some(Path::new("/nonexistent/rules.toml"))
        );
    }
}
