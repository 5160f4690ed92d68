//! Suppressing known findings: [`Suppressions`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::Finding;
use super::finding::FINGERPRINT_HEX_LEN;

/// Why a baseline or ignore file could not be used.
#[derive(Debug)]
pub struct SuppressError {
    path: PathBuf,
    repr: Repr,
}

#[derive(Debug)]
enum Repr {
    Io(std::io::Error),
    Baseline(String),
    Glob { line: usize, message: String },
}

impl std::fmt::Display for SuppressError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let path = self.path.display();
        match &self.repr {
            Repr::Io(e) => write!(f, "{path}: {e}"),
            Repr::Baseline(message) => write!(f, "{path}: not a capstan JSON report ({message})"),
            Repr::Glob { line, message } => write!(
                f,
                "{path}:{line}: not a path pattern ({message}); write path:GLOB, e.g. path:tests/**"
            ),
        }
    }
}

impl std::error::Error for SuppressError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.repr {
            Repr::Io(e) => Some(e),
            Repr::Baseline(_) | Repr::Glob { .. } => None,
        }
    }
}

/// What kind of thing went wrong in a [`SuppressError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SuppressErrorKind {
    /// The file could not be read (the cause is the error's `source`).
    Io,
    /// A baseline that is not a capstan JSON report.
    Baseline,
    /// An ignore file's `path:GLOB` line that is not a pattern.
    Pattern,
}

/// Suppressing known findings: baselines (a previous JSON report) and ignore files.
///
/// An ignore file (`.capstanignore`, or one named with `--ignore-file`) lists one entry per
/// line, `#` starting a comment:
/// - a capstan fingerprint (32 hex digits, as in the JSON and SARIF reports);
/// - gitleaks' `.gitleaksignore` form `path:rule-id:line`, optionally prefixed by a commit
///   (`commit:path:rule-id:line`; the commit is ignored, capstan scans trees);
/// - `path:GLOB`: every finding in a file the pattern matches (gitignore-like: `*` stays within
///   a directory, `**` crosses them, a pattern without `/` matches the name at any depth, a
///   trailing `/` a whole directory), matched against the path as shown and, for an ignore
///   file, against the path relative to the file's directory — for test fixtures and
///   documentation examples, e.g. `path:tests/fixtures/**`.
///
/// ```
/// use capstan::scan::{RuleSet, Rules, Suppressions};
///
/// let rules = Rules::compile(&RuleSet::builtin(&["secrets"])?)?;
/// let found = rules.scan_bytes(".env", b"GITHUB_TOKEN=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\n");
/// let mut s = Suppressions::default();
/// s.add_ignore_text(&format!("# known test token\n{}\n", found[0].fingerprint));
/// assert!(s.suppresses(&found[0]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Suppressions {
    fingerprints: HashSet<String>,
    locations: HashSet<(String, String, u64)>,
    /// `path:GLOB` entries, each with the directory of the ignore file it came from.
    globs: Vec<(globset::GlobMatcher, Option<PathBuf>)>,
}

impl SuppressError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        SuppressError {
            path: path.to_owned(),
            repr: Repr::Io(source),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> SuppressErrorKind {
        match self.repr {
            Repr::Io(_) => SuppressErrorKind::Io,
            Repr::Baseline(_) => SuppressErrorKind::Baseline,
            Repr::Glob { .. } => SuppressErrorKind::Pattern,
        }
    }

    /// The baseline or ignore file at fault.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file could not be read.
    pub fn is_io(&self) -> bool {
        self.kind() == SuppressErrorKind::Io
    }
}

