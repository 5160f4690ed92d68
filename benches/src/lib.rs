//! Helpers shared by capstan's criterion benches.

use std::time::{Duration, Instant};

/// Runs `op` `iters` times on each of `threads` threads at once and returns the time the
/// slowest thread took, so criterion reports the per-operation latency each thread saw under
/// contention (compare it with the single-thread figure of the same operation).
pub fn contended<F>(threads: usize, iters: u64, op: F) -> Duration
where
    F: Fn() + Sync,
{
    let start = std::sync::Barrier::new(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        op();
                    }
                    t0.elapsed()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .max()
            .unwrap_or_default()
    })
}

/// The scan bench corpus: real third-party source, reproducible from `Cargo.lock` —
/// `cargo vendor` of this workspace's dependency tree into `bench-corpus` in cargo's target
/// directory — read into
/// memory as `(path, bytes)` files up to `limit` bytes (text files only, in path order), with
/// `planted` extra files that each hold one known secret appended. Nothing is downloaded beyond
/// what cargo already has in its registry cache.
///
/// # Panics
/// If `cargo vendor` fails: a bench without its corpus measures nothing.
pub fn corpus(limit: usize, planted: &[(&str, &str)]) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir();
    let mut paths = Vec::new();
    collect(&dir, &mut paths);
    paths.sort();
    let mut files = Vec::new();
    let mut total = 0;
    for p in paths {
        if total >= limit {
            break;
        }
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        if bytes.len() > 4 << 20 || memchr_nul(&bytes) {
            continue;
        }
        total += bytes.len();
        let rel = p
            .strip_prefix(&dir)
            .unwrap_or(&p)
            .to_string_lossy()
            .into_owned();
        files.push((rel, bytes));
    }
    for (name, text) in planted {
        files.push(((*name).to_owned(), text.as_bytes().to_vec()));
    }
    files
}

/// The corpus directory (`bench-corpus` in cargo's target directory, `target/` or
/// `$CARGO_TARGET_DIR`: a `cargo vendor` of this workspace's dependencies, ~9k files, ~200 MB),
/// created on first use.
///
/// # Panics
/// If `cargo metadata` or `cargo vendor` fails.
pub fn corpus_dir() -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let dir = target_dir(&root).join("bench-corpus");
    if !dir.join(".complete").exists() {
        let status = std::process::Command::new(env!("CARGO"))
            .args(["vendor", "--versioned-dirs", "--quiet"])
            .arg(&dir)
            .current_dir(&root)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run cargo vendor");
        assert!(status.success(), "cargo vendor failed");
        std::fs::write(dir.join(".complete"), b"").expect("mark the corpus complete");
    }
    dir
}

/// The workspace's target directory as cargo resolves it (`CARGO_TARGET_DIR`, `build.target-dir`,
/// else `target/`): `target_directory` in `cargo metadata`'s JSON, read without a JSON crate.
fn target_dir(root: &std::path::Path) -> std::path::PathBuf {
    let out = std::process::Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .current_dir(root)
        .output()
        .expect("run cargo metadata");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = String::from_utf8_lossy(&out.stdout);
    let key = "\"target_directory\":\"";
    let at = json
        .find(key)
        .expect("cargo metadata names the target directory")
        + key.len();
    let mut dir = String::new();
    let mut chars = json[at..].chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return std::path::PathBuf::from(dir),
            '\\' => match chars.next() {
                Some(e @ ('"' | '\\' | '/')) => dir.push(e),
                other => panic!("unexpected escape in target_directory: {other:?}"),
            },
            c => dir.push(c),
        }
    }
    panic!("cargo metadata's target_directory is not terminated")
}

fn memchr_nul(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(8192)].contains(&0)
}

fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let Ok(ft) = e.file_type() else { continue };
        if ft.is_dir() {
            collect(&e.path(), out);
        } else if ft.is_file() {
            out.push(e.path());
        }
    }
}

/// Whether criterion runs for real (`cargo bench`) rather than once in test mode
/// (`cargo test --benches`), where a small corpus keeps the test quick.
pub fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}
