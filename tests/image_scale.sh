#!/usr/bin/env bash
# Image scale: a 1 GiB image (4 layers of 256 MiB: three plain tars and one gzip, 1 MiB text
# files, a planted token at the end of each layer) pushed with skopeo to Debian's
# docker-registry on a loopback port, then scanned from the registry by the release binary.
# Fails unless peak RSS is ≤ 100 MB (layers stream through fixed buffers; nothing is held
# whole or written to disk) and the four tokens are found, each in its layer.
#   tests/image_scale.sh [LAYERS] [MIB_PER_LAYER]     (defaults 4 256; run by .ci/test)
set -euo pipefail
cd "$(dirname "$0")/.."

layers="${1:-4}"
mib="${2:-256}"
limit_kb=$((100 * 1024))

cargo build --release --locked -q -p capstan-cli
capstan="$(.ci/target-dir)/release/capstan"
tmp="$(mktemp -d)"
registry_pid=""
cleanup() {
    # The registry dies of the signal (status 143): that is no failure of this script's.
    if [[ -n "$registry_pid" ]]; then
        kill "$registry_pid" 2>/dev/null || true
        wait "$registry_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

python3 - "$tmp/layout" "$layers" "$mib" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out, layers, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs)
line = b"lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor\n"
filler = (line * ((1 << 20) // len(line) + 1))[: 1 << 20]
token = b"GITHUB_TOKEN=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\n"
last = token + filler[len(token):]

class Hashing:
    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0
    def write(self, b):
        self.h.update(b); self.n += len(b); return self.f.write(b)
    def flush(self):
        self.f.flush()

def put(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return "sha256:" + d, len(data)

descs, diff_ids = [], []
for i in range(layers):
    compressed = i == 2  # one gzip layer: decompression is on the path too
    tmp = os.path.join(out, "layer.tmp")
    with open(tmp, "wb") as raw:
        blob = Hashing(raw)
        plain = Hashing(gzip.GzipFile(fileobj=blob, mode="wb", compresslevel=1, mtime=0) if compressed else blob)
        with tarfile.open(fileobj=plain, mode="w|", format=tarfile.USTAR_FORMAT) as t:
            for n in range(mib):
                data = last if n == mib - 1 else filler
                info = tarfile.TarInfo(f"data/l{i}/f{n:05}.txt")
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
        if compressed:
            plain.f.close()
    digest = "sha256:" + blob.h.hexdigest()
    os.rename(tmp, os.path.join(blobs, digest[7:]))
    media = "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if compressed else "")
    descs.append({"mediaType": media, "digest": digest, "size": blob.n})
    diff_ids.append("sha256:" + plain.h.hexdigest())
config, csize = put(json.dumps({"architecture": "amd64", "os": "linux",
    "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode())
manifest, msize = put(json.dumps({"schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": csize},
    "layers": descs}).encode())
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": manifest, "size": msize, "annotations": {"org.opencontainers.image.ref.name": "big"}}]},
    open(os.path.join(out, "index.json"), "w"))
open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
cat >"$tmp/registry.yml" <<YML
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $tmp/registry
http:
  addr: 127.0.0.1:$port
YML
docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
skopeo --insecure-policy copy -q --dest-tls-verify=false "oci:$tmp/layout:big" \
    "docker://127.0.0.1:$port/scale/big:v1"
rm -rf "$tmp/layout" # the registry holds it now

status=0
/usr/bin/time -f '%M %e' -o "$tmp/time" "$capstan" image --no-cache --rules secrets -f json \
    "127.0.0.1:$port/scale/big:v1" >"$tmp/out.json" 2>"$tmp/err" || status=$?
if [[ "$status" != 1 ]]; then
    cat "$tmp/err" >&2
    echo "image scale: capstan exited $status" >&2
    exit 1
fi
read -r rss secs < <(tail -1 "$tmp/time")
echo "image scale: $layers × $mib MiB from the registry: ${secs} s, peak RSS $((rss / 1024)) MB"
if ((rss > limit_kb)); then
    echo "image scale: peak RSS ${rss} KB is over the ${limit_kb} KB limit" >&2
    exit 1
fi
python3 - "$tmp/out.json" "$layers" <<'PY'
import json, sys
report, layers = json.load(open(sys.argv[1])), int(sys.argv[2])
got = sorted(f["layer"]["index"] for f in report["findings"])
if got != list(range(layers)):
    sys.exit(f"image scale: expected one token per layer 0..{layers - 1}, got layers {got}")
print(f"image scale: {report['stats']['files']} files, a token found in each of the {layers} layers")
PY
