#!/usr/bin/env bash
# Scale: a generated tree of 100,000 files / ~1 GB (benches/peers/gen-tree.py, 100 planted
# secrets) scanned by the release binary at 1 and 2 threads. Fails unless each run's peak RSS
# is ≤ 64 MB, both runs report the same findings, and every planted secret is among them.
#   tests/scale.sh [FILES] [MB]        (defaults 100000 1000; run by .ci/test)
set -euo pipefail
cd "$(dirname "$0")/.."

files="${1:-100000}"
mb="${2:-1000}"
limit_kb=$((64 * 1024))

cargo build --release --locked -q -p capstan-cli
capstan="$(.ci/target-dir)/release/capstan"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
python3 benches/peers/gen-tree.py --out "$tmp/tree" --files "$files" --mb "$mb" \
    --manifest "$tmp/manifest" >/dev/null

for threads in 1 2; do
    # Exit 1 means findings, as expected here; anything else is a failure.
    status=0
    /usr/bin/time -f '%M %e' -o "$tmp/time-$threads" "$capstan" scan --no-cache \
        --threads "$threads" -f json "$tmp/tree" >"$tmp/out-$threads.json" 2>"$tmp/err-$threads" ||
        status=$?
    if [[ "$status" != 1 ]]; then
        cat "$tmp/err-$threads" >&2
        echo "scale: capstan exited $status at $threads thread(s)" >&2
        exit 1
    fi
    read -r rss secs < <(tail -1 "$tmp/time-$threads") # after "Command exited with …"
    echo "scale: $threads thread(s): ${secs} s, peak RSS $((rss / 1024)) MB"
    if ((rss > limit_kb)); then
        echo "scale: peak RSS ${rss} KB is over the ${limit_kb} KB limit" >&2
        exit 1
    fi
done

python3 - "$tmp" <<'PY'
import json, os, sys
tmp = sys.argv[1]
runs = [json.load(open(os.path.join(tmp, f"out-{t}.json"))) for t in (1, 2)]
key = lambda f: (f["path"], f["line"], f["column"], f["rule_id"])
one, two = (sorted(map(key, r["findings"])) for r in runs)
if one != two:
    sys.exit(f"scale: 1 and 2 threads differ: {len(one)} vs {len(two)} findings")
files = runs[0]["stats"]["files"]
found = {(p, l) for p, l, _, _ in one}
tree = os.path.join(tmp, "tree")
missed = []
for line in open(os.path.join(tmp, "manifest")):
    path, lineno, kind, _secret = line.rstrip("\n").split("\t")
    if (os.path.join(tree, path), int(lineno)) not in found:
        missed.append(f"{path}:{lineno} ({kind})")
if missed:
    sys.exit(f"scale: planted secrets not found: {missed[:10]}")
print(f"scale: {files} files, {len(one)} findings, identical at 1 and 2 threads, "
      f"all planted secrets found")
PY
