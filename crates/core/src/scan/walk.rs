//! Scanning trees, files, archives and streams on many threads: [`TreeScanner`].

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Instant;

use parking_lot::Mutex;

use super::outcome::{Issue, Progress, ScanOutcome, ScanStats};
use super::{CacheKey, CachedFile, Finding, Rules, ScanCache, Scanner, Shard};
use crate::pool::BufPool;

/// How much of a file is read at a time (and held for the archive sniff).
const CHUNK: usize = 64 << 10;
/// Files looked up in the shared cache level in one round trip (each holds at most one
/// `CHUNK` while it waits).
const SHARED_BATCH: usize = 32;
/// Archives inside archives inside archives: deeper nesting is scanned as plain bytes.
const MAX_NESTING: u32 = 4;

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Worker threads; 0 means one per core.
    pub threads: usize,
    /// Honour `.gitignore` (inside git repositories), `.ignore` and `.git/info/exclude`.
    pub respect_ignore: bool,
    /// Scan hidden files and directories (names starting with `.`; default on: `.env` and
    /// `.aws/credentials` are where secrets live); `.git` is never entered.
    pub hidden: bool,
    /// Follow symbolic links (loops are detected and reported).
    pub follow_links: bool,
    /// Gitignore-style globs of paths to leave out, relative to each input directory.
    pub excludes: Vec<String>,
    /// Files larger than this are skipped (and listed); archives named on the command line are
    /// exempt, as are archives inside archives.
    pub max_file_size: u64,
    /// Scan binary files (a NUL in the first 8 KiB) too.
    pub binary: bool,
    /// Redact secrets in findings.
    pub redact: bool,
    /// Look inside tar and tar.gz archives.
    pub archives: bool,
}

impl WalkOptions {
    /// Whether results of a scan with these options may be cached: only redacted ones (a cache
    /// never holds a secret in full).
    pub fn cacheable(&self) -> bool {
        self.redact
    }

    /// What cached results of a scan with `rules` and these options depend on (the rule set,
    /// the capstan version, and the options that change findings).
    pub(crate) fn settings_digest(&self, rules: &Rules) -> String {
        format!(
            "{} max={} binary={} redact={} archives={}",
            rules.digest(),
            self.max_file_size,
            self.binary,
            self.redact,
            self.archives
        )
    }
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            threads: 0,
            respect_ignore: true,
            hidden: true,
            follow_links: false,
            excludes: Vec::new(),
            max_file_size: 10 << 20,
            binary: false,
            redact: true,
            archives: true,
        }
    }
}

/// Called with each file's findings as soon as the file is done, from the worker threads.
pub type FileSink<'a> = &'a (dyn Fn(&[Finding]) + Sync);

/// Scanning trees, files, archives and streams on many threads.
///
/// [`TreeScanner`] walks its inputs with the `ignore` crate's parallel walker (`.gitignore`,
/// `.ignore` and `.git/info/exclude` honoured unless turned off; `.git` itself never entered;
/// symlinks not followed unless asked, loops detected), reads every file through pooled
/// buffers, looks into tar and tar.gz archives (a `docker save` image and the layers inside it
/// included) without extracting anything, and returns the findings sorted by path, line, column
/// and rule — the same order whatever the thread count. A file that cannot be read is an
/// [`Issue`] in the outcome, never the end of the scan.
///
/// ```
/// use capstan::scan::{RuleSet, Rules, TreeScanner, WalkOptions};
///
/// let dir = std::env::temp_dir().join(format!("capstan-doc-walk-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("src"))?;
/// std::fs::write(dir.join("src/.env"), "GITHUB_TOKEN=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\n")?;
/// let rules = Rules::compile(&RuleSet::builtin(&["secrets"])?)?;
/// let outcome = TreeScanner::new(&rules, WalkOptions::default())
///     .scan(&[dir.clone()]);
/// assert_eq!(outcome.findings.len(), 1);
/// assert!(outcome.findings[0].path.ends_with("src/.env"));
/// assert_eq!(outcome.stats.files, 1);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TreeScanner<'a> {
    rules: &'a Rules,
    opts: WalkOptions,
    cache: Option<&'a ScanCache>,
    sink: Option<FileSink<'a>>,
    cancel: Option<&'a AtomicBool>,
    progress: Arc<Progress>,
    shard: Option<Shard>,
}

