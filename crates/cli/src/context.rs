//! `capstan context`: a build context as docker would send it, deterministic.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use capstan::tar::{Context, ContextOptions};

use crate::output::Output;

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
    opts.dockerfile = Some(dockerfile_in_context(args)?);
    let ctx = Context::select(&args.dir, &opts)?;
    for s in ctx.skipped() {
        eprintln!("capstan: warning: {}: skipped, {}", s.name, s.reason);
    }
    if args.list {
        let mut out = io::BufWriter::new(io::stdout().lock());
        for name in ctx.names() {
            writeln!(out, "{name}")?;
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
    ctx.write_to(&mut out)?;
    out.finish().with_context(|| {
        format!(
            "writing {}",
            path.map_or("standard output".into(), |p| p.display().to_string())
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The Dockerfile's name inside the context, as the docker CLI resolves `-f`.
fn dockerfile_in_context(args: &ContextArgs) -> anyhow::Result<String> {
    let dir = normalize(&std::path::absolute(&args.dir).context("the context directory")?);
    let file = match &args.file {
        Some(f) => normalize(&std::path::absolute(f)?),
        None if !dir.join("Dockerfile").exists() && dir.join("dockerfile").exists() => {
            dir.join("dockerfile")
        }
        None => dir.join("Dockerfile"),
    };
    match file.strip_prefix(&dir) {
        Ok(rel) => Ok(rel.to_string_lossy().replace('\\', "/")),
        Err(_) => bail!(
            "{}: a Dockerfile outside the context is not supported yet",
            file.display()
        ),
    }
}

/// Resolves `.` and `..` lexically, as Go's `filepath.Clean` does for the docker CLI.
fn normalize(p: &std::path::Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
