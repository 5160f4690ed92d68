//! A scan from Rust through the one door every front end uses, `capstan::scan::Request`: the
//! inputs, a baseline and ignore files, then the findings as JSON — what `capstan scan
//! --format json` reports under `findings`, and what the C and Go examples print with `--json`
//! (`tests/parity.sh` compares all four).
//!
//! ```sh
//! cargo run --release -p capstan-examples --example request -- \
//!     [--baseline FILE] [--ignore-file FILE]... PATH...
//! cargo run --release -p capstan-examples --example request -- --image oci:build/layout:v1
//! cargo run --release -p capstan-examples --example request -- --git .
//! ```
//!
//! With `--image` (repeatable) it scans container images instead: a registry reference,
//! `oci:DIR[:TAG]` or `docker-archive:FILE` (`Request::images`); with `--git` a repository's
//! history, every blob reachable from its refs once, each finding carrying the commit that
//! introduced it (`Request::git`).
//!
//! Exit status: 0 clean, 1 findings, 2 an error (named on standard error).

use std::path::PathBuf;
use std::process::ExitCode;

use capstan::git::GitOptions;
use capstan::scan::Request;

fn main() -> ExitCode {
    match run() {
        Ok(found) if found => ExitCode::from(1),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("request: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let mut inputs = Vec::new();
    let mut baselines = Vec::new();
    let mut ignore_files = Vec::new();
    let mut images = Vec::new();
    let mut repo = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .map(PathBuf::from)
                .ok_or("a flag without its file")
        };
        match arg.to_str() {
            Some("--baseline") => baselines.push(value()?),
            Some("--ignore-file") => ignore_files.push(value()?),
            Some("--image") => images.push(
                value()?
                    .into_os_string()
                    .into_string()
                    .map_err(|_| "an image that is not UTF-8")?,
            ),
            Some("--git") => repo = Some(value()?),
            _ => inputs.push(PathBuf::from(arg)),
        }
    }
    let mut request = match (repo, images.is_empty(), inputs.is_empty()) {
        (None, true, _) => Request::new(inputs),
        (None, false, true) => Request::images(images),
        (Some(repo), true, true) => Request::git(repo, GitOptions::default()),
        _ => return Err("paths, --image or --git: one kind, not two".into()),
    };
    for b in baselines {
        request = request.baseline(b);
    }
    for f in ignore_files {
        request = request.ignore_file(f);
    }
    let outcome = request.prepare()?.run();
    for e in &outcome.errors {
        eprintln!("request: {}: {}", e.path, e.reason);
    }
    println!("{}", serde_json::to_string_pretty(&outcome.findings)?);
    if !outcome.errors.is_empty() {
        return Err(format!("{} input(s) could not be read", outcome.errors.len()).into());
    }
    Ok(!outcome.findings.is_empty())
}
