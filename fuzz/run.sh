#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 20 s each, two at a time on two cores),
# from the seeds in fuzz/seeds/ and the project's test data, in a scratch corpus (the tree
# stays clean). Inputs that once crashed live in fuzz/regressions/TARGET/ and are replayed
# first. A crash fails the run; libFuzzer saves the input under fuzz/artifacts/TARGET/ —
# minimise it (cargo fuzz tmin), add it to fuzz/regressions/TARGET/ and fix the bug.
#   fuzz/run.sh [SECONDS] [TARGET...]     (needs cargo-fuzz; nightly, or stable with the
#                                          sanitizer flags unlocked by RUSTC_BOOTSTRAP)
#   fuzz/run.sh --build-only               (build the targets, run nothing)
set -euo pipefail
cd "$(dirname "$0")"

if rustup toolchain list 2>/dev/null | grep '^nightly' >/dev/null; then
    fuzz() { cargo +nightly fuzz "$@"; }
else
    fuzz() { RUSTC_BOOTSTRAP=1 cargo fuzz "$@"; }
fi

if [[ "${1:-}" == --build-only ]]; then
    fuzz build -O
    exit
fi
seconds="${1:-20}"
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
    targets=(rules_toml dockerignore tar_extract scanner_stream image_ref auth_config helper_output
        image_manifest)
fi
gitleaks="../testdata/peers/gitleaks" # its config suites, copied into the repository

fuzz build -O 2>&1 | tail -1
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

seed() { # seed TARGET DIR: the scratch corpus for TARGET, filled with its seeds
    local t="$1" dir="$2"
    mkdir -p "$dir"
    [[ -d "seeds/$t" ]] && cp seeds/"$t"/* "$dir"/ 2>/dev/null || true
    case "$t" in
        rules_toml)
            # gitleaks' valid/invalid config suites (small files; the default config is big).
            find "$gitleaks/config" -name '*.toml' -size -8k -exec cp {} "$dir"/ \;
            ;;
        tar_extract)
            # A few real archives: plain, with links, with a long name, gzip'd.
            local src="$scratch/src-$t"
            mkdir -p "$src/d/sub"
            echo hello >"$src/d/a.txt"
            echo 'GITHUB_TOKEN=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' >"$src/d/sub/.env"
            ln -s a.txt "$src/d/link"
            ln "$src/d/a.txt" "$src/d/hard"
            touch "$src/d/$(printf 'n%.0s' {1..120})"
            tar -C "$src" -cf "$dir/plain.tar" d
            tar -C "$src" --format=pax -cf "$dir/pax.tar" d
            tar -C "$src" -czf "$dir/gz.tar.gz" d
            ;;
    esac
}

run() { # run TARGET: replays its regressions, then fuzzes for $seconds
    local t="$1" corpus="$scratch/corpus-$1"
    seed "$t" "$corpus"
    local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536
        -print_final_stats=1)
    if compgen -G "regressions/$t/*" >/dev/null; then
        fuzz run -O "$t" regressions/"$t"/* -- -runs=1 >"$scratch/$t.replay" 2>&1 ||
            { cat "$scratch/$t.replay" >&2; echo "fuzz: $t: a regression input fails again" >&2; return 1; }
    fi
    if fuzz run -O "$t" "$corpus" -- "${args[@]}" >"$scratch/$t.log" 2>&1; then
        echo "fuzz: $t: $(grep -E 'stat::number_of_executed_units' "$scratch/$t.log" | awk '{print $2}') runs, no crash"
    else
        tail -40 "$scratch/$t.log" >&2
        echo "fuzz: $t: CRASH (input saved under fuzz/artifacts/$t/)" >&2
        return 1
    fi
}

# Two at a time: one per core.
status=0
for ((i = 0; i < ${#targets[@]}; i += 2)); do
    pids=()
    for t in "${targets[@]:i:2}"; do
        run "$t" &
        pids+=($!)
    done
    for p in "${pids[@]}"; do
        wait "$p" || status=1
    done
done
exit "$status"
