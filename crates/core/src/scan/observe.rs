//! The single-pass scan of a build context: the scanner as a [`ByteObserver`] of the
//! context writer, so every file is read once for both.

use super::{Finding, Rules, Scanner};
use crate::tar::{ByteObserver, Stop};

/// Scans each file of a build context as [`Context::write_observed`] streams it.
///
/// [`Context::write_observed`]: crate::tar::Context::write_observed
///
/// ```
/// use capstan::scan::{ContextScan, RuleSet, Rules};
/// use capstan::tar::{Context, ContextErrorKind, ContextOptions};
///
/// let dir = std::env::temp_dir().join(format!("capstan-doc-ctxscan-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("Dockerfile"), "FROM scratch\nCOPY .env /\n")?;
/// std::fs::write(dir.join(".env"), "GITHUB_TOKEN=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\n")?;
/// let rules = Rules::compile(&RuleSet::builtin(&["secrets"])?)?;
/// let ctx = Context::select(&dir, &ContextOptions::default())?;
///
/// let mut scan = ContextScan::new(&rules).fail_on_findings(true);
/// let err = ctx.write_observed(std::io::sink(), &mut scan).unwrap_err();
/// assert_eq!(err.kind(), ContextErrorKind::Stopped, "the tar is left unfinished");
/// assert_eq!(err.member(), Some(".env"));
/// assert_eq!(scan.findings()[0].path, ".env");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ContextScan<'r> {
    rules: &'r Rules,
    redact: bool,
    fail: bool,
    current: Option<Scanner<'r>>,
    findings: Vec<Finding>,
}

impl<'r> ContextScan<'r> {
    /// Scans with `rules`, secrets redacted, the context finished whatever is found.
    pub fn new(rules: &'r Rules) -> Self {
        ContextScan {
            rules,
            redact: true,
            fail: false,
            current: None,
            findings: Vec::new(),
        }
    }

    /// Whether secrets are redacted in findings (default `true`).
    pub fn redact(mut self, on: bool) -> Self {
        self.redact = on;
        self
    }

    /// Stop the context after the first file with a finding (default `false`).
    pub fn fail_on_findings(mut self, on: bool) -> Self {
        self.fail = on;
        self
    }

    /// What was found so far, in tar order.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The findings.
    pub fn into_findings(self) -> Vec<Finding> {
        self.findings
    }
}

impl ByteObserver for ContextScan<'_> {
    fn start(&mut self, name: &str) {
        self.current = Some(Scanner::new(self.rules).path(name).redact(self.redact));
    }

    fn bytes(&mut self, chunk: &[u8]) {
        if let Some(s) = &mut self.current {
            s.feed(chunk);
        }
    }

    fn end(&mut self) -> Result<(), Stop> {
        let Some(s) = self.current.take() else {
            return Ok(());
        };
        let found = reported(s.finish());
        let first = found
            .first()
            .map(|f| format!("{} at line {}", f.rule_id, f.line));
        self.findings.extend(found);
        match first {
            Some(what) if self.fail => Err(Stop::new(format!("found {what}"))),
            _ => Ok(()),
        }
    }
}

/// The findings a build-context scan reports and stops on: those of the default
/// [`Confidence`](super::Confidence) and above (a match in a context's documentation or vendored
/// code should not fail a build; `capstan scan --min-confidence low` lists them).
fn reported(mut found: Vec<Finding>) -> Vec<Finding> {
    found.retain(|f| f.confidence >= super::Confidence::default());
    found
}

