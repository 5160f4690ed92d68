//! `capstan scan`: options, output formats, progress.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use capstan::pool::StringPool;
use capstan::scan::report::{ReportMeta, VersionControl, write_cbom, write_sarif};
use capstan::scan::{
    CachePolicy, Confidence, FileSink, Finding, Hooks, IgnoreFiles, Progress, Request, ScanOutcome,
    Shard, SharedCacheOptions, WalkOptions,
};
use clap::ValueEnum;
use parking_lot::Mutex;

use crate::RuleSource;
use crate::output::{AtomicFile, Output, Style, printable};

#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)]
pub struct ScanArgs {
    /// Files, directories, tar / tar.gz archives (`docker save` images too); `-` reads
    /// standard input.
    #[arg(value_name = "PATH", default_value = ".")]
    paths: Vec<PathBuf>,

    /// Worker threads: 0 or unset means one per core; at most 1024.
    #[arg(long, short = 'j', value_name = "N", help_heading = "Walking")]
    threads: Option<usize>,
    /// Don't honour .gitignore, .ignore and .git/info/exclude.
    #[arg(long, help_heading = "Walking")]
    no_ignore: bool,
    /// Skip hidden files and directories. By default they are scanned: `.env`, `.npmrc` and
    /// `.aws/credentials` are where secrets live (`.git` is never entered).
    #[arg(long, help_heading = "Walking")]
    no_hidden: bool,
    /// Accepted for ripgrep habits; hidden files are scanned by default.
    #[arg(long, hide = true, help_heading = "Walking")]
    hidden: bool,
    /// Follow symbolic links (loops are detected and reported).
    #[arg(long, short = 'L', help_heading = "Walking")]
    follow: bool,
    /// Leave out paths matching GLOB (gitignore syntax, relative to each directory given);
    /// repeatable.
    #[arg(long, short = 'x', value_name = "GLOB", help_heading = "Walking")]
    exclude: Vec<String>,
    #[command(flatten)]
    content: ContentArgs,
    #[command(flatten)]
    report: ReportArgs,
}

/// What is scanned inside each file: shared by `scan` and `image`.
#[derive(Debug, clap::Args)]
pub(crate) struct ContentArgs {
    /// Skip files (blobs, layer members) larger than this (`512K`, `10M`, `10MB`, `1.5G`: powers
    /// of 1024); archives are exempt. 0 is refused: it would skip every file.
    #[arg(long, visible_alias = "max-blob-size", value_name = "SIZE", default_value = "10M", value_parser = parse_size, help_heading = "Scanning")]
    max_file_size: u64,
    /// Scan binary files too (those with a NUL byte in their first 8 KiB).
    #[arg(long, help_heading = "Scanning")]
    binary: bool,
    /// Treat tar and tar.gz files as plain (binary) files instead of scanning their members.
    #[arg(long, help_heading = "Scanning")]
    no_archives: bool,
}

