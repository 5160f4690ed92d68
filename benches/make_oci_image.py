#!/usr/bin/env python3
"""Build a deterministic OCI image layout of a source tree, for benches/image.sh.

    make_oci_image.py TREE OUT [--layers 5] [--prefix src/NAME] [--tag bench] [--tag2 bench-small]

Writes OUT as an OCI image layout (oci-layout, index.json, blobs/sha256/...) holding two images:

  TAG   the tree in LAYERS gzip'd tar layers under PREFIX (default src/<basename of TREE>): the
        tree's entries, split into LAYERS groups of roughly equal size (a directory bigger than
        half a group's share is split into its children, so one huge vendor/ does not make one
        huge layer), each group one layer;
  TAG2  the same first LAYERS-1 layers (the same blobs) and a small last layer of its own
        (a few generated files under app/, with planted fake credentials a scanner must find),
        for timing "a second image that shares its base layers".

Deterministic: entries sorted by path, mtime 0, uid/gid 0, no user or group names, PAX tars,
gzip level 6 with mtime 0 and no file name, so the same tree gives the same digests. Standard
library only. Prints one JSON object (sizes, digests, the planted secrets) to stdout.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import stat
import sys
import tarfile
import tempfile

CHUNK = 1 << 20
EPOCH = "1970-01-01T00:00:00Z"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_INDEX = "application/vnd.oci.image.index.v1+json"


def tree_size(path):
    """Bytes of the regular files under path (path itself when it is a file); symlinks count 0."""
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size if stat.S_ISREG(st.st_mode) else 0
    total = 0
    for root, dirs, files in os.walk(path):
        for f in files:
            fst = os.lstat(os.path.join(root, f))
            if stat.S_ISREG(fst.st_mode):
                total += fst.st_size
    return total


def split_units(tree, layers):
    """Entries of tree (relative paths) to pack whole: top-level entries, with any directory over
    half a layer's share replaced by its children (recursively)."""
    total = tree_size(tree)
    limit = max(1, total // (2 * layers))
    units = []
    todo = sorted(os.listdir(tree))
    while todo:
        rel = todo.pop(0)
        full = os.path.join(tree, rel)
        size = tree_size(full)
        if size > limit and os.path.isdir(full) and not os.path.islink(full):
            children = sorted(os.listdir(full))
            if children:
                units.append((rel, 0, True))  # the directory entry itself, no contents
                todo = [os.path.join(rel, c) for c in children] + todo
                continue
        units.append((rel, size, False))
    return total, units


def partition(units, layers):
    """Greedy largest-first into the lightest group; ties broken by path, so deterministic."""
    groups = [[] for _ in range(layers)]
    sizes = [0] * layers
    for rel, size, bare in sorted(units, key=lambda u: (-u[1], u[0])):
        i = min(range(layers), key=lambda k: (sizes[k], k))
        groups[i].append((rel, bare))
        sizes[i] += size
    return groups, sizes


def normalise(ti, mode):
    ti.mtime = 0
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = ""
    ti.mode = mode
    ti.pax_headers = {}
    return ti


def _dir_info(name):
    ti = tarfile.TarInfo(name)
    ti.type = tarfile.DIRTYPE
    return normalise(ti, 0o755)


def members(tree, rel, bare):
    """(relative path, is-dir-only) of everything under rel, sorted; bare: rel alone."""
    full = os.path.join(tree, rel)
    if bare or not os.path.isdir(full) or os.path.islink(full):
        return [rel]
    out = [rel]
    for root, dirs, files in os.walk(full):
        dirs.sort()
        base = os.path.relpath(root, tree)
        for name in sorted(dirs + files):
            out.append(os.path.join(base, name))
    return sorted(out)


def write_layer(tar_path, tree, prefix, rels):
    """An uncompressed PAX tar of the given tree-relative paths under prefix, parents included."""
    names = set()
    for rel in rels:
        parts = rel.split(os.sep)
        for i in range(1, len(parts)):
            names.add(os.sep.join(parts[:i]))
        names.add(rel)
    pre = prefix.strip("/").split("/")
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tf:
        for i in range(1, len(pre) + 1):
            tf.addfile(_dir_info("/".join(pre[:i]) + "/"))
        for rel in sorted(names, key=lambda r: r.split(os.sep)):
            full = os.path.join(tree, rel)
            arc = prefix.strip("/") + "/" + rel.replace(os.sep, "/")
            st = os.lstat(full)
            if stat.S_ISDIR(st.st_mode):
                tf.addfile(_dir_info(arc + "/"))
            elif stat.S_ISLNK(st.st_mode):
                ti = tarfile.TarInfo(arc)
                ti.type = tarfile.SYMTYPE
                ti.linkname = os.readlink(full)
                tf.addfile(normalise(ti, 0o777))
            elif stat.S_ISREG(st.st_mode):
                ti = tarfile.TarInfo(arc)
                ti.size = st.st_size
                mode = 0o755 if st.st_mode & 0o111 else 0o644
                with open(full, "rb") as f:
                    tf.addfile(normalise(ti, mode), f)
            # sockets, fifos, devices: not in a source tree; skipped


def write_small_layer(tar_path, secrets):
    """The second image's own last layer: a few small files, two of them with planted secrets."""
    files = {
        "app/README.md": b"# app\n\nA small application layer on top of the shared base layers.\n",
        "app/config/settings.env": (
            "# deployment settings (fake credentials planted by benches/make_oci_image.py)\n"
            "LOG_LEVEL=info\n"
            f"GITHUB_TOKEN={secrets['github_pat']}\n"
        ).encode(),
        "app/deploy/aws.ini": (
            "[default]\n"
            "region = eu-west-1\n"
            f"aws_access_key_id = {secrets['aws_access_key_id']}\n"
        ).encode(),
        "app/main.go": b"package main\n\nfunc main() {}\n",
    }
    dirs = sorted({"/".join(p.split("/")[:i]) for p in files for i in range(1, p.count("/") + 1)})
    with tarfile.open(tar_path, "w", format=tarfile.PAX_FORMAT) as tf:
        for d in dirs:
            tf.addfile(_dir_info(d + "/"))
        for name in sorted(files):
            ti = tarfile.TarInfo(name)
            ti.size = len(files[name])
            tf.addfile(normalise(ti, 0o644), io.BytesIO(files[name]))


def planted_secrets():
    """Deterministic fake credentials in the shapes scanners look for (not real ones)."""
    alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    h = hashlib.sha512(b"capstan image bench").digest()
    return {
        "github_pat": "ghp_" + "".join(alnum[b % len(alnum)] for b in h[:36]),
        "aws_access_key_id": "AKIA" + "".join(upper[b % len(upper)] for b in h[36:52]),
    }


class Blobs:
    def __init__(self, out):
        self.dir = os.path.join(out, "blobs", "sha256")
        os.makedirs(self.dir, exist_ok=True)

    def put_bytes(self, data):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.dir, digest), "wb") as f:
            f.write(data)
        return "sha256:" + digest, len(data)

    def put_layer(self, tar_path):
        """gzip tar_path into a blob; returns (diff_id, digest, compressed size, tar size)."""
        raw = hashlib.sha256()
        tmp = os.path.join(self.dir, ".tmp-layer")
        with open(tar_path, "rb") as src, open(tmp, "wb") as dst:
            with gzip.GzipFile(filename="", mode="wb", compresslevel=6, fileobj=dst, mtime=0) as gz:
                while True:
                    chunk = src.read(CHUNK)
                    if not chunk:
                        break
                    raw.update(chunk)
                    gz.write(chunk)
        comp = hashlib.sha256()
        with open(tmp, "rb") as f:
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    break
                comp.update(chunk)
        digest = comp.hexdigest()
        os.replace(tmp, os.path.join(self.dir, digest))
        return ("sha256:" + raw.hexdigest(), "sha256:" + digest,
                os.path.getsize(os.path.join(self.dir, digest)), os.path.getsize(tar_path))