impl std::fmt::Debug for TreeScanner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TreeScanner")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

/// One thread's results, merged at the end.
#[derive(Default)]
struct Local {
    findings: Vec<Finding>,
    errors: Vec<Issue>,
    skipped: Vec<Issue>,
    skipped_quietly: u64,
    /// Files scanned by this thread (the live total is in `Progress`).
    files: u64,
    /// Files waiting for a batched shared-cache lookup (empty when absorbed).
    pending: Vec<Pending>,
}

impl Local {
    fn absorb(&mut self, other: Local) {
        self.findings.extend(other.findings);
        self.errors.extend(other.errors);
        self.skipped.extend(other.skipped);
        self.skipped_quietly += other.skipped_quietly;
        self.files += other.files;
    }
}

impl<'a> TreeScanner<'a> {
    /// A scanner of trees with `rules`.
    pub fn new(rules: &'a Rules, opts: WalkOptions) -> Self {
        TreeScanner {
            rules,
            opts,
            cache: None,
            sink: None,
            cancel: None,
            progress: Arc::default(),
            shard: None,
        }
    }

    /// Answers unchanged files from `cache` and records the others in it. Open the cache with
    /// [`settings_digest`](Self::settings_digest). Secrets are only cached redacted: with
    /// `redact: false` the cache is not used.
    pub fn cache(mut self, cache: &'a ScanCache) -> Self {
        if self.opts.cacheable() {
            self.cache = Some(cache);
        }
        self
    }

    /// Hands each file's findings to `sink` as soon as the file is done (for streamed
    /// output; the order across files then depends on the threads).
    pub fn on_file(mut self, sink: FileSink<'a>) -> Self {
        self.sink = Some(sink);
        self
    }

