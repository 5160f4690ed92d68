//! Suppressing known findings: [`Suppressions`].

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::Finding;
use super::finding::FINGERPRINT_HEX_LEN;

/// Why a baseline or ignore file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SuppressError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A baseline that is not a capstan JSON report.
    #[error("{path}: not a capstan JSON report ({message})")]
    Baseline {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

/// Suppressing known findings: baselines (a previous JSON report) and ignore files.
///
/// An ignore file (`.capstanignore`, or one named with `--ignore-file`) lists one entry per
/// line, `#` starting a comment:
/// - a capstan fingerprint (32 hex digits, as in the JSON and SARIF reports);
/// - gitleaks' `.gitleaksignore` form `path:rule-id:line`, optionally prefixed by a commit
///   (`commit:path:rule-id:line`; the commit is ignored, capstan scans trees).
///
/// ```
/// use capstan::scan::{RuleSet, Rules, Suppressions};
///
/// let rules = Rules::compile(&RuleSet::builtin(&["secrets"])?)?;
/// let found = rules.scan_bytes(".env", b"GITHUB_TOKEN=ghp_8kTqZ2vXw9LmN4bR7cYd1FhJ3sPaE6gUo0Ki\n");
/// let mut s = Suppressions::default();
/// s.add_ignore_text(&format!("# known test token\n{}\n", found[0].fingerprint));
/// assert!(s.suppresses(&found[0]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Suppressions {
    fingerprints: HashSet<String>,
    locations: HashSet<(String, String, u64)>,
}

impl SuppressError {
    /// The baseline or ignore file at fault.
    pub fn path(&self) -> &Path {
        match self {
            SuppressError::Io { path, .. } | SuppressError::Baseline { path, .. } => path,
        }
    }
}

impl Suppressions {
    /// Whether nothing is suppressed.
    pub fn is_empty(&self) -> bool {
        self.fingerprints.is_empty() && self.locations.is_empty()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.fingerprints.len() + self.locations.len()
    }

    /// Suppresses every finding of a previous `capstan scan --format json` report (or a JSON
    /// array of findings, or JSON Lines).
    pub fn add_baseline(&mut self, path: &Path) -> Result<(), SuppressError> {
        let text = std::fs::read_to_string(path).map_err(|source| SuppressError::Io {
            path: path.to_owned(),
            source,
        })?;
        let bad = |message: String| SuppressError::Baseline {
            path: path.to_owned(),
            message,
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

    /// Adds the entries of an ignore file.
    pub fn add_ignore_file(&mut self, path: &Path) -> Result<(), SuppressError> {
        let text = std::fs::read_to_string(path).map_err(|source| SuppressError::Io {
            path: path.to_owned(),
            source,
        })?;
        self.add_ignore_text(&text);
        Ok(())
    }

    /// Adds the entries of an ignore file's text (see [`Suppressions`]). Lines that are
    /// neither form are ignored, as gitleaks does.
    pub fn add_ignore_text(&mut self, text: &str) {
        for line in text.lines() {
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
            let (Some(n), Some(rule), Some(rest)) = (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(n) = n.parse::<u64>() else { continue };
            self.locations.insert((rest.to_owned(), rule.to_owned(), n));
            if let Some((commit, p)) = rest.split_once(':')
                && commit.len() >= 7
                && commit.bytes().all(|b| b.is_ascii_hexdigit())
            {
                self.locations.insert((p.to_owned(), rule.to_owned(), n));
            }
        }
    }

    /// Whether `f` is suppressed.
    pub fn suppresses(&self, f: &Finding) -> bool {
        self.fingerprints.contains(&f.fingerprint)
            || (!self.locations.is_empty()
                && self
                    .locations
                    .contains(&(f.path.clone(), f.rule_id.clone(), f.line)))
    }
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
            b"x\nGITHUB_TOKEN=ghp_8kTqZ2vXw9LmN4bR7cYd1FhJ3sPaE6gUo0Ki\n",
        );
        f.into_iter().next().expect("a finding")
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
        assert!(e.to_string().contains("bad.json"), "{e}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
