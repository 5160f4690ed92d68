//! `capstan git`: scan a repository's history (every blob once, with the commit that brought
//! it), or what is staged for the next commit, with every report option of `scan`.

use std::path::PathBuf;
use std::process::ExitCode;

use capstan::git::GitOptions;
use capstan::scan::Request;

use crate::scan::{ContentArgs, ReportArgs};

#[derive(Debug, clap::Args)]
pub struct GitArgs {
    /// The repository: a work tree or a bare repository.
    #[arg(value_name = "REPO", default_value = ".")]
    repo: PathBuf,
    /// Only history after REV: what REV reaches is left out (`--since v1.2`; with --branch,
    /// `--since main --branch feature` is `main..feature`).
    #[arg(long, value_name = "REV", help_heading = "History")]
    since: Option<String>,
    /// Only what REF reaches [default: every ref — branches, tags, remotes, the stash].
    #[arg(long, value_name = "REF", help_heading = "History")]
    branch: Option<String>,
    /// What `git commit` would record: staged files that differ from HEAD, at their index
    /// paths, reporting only added lines (for a pre-commit hook).
    #[arg(long, conflicts_with_all = ["since", "branch"], help_heading = "History")]
    staged: bool,
    /// Blobs read and scanned at once: 0 or unset means one per core; at most 1024.
    #[arg(long, short = 'j', value_name = "N", help_heading = "History")]
    threads: Option<usize>,
    #[command(flatten)]
    content: ContentArgs,
    #[command(flatten)]
    report: ReportArgs,
}

pub fn git(args: &GitArgs) -> anyhow::Result<ExitCode> {
    let options = GitOptions {
        since: args.since.clone(),
        branch: args.branch.clone(),
        staged: args.staged,
    };
    let request = Request::git(&args.repo, options)
        .options(args.content.options(&args.report))
        .threads(args.threads.unwrap_or(0));
    crate::scan::run(
        &args.report,
        &args.report.apply(request),
        capstan::git::version_control(&args.repo),
    )
}
