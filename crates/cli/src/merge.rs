//! `capstan merge`: join the JSON reports of a scan split with `--shard K/N` into the report
//! of the whole scan.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, anyhow};
use capstan::scan::ScanOutcome;
use clap::ValueEnum;

use crate::output::{Output, printable};
use crate::scan::{Format, Reporting, Writer};

#[derive(Debug, clap::Args)]
pub struct MergeArgs {
    /// The shards' JSON reports (`--shard K/N --format json`), one per shard, in any order.
    #[arg(value_name = "REPORT", required = true)]
    reports: Vec<PathBuf>,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = MergeFormat::Text)]
    format: MergeFormat,
    /// Write the report to FILE (atomically: a reader never sees half a report).
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// The repository a split `capstan git` read: SARIF then names it
    /// (`versionControlProvenance`) as `capstan git` does.
    #[arg(long, value_name = "REPO")]
    repo: Option<PathBuf>,

    #[command(flatten)]
    reporting: Reporting,
}

/// The formats of a whole report (findings stream as JSON Lines only while a scan runs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MergeFormat {
    /// Human-readable, grouped by file.
    Text,
    /// `{"findings": [...], "errors": [...], "skipped": [...], "stats": {...}}`.
    Json,
    /// SARIF 2.1.0, for GitHub code scanning and other dashboards.
    Sarif,
    /// `CycloneDX` 1.6 cryptography bill of materials of the crypto findings.
    Cbom,
    /// GitLab's Secret Detection report (`gl-secret-detection-report.json`) of the secret
    /// findings only: crypto and threat findings are left out. Its scan times are now (or
    /// `$SOURCE_DATE_EPOCH`).
    Gitlab,
}

impl From<MergeFormat> for Format {
    fn from(f: MergeFormat) -> Format {
        match f {
            MergeFormat::Text => Format::Text,
            MergeFormat::Json => Format::Json,
            MergeFormat::Sarif => Format::Sarif,
            MergeFormat::Cbom => Format::Cbom,
            MergeFormat::Gitlab => Format::Gitlab,
        }
    }
}

pub fn merge(args: &MergeArgs) -> anyhow::Result<ExitCode> {
    let reports = args
        .reports
        .iter()
        .map(|p| read(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let version_control = match &args.repo {
        Some(repo) => Some(
            capstan::git::version_control(repo)
                .ok_or_else(|| anyhow!("{}: not a git repository (--repo)", repo.display()))?,
        ),
        None => None,
    };
    let mut outcome = capstan::scan::merge(reports).map_err(|e| {
        let files: Vec<String> = e
            .reports()
            .iter()
            .filter_map(|&i| args.reports.get(i.wrapping_sub(1)))
            .map(|p| p.display().to_string())
            .collect();
        if files.is_empty() {
            anyhow!(e)
        } else {
            anyhow!("{}: {e}", files.join(", "))
        }
    })?;
    for w in &outcome.warnings {
        eprintln!("capstan: warning: {}", printable(w));
    }
    let mut out = Output::open(args.output.as_deref())?;
    let writer = Writer {
        format: args.format.into(),
        color: args.reporting.color,
        heading: args.reporting.heading,
        to_file: args.output.is_some(),
    };
    crate::scan::write_report(&writer, &mut outcome, &mut out, version_control)?;
    out.finish()?;
    for e in &outcome.errors {
        eprintln!("capstan: {}: {}", printable(&e.path), printable(&e.reason));
    }
    crate::scan::summary(args.reporting.stats, &outcome);
    Ok(if outcome.interrupted {
        eprintln!(
            "capstan: a shard was interrupted: the merged report does not cover the whole scan"
        );
        ExitCode::from(2)
    } else if !outcome.errors.is_empty() {
        ExitCode::from(2)
    } else if outcome.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(args.reporting.exit_code)
    })
}

/// A shard's JSON report.
fn read(path: &Path) -> anyhow::Result<ScanOutcome> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|e| {
        anyhow!(
            "{}: not a capstan JSON report (`--format json`): {e}",
            path.display()
        )
    })
}