/// Rules, suppression, cache and report options: shared by `scan` and `image`.
#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    source: RuleSource,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Write the report to FILE (atomically: a reader never sees half a report).
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print secrets in full instead of their first characters.
    #[arg(long)]
    no_redact: bool,

    /// Report only findings at least this sure: `high` (a token in its provider's own format, or
    /// verified by its checksum), `medium` (the right shape beside the provider's name), `low`
    /// (matches in documentation, examples and vendored code, and generic ones a rule doubts).
    /// Those left out are counted in the summary.
    #[arg(long, value_enum, value_name = "LEVEL", default_value_t = MinConfidence::Medium, help_heading = "Suppressing")]
    min_confidence: MinConfidence,
    /// Suppress the findings of a previous JSON report (`--format json`).
    #[arg(long, value_name = "FILE", help_heading = "Suppressing")]
    baseline: Option<PathBuf>,
    /// An ignore file: fingerprints or gitleaks' `path:rule:line`, one per line
    /// [default: .capstanignore in the current directory and in each directory named as an
    /// input, not in subdirectories found below them].
    #[arg(long, value_name = "FILE", help_heading = "Suppressing")]
    ignore_file: Vec<PathBuf>,

    /// Where the incremental cache lives [default: $`XDG_CACHE_HOME/capstan` or ~/.cache/capstan].
    #[arg(long, value_name = "DIR", help_heading = "Cache")]
    cache_dir: Option<PathBuf>,
    /// Scan everything; don't read or write the cache (local or shared).
    #[arg(long, help_heading = "Cache")]
    no_cache: bool,
    /// A second cache level shared by every machine that scans with the same rules: Redis (or
    /// Valkey, KeyDB, Dragonfly) at redis://[user:password@]host[:port][/db], rediss:// for
    /// TLS. Looked up after the local cache; new results are written to both. A server that is
    /// down or slow never fails a scan: one warning, and the scan goes on without it.
    #[arg(
        long,
        value_name = "URL",
        env = "CAPSTAN_CACHE_URL",
        hide_env_values = true,
        help_heading = "Cache"
    )]
    cache_url: Option<String>,
    /// How long an entry lives in the shared cache (`30d`, `12h`, `90m`, `3600s`).
    #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = parse_duration, help_heading = "Cache")]
    cache_ttl: Duration,
    /// The most one call to the shared cache may take before it is given up for the run
    /// (`200ms`, `1s`).
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = parse_duration, help_heading = "Cache")]
    cache_timeout: Duration,

    #[command(flatten)]
    reporting: Reporting,
    /// Write the scan's counters in Prometheus text format (`node_exporter`'s textfile collector).
    #[arg(long, value_name = "FILE", help_heading = "Reporting")]
    metrics_file: Option<PathBuf>,
    /// Never draw the progress line (it is drawn only when stderr is a terminal).
    #[arg(long, help_heading = "Reporting")]
    no_progress: bool,

    /// Scan only part K of N of the work, for N CI jobs that split one scan: files by path,
    /// a history's blobs by path (each job walks every commit), images whole. The partition is
    /// stable (BLAKE3 of the path or image as given), the same on every machine; join the
    /// jobs' `--format json` reports with `capstan merge`.
    #[arg(long, value_name = "K/N", help_heading = "Splitting")]
    shard: Option<Shard>,
}

/// How a finished report is shown and what the exit status says: shared by every command that
/// writes one (`scan`, `image`, `git`, `merge`).
#[derive(Debug, clap::Args)]
pub(crate) struct Reporting {
    /// Print files, bytes, MB/s, findings by category and cache hits to stderr.
    #[arg(long, help_heading = "Reporting")]
    pub(crate) stats: bool,
    /// Exit status when there are findings.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 1,
        help_heading = "Reporting"
    )]
    pub(crate) exit_code: u8,
    /// Colour in text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, help_heading = "Reporting")]
    pub(crate) color: ColorChoice,
    /// Text output: group findings under a heading per file [default: on a terminal; piped
    /// output has one `path:line:column: …` line per finding, for grep and editors].
    #[arg(long, help_heading = "Reporting")]
    pub(crate) heading: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Human-readable, grouped by file.
    Text,
    /// `{"findings": [...], "errors": [...], "skipped": [...], "stats": {...}}`.
    Json,
    /// One finding per line, written as each file completes.
    Jsonl,
    /// SARIF 2.1.0, for GitHub code scanning and other dashboards.
    Sarif,
    /// `CycloneDX` 1.6 cryptography bill of materials of the crypto findings.
    Cbom,
    /// GitLab's Secret Detection report (`gl-secret-detection-report.json`, schema 15.0.7) of
    /// the secret findings only: crypto and threat findings are not secret detection and are
    /// left out. No part of a secret is written. Its scan times are now (or
    /// `$SOURCE_DATE_EPOCH`).
    Gitlab,
}

/// `--min-confidence`: the least sure a reported finding may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum MinConfidence {
    /// Everything, documentation and vendored code included.
    Low,
    /// The default.
    Medium,
    /// Tokens in their provider's own format only.
    High,
}