    /// Stops the walk soon after `flag` becomes true; the outcome is marked `interrupted`.
    pub fn cancel_on(mut self, flag: &'a AtomicBool) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// Live counters of the running scan.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// Counts into `progress` instead of counters of its own (a [`Scan`](super::Scan) hands out
    /// its counters before the walk starts).
    pub(crate) fn report_to(mut self, progress: Arc<Progress>) -> Self {
        self.progress = progress;
        self
    }

    /// What cached results depend on: the rule set, the capstan version, and the options that
    /// change findings.
    pub fn settings_digest(&self) -> String {
        self.opts.settings_digest(self.rules)
    }

    /// Scans only `shard`'s part: the files (by name as shown), blobs (by path) or images
    /// (as given) whose key is in it. Directories are still walked.
    pub(crate) fn shard(mut self, shard: Shard) -> Self {
        self.shard = Some(shard);
        self
    }

    /// Whether `key` is this scan's to cover (always, unless it is a shard).
    pub(crate) fn covers(&self, key: &str) -> bool {
        self.shard.is_none_or(|s| s.contains(key))
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Scans every input: files, directories, and `-` for standard input.
    pub fn scan(&self, inputs: &[PathBuf]) -> ScanOutcome {
        let start = Instant::now();
        let merged = Mutex::new(Local::default());
        let mut rest = inputs;
        while let Some(input) = rest.first() {
            if self.cancelled() {
                break;
            }
            // Files named one by one (a pre-commit hook's list) need no directory walker and
            // its threads: each run of them is scanned as a list.
            let files = rest.iter().take_while(|p| is_plain_file(p)).count();
            if files > 0 {
                self.scan_files(&rest[..files], &merged);
                rest = &rest[files..];
                continue;
            }
            rest = &rest[1..];
            if input.as_os_str() == "-" {
                if !self.covers("-") {
                    continue;
                }
                let mut local = Local::default();
                let stdin = io::stdin();
                self.scan_named("-", None, &mut stdin.lock(), None, &mut local);
                merged.lock().absorb(local);
            } else {
                self.walk(input, &merged);
            }
        }
        self.finish(merged.into_inner(), start)
    }

    /// Scans one stream (archives inside it included) under the name `name`.
    pub fn scan_reader(&self, name: &str, reader: &mut dyn Read) -> ScanOutcome {
        let start = Instant::now();
        let mut local = Local::default();
        self.scan_named(name, None, reader, None, &mut local);
        self.finish(local, start)
    }

    fn finish(&self, mut all: Local, start: Instant) -> ScanOutcome {
        sort_findings(&mut all.findings);
        all.errors.sort_by(|a, b| a.path.cmp(&b.path));
        all.skipped.sort_by(|a, b| a.path.cmp(&b.path));
        self.outcome(
            all.findings,
            all.errors,
            all.skipped,
            all.skipped_quietly,
            start,
        )
    }

    /// The outcome of a scan that found `findings` (in the order given), its stats taken from
    /// the live counters and the cache's.
    pub(crate) fn outcome(
        &self,
        findings: Vec<Finding>,
        errors: Vec<Issue>,
        skipped: Vec<Issue>,
        skipped_quietly: u64,
        start: Instant,
    ) -> ScanOutcome {
        let mut stats = ScanStats {
            files: self.progress.files(),
            bytes: self.progress.bytes(),
            skipped: skipped.len() as u64 + skipped_quietly,
            errors: errors.len() as u64,
            cache_hits: self.cache.map_or(0, ScanCache::hits),
            cache_misses: self.cache.map_or(0, ScanCache::misses),
            seconds: start.elapsed().as_secs_f64(),
            ..ScanStats::default()
        };
        stats.count(&findings);
        ScanOutcome {
            findings,
            errors,
            skipped,
            stats,
            interrupted: self.cancelled(),
            warnings: Vec::new(),
            shard: None,
        }
    }

    /// The rules and options this scanner runs with.
    pub(crate) fn rules(&self) -> &Rules {
        self.rules
    }

    /// The options this scanner runs with.
    pub(crate) fn options(&self) -> &WalkOptions {
        &self.opts
    }

    /// The cache, when one is in use.
    pub(crate) fn cache_in_use(&self) -> Option<&'a ScanCache> {
        self.cache
    }

    /// Scans the members of one image layer (a decompressed tar stream) under their own names
    /// (`etc/app.env`; nested archives as `app.tar!member`), listing its whiteouts instead of
    /// scanning them. The findings are in the scanner's order.
    pub(crate) fn scan_layer(&self, reader: &mut dyn Read) -> io::Result<CachedFile> {
        let mut local = Local::default();
        let mut found = Vec::new();
        let mut whiteouts = Vec::new();
        let mut archive =
            crate::tar::ArchiveReader::new(reader, crate::tar::TarLimits::streaming());
        for member in archive.members().map_err(io::Error::other)? {
            if self.cancelled() {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
            }
            let mut member = member.map_err(io::Error::other)?;
            let name = member.name().into_owned();
            let path = crate::image::member_path(&name);
            if crate::image::is_whiteout(path) {
                whiteouts.push(path.to_owned());
                continue;
            }
            if !member.is_file() {
                continue;
            }
            let limit = Some(Limit {
                size: member.size(),
                explicit: false,
            });
            self.scan_stream(path, &mut member, 1, limit, &mut found, &mut local)
                .map_err(|e| io::Error::new(e.kind(), format!("{path}: {e}")))?;
        }
        Ok(CachedFile {
            findings: found,
            files: local.files,
            skipped_quietly: local.skipped_quietly,
            skipped: local.skipped,
            whiteouts,
        })
    }

    /// Scans one blob held in memory under `name` (archives inside it included), counting its
    /// bytes; the findings are in the scanner's order.
    #[cfg(feature = "git")]
    pub(crate) fn scan_blob(&self, name: &str, data: &[u8]) -> io::Result<CachedFile> {
        let mut local = Local::default();
        let mut found = Vec::new();
        self.progress
            .bytes
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        let limit = Some(Limit {
            size: data.len() as u64,
            explicit: false,
        });
        self.scan_stream(name, &mut &data[..], 1, limit, &mut found, &mut local)?;
        Ok(CachedFile {
            findings: found,
            files: local.files,
            skipped_quietly: local.skipped_quietly,
            skipped: local.skipped,
            whiteouts: Vec::new(),
        })
    }

    pub(crate) fn cancelled_now(&self) -> bool {
        self.cancelled()
    }
}

/// Sorts findings by path, line, column, rule and end (a scan's order).
pub(crate) fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        (
            &a.path,
            a.line,
            a.column,
            &a.rule_id,
            a.end_line,
            a.end_column,
        )
            .cmp(&(
                &b.path,
                b.line,
                b.column,
                &b.rule_id,
                b.end_line,
                b.end_column,
            ))
    });
}