/// What the context writer hands a scan worker.
enum Msg {
    Start(usize, String),
    Bytes(crate::pool::PooledBuf<'static>),
    End,
}

/// The single-pass scan on `threads` background threads (on one, in line: a [`ContextScan`];
/// each file goes to the worker with the least queued, its chunks in order), so that scanning
/// overlaps the tar writing. `run`
/// gets the observer to pass to [`Context::write_observed`]; with `fail_on_findings`, a
/// finding is reported from [`ByteObserver::finish`], before the tar's end-of-archive blocks,
/// so the tar is left unfinished (it may already hold the file with the secret: send it to a
/// file, not straight to a builder, when that matters).
///
/// Returns what `run` returned and the findings in tar order.
///
/// [`Context::write_observed`]: crate::tar::Context::write_observed
pub fn scan_in_background<T>(
    rules: &Rules,
    threads: usize,
    redact: bool,
    fail_on_findings: bool,
    run: impl FnOnce(&mut dyn ByteObserver) -> T,
) -> (T, Vec<Finding>) {
    if threads <= 1 {
        // One core: a background thread would only take turns with the writer. Scan in line,
        // which also stops right after the first file with a finding.
        let mut scan = ContextScan::new(rules)
            .redact(redact)
            .fail_on_findings(fail_on_findings);
        let out = run(&mut scan);
        return (out, scan.into_findings());
    }
    let results = parking_lot::Mutex::new(Vec::<(usize, Vec<Finding>)>::new());
    let out = std::thread::scope(|s| {
        let mut senders = Vec::with_capacity(threads);
        // Each worker holds a clone and drops it when it is done: `recv` on `done` fails
        // once every worker has finished.
        let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
        for _ in 0..threads {
            let (tx, rx) = crossbeam_channel::bounded::<Msg>(64);
            senders.push(tx);
            let results = &results;
            let done_tx = done_tx.clone();
            s.spawn(move || {
                let _done = done_tx;
                let mut current: Option<(usize, Scanner<'_>)> = None;
                for msg in rx {
                    match msg {
                        Msg::Start(i, name) => {
                            current = Some((i, Scanner::new(rules).path(&name).redact(redact)));
                        }
                        Msg::Bytes(chunk) => {
                            if let Some((_, s)) = &mut current {
                                s.feed(&chunk);
                            }
                        }
                        Msg::End => {
                            if let Some((i, s)) = current.take() {
                                let found = reported(s.finish());
                                if !found.is_empty() {
                                    results.lock().push((i, found));
                                }
                            }
                        }
                    }
                }
            });
        }
        drop(done_tx);
        let mut observer = Background {
            senders,
            done,
            next: 0,
            file: 0,
            results: &results,
            fail: fail_on_findings,
        };
        run(&mut observer)
        // `observer` drops here: the channels close and the workers finish.
    });
    let mut all = results.into_inner();
    all.sort_by_key(|(i, _)| *i);
    (out, all.into_iter().flat_map(|(_, f)| f).collect())
}

struct Background<'a> {
    senders: Vec<crossbeam_channel::Sender<Msg>>,
    done: crossbeam_channel::Receiver<()>,
    /// The worker of the current file.
    next: usize,
    /// Files started so far.
    file: usize,
    results: &'a parking_lot::Mutex<Vec<(usize, Vec<Finding>)>>,
    fail: bool,
}

impl Background<'_> {
    fn send(&self, msg: Msg) {
        if let Some(tx) = self.senders.get(self.next) {
            // A worker only stops when its channel closes; a send cannot fail before that.
            let _ = tx.send(msg);
        }
    }
}

impl ByteObserver for Background<'_> {
    fn start(&mut self, name: &str) {
        // The worker with the least queued: a big file doesn't hold up the writer behind one
        // worker while the other waits (ties go round, to spread small files).
        let n = self.senders.len().max(1);
        self.next = (0..n)
            .map(|k| (self.file + k) % n)
            .min_by_key(|&w| {
                self.senders
                    .get(w)
                    .map_or(usize::MAX, crossbeam_channel::Sender::len)
            })
            .unwrap_or(0);
        self.send(Msg::Start(self.file, name.to_owned()));
        self.file += 1;
    }

    fn bytes(&mut self, chunk: &[u8]) {
        let mut buf = crate::pool::BufPool::global().get(chunk.len());
        buf.extend_from_slice(chunk);
        self.send(Msg::Bytes(buf));
    }

    fn end(&mut self) -> Result<(), Stop> {
        self.send(Msg::End);
        // Stop early when a worker has already reported something.
        if self.fail && !self.results.lock().is_empty() {
            return Err(Stop::new("found a secret, crypto or threat finding"));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), Stop> {
        // Close the queues and wait until every worker has scanned what it was sent.
        self.senders.clear();
        while self.done.recv().is_ok() {}
        if self.fail && !self.results.lock().is_empty() {
            return Err(Stop::new("found a secret, crypto or threat finding"));
        }
        Ok(())
    }
}
