//! `capstan context`: a build context as docker would send it, deterministic.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use capstan::scan::scan_in_background;
use capstan::tar::{
    ByteObserver, Context, ContextError, ContextErrorKind, ContextOptions, NoObserver, Stop,
    TarLimits, extract_limited,
};

use crate::output::{Output, printable};

#[derive(Debug, clap::Args)]
pub struct ContextArgs {
    /// The context directory.
    #[arg(value_name = "DIR", default_value = ".")]
    dir: PathBuf,
    /// The Dockerfile, relative to the current directory as with `docker build -f`
    /// [default: DIR/Dockerfile, or DIR/dockerfile when only that exists]. Always sent.
    #[arg(long, short = 'f', value_name = "DOCKERFILE")]
    file: Option<PathBuf>,
    /// Write the tar to FILE (`-` for standard output); a tar is never written to a terminal.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Print the member names the tar would contain, one per line, in tar order (directories
    /// end with `/`), instead of writing it.
    #[arg(long)]
    list: bool,
    /// Scan every file for secrets, crypto and threats on its way into the tar (one read per
    /// file); findings go to standard error.
    #[arg(long)]
    scan: bool,
    /// Stop at the first file with a finding, leaving the tar unfinished (and, with -o FILE,
    /// unwritten); exit 1. Implies --scan.
    #[arg(long)]
    fail_on_findings: bool,
    /// Print secrets in full in findings.
    #[arg(long)]
    no_redact: bool,
    #[command(flatten)]
    source: crate::RuleSource,
    /// Compress the tar with gzip.
    #[arg(long, short = 'z')]
    gzip: bool,
    /// The modification time stored for every entry, in seconds since the epoch
    /// [default: `$SOURCE_DATE_EPOCH`, else 0].
    #[arg(long, value_name = "SECONDS")]
    mtime: Option<u64>,
}

pub fn context(args: &ContextArgs) -> anyhow::Result<ExitCode> {
    let mut opts = ContextOptions::from_env();
    if let Some(m) = args.mtime {
        opts.mtime = m;
    }
    // Listing or sending a context needs no Dockerfile: a missing default one is said, not
    // fatal (a `-f FILE` that isn't there still is).
    let default_missing = args.file.is_none()
        && args.dir.is_dir()
        && !args.dir.join("Dockerfile").exists()
        && !args.dir.join("dockerfile").exists();
    let opts = if default_missing {
        eprintln!(
            "capstan: warning: no Dockerfile in {}: the context is {} without one (name one with -f)",
            printable(&args.dir.display().to_string()),
            if args.list { "listed" } else { "sent" }
        );
        opts
    } else {
        opts.locate_dockerfile(&args.dir, args.file.as_deref())?
    };
    let ctx = Context::select(&args.dir, &opts)?;
    if opts.external_dockerfile.is_some() {
        eprintln!(
            "capstan: the Dockerfile is outside the context: sent as {}",
            ctx.dockerfile_name()
        );
    }
    for s in ctx.skipped() {
        eprintln!(
            "capstan: warning: {}: skipped, {}",
            printable(&s.name),
            s.reason
        );
    }
    if args.list {
        let mut out = io::BufWriter::new(io::stdout().lock());
        for name in ctx.names() {
            writeln!(out, "{}", printable(name))?;
        }
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let to_stdout = args.output.as_ref().is_none_or(|p| p.as_os_str() == "-");
    if to_stdout && io::stdout().is_terminal() {
        bail!("refusing to write a tar to a terminal: use -o FILE, -o - with a pipe, or --list");
    }
    let path = args.output.as_deref().filter(|_| !to_stdout);
    let mut out = Output::open(path)?;
    let scanning = args.scan || args.fail_on_findings;
    let rules = if scanning {
        Some(args.source.sources().compile()?)
    } else {
        None
    };
    let threads = capstan::exec::default_threads();
    let mut write = |observer: &mut dyn ByteObserver| {
        if args.gzip {
            let mut gz = flate2::write::GzEncoder::new(&mut out, flate2::Compression::fast());
            ctx.write_observed(&mut gz, observer)
                .and_then(|n| gz.finish().map(|_| n).map_err(ContextError::write))
        } else {
            ctx.write_observed(&mut out, observer)
        }
    };
    let (written, findings) = match &rules {
        // Scanned on every core while the tar is written.
        Some(r) => scan_in_background(r, threads, !args.no_redact, args.fail_on_findings, write),
        None => (write(&mut NoObserver), Vec::new()),
    };
    for f in &findings {
        eprintln!(
            "capstan: {}:{}:{}: {} {} [{}] {}",
            printable(&f.path),
            f.line,
            f.column,
            f.severity.as_str(),
            f.rule_id,
            f.category.as_str(),
            f.secret
        );
    }
    match written {
        Ok(_) => {}
        Err(e) if e.kind() == ContextErrorKind::Stopped => {
            // `out` is dropped unfinished: a file output is removed, a pipe sees no tar end.
            eprintln!(
                "capstan: {}: {}: the context was not finished",
                printable(e.member().unwrap_or_default()),
                e.stop().map_or("stopped", Stop::reason)
            );
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    }
    out.finish().with_context(|| {
        format!(
            "writing {}",
            path.map_or("standard output".into(), |p| p.display().to_string())
        )
    })?;
    if scanning {
        eprintln!("capstan: {} finding(s) in the context", findings.len());
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, clap::Args)]
pub struct ExtractArgs {
    /// A tar or tar.gz archive; `-` reads standard input.
    #[arg(value_name = "ARCHIVE")]
    archive: PathBuf,
    /// The directory to extract into (created if missing). Nothing is ever written outside it.
    #[arg(value_name = "DIR")]
    dir: PathBuf,
    /// Stop with an error after this many members (a tar bomb of tiny files).
    #[arg(long, value_name = "N", default_value_t = TarLimits::default().max_entries)]
    max_entries: u64,
    /// Stop with an error once members hold more than this much data (K, M, G suffixes).
    #[arg(long, value_name = "SIZE", default_value = "64G", value_parser = crate::scan::parse_size)]
    max_bytes: u64,
}

pub fn extract(args: &ExtractArgs) -> anyhow::Result<ExitCode> {
    let input: Box<dyn io::Read> = if args.archive.as_os_str() == "-" {
        Box::new(io::stdin().lock())
    } else {
        Box::new(
            std::fs::File::open(&args.archive)
                .with_context(|| args.archive.display().to_string())?,
        )
    };
    std::fs::create_dir_all(&args.dir).with_context(|| args.dir.display().to_string())?;
    let limits = TarLimits {
        max_entries: args.max_entries,
        max_bytes: args.max_bytes,
        ..TarLimits::default()
    };
    let done = extract_limited(input, &args.dir, limits)
        .with_context(|| args.archive.display().to_string())?;
    eprintln!(
        "capstan: {} file(s), {} dir(s), {} link(s), {} bytes",
        done.files, done.dirs, done.links, done.bytes
    );
    Ok(ExitCode::SUCCESS)
}
