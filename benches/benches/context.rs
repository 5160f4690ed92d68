//! Build contexts into a pipe: capstan's writer beside GNU tar and the `tar` crate, on the same
//! tree, in the same run.
//!
//! Every row writes into a `cat > /dev/null` child through a pipe (GNU tar special-cases
//! `/dev/null` and would skip reading the files): `capstan_context` (select + write),
//! `capstan_context_with_ignore` (a 30-line `.dockerignore` excluding about half the tree),
//! `capstan_context_scan` (single-pass scan, built-in packs, on the writing thread),
//! `capstan_context_scan_background` (the same on two scan threads, as the CLI runs it),
//! `tar_crate_append_dir_all`,
//! `gnu_tar` (`tar -cf - DIR | cat`).
//!
//! Corpus: the vendored-dependency tree when measuring; one crate in test mode.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use capstan::scan::{ContextScan, RuleSet, Rules, scan_in_background};
use capstan::tar::{Context, ContextOptions};
use capstan_benches::{corpus_dir, measuring};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn tree() -> PathBuf {
    let corpus = corpus_dir();
    let src = if measuring() {
        corpus
    } else {
        let name = std::fs::read_dir(&corpus)
            .expect("corpus")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().starts_with("memchr-"))
            .min()
            .expect("memchr is vendored");
        corpus.join(name)
    };
    // A context needs a Dockerfile: one is written into the tree root for the run and
    // removed at the end (the corpus is ours).
    std::fs::write(src.join("Dockerfile"), "FROM scratch\nCOPY . /src\n").expect("Dockerfile");
    src
}

fn sink() -> Child {
    Command::new("sh")
        .args(["-c", "cat > /dev/null"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("cat runs")
}

fn into_pipe(f: impl FnOnce(&mut dyn Write)) {
    let mut child = sink();
    {
        let mut stdin = child.stdin.take().expect("piped");
        f(&mut stdin);
    }
    assert!(child.wait().expect("cat").success());
}

fn context(c: &mut Criterion) {
    let dir = tree();
    let opts = ContextOptions::default();
    let ctx = Context::select(&dir, &opts).expect("selects");
    let mut probe = Vec::new();
    let bytes = ctx.write_to(&mut probe).expect("writes");
    drop(probe);

    // Half of the crates excluded by thirty patterns.
    let ignore: String = std::fs::read_dir(&dir)
        .expect("tree")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.as_bytes().first().is_some_and(|b| *b < b'm'))
        .take(28)
        .map(|n| format!("{n}\n"))
        .chain(["**/*.orig\n".to_owned(), "!**/Cargo.toml\n".to_owned()])
        .collect();

    let rules = Rules::compile(&RuleSet::builtin_all().expect("packs")).expect("compiles");
    let mut g = c.benchmark_group(format!("context_{}MB", bytes / 1_000_000));
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes));
    // Select and write: what `capstan context -o -` does.
    let plain = |b: &mut criterion::Bencher<'_>| {
        b.iter(|| {
            into_pipe(|w| {
                Context::select(&dir, &opts)
                    .expect("selects")
                    .write_to(w)
                    .expect("writes");
            });
        });
    };
    g.bench_function("capstan_context", plain);
    g.bench_function("capstan_context_scan", |b| {
        b.iter(|| {
            into_pipe(|w| {
                let mut scan = ContextScan::new(&rules);
                Context::select(&dir, &opts)
                    .expect("selects")
                    .write_observed(w, &mut scan)
                    .expect("writes");
            });
        });
    });
    g.bench_function("capstan_context_scan_background", |b| {
        b.iter(|| {
            into_pipe(|w| {
                let ctx = Context::select(&dir, &opts).expect("selects");
                let (written, _) =
                    scan_in_background(&rules, 2, true, false, |o| ctx.write_observed(&mut *w, o));
                written.expect("writes");
            });
        });
    });
    g.bench_function("tar_crate_append_dir_all", |b| {
        b.iter(|| {
            into_pipe(|w| {
                let mut builder = tar::Builder::new(w);
                builder.follow_symlinks(false);
                builder.append_dir_all(".", &dir).expect("appends");
                builder.finish().expect("finishes");
            });
        });
    });
    if Command::new("tar")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok()
    {
        g.bench_function("gnu_tar", |b| {
            b.iter(|| {
                let status = Command::new("sh")
                    .arg("-c")
                    .arg("tar -cf - -C \"$1\" . | cat > /dev/null")
                    .arg("sh")
                    .arg(&dir)
                    .status()
                    .expect("tar runs");
                assert!(status.success());
            });
        });
    }
    std::fs::write(dir.join(".dockerignore"), &ignore).expect(".dockerignore");
    let kept = Context::select(&dir, &opts)
        .expect("selects")
        .names()
        .count();
    g.bench_function("capstan_context_with_ignore", plain);
    std::fs::remove_file(dir.join(".dockerignore")).expect("cleanup");
    std::fs::remove_file(dir.join("Dockerfile")).expect("cleanup");
    g.finish();
    assert!(kept > 0, "the ignore file keeps something");
}

criterion_group!(benches, context);
criterion_main!(benches);
