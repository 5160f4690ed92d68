//! Embedding capstan in a Rust tool: scan a buffer, then stream a build context to a file with
//! every byte scanned on its way out.
//!
//! ```sh
//! cargo run --release -p capstan-examples --example embed -- [CONTEXT_DIR [OUT.tar]]
//! ```
//!
//! Without arguments it builds a small demo context in a temporary directory (with a leaked
//! token in `.env`, which both scans report, redacted).

use std::fs;
use std::io::BufWriter;
use std::path::PathBuf;

use capstan::scan::{RuleSet, Rules, scan_in_background};
use capstan::tar::{Context, ContextOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Rules compile once and are shared by every thread that scans.
    let rules = Rules::compile(&RuleSet::builtin_all()?)?;

    // 1. A buffer (a config file, a commit diff, an HTTP body...).
    let body = b"aws_access_key_id = AKIAQ3EGUUN5XJ7PZ4TK\nregion = eu-west-1\n";
    for f in rules.scan_bytes("config/aws.ini", body) {
        println!(
            "buffer: {}:{}:{}: {} {}",
            f.path, f.line, f.column, f.rule_id, f.secret
        );
    }

    // 2. A build context, exactly as `docker build` would send it but reproducible, scanned in
    //    the same pass that writes it.
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let (dir, demo) = match args.next() {
        Some(dir) => (dir, false),
        None => (demo_context()?, true),
    };
    let out = args
        .next()
        .unwrap_or_else(|| std::env::temp_dir().join("capstan-embed.tar"));

    let opts = ContextOptions::from_env().locate_dockerfile(&dir, None)?;
    let ctx = Context::select(&dir, &opts)?;
    let mut file = BufWriter::new(fs::File::create(&out)?);
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let (written, findings) = scan_in_background(&rules, threads, true, false, |observer| {
        ctx.write_observed(&mut file, observer)
    });
    let bytes = written?;
    drop(file);
    println!(
        "context: {} entries, {bytes} bytes -> {}",
        ctx.names().count(),
        out.display()
    );
    for f in &findings {
        println!(
            "context: {}:{}:{}: {} {}",
            f.path, f.line, f.column, f.rule_id, f.secret
        );
    }
    if demo {
        fs::remove_dir_all(&dir)?;
        if findings.is_empty() {
            return Err("the demo context's token was not found".into());
        }
    }
    Ok(())
}

/// A small context: a Dockerfile, a `.dockerignore`, an app and a leaked token.
fn demo_context() -> std::io::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("capstan-embed-{}", std::process::id()));
    fs::create_dir_all(dir.join("src"))?;
    fs::write(dir.join("Dockerfile"), "FROM scratch\nCOPY . /app\n")?;
    fs::write(dir.join(".dockerignore"), "*.log\n")?;
    fs::write(dir.join("src/main.py"), "print('hello')\n")?;
    fs::write(dir.join("build.log"), "not sent\n")?;
    fs::write(
        dir.join(".env"),
        "GITHUB_TOKEN=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\n",
    )?;
    Ok(dir)
}
