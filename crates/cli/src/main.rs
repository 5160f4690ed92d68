//! `capstan`: the command-line front end. Argument parsing and output only; the work is in the
//! `capstan` library.
//!
//! Exit codes: 0 clean, 1 findings, 2 usage or runtime error.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use capstan::pool::BufPool;
use capstan::scan::{Finding, PACKS, RuleSet, Rules, Scanner};
use clap::{Parser, Subcommand, ValueEnum};

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
(the scan still covers every other file).")]
    Scan(ScanArgs),
    /// List the rules a scan would use (id, category, keywords), or show why a config is invalid.
    Rules(RulesArgs),
}

#[derive(Debug, clap::Args)]
struct RuleSource {
    /// A rule config: capstan's format or a gitleaks config (`[extend]` is followed).
    #[arg(long, short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Built-in packs to use, comma-separated [default: all, unless --config is given]
    #[arg(long, value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(PACKS))]
    rules: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct ScanArgs {
    /// Files or directories to scan; `-` reads standard input.
    #[arg(value_name = "PATH", default_value = ".")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    source: RuleSource,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Print secrets in full instead of their first characters.
    #[arg(long)]
    no_redact: bool,
    /// Scan binary files too (those with a NUL byte in their first 8 KiB).
    #[arg(long)]
    binary: bool,
}

#[derive(Debug, clap::Args)]
struct RulesArgs {
    #[command(flatten)]
    source: RuleSource,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// One line per finding: path:line:column, severity, rule, secret.
    Text,
    /// `{"findings": [...]}`.
    Json,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            eprintln!("capstan: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Scan(args) => scan(&args),
        Command::Rules(args) => rules(&args),
    }
}

fn load(source: &RuleSource) -> anyhow::Result<RuleSet> {
    let mut set = match &source.config {
        Some(path) => RuleSet::load(path)?,
        None => RuleSet::default(),
    };
    let packs: Vec<&str> = if source.rules.is_empty() && source.config.is_none() {
        PACKS.to_vec()
    } else {
        source.rules.iter().map(String::as_str).collect()
    };
    set.append(RuleSet::builtin(&packs)?);
    Ok(set)
}

fn rules(args: &RulesArgs) -> anyhow::Result<ExitCode> {
    let set = load(&args.source)?;
    Rules::compile(&set)?;
    let mut out = io::stdout().lock();
    for r in &set.rules {
        writeln!(
            out,
            "{:<40} {:<7} {}",
            r.id,
            r.category.as_str(),
            r.keywords.join(",")
        )?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

struct Run<'r> {
    rules: &'r Rules,
    args: &'r ScanArgs,
    findings: Vec<Finding>,
    errors: usize,
    files: u64,
    bytes: u64,
}

fn scan(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    let set = load(&args.source)?;
    let rules = Rules::compile(&set)?;
    let mut run = Run {
        rules: &rules,
        args,
        findings: Vec::new(),
        errors: 0,
        files: 0,
        bytes: 0,
    };
    for path in &args.paths {
        if path.as_os_str() == "-" {
            let stdin = io::stdin();
            run.scan_reader("-", stdin.lock());
        } else {
            run.walk(path);
        }
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(
                &mut out,
                &serde_json::json!({ "findings": run.findings }),
            )?;
            writeln!(out)?;
        }
        Format::Text => {
            for f in &run.findings {
                writeln!(
                    out,
                    "{}:{}:{}: {} {} [{}] {}",
                    f.path,
                    f.line,
                    f.column,
                    f.severity.as_str(),
                    f.rule_id,
                    f.category.as_str(),
                    f.secret
                )?;
            }
        }
    }
    out.flush()?;
    eprintln!(
        "capstan: {} finding(s) in {} file(s), {} byte(s) scanned{}",
        run.findings.len(),
        run.files,
        run.bytes,
        if run.errors > 0 {
            format!(", {} file(s) could not be read", run.errors)
        } else {
            String::new()
        }
    );
    Ok(if run.errors > 0 {
        ExitCode::from(2)
    } else if run.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

impl Run<'_> {
    fn report(&mut self, path: &Path, e: &anyhow::Error) {
        self.errors += 1;
        eprintln!("capstan: {}: {e:#}", path.display());
    }

    /// Walks a tree without following symlinks (a link is neither scanned nor entered).
    fn walk(&mut self, path: &Path) {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) => return self.report(path, &anyhow::Error::new(e)),
        };
        if meta.is_dir() {
            let entries = match std::fs::read_dir(path) {
                Ok(rd) => rd,
                Err(e) => return self.report(path, &anyhow::Error::new(e)),
            };
            let mut children: Vec<PathBuf> =
                entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
            children.sort();
            for child in children {
                if child.file_name().is_some_and(|n| n == ".git") {
                    continue;
                }
                self.walk(&child);
            }
        } else if meta.is_file() {
            match std::fs::File::open(path) {
                Ok(f) => self.scan_reader(&path.to_string_lossy(), f),
                Err(e) => self.report(path, &anyhow::Error::new(e)),
            }
        }
    }

    fn scan_reader(&mut self, name: &str, mut reader: impl Read) {
        let display = name.strip_prefix("./").unwrap_or(name);
        let mut scanner = Scanner::new(self.rules)
            .path(display)
            .redact(!self.args.no_redact)
            .binary(self.args.binary);
        let mut buf = BufPool::global().get(64 << 10);
        buf.resize(64 << 10, 0);
        loop {
            match reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => scanner.feed(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let e = anyhow::Error::new(e).context("read failed");
                    return self.report(Path::new(name), &e);
                }
            }
        }
        self.files += 1;
        self.bytes += scanner.bytes();
        self.findings.extend(scanner.finish());
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
