//! The scanner against its floor and a naive baseline, on real third-party source.
//!
//! Corpus: `cargo vendor` of this workspace's dependency tree (see `capstan_benches::corpus`),
//! 64 MiB of it when measuring, plus files with planted secrets that every run must find.
//!
//! - `capstan_builtin_packs` / `capstan_gitleaks_default`: `Rules::scan_bytes` per file, one thread;
//! - `aho_corasick_keywords_only`: one pass of the same keyword automaton, counting hits — the
//!   floor for a keyword-gated design;
//! - `regex_set_all_rules`: a `regex::RegexSet` of every built-in rule, `matches` per file — what
//!   a scanner without keyword gating does at minimum.

use std::hint::black_box;
use std::path::Path;

use aho_corasick::AhoCorasick;
use capstan::scan::{RuleSet, Rules};
use capstan_benches::{corpus, measuring};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const PLANTED: [(&str, &str); 4] = [
    (
        "planted/.env",
        "GITHUB_TOKEN=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\n",
    ),
    (
        "planted/aws.py",
        "aws_access_key_id = 'AKIAZ4LNQW7TXVB3KP2M'\n",
    ),
    (
        "planted/slack.js",
        "const hook = 'xoxb-2718281828-3141592653589-ZuVq8rT3mKp4LxW9nYb2HsDf';\n",
    ),
    (
        "planted/crypto.py",
        "import hashlib\nh = hashlib.md5(payload).hexdigest()\n",
    ),
];

fn gitleaks_config() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/peers/gitleaks/gitleaks.toml")
}

fn scan_all(rules: &Rules, files: &[(String, Vec<u8>)]) -> usize {
    files
        .iter()
        .map(|(p, b)| rules.scan_bytes(p, b).len())
        .sum()
}

fn throughput(c: &mut Criterion) {
    let limit = if measuring() { 64 << 20 } else { 2 << 20 };
    let files = corpus(limit, &PLANTED);
    let bytes: u64 = files.iter().map(|(_, b)| b.len() as u64).sum();

    let builtin_set = RuleSet::builtin_all().expect("packs load");
    let builtin = Rules::compile(&builtin_set).expect("packs compile");
    let gitleaks = Rules::compile(&RuleSet::load(gitleaks_config()).expect("gitleaks.toml loads"))
        .expect("gitleaks.toml compiles");

    // Every planted secret is found, by each rule set that covers it.
    for (path, text) in &PLANTED {
        let found = builtin.scan_bytes(path, text.as_bytes());
        assert!(!found.is_empty(), "built-in packs missed {path}");
    }
    for (path, text) in &PLANTED[..3] {
        let found = gitleaks.scan_bytes(path, text.as_bytes());
        assert!(!found.is_empty(), "gitleaks config missed {path}");
    }

    let mut keywords: Vec<String> = builtin_set
        .rules
        .iter()
        .flat_map(|r| r.keywords.iter().cloned())
        .collect();
    keywords.sort();
    keywords.dedup();
    let ac = AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(aho_corasick::AhoCorasickKind::DFA))
        .build(&keywords)
        .expect("keyword automaton");
    let patterns: Vec<&str> = builtin_set
        .rules
        .iter()
        .filter_map(|r| r.regex.as_deref())
        .collect();
    let set = regex::bytes::RegexSetBuilder::new(&patterns)
        .size_limit(1 << 30)
        .dfa_size_limit(1 << 30)
        .build()
        .expect("RegexSet of all built-in rules");

    let mut g = c.benchmark_group(format!("scan_corpus_{}MiB", bytes >> 20));
    g.throughput(Throughput::Bytes(bytes));
    g.sample_size(10);
    g.bench_function("capstan_builtin_packs", |b| {
        b.iter(|| black_box(scan_all(&builtin, &files)));
    });
    g.bench_function("capstan_gitleaks_default", |b| {
        b.iter(|| black_box(scan_all(&gitleaks, &files)));
    });
    g.bench_function("aho_corasick_keywords_only", |b| {
        b.iter(|| {
            files
                .iter()
                .map(|(_, t)| ac.find_overlapping_iter(t.as_slice()).count())
                .sum::<usize>()
        });
    });
    g.finish();

    // The naive baseline is ~400x slower: measured on the first 4 MiB only.
    let mut slice = Vec::new();
    let mut taken = 0u64;
    for f in &files {
        if taken >= 4 << 20 {
            break;
        }
        taken += f.1.len() as u64;
        slice.push(f);
    }
    let mut g = c.benchmark_group(format!("scan_corpus_first_{}MiB", taken >> 20));
    g.throughput(Throughput::Bytes(taken));
    g.sample_size(10);
    g.bench_function("capstan_builtin_packs", |b| {
        b.iter(|| {
            slice
                .iter()
                .map(|(p, t)| builtin.scan_bytes(p, t).len())
                .sum::<usize>()
        });
    });
    g.bench_function("regex_set_all_rules", |b| {
        b.iter(|| {
            slice
                .iter()
                .map(|(_, t)| set.matches(t).iter().count())
                .sum::<usize>()
        });
    });
    g.finish();
}

fn compile(c: &mut Criterion) {
    let builtin_set = RuleSet::builtin_all().expect("packs load");
    assert!(!Rules::compile(&builtin_set).expect("compiles").is_empty());
    let mut g = c.benchmark_group("compile");
    g.sample_size(10);
    g.bench_function("builtin_packs_load_and_compile", |b| {
        b.iter(|| Rules::compile(&RuleSet::builtin_all().expect("loads")).expect("compiles"));
    });
    g.bench_function("gitleaks_default_load_and_compile", |b| {
        b.iter(|| {
            Rules::compile(&RuleSet::load(gitleaks_config()).expect("loads")).expect("compiles")
        });
    });
    g.finish();
}

fn dockerfile(c: &mut Criterion) {
    let rules = Rules::compile(&RuleSet::builtin_all().expect("loads")).expect("compiles");
    let mut text =
        String::from("FROM node:latest\nARG NPM_TOKEN=npm_9Xk2LmQ7vR4tY8wZ1bC5nD3fG6hJ0pS2aE7u\n");
    while text.len() < 2000 {
        text.push_str(
            "RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates\n",
        );
    }
    text.push_str("USER app\nCMD [\"node\", \"server.js\"]\n");
    let found = rules.scan_bytes("Dockerfile", text.as_bytes());
    assert!(
        found.iter().any(|f| f.rule_id.starts_with("dockerfile-")),
        "no Dockerfile finding: {:?}",
        found.iter().map(|f| &f.rule_id).collect::<Vec<_>>()
    );
    c.bench_function("scan_dockerfile_2k", |b| {
        b.iter(|| black_box(rules.scan_bytes("Dockerfile", text.as_bytes()).len()));
    });
}

criterion_group!(benches, dockerfile, compile, throughput);
criterion_main!(benches);