impl From<MinConfidence> for Confidence {
    fn from(m: MinConfidence) -> Self {
        match m {
            MinConfidence::Low => Confidence::Low,
            MinConfidence::Medium => Confidence::Medium,
            MinConfidence::High => Confidence::High,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set; `CLICOLOR_FORCE` (not `0`) colours through a
    /// pipe too.
    Auto,
    Always,
    Never,
}

/// A size as people write it: `512`, `512B`, `64k`, `10M`, `10MB`, `10MiB`, `1.5G`, `2T`
/// (K, M, G and T are powers of 1024, either case, with or without `B`/`iB`).
pub(crate) fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("not a size: {text:?} (e.g. 512K, 10M, 10MB, 1.5G)");
    let s = text.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit = unit.trim_start().to_ascii_uppercase();
    let unit = unit
        .strip_suffix("IB")
        .or_else(|| unit.strip_suffix('B'))
        .unwrap_or(&unit);
    let shift = match unit {
        "" => 0,
        "K" => 10,
        "M" => 20,
        "G" => 30,
        "T" => 40,
        _ => return Err(format!("{}: unknown unit (use K, M, G or T)", bad())),
    };
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return Err(bad());
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let mut bytes = whole
        .checked_shl(shift)
        .filter(|b| b >> shift == whole)
        .ok_or_else(bad)?;
    if !fraction.is_empty() {
        // Decimal fraction of the unit, exactly: `1.5G` is 1.5 × 2^30 bytes (rounded down).
        let digits: u32 = fraction.len().try_into().map_err(|_| bad())?;
        let scale = 10u128.checked_pow(digits).ok_or_else(bad)?;
        let f: u128 = fraction.parse().map_err(|_| bad())?;
        let extra = u64::try_from((f << shift) / scale).map_err(|_| bad())?;
        bytes = bytes.checked_add(extra).ok_or_else(bad)?;
    }
    Ok(bytes)
}

/// A duration as people write it: `200ms`, `5s`, `90m`, `12h`, `30d` (a bare number is
/// seconds).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("not a duration: {text:?} (e.g. 200ms, 5s, 90m, 12h, 30d)");
    let s = text.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let scale = match unit.trim() {
        "ms" => return Ok(Duration::from_millis(n)),
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(scale)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

pub fn scan(args: &ScanArgs) -> anyhow::Result<ExitCode> {
    run(&args.report, &request(args), None)
}

/// Prepares and runs `request`, then reports as `args` say: the one path from a request to a
/// report, for `scan` and `image`.
pub(crate) fn run(
    args: &ReportArgs,
    request: &Request,
    version_control: Option<VersionControl>,
) -> anyhow::Result<ExitCode> {
    // First of all, so that a Ctrl-C during rule compilation already ends in a report.
    let stop = crate::signal::stop_on_sigint();
    let scan = request.prepare()?;
    let mut out = Output::open(args.output.as_deref())?;
    let streamed = Mutex::new((&mut out, None::<io::Error>));
    // SIGINT stops the walk (what was found is still reported, marked interrupted); so does a
    // failed write (`| head -1` closing the pipe): nothing more can be shown.
    let sink = |found: &[Finding]| {
        let mut guard = streamed.lock();
        let (w, err) = &mut *guard;
        if err.is_some() {
            return;
        }
        for f in found {
            let line = serde_json::to_writer(&mut **w, f)
                .map_err(io::Error::from)
                .and_then(|()| w.write_all(b"\n"));
            if let Err(e) = line {
                *err = Some(e);
                stop.store(true, Ordering::Relaxed);
                return;
            }
        }
    };
    let hooks = Hooks {
        cancel: Some(stop),
        on_file: (args.format == Format::Jsonl).then_some(&sink as FileSink<'_>),
    };
    let progress = scan.progress();
    let done = AtomicBool::new(false);
    let mut outcome = std::thread::scope(|s| {
        if !args.no_progress && io::stderr().is_terminal() {
            s.spawn(|| draw_progress(&progress, &done));
        }
        // Set on the way out, even by a panic: the progress thread must not outlive the scan.
        let _done = Done(&done);
        scan.run_with(hooks)
    });
    let (_, stream_err) = streamed.into_inner();
    if let Some(e) = stream_err {
        return Err(e.into());
    }
    for w in &outcome.warnings {
        eprintln!("capstan: warning: {}", printable(w));
    }
    write_report(&args.writer(), &mut outcome, &mut out, version_control)?;
    out.finish()?;
    for e in &outcome.errors {
        eprintln!("capstan: {}: {}", printable(&e.path), printable(&e.reason));
    }
    summary(args.reporting.stats, &outcome);
    if let Some(p) = &args.metrics_file {
        let registry = outcome.metrics()?;
        // World-readable: node_exporter's textfile collector usually runs as another user.
        let mut f = AtomicFile::create_with_mode(p, 0o644)?;
        f.write_all(registry.snapshot().to_prometheus().as_bytes())?;
        f.commit()
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(exit_status(args, &outcome))
}

/// The scan these arguments describe.
fn request(args: &ScanArgs) -> Request {
    let options = WalkOptions {
        threads: args.threads.unwrap_or(0),
        respect_ignore: !args.no_ignore,
        hidden: !args.no_hidden,
        follow_links: args.follow,
        excludes: args.exclude.clone(),
        ..args.content.options(&args.report)
    };
    args.report
        .apply(Request::new(&args.paths).options(options))
}

impl ContentArgs {
    /// The walk options these (and `report`'s redaction) set, the others at their defaults.
    pub(crate) fn options(&self, report: &ReportArgs) -> WalkOptions {
        WalkOptions {
            max_file_size: self.max_file_size,
            binary: self.binary,
            redact: !report.no_redact,
            archives: !self.no_archives,
            ..WalkOptions::default()
        }
    }
}

impl ReportArgs {
    /// `request` with these rules, cache and suppressions.
    pub(crate) fn apply(&self, request: Request) -> Request {
        let mut request = request.rule_sources(self.source.sources()).cache(
            match (&self.cache_dir, self.no_cache) {
                (_, true) => CachePolicy::Off,
                (Some(dir), false) => CachePolicy::Dir(dir.clone()),
                (None, false) => CachePolicy::UserDefault,
            },
        );
        if let Some(url) = self
            .cache_url
            .as_ref()
            .filter(|u| !u.is_empty() && !self.no_cache)
        {
            let mut shared = SharedCacheOptions::new(url.clone());
            shared.ttl = self.cache_ttl;
            shared.timeout = self.cache_timeout;
            request = request.shared_cache(shared);
        }
        request = request.min_confidence(self.min_confidence.into());
        if let Some(b) = &self.baseline {
            request = request.baseline(b);
        }
        if !self.ignore_file.is_empty() {
            request = request.ignore_files(IgnoreFiles::Only(self.ignore_file.clone()));
        }
        if let Some(shard) = self.shard {
            request = request.shard(shard);
        }
        request
    }

    /// How these options write a report.
    fn writer(&self) -> Writer {
        Writer {
            format: self.format,
            color: self.reporting.color,
            heading: self.reporting.heading,
            to_file: self.output.is_some(),
        }
    }
}

/// How a report is written: its format and, for text, colour and headings (shared by the
/// scans and `merge`).
pub(crate) struct Writer {
    pub(crate) format: Format,
    pub(crate) color: ColorChoice,
    pub(crate) heading: bool,
    /// Written to a file (`-o`): text never coloured or grouped unless asked.
    pub(crate) to_file: bool,
}

/// 130 interrupted by Ctrl-C (a signal after the walk finished changes nothing), 2 a file could
/// not be read, then 0 clean or `--exit-code` on findings.
fn exit_status(args: &ReportArgs, outcome: &ScanOutcome) -> ExitCode {
    if outcome.interrupted && crate::signal::interrupted() {
        ExitCode::from(130)
    } else if !outcome.errors.is_empty() {
        ExitCode::from(2)
    } else if outcome.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(args.reporting.exit_code)
    }
}

/// Sets its flag when dropped.
struct Done<'a>(&'a AtomicBool);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// One status line on stderr, redrawn ten times a second once the scan has run for half a
/// second; erased at the end.
fn draw_progress(p: &Progress, done: &AtomicBool) {
    let start = std::time::Instant::now();
    let mut drawn = false;
    while !done.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        if start.elapsed() < Duration::from_millis(500) {
            continue;
        }
        let secs = start.elapsed().as_secs_f64();
        eprint!(
            "\r\x1b[K{} files · {:.1} MB · {} findings · {:.0} MB/s",
            p.files(),
            p.bytes() as f64 / 1e6,
            p.findings(),
            p.bytes() as f64 / 1e6 / secs
        );
        drawn = true;
    }
    if drawn {
        eprint!("\r\x1b[K");
    }
}

pub(crate) fn write_report(
    args: &Writer,
    outcome: &mut ScanOutcome,
    out: &mut Output,
    version_control: Option<VersionControl>,
) -> anyhow::Result<()> {
    match args.format {
        Format::Jsonl => {}
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &outcome)?;
            writeln!(out)?;
        }
        Format::Sarif | Format::Cbom | Format::Gitlab => {
            let mut meta = ReportMeta {
                base_dir: std::env::current_dir().ok(),
                version_control,
                ..ReportMeta::default()
            };
            match args.format {
                Format::Sarif => write_sarif(&mut *out, &outcome.findings, &meta)?,
                Format::Cbom => write_cbom(&mut *out, &outcome.findings, &meta)?,
                _ => {
                    use capstan::scan::report::{timestamp_now, write_gitlab};
                    // GitLab requires the scan's times.
                    meta.timestamp = Some(timestamp_now());
                    write_gitlab(&mut *out, &outcome.findings, &meta)?;
                }
            }
        }
        Format::Text => {
            let colour = match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => auto_colour(!args.to_file && io::stdout().is_terminal()),
            };
            let heading = args.heading || (!args.to_file && io::stdout().is_terminal());
            text(&mut *out, &outcome.findings, Style::new(colour), heading)?;
        }
    }
    Ok(())
}