impl Suppressions {
    /// Whether nothing is suppressed.
    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty() && self.locations.is_empty() && self.globs.is_empty()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        // Each `path:` entry is two matchers: the pattern and everything below it.
        self.fingerprints.len() + self.locations.len() + self.globs.len() / 2
    }

    /// Suppresses every finding of a previous `capstan scan --format json` report (or a JSON
    /// array of findings, or JSON Lines).
    pub fn add_baseline(&mut self, path: &Path) -> Result<(), SuppressError> {
        let text = std::fs::read_to_string(path).map_err(|e| SuppressError::io(path, e))?;
        let bad = |message: String| SuppressError {
            path: path.to_owned(),
            repr: Repr::Baseline(message),
        };
        let values: Vec<serde_json::Value> = match serde_json::from_str::<serde_json::Value>(&text)
        {
            Ok(serde_json::Value::Object(mut o)) => match o.remove("findings") {
                Some(serde_json::Value::Array(a)) => a,
                _ => return Err(bad("no \"findings\" array".to_owned())),
            },
            Ok(serde_json::Value::Array(a)) => a,
            Ok(_) => return Err(bad("expected an object with \"findings\"".to_owned())),
            Err(whole) => text
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(serde_json::from_str)
                .collect::<Result<_, _>>()
                .map_err(|_| bad(whole.to_string()))?,
        };
        for (i, v) in values.iter().enumerate() {
            let fp = v
                .get("fingerprint")
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| bad(format!("finding {} has no \"fingerprint\"", i + 1)))?;
            self.fingerprints.insert(fp.to_owned());
        }
        Ok(())
    }

    /// Adds the entries of an ignore file; a `path:` line that is not a pattern is an error
    /// naming the file and the line.
    pub fn add_ignore_file(&mut self, path: &Path) -> Result<(), SuppressError> {
        let text = std::fs::read_to_string(path).map_err(|e| SuppressError::io(path, e))?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let base = std::path::absolute(dir.unwrap_or(Path::new(".")))
            .map_err(|e| SuppressError::io(path, e))?;
        self.add_text(&text, Some(&base))
            .map_err(|(line, message)| SuppressError {
                path: path.to_owned(),
                repr: Repr::Glob { line, message },
            })
    }

    /// Adds the entries of an ignore file's text (see [`Suppressions`]). Lines that are none
    /// of its forms are ignored, as gitleaks does, and so are `path:` patterns that don't
    /// compile.
    pub fn add_ignore_text(&mut self, text: &str) {
        let _ = self.add_text(text, None);
    }

    /// The entries of `text`; `path:GLOB` ones relative to `base` too. The first pattern that
    /// doesn't compile ends it: its line number and why.
    fn add_text(&mut self, text: &str, base: Option<&Path>) -> Result<(), (usize, String)> {
        let mut bad = None;
        for (i, line) in text.lines().enumerate() {
            let line = line.split_once('#').map_or(line, |(l, _)| l).trim();
            if line.is_empty() {
                continue;
            }
            if line.len() == FINGERPRINT_HEX_LEN && line.bytes().all(|b| b.is_ascii_hexdigit()) {
                self.fingerprints.insert(line.to_ascii_lowercase());
                continue;
            }
            // path:rule:line, where the path may itself hold ':' (or a commit: prefix).
            let mut parts = line.rsplitn(3, ':');
            if let (Some(n), Some(rule), Some(rest)) = (parts.next(), parts.next(), parts.next())
                && let Ok(n) = n.parse::<u64>()
            {
                self.locations.insert((rest.to_owned(), rule.to_owned(), n));
                if let Some((commit, p)) = rest.split_once(':')
                    && commit.len() >= 7
                    && commit.bytes().all(|b| b.is_ascii_hexdigit())
                {
                    self.locations.insert((p.to_owned(), rule.to_owned(), n));
                }
                continue;
            }
            if let Some(pattern) = line.strip_prefix("path:") {
                let pattern = pattern.trim();
                // As in a .gitignore, a pattern also matches everything below a directory it
                // names.
                let below = format!("{}/", pattern.trim_end_matches('/'));
                match path_glob(pattern).and_then(|m| Ok((m, path_glob(&below)?))) {
                    Ok((m, under)) => {
                        self.globs.push((m, base.map(Path::to_owned)));
                        self.globs.push((under, base.map(Path::to_owned)));
                    }
                    Err(e) => {
                        bad.get_or_insert((i + 1, e));
                    }
                }
            }
        }
        bad.map_or(Ok(()), Err)
    }

    /// Whether a `path:GLOB` entry matches `f`'s file (an archive member's archive included).
    fn glob_matches(&self, f: &Finding) -> bool {
        let shown = f.path.split('!').next().unwrap_or(&f.path);
        let shown = shown.strip_prefix("./").unwrap_or(shown);
        let absolute = std::path::absolute(shown).ok();
        self.globs.iter().any(|(m, base)| {
            m.is_match(shown)
                || base
                    .as_deref()
                    .zip(absolute.as_deref())
                    .and_then(|(base, abs)| abs.strip_prefix(base).ok())
                    .is_some_and(|rel| m.is_match(rel))
        })
    }

    /// Whether `f` is suppressed.
    pub fn suppresses(&self, f: &Finding) -> bool {
        self.fingerprints.contains(&f.fingerprint)
            || (!self.locations.is_empty()
                && self
                    .locations
                    .contains(&(f.path.clone(), f.rule_id.clone(), f.line)))
            || (!self.globs.is_empty() && self.glob_matches(f))
    }
}

