//! The single-pass scan of a build context: the scanner as a [`ByteObserver`] of the
//! context writer, so every file is read once for both.

use super::{Finding, Rules, Scanner};
use crate::tar::ByteObserver;

/// Scans each file of a build context as [`Context::write_observed`] streams it.
///
/// [`Context::write_observed`]: crate::tar::Context::write_observed
///
/// ```
/// use capstan::scan::{ContextScan, RuleSet, Rules};
/// use capstan::tar::{Context, ContextError, ContextOptions};
///
/// let dir = std::env::temp_dir().join(format!("capstan-doc-ctxscan-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("Dockerfile"), "FROM scratch\nCOPY .env /\n")?;
/// std::fs::write(dir.join(".env"), "GITHUB_TOKEN=ghp_8kTqZ2vXw9LmN4bR7cYd1FhJ3sPaE6gUo0Ki\n")?;
/// let rules = Rules::compile(&RuleSet::builtin(&["secrets"])?)?;
/// let ctx = Context::select(&dir, &ContextOptions::default())?;
///
/// let mut scan = ContextScan::new(&rules).fail_on_findings(true);
/// let err = ctx.write_observed(std::io::sink(), &mut scan).unwrap_err();
/// assert!(matches!(err, ContextError::Stopped { .. }), "the tar is left unfinished");
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

    fn end(&mut self) -> Result<(), String> {
        let Some(s) = self.current.take() else {
            return Ok(());
        };
        let found = s.finish();
        let first = found
            .first()
            .map(|f| format!("{} at line {}", f.rule_id, f.line));
        self.findings.extend(found);
        match first {
            Some(what) if self.fail => Err(format!("found {what}")),
            _ => Ok(()),
        }
    }
}