fn text(out: &mut dyn Write, findings: &[Finding], style: Style, heading: bool) -> io::Result<()> {
    // Each line is built in one pooled string and written whole: no allocation per finding.
    let mut line = StringPool::global().get();
    let mut place = StringPool::global().get();
    let mut current = StringPool::global().get();
    for (i, f) in findings.iter().enumerate() {
        line.clear();
        place.clear();
        place_of(&mut place, f).map_err(io::Error::other)?;
        if heading && (i == 0 || *current != *place) {
            if i > 0 {
                line.push('\n');
            }
            style.path(&mut line, &place).map_err(io::Error::other)?;
            line.push('\n');
            current.clone_from(&place);
        }
        text_line(&mut line, f, &place, style, heading).map_err(io::Error::other)?;
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Where a finding is, as text output names it: its path, or for an image
/// `IMAGE@layerN:path` (`IMAGE@config:Env[1]` in the config).
fn place_of(out: &mut String, f: &Finding) -> std::fmt::Result {
    use std::fmt::Write as _;
    match &f.image {
        None => out.push_str(&f.path),
        Some(o) => match &o.layer {
            Some(l) => write!(out, "{}@layer{}:{}", o.image, l.index, f.path)?,
            None => write!(out, "{}@{}", o.image, f.path)?,
        },
    }
    Ok(())
}

/// One finding's line; with `heading`, indented under its file's heading.
fn text_line(
    line: &mut String,
    f: &Finding,
    place: &str,
    style: Style,
    heading: bool,
) -> std::fmt::Result {
    use std::fmt::Write as _;
    if heading {
        // `line:column`, padded to 9 columns.
        line.push_str("  ");
        let start = line.len();
        write!(line, "{}:{}", f.line, f.column)?;
        let width = line.len() - start;
        line.extend(std::iter::repeat_n(' ', 9usize.saturating_sub(width) + 1));
        style.severity(line, f.severity, 8)?;
    } else {
        style.path(line, place)?;
        write!(line, ":{}:{}: ", f.line, f.column)?;
        style.severity(line, f.severity, 0)?;
    }
    write!(line, " {} [{}]", f.rule_id, f.category.as_str())?;
    if !f.secret.is_empty() {
        write!(line, " {}", f.secret)?;
    }
    if let Some(v) = f.verified {
        write!(line, " (verified: {})", v.as_str())?;
    }
    if f.confidence == Confidence::Low {
        line.push_str(" (low confidence)");
    }
    if let Some(c) = &f.crypto
        && !c.replacement.is_empty()
    {
        write!(line, " (use {})", c.replacement)?;
    }
    if let Some(g) = &f.git {
        write!(line, " (commit {})", &g.commit[..g.commit.len().min(12)])?;
    }
    if let Some(n) = f.image.as_ref().and_then(|o| o.removed_in_layer) {
        write!(line, " (deleted in layer {n}, still in the image)")?;
    }
    line.push('\n');
    Ok(())
}

/// Whether `--color auto` colours: as ripgrep-like tools do, `NO_COLOR` (set, not empty) turns
/// colour off, else `CLICOLOR_FORCE` (set, not `0`) turns it on even through a pipe, else a
/// terminal (`terminal`) does.
pub(crate) fn auto_colour(terminal: bool) -> bool {
    let set = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty());
    if set("NO_COLOR").is_some() {
        false
    } else if set("CLICOLOR_FORCE").is_some_and(|v| v != "0") {
        true
    } else {
        terminal
    }
}

/// The closing line on standard error: findings by category and in how many files, what was
/// scanned, how long it took, then what was suppressed, skipped or unreadable.
pub(crate) fn summary(stats: bool, outcome: &ScanOutcome) {
    use std::fmt::Write as _;
    let s = &outcome.stats;
    let with_findings = {
        let mut places: Vec<(&str, Option<&str>)> = outcome
            .findings
            .iter()
            .map(|f| (f.path.as_str(), f.image.as_ref().map(|o| o.image.as_str())))
            .collect();
        places.sort_unstable();
        places.dedup();
        places.len()
    };
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut line = format!("capstan: {}", plural(s.findings, "finding", "findings"));
    if s.findings > 0 {
        let by: Vec<String> = [
            (s.secrets, "secret"),
            (s.crypto, "crypto"),
            (s.threats, "threat"),
        ]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        let _ = write!(
            line,
            " ({}) in {}",
            by.join(", "),
            plural(with_findings as u64, "file", "files")
        );
    }
    let _ = write!(
        line,
        "; {} scanned, {:.1} MB in {:.2} s",
        plural(s.files, "file", "files"),
        s.bytes as f64 / 1e6,
        s.seconds
    );
    if s.suppressed > 0 {
        let _ = write!(line, ", {} suppressed", s.suppressed);
    }
    if s.below_confidence > 0 {
        let _ = write!(line, ", {} below --min-confidence", s.below_confidence);
    }
    if !outcome.skipped.is_empty() {
        let _ = write!(
            line,
            ", {} skipped (too large or not regular files)",
            outcome.skipped.len()
        );
    }
    if !outcome.errors.is_empty() {
        let _ = write!(line, ", {} could not be read", outcome.errors.len());
    }
    if s.commits > 0 {
        let _ = write!(line, "; {} commit(s)", s.commits);
    }
    let layers = s.layers_pulled + s.layers_cached + s.layers_shared;
    if layers > 0 {
        let _ = write!(
            line,
            "; {layers} layer(s): {} pulled, {} from the cache",
            s.layers_pulled, s.layers_cached
        );
        if s.layers_shared > 0 {
            let _ = write!(line, ", {} shared with another image", s.layers_shared);
        }
    }
    if outcome.interrupted {
        line += ", INTERRUPTED";
    }
    eprintln!("{line}");
    if stats {
        eprintln!("{}", stats_line(&outcome.stats));
    }
}

/// `--stats`: every counter on one line.
fn stats_line(s: &capstan::scan::ScanStats) -> String {
    use std::fmt::Write as _;
    let mut shared = String::new();
    if let Some(rtt) = &s.cache_shared_rtt {
        let _ = write!(
            shared,
            " (local {} hit(s); shared {} hit(s), {} miss(es), {} rejected, {} fallback(s), {} round trip(s))",
            s.cache_local_hits,
            s.cache_shared_hits,
            s.cache_shared_misses,
            s.cache_shared_rejected,
            s.cache_shared_fallbacks,
            rtt.count()
        );
    }
    format!(
        "capstan: {} files, {} bytes in {:.3} s ({:.1} MB/s); findings: {} secret, {} crypto, {} threat; \
skipped {}; errors {}; cache {} hit(s), {} miss(es){shared}",
        s.files,
        s.bytes,
        s.seconds,
        s.mb_per_second(),
        s.secrets,
        s.crypto,
        s.threats,
        s.skipped,
        s.errors,
        s.cache_hits,
        s.cache_misses
    )
}

#[cfg(test)]
mod tests {
    use super::{parse_duration, parse_size};
    use std::time::Duration;

    #[test]
    fn durations_parse_the_way_people_write_them() {
        for (text, want) in [
            ("200ms", Duration::from_millis(200)),
            ("5s", Duration::from_secs(5)),
            ("5", Duration::from_secs(5)),
            ("90m", Duration::from_secs(5400)),
            ("12h", Duration::from_secs(43_200)),
            ("30d", Duration::from_secs(2_592_000)),
        ] {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
        for bad in ["", "ms", "1.5h", "-1s", "10w", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn sizes_parse_the_way_people_write_them() {
        for (text, want) in [
            ("0", 0),
            ("512", 512),
            ("512B", 512),
            ("512k", 512 << 10),
            ("64K", 64 << 10),
            ("10M", 10 << 20),
            ("10MB", 10 << 20),
            ("10 MiB", 10 << 20),
            ("10mb", 10 << 20),
            ("1.5G", 3 << 29),
            ("1.5GB", 3 << 29),
            ("0.5k", 512),
            (".5k", 512),
            ("2T", 2 << 40),
        ] {
            assert_eq!(parse_size(text), Ok(want), "{text}");
        }
        for bad in [
            "",
            "M",
            "1.2.3M",
            "10X",
            "10 MBs",
            "-1",
            "99999999999T",
            "1e3",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
