//! Whole-tree scans as a user runs them: walk, read, scan, two threads — beside ripgrep's
//! keyword-only pass over the same tree, measured in the same run.
//!
//! - `capstan_gitleaks_default` / `capstan_builtin_packs`: `TreeScanner` with 2 threads, no
//!   ignore files (every file is read, as by the peers), no cache;
//! - `capstan_cached_rescan`: the same tree again with a warm incremental cache (read and hash,
//!   no scan);
//! - `ripgrep_keywords_floor`: `rg -i -F -f KEYWORDS -j 2 -c --no-ignore --hidden`, the keyword
//!   pass alone, when `rg` is installed.
//!
//! Corpus: the vendored-dependency tree (`capstan_benches::corpus_dir`) when measuring, one
//! crate of it in test mode; plus a directory of planted secrets that every run must find.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use capstan::scan::{RuleSet, Rules, ScanCache, TreeScanner, WalkOptions};
use capstan_benches::{corpus_dir, measuring};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn gitleaks_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/peers/gitleaks/gitleaks.toml")
}

fn opts() -> WalkOptions {
    WalkOptions {
        threads: 2,
        respect_ignore: false,
        ..WalkOptions::default()
    }
}

fn inputs() -> Vec<PathBuf> {
    let corpus = corpus_dir();
    let tree = if measuring() {
        corpus
    } else {
        // Test mode runs unoptimised: one crate is enough to check the answers.
        corpus.join(
            std::fs::read_dir(&corpus)
                .expect("corpus")
                .filter_map(Result::ok)
                .map(|e| e.file_name())
                .filter(|n| n.to_string_lossy().starts_with("memchr-"))
                .min()
                .expect("memchr is vendored"),
        )
    };
    let planted = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tree-bench-planted");
    std::fs::create_dir_all(&planted).expect("planted dir");
    std::fs::write(
        planted.join(".env"),
        "GITHUB_TOKEN=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\n",
    )
    .expect("plant");
    vec![tree, planted]
}

fn keywords_file(config: &Path) -> PathBuf {
    let set = RuleSet::load(config).expect("gitleaks.toml loads");
    let mut words: Vec<String> = set
        .rules
        .iter()
        .flat_map(|r| r.keywords.iter().map(|k| k.to_ascii_lowercase()))
        .collect();
    words.sort();
    words.dedup();
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join("gitleaks-keywords.txt");
    std::fs::write(&p, words.join("\n") + "\n").expect("keywords file");
    p
}

fn tree(c: &mut Criterion) {
    let inputs = inputs();
    let gitleaks =
        Rules::compile(&RuleSet::load(gitleaks_config()).expect("loads")).expect("compiles");
    let builtin = Rules::compile(&RuleSet::builtin_all().expect("packs")).expect("compiles");

    let first = TreeScanner::new(&gitleaks, opts()).scan(&inputs);
    assert!(
        first
            .findings
            .iter()
            .any(|f| f.path.ends_with("tree-bench-planted/.env")),
        "the planted token is found"
    );
    let files = first.stats.files;
    let bytes = first.stats.bytes;

    let mut g = c.benchmark_group(format!("tree_scan_{files}_files"));
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("capstan_gitleaks_default", |b| {
        b.iter(|| {
            TreeScanner::new(&gitleaks, opts())
                .scan(&inputs)
                .findings
                .len()
        });
    });
    g.bench_function("capstan_builtin_packs", |b| {
        b.iter(|| {
            TreeScanner::new(&builtin, opts())
                .scan(&inputs)
                .findings
                .len()
        });
    });

    let db = Path::new(env!("CARGO_TARGET_TMPDIR")).join("tree-bench-cache/scan.redb");
    let _ = std::fs::remove_file(&db);
    let scanner = TreeScanner::new(&gitleaks, opts());
    let cache = ScanCache::open(&db, &scanner.settings_digest()).expect("cache");
    let scanner = scanner.cache(&cache);
    let cold = scanner.scan(&inputs);
    assert_eq!(cold.findings, first.findings, "the cache changes nothing");
    g.bench_function("capstan_cached_rescan", |b| {
        b.iter(|| {
            let warm = scanner.scan(&inputs);
            assert_eq!(warm.findings.len(), first.findings.len());
            warm.findings.len()
        });
    });
    drop(scanner);
    cache.close().expect("cache closes");

    let keywords = keywords_file(&gitleaks_config());
    let rg = |b: &mut criterion::Bencher<'_>| {
        b.iter(|| {
            let status = Command::new("rg")
                .args(["-i", "-F", "-j", "2", "-c", "--no-ignore", "--hidden", "-f"])
                .arg(&keywords)
                .args(&inputs)
                .stdout(Stdio::null())
                .status()
                .expect("rg runs");
            assert!(status.code().is_some_and(|c| c <= 1));
        });
    };
    if Command::new("rg")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok()
    {
        g.bench_function("ripgrep_keywords_floor", rg);
    }
    g.finish();
}

criterion_group!(benches, tree);
criterion_main!(benches);
