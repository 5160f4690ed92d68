//! Reports: the formats a scan's findings are written in.
//!
//! - [`write_sarif`]: SARIF 2.1.0 for code-scanning dashboards (GitHub, Azure DevOps);
//! - [`write_cbom`]: a `CycloneDX` 1.6 cryptography bill of materials of the crypto findings;
//! - [`write_gitlab`]: GitLab's Secret Detection report of the secret findings.
//!
//! Every writer takes findings in the order they should appear (the walker sorts them by path,
//! line, column and rule) and writes nothing that depends on the clock unless
//! [`ReportMeta::timestamp`] is set, so two runs over the same tree give identical bytes.

mod cbom;
mod gitlab;
mod sarif;

pub use cbom::write_cbom;
pub use gitlab::{GITLAB_SCHEMA_VERSION, write_gitlab};
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

/// The time a report is written, as [`ReportMeta::timestamp`] takes it (RFC 3339, UTC):
/// `$SOURCE_DATE_EPOCH` when it is set to a number (reproducible builds: every run writes the
/// same bytes), else now.
pub fn timestamp_now() -> String {
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        });
    utc_timestamp(seconds)
}

/// `seconds` since the Unix epoch as an RFC 3339 UTC timestamp: `2026-11-23T12:00:00Z`.
///
/// ```
/// assert_eq!(capstan::scan::report::utc_timestamp(0), "1970-01-01T00:00:00Z");
/// assert_eq!(capstan::scan::report::utc_timestamp(1_795_435_200), "2026-11-23T12:00:00Z");
/// ```
pub fn utc_timestamp(seconds: i64) -> String {
    let (year, month, day, secs) = civil(seconds);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// `seconds` since the Unix epoch as a proleptic Gregorian date (year, month, day) and the
/// second of that day (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil(seconds: i64) -> (i64, i64, i64, i64) {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, secs)
}
