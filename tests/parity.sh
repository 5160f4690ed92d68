#!/usr/bin/env bash
# Parity: one scan request run through every front end — the CLI (Rust over core's
# scan::Request), the library from Rust (examples/rust/request.rs), the C ABI (the C example, examples/c/scan.c --json: capstan_request_run, then
# capstan_findings_to_json) and the Go package (the Go example, examples/go -json:
# ScanRequest.Run) — must give the same findings. The fixture: a tree with three GitHub tokens
# in three files and an MD5 call, a baseline holding token a's fingerprint, an ignore file holding
# token b's, and a .capstanignore in the tree holding token c's (named ignore files turn discovery
# off, so it must NOT apply). Fails with a diff unless the four sets of (rule_id, path, line,
# column, fingerprint, algorithm, quantum_class) are equal, and unless that set is the expected
# one: tokens a and b left out, token c and the MD5 finding (with its algorithm and quantum class)
# in. Then the same for a container image (an OCI layout; `capstan image`, `--image` for the
# examples): the image, manifest digest, layer and removed_in_layer must agree as well. Then for
# a repository's history (made here with the git CLI; `capstan git`, `--git` for the examples):
# the commit each finding was introduced in must agree as well.
#   tests/parity.sh [CAPSTAN]   (the capstan binary; default: built here in release; run by .ci/test)
set -euo pipefail
cd "$(dirname "$0")/.."

target="$(.ci/target-dir)"
if (($# > 0)); then
    capstan="$1"
else
    cargo build --release --locked --quiet -p capstan-cli
    capstan="$target/release/capstan"
fi
cargo build --release --locked --quiet -p capstan-ffi
cargo build --release --locked --quiet -p capstan-examples --example request
# As .ci/test: the Go package links target/release/libcapstan.a unless told where else it is.
go_tree=(env)
[[ "$target" -ef target ]] || go_tree=(env CGO_LDFLAGS="${CGO_LDFLAGS:--g -O2} -L$target/release")

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tree="$tmp/tree"
mkdir -p "$tree/a" "$tree/b" "$tree/c"
printf 'GITHUB_TOKEN=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\n' >"$tree/a/.env"
printf 'GITHUB_TOKEN=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\n' >"$tree/b/.env"
printf 'GITHUB_TOKEN=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\n' >"$tree/c/.env"
printf 'import hashlib\ndigest = hashlib.md5(data).hexdigest()\n' >"$tree/app.py"

# The examples, built here against the tree's library.
cc -std=c11 -O1 -g -Wall -Wextra -Werror -I crates/ffi/include examples/c/scan.c \
    "$target/release/libcapstan.a" -lpthread -ldl -lm -o "$tmp/scan-c"
(cd examples/go && "${go_tree[@]}" go build -o "$tmp/scan-go" .)

run() { # run OUT COMMAND...: the command's stdout in OUT; exit 0 (clean) or 1 (findings) only
    local out="$1" status=0
    shift
    "$@" >"$out" 2>"$out.err" || status=$?
    if ((status > 1)); then
        cat "$out.err" >&2
        echo "parity: $* exited $status" >&2
        exit 1
    fi
}
cli() { # cli OUT ARGS...: capstan scan's JSON report
    run "$1" "$capstan" scan --no-cache --format json "${@:2}"
}

# The fingerprints come from a first, unsuppressed run.
cli "$tmp/all.json" "$tree"
python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
found = json.load(open(f"{tmp}/all.json"))["findings"]
fp = {}
for sub in "abc":
    hits = [f["fingerprint"] for f in found if f["path"].endswith(f"/{sub}/.env")]
    if len(hits) != 1:
        sys.exit(f"parity: expected one finding in {sub}/.env, got {hits}")
    fp[sub] = hits[0]
json.dump({"findings": [{"fingerprint": fp["a"]}]}, open(f"{tmp}/baseline.json", "w"))
open(f"{tmp}/ignore", "w").write(f"# token b\n{fp['b']}\n")
open(f"{tmp}/tree/.capstanignore", "w").write(f"# token c: must not apply\n{fp['c']}\n")
json.dump(fp, open(f"{tmp}/fingerprints.json", "w"))
PY

# The same arguments to all four (Go's flag package reads --name as -name).
request=(--baseline "$tmp/baseline.json" --ignore-file "$tmp/ignore" "$tree")
cli "$tmp/cli.json" "${request[@]}"
run "$tmp/rust.json" "$target/release/examples/request" "${request[@]}"
run "$tmp/c.json" "$tmp/scan-c" --json "${request[@]}"
run "$tmp/go.json" "$tmp/scan-go" --json "${request[@]}"

python3 - "$tmp" <<'PY'
import difflib, json, sys
tmp = sys.argv[1]
KEYS = ("rule_id", "path", "line", "column", "fingerprint", "algorithm", "quantum_class")

def rows(name):
    data = json.load(open(f"{tmp}/{name}.json"))
    findings = data["findings"] if isinstance(data, dict) else data
    return sorted(tuple(f.get(k) for k in KEYS) for f in findings)

def show(rs):
    return [" ".join(map(str, r)) for r in rs]

want = rows("cli")
failed = False
for name, label in (("rust", "Rust library"), ("c", "C ABI"), ("go", "Go package")):
    got = rows(name)
    if got != want:
        failed = True
        print(f"parity: the {label} differs from the CLI:", file=sys.stderr)
        diff = difflib.unified_diff(show(want), show(got), "cli", name, lineterm="")
        print("\n".join(diff), file=sys.stderr)

fp = json.load(open(f"{tmp}/fingerprints.json"))
fps = {r[4] for r in want}
problems = []
if fp["a"] in fps:
    problems.append("token a (in the baseline) was not suppressed")
if fp["b"] in fps:
    problems.append("token b (in the ignore file) was not suppressed")
if fp["c"] not in fps:
    problems.append("token c was suppressed: .capstanignore applied beside --ignore-file")
if not any(r[0].startswith("crypto-") and r[5] == "MD5" and r[6] == "weak" for r in want):
    problems.append("no MD5 crypto finding with its algorithm and quantum class")
for p in problems:
    print(f"parity: {p}\n" + "\n".join(show(want)), file=sys.stderr)
if failed or problems:
    sys.exit(1)
print(f"parity: CLI, Rust, C and Go agree on {len(want)} findings (2 suppressed)")
PY

# The same for an image (an OCI layout: token a in layer 0, deleted by layer 1's whiteout; token
# b in layer 1; token c in the config's Env), with token b's fingerprint in the baseline: the
# image, manifest digest, layer and removed_in_layer must agree too.
python3 - "$tmp/layout" <<'PY'
import hashlib, io, json, os, sys, tarfile
out = sys.argv[1]
os.makedirs(f"{out}/blobs/sha256")
def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(f"{out}/blobs/sha256/{d}", "wb").write(data)
    return "sha256:" + d, len(data)
def layer(files):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w", format=tarfile.USTAR_FORMAT) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return b.getvalue()
layers = [
    layer([("etc/app/.env", b"GITHUB_TOKEN=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\n")]),
    layer([("etc/app/.wh..env", b""), ("srv/.env", b"GITHUB_TOKEN=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\n")]),
]
descs = [put(l) for l in layers]
config = put(json.dumps({"architecture": "amd64", "os": "linux",
    "config": {"Env": ["PATH=/bin", "GITHUB_TOKEN=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"]},
    "rootfs": {"type": "layers", "diff_ids": [d for d, _ in descs]}}).encode())
manifest = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config[0], "size": config[1]},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": n} for d, n in descs]}).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": manifest[0], "size": manifest[1], "annotations": {"org.opencontainers.image.ref.name": "v1"}}]},
    open(f"{out}/index.json", "w"))
