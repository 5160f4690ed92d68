//! Soak: 8 threads for a while (20 s here; `CAPSTAN_SOAK_SECS` for longer) mixing buffer scans,
//! tree scans, context writes and credential lookups on shared rules, pools and caches.
//! Asserts: every answer equals the single-threaded one (nothing lost), memory is flat after
//! warm-up (resident size at the end within 10% of the size after the first quarter), and no
//! deadlock (a watchdog aborts the process if the threads do not finish in time).

use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use capstan::auth::{AuthCache, ImageRef, Resolver};
use capstan::scan::{RuleSet, Rules, TreeScanner, WalkOptions};
use capstan::tar::{Context, ContextOptions};

const THREADS: usize = 8;

fn rss_kib() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4
}

struct Fixture {
    root: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("soak");
        let _ = std::fs::remove_dir_all(&root);
        let ctx = root.join("ctx");
        std::fs::create_dir_all(ctx.join("src/deep")).expect("dirs");
        std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY . /app\n").expect("write");
        std::fs::write(ctx.join(".dockerignore"), "*.log\n").expect("write");
        std::fs::write(ctx.join("debug.log"), "not sent\n").expect("write");
        for i in 0..40 {
            let body = if i % 4 == 0 {
                format!("let x = {i};\nGITHUB_TOKEN=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\n")
            } else {
                "fn f(a: u32) -> u32 { a.wrapping_mul(31) }\n".repeat(60)
            };
            std::fs::write(ctx.join(format!("src/deep/m{i}.rs")), body).expect("write");
        }
        let docker = root.join("docker");
        std::fs::create_dir_all(&docker).expect("dir");
        std::fs::write(
            docker.join("config.json"),
            r#"{"auths":{"registry.example.com":{"auth":"dXNlcjpwYXNz"},"ghcr.io":{"username":"bot","password":"tok"}}}"#,
        )
        .expect("write");
        Fixture { root }
    }
    fn ctx(&self) -> PathBuf {
        self.root.join("ctx")
    }
    fn config(&self) -> PathBuf {
        self.root.join("docker/config.json")
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The answers every iteration must reproduce.
#[derive(Debug, PartialEq, Eq, Clone)]
struct Expected {
    buffer: usize,
    tree: usize,
    /// Length and hash of the context tar (the bytes themselves would flood a failure message).
    context: (usize, u64),
    headers: Vec<String>,
}

fn digest(bytes: &[u8]) -> (usize, u64) {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    (bytes.len(), h.finish())
}

/// Walk options for a tree under the target directory, which the repository's own
/// `.gitignore` excludes.
fn walk(threads: usize) -> WalkOptions {
    WalkOptions {
        threads,
        respect_ignore: false,
        ..WalkOptions::default()
    }
}

const IMAGES: [&str; 3] = [
    "registry.example.com/team/app:1",
    "ghcr.io/org/tool",
    "alpine",
];

fn sample() -> Vec<u8> {
    let mut b = "pub fn handler(req: Request) -> Response { respond(req) }\n".repeat(200);
    b.push_str("aws_access_key_id = AKIAQ3EGUUN5XJ7PZ4TK\n");
    b.push_str(&"// filler\n".repeat(100));
    b.push_str("GITHUB_TOKEN=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\n");
    b.into_bytes()
}

fn answers(rules: &Rules, auth: &AuthCache, ctx: &Path, sample: &[u8]) -> Expected {
    let buffer = rules.scan_bytes("soak.env", sample).len();
    let tree = TreeScanner::new(rules, walk(1))
        .scan(&[ctx.to_path_buf()])
        .findings
        .len();
    let c = Context::select(ctx, &ContextOptions::default()).expect("select");
    let mut tar = Vec::new();
    c.write_to(&mut tar).expect("write");
    let context = digest(&tar);
    let headers = IMAGES
        .iter()
        .map(|i| {
            let image: ImageRef = i.parse().expect("reference");
            let got = auth.get(&image).expect("resolves");
            got.credentials
                .registry_auth_header(image.credential_key())
                .to_string()
        })
        .collect();
    Expected {
        buffer,
        tree,
        context,
        headers,
    }
}

/// One operation of the mix; `true` when its answer is the single-threaded one.
fn step(
    kind: usize,
    i: usize,
    rules: &Rules,
    auth: &AuthCache,
    sample: &[u8],
    expected: &Expected,
    ctx: &Path,
) -> bool {
    match kind {
        0 => rules.scan_bytes("soak.env", sample).len() == expected.buffer,
        1 => {
            let found = TreeScanner::new(rules, walk(2)).scan(&[ctx.to_path_buf()]);
            found.findings.len() == expected.tree && found.errors.is_empty()
        }
        2 => {
            let c = Context::select(ctx, &ContextOptions::default()).expect("select");
            let mut out = Vec::new();
            c.write_to(&mut out).expect("write");
            digest(&out) == expected.context
        }
        _ => {
            let image: ImageRef = IMAGES[i % IMAGES.len()].parse().expect("reference");
            auth.get(&image).is_ok_and(|g| {
                g.credentials.registry_auth_header(image.credential_key())
                    == expected.headers[i % IMAGES.len()]
            })
        }
    }
}

/// A deadlock cannot be unwound: past `limit`, the watchdog ends the process with a message
/// unless the returned flag was set.
fn watchdog(limit: Duration) -> std::sync::Arc<AtomicBool> {
    let finished = std::sync::Arc::new(AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&finished);
    std::thread::spawn(move || {
        let start = Instant::now();
        while !flag.load(Ordering::SeqCst) {
            if start.elapsed() > limit {
                eprintln!("soak: threads still running after {limit:?}: deadlock");
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    finished
}

#[test]
fn eight_threads_mixing_everything_lose_nothing_grow_nothing_and_finish() {
    let secs: u64 = std::env::var("CAPSTAN_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let run_for = Duration::from_secs(secs);
    let fx = Fixture::new();
    let rules = Rules::compile(&RuleSet::builtin_all().expect("packs")).expect("compiles");
    let auth = AuthCache::new(Resolver::with_file(fx.config()));
    let sample = sample();
    let expected = answers(&rules, &auth, &fx.ctx(), &sample);
    assert!(expected.buffer >= 2 && expected.tree == 10, "{expected:?}");

    let finished = watchdog(run_for + Duration::from_secs(60));

    let iterations = AtomicU64::new(0);
    let mismatches = AtomicU64::new(0);
    let warm_rss = AtomicU64::new(0);
    let start = Instant::now();
    let warm_at = start + run_for / 4;
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (rules, auth, sample, expected, ctx) =
                (&rules, &auth, &sample, &expected, fx.ctx());
            let (iterations, mismatches, warm_rss, barrier) =
                (&iterations, &mismatches, &warm_rss, &barrier);
            s.spawn(move || {
                let mut warmed = false;
                while start.elapsed() < run_for {
                    // Each thread starts its mix at a different step.
                    let i = iterations.load(Ordering::Relaxed) as usize;
                    let got = step((t + i) % 4, i, rules, auth, sample, expected, &ctx);
                    if !got {
                        mismatches.fetch_add(1, Ordering::Relaxed);
                    }
                    iterations.fetch_add(1, Ordering::Relaxed);
                    if !warmed && Instant::now() >= warm_at {
                        warmed = true;
                        // Everyone past warm-up: one reading for all.
                        if barrier.wait().is_leader() {
                            warm_rss.store(rss_kib(), Ordering::SeqCst);
                        }
                    }
                }
                if !warmed {
                    barrier.wait();
                }
            });
        }
    });
    finished.store(true, Ordering::SeqCst);
    let end_rss = rss_kib();
    let warm = warm_rss.load(Ordering::SeqCst);
    let n = iterations.load(Ordering::Relaxed);
    eprintln!(
        "soak: {n} operations on {THREADS} threads in {secs} s; RSS {warm} KiB after warm-up, \
         {end_rss} KiB at the end"
    );
    assert_eq!(
        mismatches.load(Ordering::Relaxed),
        0,
        "answers differed from the single-threaded run"
    );
    assert!(n > THREADS as u64 * 4, "the threads made progress: {n}");
    assert!(
        end_rss * 10 <= warm * 11,
        "RSS grew from {warm} KiB to {end_rss} KiB (more than 10%)"
    );
    assert_eq!(
        answers(&rules, &auth, &fx.ctx(), &sample),
        expected,
        "shared state is intact afterwards"
    );
}