impl TreeScanner<'_> {
    fn walk(&self, root: &Path, merged: &Mutex<Local>) {
        if let Some(b) = self.walker(root, merged) {
            let mut builder = VisitorBuilder { scan: self, merged };
            b.build_parallel().visit(&mut builder);
        }
    }

    /// Regular files named as inputs, on up to `--threads` threads (one for one file: no
    /// thread is started), each through the same walker settings as a directory's entries.
    fn scan_files(&self, files: &[PathBuf], merged: &Mutex<Local>) {
        let threads = crate::exec::threads(self.opts.threads).unwrap_or(1);
        let visitor = || Visitor {
            scan: self,
            merged,
            local: Local::default(),
        };
        crate::exec::each_with(files, threads, visitor, |visitor, file| {
            let Some(b) = self.walker(file, merged) else {
                return;
            };
            for entry in b.build() {
                if matches!(
                    self.visit(entry, &mut visitor.local),
                    ignore::WalkState::Quit
                ) {
                    break;
                }
            }
        });
    }

    /// The walker over `root` with this scan's settings (`None`: a bad `--exclude`, reported).
    fn walker(&self, root: &Path, merged: &Mutex<Local>) -> Option<ignore::WalkBuilder> {
        let o = &self.opts;
        let mut b = ignore::WalkBuilder::new(root);
        b.hidden(!o.hidden)
            .ignore(o.respect_ignore)
            .git_ignore(o.respect_ignore)
            .git_exclude(o.respect_ignore)
            .git_global(false)
            .parents(o.respect_ignore)
            .follow_links(o.follow_links)
            .threads(crate::exec::threads(o.threads).unwrap_or(crate::exec::MAX_THREADS))
            .filter_entry(|e| e.file_name() != ".git");
        if !o.excludes.is_empty() {
            let mut ob = ignore::overrides::OverrideBuilder::new(root);
            for glob in &o.excludes {
                if let Err(e) = ob.add(&format!("!{glob}")) {
                    merged.lock().errors.push(Issue {
                        path: glob.clone(),
                        reason: format!("bad --exclude pattern: {e}"),
                    });
                    return None;
                }
            }
            match ob.build() {
                Ok(ov) => {
                    b.overrides(ov);
                }
                Err(e) => {
                    merged.lock().errors.push(Issue {
                        path: root.display().to_string(),
                        reason: format!("bad --exclude pattern: {e}"),
                    });
                    return None;
                }
            }
        }
        Some(b)
    }

    fn visit(
        &self,
        res: Result<ignore::DirEntry, ignore::Error>,
        local: &mut Local,
    ) -> ignore::WalkState {
        if self.cancelled() {
            return ignore::WalkState::Quit;
        }
        let entry = match res {
            Ok(e) => e,
            Err(e) => {
                local.errors.push(walk_issue(&e));
                return ignore::WalkState::Continue;
            }
        };
        let explicit = entry.depth() == 0;
        let path = entry.path();
        let name = display(path);
        let Some(ft) = entry.file_type() else {
            return ignore::WalkState::Continue;
        };
        if ft.is_dir() || !self.covers(&name) {
            // Every shard walks every directory; a file is one shard's, by its name.
            return ignore::WalkState::Continue;
        }
        if explicit && is_stream(path) {
            // A pipe named on the command line (`capstan scan <(git diff)`): read it like
            // standard input, blocking.
            match File::open(path) {
                Ok(mut f) => {
                    self.scan_named(&name, None, &mut f, None, local);
                }
                Err(e) => local.errors.push(Issue {
                    path: name,
                    reason: e.to_string(),
                }),
            }
            return ignore::WalkState::Continue;
        }
        if ft.is_symlink() && !explicit {
            // Not followed: neither scanned nor entered.
            return ignore::WalkState::Continue;
        }
        if !ft.is_file() && !ft.is_symlink() {
            // Opening a FIFO would block until someone writes to it.
            local.skipped.push(Issue {
                path: name,
                reason: "not a regular file (FIFO, socket or device)".to_owned(),
            });
            return ignore::WalkState::Continue;
        }
        let opened = open_nonblocking(path).and_then(|f| f.metadata().map(|m| (f, m)));
        let (mut file, meta) = match opened {
            Ok(fm) => fm,
            Err(e) => {
                local.errors.push(Issue {
                    path: name,
                    reason: e.to_string(),
                });
                return ignore::WalkState::Continue;
            }
        };
        if !meta.is_file() {
            if !meta.is_dir() {
                local.skipped.push(Issue {
                    path: name,
                    reason: "not a regular file (FIFO, socket or device)".to_owned(),
                });
            }
            return ignore::WalkState::Continue;
        }
        // The findings carry the path as shown (fingerprints and path rules depend on it),
        // so the key holds both the file and the name it is shown under.
        let key = self
            .cache
            .and_then(|_| std::path::absolute(path).ok())
            .map(|p| p.to_string_lossy().into_owned());
        let limit = Limit {
            size: meta.len(),
            explicit,
        };
        // Oversized files found by the walk take the plain path and are skipped there without
        // being hashed; files named on the command line (a `docker save` image) use the cache.
        let cached = self
            .cache
            .filter(|_| explicit || meta.len() <= self.opts.max_file_size);
        if let (Some(key), Some(cache)) = (key.as_deref(), cached) {
            self.scan_cached(path, &name, key, cache, file, limit, local);
        } else {
            self.scan_named(&name, None, &mut file, Some(limit), local);
        }
        ignore::WalkState::Continue
    }

    /// Hashes the file; answers from the cache or scans it (hashing again what is scanned,
    /// so the entry stored describes exactly the bytes behind its findings). With a shared
    /// level, files the local store doesn't know wait in `local.pending` for one batched
    /// lookup.
    #[allow(clippy::too_many_arguments)]
    fn scan_cached(
        &self,
        path: &Path,
        name: &str,
        absolute: &str,
        cache: &ScanCache,
        mut file: File,
        limit: Limit,
        local: &mut Local,
    ) {
        use std::io::Seek;
        let mut buf = BufPool::global().get(CHUNK);
        buf.resize(chunk_for(Some(limit)), 0);
        // Most files fit in one chunk: read once, hash, and on a miss scan the same bytes.
        let hashed = (|| -> io::Result<([u8; 32], usize)> {
            let n = read_full(&mut file, &mut buf)?;
            let mut h = blake3::Hasher::new();
            h.update(&buf[..n]);
            if n == buf.len() {
                loop {
                    match file.read(&mut buf) {
                        Ok(0) => break,
                        Ok(m) => {
                            h.update(&buf[..m]);
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                file.rewind()?;
            }
            Ok((*h.finalize().as_bytes(), n))
        })();
        let (hash, head) = match hashed {
            Ok(h) => h,
            Err(e) => {
                local.errors.push(Issue {
                    path: name.to_owned(),
                    reason: e.to_string(),
                });
                return;
            }
        };
        let key = CacheKey::file(absolute, name, hash);
        if let Some(hit) = cache.get_local(&key) {
            self.answered(hit, limit, local);
            return;
        }
        // The whole file when it fit in one chunk; otherwise it is read again on a miss.
        let whole = (head < buf.len()).then(|| {
            buf.truncate(head);
            buf
        });
        let mut waiting = Pending {
            path: path.to_owned(),
            name: name.to_owned(),
            absolute: absolute.to_owned(),
            key,
            whole,
            file: Some(file),
            limit,
        };
        if cache.batches_lookups() {
            // No descriptor is held while waiting (a thousand threads times a batch would run
            // out of them): a large file is opened again if it has to be scanned.
            waiting.file = None;
            local.pending.push(waiting);
            if local.pending.len() >= SHARED_BATCH {
                self.flush_pending(cache, local);
            }
            return;
        }
        let mut found = cache.get_shared(std::slice::from_ref(&waiting.key));
        match found.pop().flatten() {
            Some(hit) => self.answered(hit, waiting.limit, local),
            None => self.scan_missed(waiting, cache, local),
        }
    }

    /// Looks the files waiting in `local.pending` up in the shared level in one round trip,
    /// and scans those it doesn't know.
    fn flush_pending(&self, cache: &ScanCache, local: &mut Local) {
        if local.pending.is_empty() {
            return;
        }
        let pending = std::mem::take(&mut local.pending);
        if self.cancelled() {
            return;
        }
        let keys: Vec<CacheKey> = pending.iter().map(|p| p.key.clone()).collect();
        let found = cache.get_shared(&keys);
        for (waiting, hit) in pending.into_iter().zip(found) {
            match hit {
                Some(hit) => self.answered(hit, waiting.limit, local),
                None => self.scan_missed(waiting, cache, local),
            }
        }
    }

    /// Counts and delivers what a cache answered for a file.
    fn answered(&self, hit: CachedFile, limit: Limit, local: &mut Local) {
        local.files += hit.files;
        self.progress.files.fetch_add(hit.files, Ordering::Relaxed);
        self.progress.bytes.fetch_add(limit.size, Ordering::Relaxed);
        local.skipped_quietly += hit.skipped_quietly;
        local.skipped.extend(hit.skipped);
        self.deliver(hit.findings, local);
    }

    /// Scans a file no cache level knew, and records what it found in both.
    fn scan_missed(&self, waiting: Pending, cache: &ScanCache, local: &mut Local) {
        let Pending {
            path,
            name,
            absolute,
            key,
            whole,
            file,
            limit,
        } = waiting;
        let errors_before = local.errors.len();
        let before = (local.files, local.skipped_quietly, local.skipped.len());
        let mut found = Vec::new();
        let (ok, key) = if let Some(bytes) = whole {
            let ok = self.scan_named(&name, Some(&mut found), &mut &bytes[..], Some(limit), local);
            (ok, key)
        } else {
            let mut file = match file.map_or_else(|| open_nonblocking(&path), Ok) {
                Ok(f) => f,
                Err(e) => {
                    local.errors.push(Issue {
                        path: name,
                        reason: e.to_string(),
                    });
                    return;
                }
            };
            // Hash what is scanned (the file may have changed since it was hashed): the entry
            // must describe the bytes behind its findings.
            let mut reader = Hashing {
                inner: &mut file,
                hasher: blake3::Hasher::new(),
            };
            let ok = self.scan_named(&name, Some(&mut found), &mut reader, Some(limit), local)
                && io::copy(&mut reader, &mut io::sink()).is_ok();
            let hash = *reader.hasher.finalize().as_bytes();
            (ok, CacheKey::file(&absolute, &name, hash))
        };
        // A cancelled scan may have stopped inside an archive: never cache a partial answer.
        if ok && local.errors.len() == errors_before && !self.cancelled() {
            let entry = CachedFile {
                findings: found,
                files: local.files - before.0,
                skipped_quietly: local.skipped_quietly - before.1,
                skipped: local.skipped[before.2..].to_vec(),
                whiteouts: Vec::new(),
            };
            cache.put(&key, &entry);
            found = entry.findings;
        }
        self.deliver(found, local);
    }

    fn deliver(&self, found: Vec<Finding>, local: &mut Local) {
        if found.is_empty() {
            return;
        }
        self.progress
            .findings
            .fetch_add(found.len() as u64, Ordering::Relaxed);
        if let Some(sink) = self.sink {
            sink(&found);
        }
        local.findings.extend(found);
    }

    /// Scans `reader` under `name`, looking into archives. With `collect`, findings go there
    /// (for the caller to cache and deliver); otherwise they are delivered here. Returns
    /// whether the input was read without error.
    fn scan_named(
        &self,
        name: &str,
        collect: Option<&mut Vec<Finding>>,
        reader: &mut dyn Read,
        limit: Option<Limit>,
        local: &mut Local,
    ) -> bool {
        let mut own = Vec::new();
        let deliver_here = collect.is_none();
        let out = collect.unwrap_or(&mut own);
        let mut counted = Counting {
            inner: reader,
            bytes: &self.progress.bytes,
        };
        let result = self.scan_stream(name, &mut counted, 0, limit, out, local);
        if deliver_here {
            self.deliver(own, local);
        }
        match result {
            Ok(()) => true,
            Err(e) => {
                local.errors.push(Issue {
                    path: name.to_owned(),
                    reason: e.to_string(),
                });
                false
            }
        }
    }

    fn scan_stream(
        &self,
        name: &str,
        reader: &mut dyn Read,
        depth: u32,
        limit: Option<Limit>,
        out: &mut Vec<Finding>,
        local: &mut Local,
    ) -> io::Result<()> {
        let mut buf = BufPool::global().get(CHUNK);
        buf.resize(chunk_for(limit), 0);
        let n = read_full(reader, &mut buf)?;
        let is_tar = self.opts.archives && depth < MAX_NESTING && sniff(&buf[..n]);
        let is_gzip =
            self.opts.archives && depth < MAX_NESTING && buf[..n].starts_with(&[0x1f, 0x8b]);
        let max = self.opts.max_file_size;
        if let Some(l) = limit {
            // Archives named on the command line (and inside archives) are exempt.
            if l.size > max && !((is_tar || is_gzip) && (l.explicit || depth > 0)) {
                local.skipped.push(Issue {
                    path: name.to_owned(),
                    reason: format!("larger than the {max}-byte limit (--max-file-size)"),
                });
                return Ok(());
            }
        }
        if is_tar {
            let mut head = io::Cursor::new(&buf[..n]);
            let mut chained = (&mut head).chain(reader);
            return self.scan_tar(name, &mut chained, depth, out, local);
        }
        if is_gzip {
            let mut head = io::Cursor::new(&buf[..n]);
            let mut gz = flate2::read::MultiGzDecoder::new((&mut head).chain(reader));
            let mut inner = BufPool::global().get(CHUNK);
            inner.resize(CHUNK, 0);
            if let Ok(m) = read_full(&mut gz, &mut inner)
                && sniff(&inner[..m])
            {
                let mut head2 = io::Cursor::new(&inner[..m]);
                let mut chained = (&mut head2).chain(&mut gz);
                return self.scan_tar(name, &mut chained, depth, out, local);
            }
            // Compressed data that isn't a tar: binary, like any other.
            local.skipped_quietly += 1;
            return Ok(());
        }
        if !self.opts.binary && memchr::memchr(0, &buf[..n.min(super::BINARY_PROBE)]).is_some() {
            // The scanner's own probe, done here so a binary file is neither read further nor
            // counted as scanned.
            local.skipped_quietly += 1;
            return Ok(());
        }
        let mut scanner = Scanner::new(self.rules)
            .path(name)
            .redact(self.opts.redact)
            .binary(self.opts.binary);
        scanner.feed(&buf[..n]);
        let mut total = n as u64;
        while n == buf.len() && !scanner.skipped() {
            let m = match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            scanner.feed(&buf[..m]);
            total += m as u64;
        }
        if let Some(l) = limit
            && depth == 0
            && !scanner.skipped()
            && total != l.size
        {
            return Err(io::Error::other(format!(
                "changed while being read ({} bytes expected, {total} read)",
                l.size
            )));
        }
        if scanner.skipped() {
            local.skipped_quietly += 1;
        } else {
            local.files += 1;
            self.progress.files.fetch_add(1, Ordering::Relaxed);
        }
        out.extend(scanner.finish());
        Ok(())
    }

    fn scan_tar(
        &self,
        name: &str,
        reader: &mut dyn Read,
        depth: u32,
        out: &mut Vec<Finding>,
        local: &mut Local,
    ) -> io::Result<()> {
        // Members stream through the scanner, so only extensions (held in memory) are limited.
        let mut archive =
            crate::tar::ArchiveReader::new(reader, crate::tar::TarLimits::streaming());
        for member in archive.members().map_err(io::Error::other)? {
            if self.cancelled() {
                break;
            }
            let mut member = member.map_err(io::Error::other)?;
            if !member.is_file() {
                continue;
            }
            let shown = member.name().into_owned();
            let shown = shown.strip_prefix("./").unwrap_or(&shown);
            let full = format!("{name}!{shown}");
            let limit = Some(Limit {
                size: member.size(),
                explicit: false,
            });
            let mut found = Vec::new();
            let read = self.scan_stream(&full, &mut member, depth + 1, limit, &mut found, local);
            out.extend(found);
            // What went wrong inside the member (its data, or an archive nested in it) is
            // prefixed with its name: nested members read `outer: inner: cause`.
            read.map_err(|e| io::Error::other(format!("{shown}: {e}")))?;
        }
        Ok(())
    }
}

/// A hashed file waiting for a batched lookup in the shared cache level.
struct Pending {
    path: PathBuf,
    name: String,
    absolute: String,
    key: CacheKey,
    /// The file's bytes when they fit in one chunk.
    whole: Option<crate::pool::PooledBuf<'static>>,
    /// Rewound, to read again on a miss when `whole` is `None`; `None` while waiting in a
    /// batch (the file is opened again).
    file: Option<File>,
    limit: Limit,
}

#[derive(Debug, Clone, Copy)]
struct Limit {
    size: u64,
    /// Named on the command line (not found by the walk).
    explicit: bool,
}

/// Counts what passes through into the live byte counter.
struct Counting<'r> {
    inner: &'r mut dyn Read,
    bytes: &'r AtomicU64,
}

impl Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Hashes what passes through.
struct Hashing<'f> {
    inner: &'f mut File,
    hasher: blake3::Hasher,
}