/// A `path:` pattern, gitignore-like: `*` within a directory, `**` across, no `/` for a name at
/// any depth, a trailing `/` for everything below, a leading `/` anchored (the default).
fn path_glob(pattern: &str) -> Result<globset::GlobMatcher, String> {
    if pattern.is_empty() {
        return Err("empty".to_owned());
    }
    let mut glob = pattern.trim_start_matches('/').to_owned();
    if glob.ends_with('/') {
        glob.push_str("**");
    }
    if !pattern.trim_end_matches('/').contains('/') {
        glob.insert_str(0, "**/");
    }
    globset::GlobBuilder::new(&glob)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| e.kind().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{RuleSet, Rules};

    fn finding() -> Finding {
        let rules =
            Rules::compile(&RuleSet::builtin(&["secrets"]).expect("packs")).expect("compiles");
        let f = rules.scan_bytes(
            "conf/app.env",
            b"x\nGITHUB_TOKEN=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\n",
        );
        f.into_iter().next().expect("a finding")
    }

    #[test]
    fn path_patterns_match_like_gitignore() {
        let f = finding(); // conf/app.env
        let matches = |pattern: &str| {
            let mut s = Suppressions::default();
            s.add_ignore_text(&format!("path:{pattern}\n"));
            s.suppresses(&f)
        };
        for yes in [
            "conf/**",
            "conf/",
            "conf",
            "c*",
            "/conf/*.env",
            "*.env",
            "app.env",
            "**/app.env",
        ] {
            assert!(matches(yes), "{yes}");
        }
        for no in ["*.txt", "other/**", "app", "c*/x/*.env", "/app.env"] {
            assert!(!matches(no), "{no}");
        }
        let dir = std::env::temp_dir().join(format!("capstan-glob-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join(".capstanignore");
        std::fs::write(&file, "# fixtures\npath:conf/**\npath:a[\n").expect("write");
        let e = Suppressions::default()
            .add_ignore_file(&file)
            .expect_err("a pattern that does not compile");
        assert_eq!(e.kind(), SuppressErrorKind::Pattern);
        assert!(
            e.to_string()
                .starts_with(&format!("{}:3: not a path pattern", file.display())),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn gitleaks_forms_match_path_rule_and_line() {
        let f = finding();
        let mut s = Suppressions::default();
        s.add_ignore_text(&format!("conf/app.env:{}:3\n", f.rule_id));
        assert!(!s.suppresses(&f), "another line");
        s.add_ignore_text(&format!(
            "abcdef1234567:conf/app.env:{}:2 # with a commit\n",
            f.rule_id
        ));
        assert!(s.suppresses(&f));
    }

    #[test]
    fn baselines_take_reports_arrays_and_lines_and_reject_the_rest() {
        let f = finding();
        let dir = std::env::temp_dir().join(format!("capstan-baseline-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let one = serde_json::to_string(&f).expect("json");
        for (name, text) in [
            (
                "report.json",
                format!("{{\"findings\": [{one}], \"stats\": {{}}}}"),
            ),
            ("array.json", format!("[{one}]")),
            ("lines.jsonl", format!("{one}\n{one}\n")),
        ] {
            let p = dir.join(name);
            std::fs::write(&p, text).expect("write");
            let mut s = Suppressions::default();
            s.add_baseline(&p).expect(name);
            assert!(s.suppresses(&f), "{name}");
        }
        let p = dir.join("bad.json");
        std::fs::write(&p, "{\"results\": []}").expect("write");
        let e = Suppressions::default()
            .add_baseline(&p)
            .expect_err("rejected");
        assert_eq!(
            (e.kind(), e.path()),
            (SuppressErrorKind::Baseline, p.as_path())
        );
        assert_eq!(
            e.to_string(),
            format!(
                "{}: not a capstan JSON report (no \"findings\" array)",
                p.display()
            )
        );
        assert!(std::error::Error::source(&e).is_none());
        let missing = dir.join("missing.json");
        let e = Suppressions::default()
            .add_ignore_file(&missing)
            .expect_err("no such file");
        assert_eq!(
            (e.kind(), e.path()),
            (SuppressErrorKind::Io, missing.as_path())
        );
        assert!(e.is_io());
        let cause = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(
            cause.map(std::io::Error::kind),
            Some(std::io::ErrorKind::NotFound)
        );
        assert_eq!(
            Some(e.to_string()),
            cause.map(|c| format!("{}: {c}", missing.display()))
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
