//! The Rust side of the C and Go comparison: `Rules::scan_bytes` on the inputs that
//! `benches/ffi/bench.c` (the C ABI) and `crates/ffi/go/bench_test.go` (the Go package) time,
//! so the three columns of BENCHMARKS.md's FFI rows measure one thing. `benches/ffi/run.sh`
//! runs all three in one go.
//!
//! - 100 clean bytes: per-call overhead (the C ABI adds a `catch_unwind`, argument checks and a
//!   findings handle; Go adds cgo's transition).
//! - 1 MiB of source-like text: throughput.

use std::hint::black_box;

use capstan::scan::{RuleSet, Rules};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// 100 bytes of clean Rust-like source (the same bytes in every harness).
pub fn clean_100() -> Vec<u8> {
    "let total = items.iter().map(|x| x.len()).sum();\n"
        .repeat(3)
        .into_bytes()[..100]
        .to_vec()
}

/// 1 MiB of source-like lines (the same bytes in every harness).
pub fn one_mib() -> Vec<u8> {
    let mut b = String::new();
    let mut i = 0;
    while b.len() < 1 << 20 {
        b.push_str("    fn handler_");
        b.push_str(&"x".repeat(i % 23));
        b.push_str(
            "(req: Request) -> Response { let user = req.header(\"x-user\"); respond(user) }\n",
        );
        i += 1;
    }
    b.truncate(1 << 20);
    b.into_bytes()
}

fn ffi_inputs(c: &mut Criterion) {
    let rules = Rules::compile(&RuleSet::builtin_all().expect("packs")).expect("compile");
    let small = clean_100();
    assert_eq!(small.len(), 100);
    assert!(
        rules.scan_bytes("a.rs", &small).is_empty(),
        "the 100 bytes are clean"
    );
    let big = one_mib();
    let mut g = c.benchmark_group("ffi/rust");
    g.throughput(Throughput::Bytes(100));
    g.bench_function("scan_bytes_100", |b| {
        b.iter(|| rules.scan_bytes("a.rs", black_box(&small)));
    });
    g.throughput(Throughput::Bytes(big.len() as u64));
    g.bench_function("scan_bytes_1mib", |b| {
        b.iter(|| rules.scan_bytes("a.rs", black_box(&big)));
    });
    g.finish();
}

criterion_group!(benches, ffi_inputs);
criterion_main!(benches);