impl Read for Hashing<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

struct VisitorBuilder<'s> {
    scan: &'s TreeScanner<'s>,
    merged: &'s Mutex<Local>,
}

impl<'s> ignore::ParallelVisitorBuilder<'s> for VisitorBuilder<'s> {
    fn build(&mut self) -> Box<dyn ignore::ParallelVisitor + 's> {
        Box::new(Visitor {
            scan: self.scan,
            merged: self.merged,
            local: Local::default(),
        })
    }
}

struct Visitor<'s> {
    scan: &'s TreeScanner<'s>,
    merged: &'s Mutex<Local>,
    local: Local,
}

impl ignore::ParallelVisitor for Visitor<'_> {
    fn visit(&mut self, entry: Result<ignore::DirEntry, ignore::Error>) -> ignore::WalkState {
        self.scan.visit(entry, &mut self.local)
    }
}

impl Drop for Visitor<'_> {
    fn drop(&mut self) {
        if let Some(cache) = self.scan.cache {
            self.scan.flush_pending(cache, &mut self.local);
        }
        self.merged.lock().absorb(std::mem::take(&mut self.local));
    }
}

/// A regular file, not through a symbolic link (links, directories and devices go through the
/// walker, which knows how to treat them).
fn is_plain_file(path: &Path) -> bool {
    path.as_os_str() != "-" && std::fs::symlink_metadata(path).is_ok_and(|m| m.is_file())
}

