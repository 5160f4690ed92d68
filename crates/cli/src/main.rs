//! `capstan`: the command-line front end. Argument parsing and output only; the work is in the
//! `capstan` library.
//!
//! Exit codes: 0 clean, 1 findings, 2 usage or runtime error.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use capstan::scan::{PACKS, RuleSources, Rules};
use clap::{FromArgMatches, Parser, Subcommand};

mod auth;
mod context;
mod ecosystem;
mod git;
mod image;
mod merge;
mod output;
mod scan;
mod signal;

/// Scan for secrets, weak or quantum-vulnerable cryptography and malicious code — on the hot
/// path of container builds and supply-chain checks.
#[derive(Debug, Parser)]
#[command(
    name = "capstan",
    version = capstan::VERSION,
    arg_required_else_help = true,
    after_help = "Exit status: 0 clean, 1 findings, 2 usage or runtime error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan files, directories or standard input for secrets, crypto and threats.
    #[command(after_help = "\
Examples:
  capstan scan .                         scan the current directory with every built-in pack
  capstan scan --rules secrets src/      only the secrets pack
  capstan scan --config gitleaks.toml .  a gitleaks config, unchanged
  git diff | capstan scan -              standard input
  capstan scan --format json . > findings.json

Exit status: 0 no findings, 1 findings, 2 usage error or a file that could not be read
(the scan still covers every other file), 130 interrupted (Ctrl-C stops the walk and reports
what was found so far, marked interrupted; a second Ctrl-C ends it at once).")]
    Scan(Box<scan::ScanArgs>),
    /// Scan container images straight from a registry (or an OCI layout, or a `docker save`
    /// archive): every layer, including files that an upper layer deleted, and the config.
    #[command(after_help = "\
Examples:
  capstan image alpine:3.20                      Docker Hub, this host's platform
  capstan image ghcr.io/org/app:1.2 --platform linux/arm64
  capstan image registry:5000/team/app@sha256:…  by digest
  capstan image oci:./layout:v1                  an OCI image layout (skopeo copy … oci:DIR:TAG)
  capstan image docker-archive:app.tar           `docker save` output
  capstan image --format json app:1 base:2 > findings.json

Layers are streamed through the scanner as they download (nothing is written to disk), each
checked against its digest; a layer seen before (this run or, with the cache, any earlier run
with the same rules) is not pulled again. Findings name the image, manifest digest and layer;
a file deleted by an upper layer is reported with `removed_in_layer`: its bytes still ship.
The image config's Env, Labels, Cmd, Entrypoint and history are scanned as config:Env[1]…
Credentials come from docker's config and credential helpers, as `capstan auth` shows.

Exit status: 0 no findings, 1 findings, 2 an image or layer that could not be read (the
others are still scanned and reported), 130 interrupted.")]
    Image(Box<image::ImageArgs>),
    /// Scan a git repository's history: every blob reachable from its refs, each once, with
    /// the commit that brought it; or, with --staged, what the next commit would add.
    #[command(after_help = "\
Examples:
  capstan git                                 this repository: every branch, tag and stash
  capstan git --branch main path/to/repo.git  what main reaches, in a bare repository
  capstan git --since v1.2                    only history after v1.2
  capstan git --since main --branch feature   main..feature: what the branch adds
  capstan git --staged                        a pre-commit hook: staged additions only