def dumps(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def image(blobs, layers, history, prefix):
    """layers: [(diff_id, digest, size, tar_size)]. Returns the manifest's (digest, size)."""
    config = {
        "created": EPOCH,
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "WorkingDir": "/" + prefix.strip("/"),
            "Cmd": ["/bin/sh"],
        },
        "rootfs": {"type": "layers", "diff_ids": [l[0] for l in layers]},
        "history": history,
    }
    cdigest, csize = blobs.put_bytes(dumps(config))
    manifest = {
        "schemaVersion": 2,
        "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": cdigest, "size": csize},
        "layers": [{"mediaType": MT_LAYER, "digest": l[1], "size": l[2]} for l in layers],
    }
    return blobs.put_bytes(dumps(manifest))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree")
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--prefix", default=None)
    ap.add_argument("--tag", default="bench")
    ap.add_argument("--tag2", default="bench-small")
    args = ap.parse_args()
    if args.layers < 2:
        ap.error("--layers must be at least 2 (the second image replaces the last one)")
    tree = os.path.abspath(args.tree)
    if not os.path.isdir(tree):
        ap.error(f"not a directory: {tree}")
    prefix = args.prefix or "src/" + os.path.basename(tree.rstrip("/"))
    if os.path.exists(os.path.join(args.out, "index.json")):
        ap.error(f"{args.out} already holds an image layout")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "oci-layout"), "wb") as f:
        f.write(dumps({"imageLayoutVersion": "1.0.0"}))

    total, units = split_units(tree, args.layers)
    groups, sizes = partition(units, args.layers)
    blobs = Blobs(args.out)
    secrets = planted_secrets()
    layers, history = [], []
    with tempfile.TemporaryDirectory(dir=args.out) as tmp:
        for i, group in enumerate(groups):
            rels = sorted({m for rel, bare in group for m in members(tree, rel, bare)})
            tar_path = os.path.join(tmp, f"layer{i}.tar")
            write_layer(tar_path, tree, prefix, rels)
            layers.append(blobs.put_layer(tar_path))
            os.unlink(tar_path)
            history.append({
                "created": EPOCH,
                "created_by": f"COPY group {i + 1}/{args.layers} ({len(group)} entries) /{prefix}/",
                "comment": "benches/make_oci_image.py",
            })
        history.append({"created": EPOCH, "created_by": 'CMD ["/bin/sh"]', "empty_layer": True})
        small_tar = os.path.join(tmp, "small.tar")
        write_small_layer(small_tar, secrets)
        small = blobs.put_layer(small_tar)

    m1 = image(blobs, layers, history, prefix)
    history2 = history[: args.layers - 1] + [
        {"created": EPOCH, "created_by": "COPY app/ /app/", "comment": "benches/make_oci_image.py"},
        history[-1],
    ]
    layers2 = layers[: args.layers - 1] + [small]
    m2 = image(blobs, layers2, history2, prefix)

    index = {
        "schemaVersion": 2,
        "mediaType": MT_INDEX,
        "manifests": [
            {"mediaType": MT_MANIFEST, "digest": d, "size": s,
             "annotations": {"org.opencontainers.image.ref.name": tag}}
            for (d, s), tag in ((m1, args.tag), (m2, args.tag2))
        ],
    }
    with open(os.path.join(args.out, "index.json"), "wb") as f:
        f.write(dumps(index))

    summary = {
        "tree_bytes": total,
        "prefix": prefix,
        "tags": [args.tag, args.tag2],
        "manifests": [m1[0], m2[0]],
        "group_file_bytes": sizes,
        "layers": [{"diff_id": l[0], "digest": l[1], "gzip_bytes": l[2], "tar_bytes": l[3]}
                   for l in layers],
        "small_layer": {"diff_id": small[0], "digest": small[1], "gzip_bytes": small[2],
                        "tar_bytes": small[3]},
        "image1": {"gzip_bytes": sum(l[2] for l in layers), "tar_bytes": sum(l[3] for l in layers)},
        "image2": {"gzip_bytes": sum(l[2] for l in layers2),
                   "tar_bytes": sum(l[3] for l in layers2)},
        "planted_in_image2": secrets,
    }
    json.dump(summary, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