/// A FIFO or character device (after following links).
fn is_stream(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        std::fs::metadata(path)
            .is_ok_and(|m| m.file_type().is_fifo() || m.file_type().is_char_device())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// Opens for reading without blocking on a FIFO that replaced a file since the walk saw it
/// (on regular files `O_NONBLOCK` changes nothing).
fn open_nonblocking(path: &Path) -> io::Result<File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(any(target_os = "linux", target_os = "android"))]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut o, libc::O_NONBLOCK | libc::O_NOCTTY);
    o.open(path)
}

/// The path as the user wrote it, without a leading `./`.
fn display(path: &Path) -> String {
    let s = path.to_string_lossy();
    s.strip_prefix("./").unwrap_or(&s).to_owned()
}

fn walk_issue(e: &ignore::Error) -> Issue {
    fn path_of(e: &ignore::Error) -> Option<&Path> {
        match e {
            ignore::Error::WithPath { path, .. } => Some(path),
            ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
                path_of(err)
            }
            ignore::Error::Loop { child, .. } => Some(child),
            _ => None,
        }
    }
    fn cause(e: &ignore::Error) -> String {
        match e {
            ignore::Error::WithPath { err, .. } | ignore::Error::WithDepth { err, .. } => {
                cause(err)
            }
            ignore::Error::Loop { ancestor, .. } => {
                format!("symlink loop back to {}", ancestor.display())
            }
            other => other.to_string(),
        }
    }
    Issue {
        path: path_of(e).map_or_else(String::new, display),
        reason: cause(e),
    }
}

/// The read size for an input of known size: the whole of a small file plus one byte (to see
/// the end without another call), so a 300-byte file doesn't zero a 64 KiB buffer first.
fn chunk_for(limit: Option<Limit>) -> usize {
    limit.map_or(CHUNK, |l| {
        usize::try_from(l.size.saturating_add(1)).map_or(CHUNK, |n| n.clamp(512, CHUNK))
    })
}

/// Fills `buf` unless the input ends first; returns the bytes read.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(m) => n += m,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// A POSIX (ustar) or GNU tar header: the magic at offset 257 and a valid header checksum.
fn sniff(head: &[u8]) -> bool {
    if head.len() < 512 {
        return false;
    }
    let h = &head[..512];
    if &h[257..262] != b"ustar" {
        return false;
    }
    let stored = std::str::from_utf8(&h[148..156])
        .ok()
        .map(|s| s.trim_matches(|c: char| c == '\0' || c == ' '))
        .and_then(|s| u32::from_str_radix(s, 8).ok());
    let sum: u32 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                u32::from(b' ')
            } else {
                u32::from(b)
            }
        })
        .sum();
    stored == Some(sum)
}