open(f"{out}/oci-layout", "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
image="oci:$tmp/layout:v1"
run "$tmp/image-all.json" "$capstan" image --no-cache --format json "$image"
python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
found = json.load(open(f"{tmp}/image-all.json"))["findings"]
b = [f["fingerprint"] for f in found if f["path"] == "srv/.env"]
if len(b) != 1:
    sys.exit(f"parity: expected one finding in srv/.env, got {found}")
json.dump({"findings": [{"fingerprint": b[0]}]}, open(f"{tmp}/image-baseline.json", "w"))
PY
run "$tmp/image-cli.json" "$capstan" image --no-cache --format json \
    --baseline "$tmp/image-baseline.json" "$image"
run "$tmp/image-rust.json" "$target/release/examples/request" \
    --baseline "$tmp/image-baseline.json" --image "$image"
run "$tmp/image-c.json" "$tmp/scan-c" --json --baseline "$tmp/image-baseline.json" --image "$image"
run "$tmp/image-go.json" "$tmp/scan-go" --json --baseline "$tmp/image-baseline.json" --image "$image"
python3 - "$tmp" <<'PY'
import difflib, json, sys
tmp = sys.argv[1]
KEYS = ("rule_id", "path", "line", "column", "fingerprint", "image", "manifest_digest")

def rows(name):
    data = json.load(open(f"{tmp}/image-{name}.json"))
    findings = data["findings"] if isinstance(data, dict) else data
    return [tuple(f.get(k) for k in KEYS) + ((f.get("layer") or {}).get("index"),
            (f.get("layer") or {}).get("digest"), f.get("removed_in_layer")) for f in findings]

show = lambda rs: [" ".join(map(str, r)) for r in rs]
want = rows("cli")
failed = False
for name, label in (("rust", "Rust library"), ("c", "C ABI"), ("go", "Go package")):
    got = rows(name)
    if got != want:
        failed = True
        print(f"parity: for an image, the {label} differs from the CLI:", file=sys.stderr)
        print("\n".join(difflib.unified_diff(show(want), show(got), "cli", name, lineterm="")),
              file=sys.stderr)
places = [(r[1], r[7], r[9]) for r in want]
expected = [("config:Env[1]", None, None), ("etc/app/.env", 0, 1)]
if places != expected:
    print(f"parity: image findings {places}, expected {expected} (srv/.env baselined)", file=sys.stderr)
    failed = True
if failed:
    sys.exit(1)
print(f"parity: CLI, Rust, C and Go agree on an image's {len(want)} findings (1 suppressed)")
PY

# The same for a repository's history, made with the git CLI (none of the user's or the
# system's configuration applies; fixed identity and dates): on main, token a added to
# app/.env and removed by the next commit, then an MD5 call added; on a branch from the
# removal, tokens b and c. Token c's fingerprint is in the baseline. The commit each finding
# was introduced in must agree too.
repo="$tmp/repo"
mkdir -p "$repo/app" "$tmp/git-home"
gitc() { # gitc DATE ARGS...: git in the repository as Capstan Parity, authored and committed at DATE
    local date="$1"
    shift
    env -u GIT_DIR -u GIT_WORK_TREE -u GIT_INDEX_FILE HOME="$tmp/git-home" \
        XDG_CONFIG_HOME="$tmp/git-home" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_DATE="$date" \
        GIT_COMMITTER_DATE="$date" git -C "$repo" -c init.defaultBranch=main \
        -c user.name='Capstan Parity' -c user.email=parity@example.invalid \
        -c commit.gpgsign=false "$@"
}
gitc 2026-01-01T10:00:00+00:00 init -q
printf 'GITHUB_TOKEN=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\n' >"$repo/app/.env"
printf 'hello\n' >"$repo/README"
gitc 2026-01-01T10:00:00+00:00 add .
gitc 2026-01-01T10:00:00+00:00 commit -q -m 'Add the config'
gitc 2026-01-02T10:00:00+00:00 rm -q app/.env
gitc 2026-01-02T10:00:00+00:00 commit -q -m 'Remove the token'
gitc 2026-01-03T10:00:00+00:00 checkout -q -b feature
mkdir -p "$repo/b"
printf 'GITHUB_TOKEN=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\n' >"$repo/b/.env"
printf 'GITHUB_TOKEN=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\n' >"$repo/b/c.env"
gitc 2026-01-03T10:00:00+00:00 add b
gitc 2026-01-03T10:00:00+00:00 commit -q -m 'Add b'
gitc 2026-01-04T10:00:00+00:00 checkout -q main
printf 'import hashlib\ndigest = hashlib.md5(data).hexdigest()\n' >"$repo/app.py"
gitc 2026-01-04T10:00:00+00:00 add app.py
gitc 2026-01-04T10:00:00+00:00 commit -q -m 'Add a digest'
commit() { gitc 2026-01-04T10:00:00+00:00 rev-parse "$1"; }
printf '{"a": "%s", "b": "%s", "md5": "%s"}\n' "$(commit main~2)" "$(commit feature)" \
    "$(commit main)" >"$tmp/commits.json"

run "$tmp/git-all.json" "$capstan" git --no-cache --format json "$repo"
python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
found = json.load(open(f"{tmp}/git-all.json"))["findings"]
c = [f["fingerprint"] for f in found if f["path"] == "b/c.env"]
if len(c) != 1:
    sys.exit(f"parity: expected one finding in b/c.env, got {found}")
json.dump({"findings": [{"fingerprint": c[0]}]}, open(f"{tmp}/git-baseline.json", "w"))
PY
run "$tmp/git-cli.json" "$capstan" git --no-cache --format json \
    --baseline "$tmp/git-baseline.json" "$repo"
run "$tmp/git-rust.json" "$target/release/examples/request" \
    --baseline "$tmp/git-baseline.json" --git "$repo"
run "$tmp/git-c.json" "$tmp/scan-c" --json --baseline "$tmp/git-baseline.json" --git "$repo"
run "$tmp/git-go.json" "$tmp/scan-go" --json --baseline "$tmp/git-baseline.json" --git "$repo"
python3 - "$tmp" <<'PY'
import difflib, json, sys
tmp = sys.argv[1]
KEYS = ("rule_id", "path", "line", "column", "fingerprint")

def rows(name):
    data = json.load(open(f"{tmp}/git-{name}.json"))
    findings = data["findings"] if isinstance(data, dict) else data
    return sorted(tuple(f.get(k) for k in KEYS) + ((f.get("git") or {}).get("commit"),)
                  for f in findings)

show = lambda rs: [" ".join(map(str, r)) for r in rs]
want = rows("cli")
failed = False
for name, label in (("rust", "Rust library"), ("c", "C ABI"), ("go", "Go package")):
    got = rows(name)
    if got != want:
        failed = True
        print(f"parity: for a repository, the {label} differs from the CLI:", file=sys.stderr)
        print("\n".join(difflib.unified_diff(show(want), show(got), "cli", name, lineterm="")),
              file=sys.stderr)
commits = json.load(open(f"{tmp}/commits.json"))
places = sorted((r[1], r[5]) for r in want)
expected = sorted([("app/.env", commits["a"]), ("b/.env", commits["b"]), ("app.py", commits["md5"])])
if places != expected:
    print(f"parity: history findings {places}, expected {expected} (b/c.env baselined)",
          file=sys.stderr)
    failed = True
if failed:
    sys.exit(1)
print(f"parity: CLI, Rust, C and Go agree on a repository's {len(want)} findings (1 suppressed)")
PY
