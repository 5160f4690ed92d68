//! Reports: the formats a scan's findings are written in.
//!
//! - [`write_sarif`]: SARIF 2.1.0 for code-scanning dashboards (GitHub, Azure DevOps);
//! - [`write_cbom`]: a `CycloneDX` 1.6 cryptography bill of materials of the crypto findings.
//!
//! Every writer takes findings in the order they should appear (the walker sorts them by path,
//! line, column and rule) and writes nothing that depends on the clock unless
//! [`ReportMeta::timestamp`] is set, so two runs over the same tree give identical bytes.

mod cbom;
mod sarif;

pub use cbom::write_cbom;
pub use sarif::write_sarif;

/// What a report says about the run that produced it.
#[derive(Debug, Clone, Default)]
pub struct ReportMeta {
    /// The capstan version (defaults to [`crate::VERSION`] when empty).
    pub tool_version: String,
    /// An RFC 3339 UTC timestamp for the report, e.g. `2026-11-23T12:00:00Z`; `None` leaves it
    /// out so the output is reproducible.
    pub timestamp: Option<String>,
    /// Absolute paths under this directory are written relative to it, as dashboards expect
    /// paths relative to the repository (`capstan scan` passes the current directory);
    /// `None` writes them as they are.
    pub base_dir: Option<std::path::PathBuf>,
    /// The repository a history scan read (SARIF's `versionControlProvenance`).
    pub version_control: Option<VersionControl>,
}

/// A repository and where it stood when scanned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionControl {
    /// Its remote `origin`'s URL, else a `file://` URI of the repository.
    pub repository_uri: String,
    /// The commit `HEAD` named.
    pub revision_id: Option<String>,
    /// The branch `HEAD` named.
    pub branch: Option<String>,
}

impl ReportMeta {
    /// `path` as the report shows it: relative to [`base_dir`](Self::base_dir) when under it.
    pub(crate) fn shown<'p>(&self, path: &'p str) -> &'p str {
        self.base_dir
            .as_deref()
            .and_then(|base| std::path::Path::new(path).strip_prefix(base).ok())
            .and_then(std::path::Path::to_str)
            .filter(|rel| !rel.is_empty())
            .unwrap_or(path)
    }

    pub(crate) fn version(&self) -> &str {
        if self.tool_version.is_empty() {
            crate::VERSION
        } else {
            &self.tool_version
        }
    }
}
