#!/usr/bin/env bash
# The FFI rows of BENCHMARKS.md in one run: capstan_scan_bytes from Rust (criterion), from C
# (benches/ffi/bench.c) and from Go (crates/ffi/go, `go test -bench`), on the same inputs:
# 100 clean bytes (per-call overhead) and 1 MiB of source-like text (throughput).
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release --locked -q -p capstan-ffi
target="$(.ci/target-dir)" # honours CARGO_TARGET_DIR
# The Go package links target/release/libcapstan.a unless told where else it is (as in .ci/test).
go_tree=(env)
[[ "$target" -ef target ]] || go_tree=(env CGO_LDFLAGS="${CGO_LDFLAGS:--g -O2} -L$target/release")
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cc -std=c11 -O2 -Wall -Wextra -Werror -I crates/ffi/include benches/ffi/bench.c \
    "$target/release/libcapstan.a" -lpthread -ldl -lm -o "$tmp/bench"

echo "== C (best of 7 rounds)"
"$tmp/bench"
echo "== Go"
(cd crates/ffi/go && "${go_tree[@]}" go test -run '^$' -bench 'ScanBytes|CgoCall' -benchtime 2s .) | grep '^Benchmark'
echo "== Rust (criterion)"
cargo bench --locked -q -p capstan-benches --bench ffi 2>&1 | grep -E '^ffi/|time:|thrpt:' | grep -v change