A blob (a file's content) that appears in a thousand commits is scanned once and reported at
the commit that first had it, with its path there: findings carry git {commit, author, email,
date, message}. Results are cached by blob and rules: a run after a push reads only new blobs.
Fingerprints are content-based (rule, path, secret), so a baseline still holds after a rebase.

Exit status: 0 no findings, 1 findings, 2 a repository that cannot be read or objects that
are missing (the rest is still scanned), 130 interrupted.")]
    Git(Box<git::GitArgs>),
    /// List the rules a scan would use (id, category, severity, confidence, keywords, and the
    /// checksum a rule verifies), or show why a config is invalid.
    Rules(RulesArgs),
    /// Write a build context as docker sends it: .dockerignore applied, deterministic PAX tar.
    #[command(after_help = "\
Examples:
  capstan context --list                 what `docker build .` would send, in tar order
  capstan context -o ctx.tar .           the context as a reproducible tar
  capstan context -o - . | docker build -   feed docker the same bytes every time

Entries are sorted by name, with mtime fixed ($SOURCE_DATE_EPOCH or 0, or --mtime), uid/gid 0
and no user names: the same tree gives the same bytes, whoever builds it and whenever.")]
    Context(context::ContextArgs),
    /// Extract a tar or tar.gz safely: absolute names, `..` escapes, links leaving DIR, writes
    /// through symlinks and device nodes are refused.
    Extract(context::ExtractArgs),
    /// Show which credentials a registry gets and from where (docker/podman config files and
    /// credential helpers, in docker's order); never the secret unless asked.
    #[command(after_help = "\
Examples:
  capstan auth alpine                    Docker Hub: source and user
  capstan auth --json ghcr.io/org/app    {\"registry\", \"source\", \"username\", \"kind\"}
  capstan auth --header quay.io/org/app  the X-Registry-Auth value for the docker API

Exit status: 0 resolved (anonymous included), 2 a bad reference, a config file that is not
valid JSON, a helper that fails, hangs or is missing.")]
    Auth(auth::AuthArgs),
    /// Join the JSON reports of a scan split with --shard K/N into the whole scan's report.
    #[command(after_help = "\
Example: one scan split across 3 CI jobs, each running in a checkout of the same commit
  job 1:  capstan scan --shard 1/3 --format json -o part-1.json .
  job 2:  capstan scan --shard 2/3 --format json -o part-2.json .
  job 3:  capstan scan --shard 3/3 --format json -o part-3.json .
  then:   capstan merge part-1.json part-2.json part-3.json -f sarif -o capstan.sarif

Each job scans a stable part of the work: the files whose path (as shown) hashes to its shard
(BLAKE3, the same on every machine and run); for `capstan git --shard`, the blobs of its paths
(every job walks every commit); for `capstan image --shard`, whole images (give every job the
same list). The merged report is the one a single unsharded run gives: the same findings in
the same order, errors and skipped files once each, counters summed (commits and seconds: the
largest). Run the jobs and the merge from the same directory for identical SARIF paths; for a
history, `--repo REPO` adds the repository as `capstan git` does.

Exit status: 0 no findings, 1 findings (--exit-code), 2 a report that cannot be read or is not
a shard's JSON report, a shard missing, given twice or from another split, or errors in the
shards (files that could not be read).")]
    Merge(merge::MergeArgs),
    /// Print a shell completion script for capstan (bash, zsh, fish, powershell or elvish).
    #[command(after_help = "\
Examples:
  source <(capstan completions bash)                       this bash session
  capstan completions bash > /etc/bash_completion.d/capstan  every bash session (as root)
  capstan completions zsh > \"${fpath[1]}/_capstan\"         zsh: a directory on $fpath
  capstan completions fish > ~/.config/fish/completions/capstan.fish

The script is generated from the binary's own command line, so it completes exactly the
commands, options and values this version accepts.")]
    Completions(ecosystem::CompletionsArgs),
    /// Print the man page (roff) of capstan or of one of its commands.
    #[command(after_help = "\
Examples:
  capstan man | man -l -                                  the top-level page
  capstan man scan | man -l -                             `capstan scan`
  capstan man scan > /usr/local/share/man/man1/capstan-scan.1

The pages are generated from the binary's own command line: the same text as --help.")]
    Man(ecosystem::ManArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct RuleSource {
    /// A rule config: capstan's format or a gitleaks config (`[extend]` is followed).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Built-in packs to use, comma-separated [default: all, unless --config is given]
    #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(PACKS))]
    rules: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct RulesArgs {
    #[command(flatten)]
    source: RuleSource,
}

fn main() -> ExitCode {
    // The derived definition, completed with what a derive cannot say (ecosystem::command).
    let mut cmd = ecosystem::command();
    let cli =
        Cli::from_arg_matches(&cmd.get_matches_mut()).unwrap_or_else(|e| e.format(&mut cmd).exit());
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("capstan: {}", readable(&message(&e)));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, each cause only if the text before doesn't already say it
/// (library errors put their source in their own message).
fn message(e: &anyhow::Error) -> String {
    let mut msg = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !msg.contains(&c) {
            msg.push_str(": ");
            msg.push_str(&c);
        }
    }
    msg
}

/// A message as lines for stderr: multi-line causes (a TOML parser's caret diagram) keep their
/// lines, each after the first indented so that nothing quoted can pass for a line of capstan's
/// own; messages quote names from archives and trees, so every other control character is
/// escaped.
fn readable(message: &str) -> String {
    message
        .lines()
        .map(output::printable)
        .collect::<Vec<_>>()
        .join("\n  ")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Scan(args) => scan::scan(&args),
        Command::Image(args) => image::image(&args),
        Command::Git(args) => git::git(&args),
        Command::Rules(args) => rules(&args),
        Command::Context(args) => context::context(&args),
        Command::Extract(args) => context::extract(&args),
        Command::Auth(args) => auth::auth(&args),
        Command::Merge(args) => merge::merge(&args),
        Command::Completions(args) => ecosystem::completions(&args),
        Command::Man(args) => ecosystem::man(&args),
    }
}

impl RuleSource {
    pub(crate) fn sources(&self) -> RuleSources {
        RuleSources {
            config: self.config.clone(),
            packs: self.rules.clone(),
        }
    }
}

fn rules(args: &RulesArgs) -> anyhow::Result<ExitCode> {
    let set = args.source.sources().load()?;
    Rules::compile(&set)?;
    let mut out = io::stdout().lock();
    for r in &set.rules {
        let checksum = r
            .checksum
            .map(|c| format!(" (checksum: {})", c.as_str()))
            .unwrap_or_default();
        writeln!(
            out,
            "{:<40} {:<7} {:<8} {:<6} {}{checksum}",
            r.id,
            r.category.as_str(),
            r.severity.as_str(),
            r.confidence.as_str(),
            r.keywords.join(",")
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn multi_line_errors_print_as_indented_lines_with_controls_escaped() {
        assert_eq!(
            super::readable("x.toml: invalid TOML: at line 1\n  |\n1 | a =\n\x1b[31m"),
            "x.toml: invalid TOML: at line 1\n    |\n  1 | a =\n  \\x1b[31m"
        );
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
        super::ecosystem::command().debug_assert();
    }
}
