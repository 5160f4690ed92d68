#!/usr/bin/env python3
"""Generate a synthetic source tree for benches/peers/run.sh.

    benches/peers/gen-tree.py --out DIR [--files N] [--mb S] [--seed K]
                              [--secrets P] [--manifest FILE]

Writes N files (default 100000) totalling about S MB (default 400, 1 MB = 10^6 bytes) under DIR:
source-like text (Rust, Python, Go, JavaScript, Java, C), config files (TOML, INI, .env-style,
properties), JSON, YAML, Markdown and logs, spread over nested directories of about 100 files
each, at most 4 levels deep. Output is byte-for-byte deterministic for a given
(--files, --mb, --seed, --secrets).

P secrets (default: one per 1000 files, at least 3) are planted, round-robin over three kinds:

  aws         an AWS access key id (AKIA + 16 of [A-Z2-7]) with its 40-character secret key on the
              next line, as in ~/.aws/credentials (Kingfisher reports an AWS id only when it is
              paired with a secret key)
  github      a classic GitHub personal access token: ghp_ + 30 random base62 characters + the
              6-character base62 CRC32 checksum of those 30, as GitHub issues them (36 alnum
              characters after the prefix)
  private-key an RSA PRIVATE KEY PEM block with random base64 content

How many of each were planted is printed on stdout; --manifest FILE (outside DIR, as it holds the
secrets in clear) also lists them as `path<TAB>line<TAB>kind<TAB>secret`. The filler text is made
from a fixed vocabulary and is not meant to hold secrets, but it does hold what a generic rule may
flag (`password = os.environ[...]`, UUIDs, hex digests), as real code does.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import sys
import time
import zlib

B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

WORDS = (
    "account active address agent alloc apply array async attr auth backend batch buffer build "
    "bytes cache call chan channel check chunk client close cluster codec column commit config "
    "conn context count cursor data decode default delta digest dir dispatch encode entry error "
    "event field file filter flag flush format frame handle hash header index inner input item "
    "iter job key kind label layer len level limit line list load local lock logger lookup map "
    "match meta metric mode module name node offset opts order output owner page parse path peer "
    "pending pool port prefix queue range reader record region remote replica request resolve "
    "result retry route row rule schema scope segment send server session shard size slot source "
    "span state status stream table target task tenant timer token total trace tree value version "
    "view window worker writer zone"
).split()
TYPES_RS = "u8 u16 u32 u64 usize i32 i64 f64 bool String &str Vec<u8> Option<usize> Result<(),Error>".split()
TYPES_GO = "int int64 uint32 string []byte bool error float64 *Node map[string]int".split()
TYPES_JAVA = "int long String boolean byte[] List<String> Map<String,Integer> Optional<Node>".split()
TYPES_C = "int size_t uint32_t uint64_t char* const char* void* struct node* double".split()
SENTENCE = (
    "the of to and a in is it that for on with as be this was by are from at or an not but "
    "which when returns value if all each must should may we can note see also so only then "
    "before after into over under until while because otherwise unless"
).split()

KINDS = [
    # (extension, pool, weight)
    ("rs", "rust", 14), ("py", "python", 14), ("go", "go", 10), ("js", "js", 10),
    ("java", "java", 8), ("c", "c", 6), ("h", "c", 3), ("md", "markdown", 6),
    ("json", "json", 8), ("yaml", "yaml", 6), ("toml", "toml", 4), ("ini", "ini", 2),
    ("env", "env", 1), ("properties", "ini", 2), ("txt", "markdown", 3), ("log", "log", 3),
]


def ident(r: random.Random) -> str:
    n = r.choice((1, 1, 2, 2, 3))
    return "_".join(r.choice(WORDS) for _ in range(n))


def camel(r: random.Random) -> str:
    parts = [r.choice(WORDS) for _ in range(r.choice((1, 2, 3)))]
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


def pascal(r: random.Random) -> str:
    return "".join(r.choice(WORDS).capitalize() for _ in range(r.choice((1, 2, 3))))


def sentence(r: random.Random, lo: int = 4, hi: int = 14) -> str:
    w = [r.choice(SENTENCE + WORDS) for _ in range(r.randint(lo, hi))]
    return " ".join(w).capitalize() + "."


def hexs(r: random.Random, n: int) -> str:
    return "%0*x" % (n, r.getrandbits(4 * n))


def uuid(r: random.Random) -> str:
    h = hexs(r, 32)
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def line_rust(r: random.Random) -> str:
    k = r.randrange(12)
    i = "    " * r.randint(0, 3)
    if k == 0:
        return f"{i}pub fn {ident(r)}(&self, {ident(r)}: {r.choice(TYPES_RS)}) -> {r.choice(TYPES_RS)} {{"
    if k == 1:
        return f"{i}let {ident(r)} = self.{ident(r)}.{ident(r)}({r.randint(0, 4096)})?;"
    if k == 2:
        return f"{i}// {sentence(r)}"
    if k == 3:
        return f"{i}/// {sentence(r)}"
    if k == 4:
        return f"{i}}}"
    if k == 5:
        return f"{i}if {ident(r)}.len() > {r.randint(1, 512)} {{"
    if k == 6:
        return f"{i}match {ident(r)} {{ {pascal(r)}::{pascal(r)} => {r.randint(0, 99)}, _ => 0 }}"
    if k == 7:
        return f"{i}use crate::{ident(r)}::{{{pascal(r)}, {pascal(r)}}};"
    if k == 8:
        return f'{i}return Err(Error::new("{sentence(r, 2, 6)}"));'
    if k == 9:
        return f"{i}#[derive(Debug, Clone, PartialEq)]"
    if k == 10:
        return f"{i}const {ident(r).upper()}: u64 = 0x{hexs(r, 16)};"
    return ""


def line_python(r: random.Random) -> str:
    k = r.randrange(12)
    i = "    " * r.randint(0, 3)
    if k == 0:
        return f"{i}def {ident(r)}(self, {ident(r)}, {ident(r)}=None):"
    if k == 1:
        return f"{i}{ident(r)} = self.{ident(r)}.{ident(r)}({r.randint(0, 4096)})"
    if k == 2:
        return f"{i}# {sentence(r)}"
    if k == 3:
        return f'{i}"""{sentence(r)}"""'
    if k == 4:
        return f"{i}return {ident(r)}"
    if k == 5:
        return f"{i}if {ident(r)} is not None and len({ident(r)}) > {r.randint(1, 64)}:"
    if k == 6:
        return f"from {ident(r)}.{ident(r)} import {pascal(r)}, {ident(r)}"
    if k == 7:
        return f'{i}raise ValueError("{sentence(r, 2, 6)}")'
    if k == 8:
        return f"{i}for {ident(r)} in range({r.randint(1, 100)}):"
    if k == 9:
        return f'{i}{ident(r)} = os.environ.get("{ident(r).upper()}", "")'
    if k == 10:
        return f"class {pascal(r)}({pascal(r)}):"
    return ""


def line_go(r: random.Random) -> str:
    k = r.randrange(10)
    i = "\t" * r.randint(0, 3)
    if k == 0:
        return f"func ({ident(r)[:1]} *{pascal(r)}) {pascal(r)}({camel(r)} {r.choice(TYPES_GO)}) ({r.choice(TYPES_GO)}, error) {{"
    if k == 1:
        return f"{i}{camel(r)} := {camel(r)}.{pascal(r)}({r.randint(0, 4096)})"
    if k == 2:
        return f"{i}// {sentence(r)}"
    if k == 3:
        return f"{i}if err != nil {{"
    if k == 4:
        return f'{i}return nil, fmt.Errorf("{sentence(r, 2, 6)}: %w", err)'
    if k == 5:
        return f"{i}}}"
    if k == 6:
        return f'\t"{r.choice(WORDS)}/{r.choice(WORDS)}"'
    if k == 7:
        return f"{i}for _, {camel(r)} := range {camel(r)} {{"
    if k == 8:
        return f"type {pascal(r)} struct {{ {pascal(r)} {r.choice(TYPES_GO)} }}"
    return ""


def line_js(r: random.Random) -> str:
    k = r.randrange(10)
    i = "  " * r.randint(0, 3)
    if k == 0:
        return f"{i}export async function {camel(r)}({camel(r)}, {camel(r)} = {{}}) {{"
    if k == 1:
        return f"{i}const {camel(r)} = await this.{camel(r)}.{camel(r)}({r.randint(0, 4096)});"
    if k == 2:
        return f"{i}// {sentence(r)}"
    if k == 3:
        return f"import {{ {pascal(r)}, {camel(r)} }} from './{r.choice(WORDS)}/{r.choice(WORDS)}.js';"
    if k == 4:
        return f"{i}}}"
    if k == 5:
        return f"{i}if ({camel(r)}.length > {r.randint(1, 64)}) throw new Error('{sentence(r, 2, 6)}');"
    if k == 6:
        return f"{i}{camel(r)}: '{uuid(r)}',"
    if k == 7:
        return f"{i}return {{ ...{camel(r)}, {camel(r)}: {r.randint(0, 9999)} }};"
    if k == 8:
        return f"{i}const {camel(r)} = process.env.{ident(r).upper()} ?? '';"
    return ""


def line_java(r: random.Random) -> str:
    k = r.randrange(9)
    i = "    " * r.randint(0, 3)
    if k == 0:
        return f"{i}public {r.choice(TYPES_JAVA)} {camel(r)}({r.choice(TYPES_JAVA)} {camel(r)}) {{"
    if k == 1:
        return f"{i}{r.choice(TYPES_JAVA)} {camel(r)} = this.{camel(r)}.{camel(r)}({r.randint(0, 4096)});"
    if k == 2:
        return f"{i}// {sentence(r)}"
    if k == 3:
        return f"{i} * {sentence(r)}"
    if k == 4:
        return f"{i}}}"
    if k == 5:
        return f"import com.{r.choice(WORDS)}.{r.choice(WORDS)}.{pascal(r)};"
    if k == 6:
        return f'{i}throw new IllegalStateException("{sentence(r, 2, 6)}");'
    if k == 7:
        return f"{i}@Override"
    return ""


def line_c(r: random.Random) -> str:
    k = r.randrange(9)
    i = "    " * r.randint(0, 3)
    if k == 0:
        return f"static {r.choice(TYPES_C)} {ident(r)}({r.choice(TYPES_C)} {ident(r)}, size_t {ident(r)}) {{"
    if k == 1:
        return f"{i}{ident(r)} = {ident(r)}->{ident(r)}[{r.randint(0, 255)}];"
    if k == 2:
        return f"{i}/* {sentence(r)} */"
    if k == 3:
        return f"#include <{r.choice(WORDS)}/{r.choice(WORDS)}.h>"
    if k == 4:
        return f"{i}}}"
    if k == 5:
        return f"{i}if ({ident(r)} == NULL) return -{r.randint(1, 40)};"
    if k == 6:
        return f"#define {ident(r).upper()} 0x{hexs(r, 8)}u"
    if k == 7:
        return f"{i}memcpy({ident(r)}, {ident(r)}, sizeof(*{ident(r)}));"
    return ""


def line_markdown(r: random.Random) -> str:
    k = r.randrange(8)
    if k == 0:
        return f"## {pascal(r)} {r.choice(WORDS)}"
    if k == 1:
        return f"- {sentence(r, 3, 10)}"
    if k == 2:
        return f"`{ident(r)}` {sentence(r, 3, 10)}"
    if k == 3:
        return ""
    return sentence(r, 8, 24) + " " + sentence(r, 6, 18)


def line_json(r: random.Random) -> str:
    k = r.randrange(6)
    key = camel(r)
    if k == 0:
        return f'  "{key}": {r.randint(0, 100000)},'
    if k == 1:
        return f'  "{key}": "{sentence(r, 2, 8)}",'
    if k == 2:
        return f'  "{key}": "{uuid(r)}",'
    if k == 3:
        return f'  "{key}": {{"{camel(r)}": {r.choice(("true", "false", "null"))}, "{camel(r)}": [{r.randint(0, 9)}, {r.randint(0, 9)}]}},'
    if k == 4:
        return f'  "{key}": "sha256:{hexs(r, 64)}",'
    return f'  "{key}": ["{r.choice(WORDS)}", "{r.choice(WORDS)}"],'


def line_yaml(r: random.Random) -> str:
    k = r.randrange(7)
    if k == 0:
        return f"{ident(r)}:"
    if k == 1:
        return f"  {ident(r)}: {r.randint(0, 65535)}"
    if k == 2:
        return f"  {ident(r)}: {r.choice(WORDS)}-{r.choice(WORDS)}"
    if k == 3:
        return f"  - name: {ident(r)}"
    if k == 4:
        return f"    image: registry.example.com/{r.choice(WORDS)}:{r.randint(1, 9)}.{r.randint(0, 30)}"
    if k == 5:
        return f"# {sentence(r)}"
    return f"  {ident(r)}: ${{{ident(r).upper()}}}"


def line_toml(r: random.Random) -> str:
    k = r.randrange(6)
    if k == 0:
        return f"[{ident(r)}]"
    if k == 1:
        return f'{ident(r)} = "{r.choice(WORDS)}"'
    if k == 2:
        return f"{ident(r)} = {r.randint(0, 65535)}"
    if k == 3:
        return f'{ident(r)} = {{ version = "{r.randint(0, 3)}.{r.randint(0, 40)}", features = ["{r.choice(WORDS)}"] }}'
    if k == 4:
        return f"# {sentence(r)}"
    return ""


def line_ini(r: random.Random) -> str:
    k = r.randrange(6)
    if k == 0:
        return f"[{ident(r)}]"
    if k == 1:
        return f"{ident(r)}={r.choice(WORDS)}"
    if k == 2:
        return f"{ident(r)}.{ident(r)}={r.randint(0, 65535)}"
    if k == 3:
        return f"; {sentence(r)}"
    if k == 4:
        return f"{ident(r)}_host={r.choice(WORDS)}.internal.example.com"
    return ""


def line_env(r: random.Random) -> str:
    k = r.randrange(4)
    if k == 0:
        return f"{ident(r).upper()}={r.choice(WORDS)}"
    if k == 1:
        return f"{ident(r).upper()}_PORT={r.randint(1024, 65535)}"
    if k == 2:
        return f"# {sentence(r)}"
    return f"{ident(r).upper()}_URL=https://{r.choice(WORDS)}.example.com/{r.choice(WORDS)}"


def line_log(r: random.Random) -> str:
    lvl = r.choice(("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"))
    return (
        f"2024-{r.randint(1, 12):02}-{r.randint(1, 28):02}T{r.randint(0, 23):02}:{r.randint(0, 59):02}:"
        f"{r.randint(0, 59):02}.{r.randint(0, 999):03}Z {lvl} {r.choice(WORDS)}::{r.choice(WORDS)} "
        f"request_id={uuid(r)} {sentence(r, 3, 10)} took={r.randint(0, 5000)}ms"
    )


LINES = {
    "rust": line_rust, "python": line_python, "go": line_go, "js": line_js, "java": line_java,
    "c": line_c, "markdown": line_markdown, "json": line_json, "yaml": line_yaml,
    "toml": line_toml, "ini": line_ini, "env": line_env, "log": line_log,
}


def make_pool(name: str, seed: int, nbytes: int) -> bytes:
    """About `nbytes` of newline-terminated lines of one kind, deterministic for `seed`."""
    r = random.Random(f"{seed}:{name}")
    gen = LINES[name]
    out, size = [], 0
    while size < nbytes:
        s = gen(r)
        out.append(s)
        size += len(s) + 1
    return ("\n".join(out) + "\n").encode()


def file_sizes(r: random.Random, n: int, total: int, cap: int) -> list[int]:
    """`n` log-normal sizes (a few large files, many small ones) scaled to sum to about `total`."""
    raw = [r.lognormvariate(0.0, 1.1) for _ in range(n)]
    scale = total / sum(raw)
    return [max(48, min(cap, int(x * scale))) for x in raw]


def dir_layout(n_files: int, per_dir: int = 100, max_depth: int = 4) -> tuple[int, int]:
    """(depth, fanout) such that fanout**depth leaf directories hold about `per_dir` files each."""
    leaves = max(1, -(-n_files // per_dir))
    for depth in range(1, max_depth + 1):
        fanout = 2
        while fanout**depth < leaves:
            fanout += 1
        if fanout <= 32 or depth == max_depth:
            return depth, fanout
    return max_depth, 2  # unreachable


def github_pat(r: random.Random) -> str:
    body = "".join(r.choice(B62) for _ in range(30))
    crc, check = zlib.crc32(body.encode()), ""
    while crc:
        crc, d = divmod(crc, 62)
        check = B62[d] + check
    return "ghp_" + body + check.rjust(6, "0")


def secret_text(r: random.Random, kind: str, ext: str) -> tuple[str, str]:
    """(lines to insert, the secret) for one planted secret, written the way `ext` files hold it."""
    if kind == "aws":
        key_id = "AKIA" + "".join(r.choice(B32) for _ in range(16))
        secret = base64.b64encode(r.randbytes(30)).decode()
        if ext in ("py", "rs", "go", "js", "java", "c", "h"):
            text = f'AWS_ACCESS_KEY_ID = "{key_id}"\nAWS_SECRET_ACCESS_KEY = "{secret}"\n'
        elif ext == "json":
            text = f'  "aws_access_key_id": "{key_id}",\n  "aws_secret_access_key": "{secret}",\n'
        elif ext == "yaml":
            text = f"aws_access_key_id: {key_id}\naws_secret_access_key: {secret}\n"
        else:
            text = f"aws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n"
        return text, key_id
    if kind == "github":
        tok = github_pat(r)
        if ext == "json":
            text = f'  "github_token": "{tok}",\n'
        elif ext == "yaml":
            text = f"github_token: {tok}\n"
        elif ext in ("py", "rs", "go", "js", "java", "c", "h"):
            text = f'GITHUB_TOKEN = "{tok}"\n'
        else:
            text = f"GITHUB_TOKEN={tok}\n"
        return text, tok
    body = base64.b64encode(r.randbytes(r.choice((897, 1191, 1218)))).decode()
    pem = (
        "-----BEGIN RSA PRIVATE KEY-----\n"
        + "\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        + "\n-----END RSA PRIVATE KEY-----\n"
    )
    if ext == "json":  # a PEM block inside a JSON string, escaped as JSON escapes it
        text = '  "private_key": "' + pem.replace("\n", "\\n") + '",\n'
    else:
        text = pem
    return text, pem.splitlines()[1][:16] + "…"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="directory to create (must not exist or be empty)")
    ap.add_argument("--files", type=int, default=100_000, help="number of files [100000]")
    ap.add_argument("--mb", type=float, default=400.0, help="total size in MB (10^6 bytes) [400]")
    ap.add_argument("--seed", type=int, default=1, help="random seed [1]")
    ap.add_argument("--secrets", type=int, default=None, help="secrets to plant [files/1000, min 3]")
    ap.add_argument("--manifest", help="write planted secrets here (path, line, kind, secret)")
    a = ap.parse_args()
    if a.files < 1 or a.mb <= 0:
        ap.error("--files and --mb must be positive")
    if os.path.isdir(a.out) and os.listdir(a.out):
        ap.error(f"{a.out} exists and is not empty")
    if a.manifest and os.path.abspath(a.manifest).startswith(os.path.abspath(a.out) + os.sep):
        ap.error("--manifest must be outside --out (it holds the secrets in clear)")
    t0 = time.monotonic()
    total = int(a.mb * 1_000_000)
    r = random.Random(a.seed)
    cap = max(4096, min(1_000_000, total // 20))
    pool_size = max(256 * 1024, min(2 * cap, 2_000_000))
    pools = {name: make_pool(name, a.seed, pool_size) for name in LINES}
    sizes = file_sizes(r, a.files, total, cap)
    weights = [w for _, _, w in KINDS]
    kinds = r.choices(range(len(KINDS)), weights=weights, k=a.files)
    depth, fanout = dir_layout(a.files)
    n_leaves = fanout**depth
    n_secrets = a.secrets if a.secrets is not None else max(3, a.files // 1000)
    n_secrets = min(n_secrets, a.files)
    secret_at = dict(zip(sorted(r.sample(range(a.files), n_secrets)), range(n_secrets)))
    secret_kinds = ("aws", "github", "private-key")
    level_names = ("pkg", "mod", "src", "part")
    planted = {k: 0 for k in secret_kinds}
    manifest = []
    made_dirs: set[str] = set()
    written = 0
    for i in range(a.files):
        leaf = i * n_leaves // a.files
        parts = []
        for lvl in range(depth):
            digit = (leaf // fanout ** (depth - 1 - lvl)) % fanout
            parts.append(f"{level_names[lvl]}{digit:02}")
        d = os.path.join(a.out, *parts)
        if d not in made_dirs:
            os.makedirs(d, exist_ok=True)
            made_dirs.add(d)
        ext, pool_name, _ = KINDS[kinds[i]]
        pool = pools[pool_name]
        size = sizes[i]
        start = r.randrange(max(1, len(pool) - size))
        nl = pool.find(b"\n", start)
        start = 0 if nl < 0 else nl + 1
        body = pool[start : start + size]
        cut = body.rfind(b"\n")
        if cut > 0:
            body = body[: cut + 1]
        if pool_name == "json":
            body = b'{\n  "id": "%d-%d",\n' % (a.seed, i) + body + b'  "end": true\n}\n'
        else:
            body = f"{'#' if ext in ('py', 'yaml', 'toml', 'env', 'properties', 'ini') else '//'} {ext} file {i}\n".encode() + body
        if i in secret_at:
            kind = secret_kinds[secret_at[i] % len(secret_kinds)]
            text, shown = secret_text(r, kind, ext)
            at = r.randrange(len(body) + 1)
            nl = body.find(b"\n", at)
            at = len(body) if nl < 0 else nl + 1
            if pool_name == "json":  # keep it valid JSON: after the opening brace's line
                at = body.find(b"\n") + 1
            line = body.count(b"\n", 0, at) + 1
            body = body[:at] + text.encode() + body[at:]
            planted[kind] += 1
            manifest.append(f"{os.path.join(*parts, f'f{i:06}.{ext}')}\t{line}\t{kind}\t{shown}")
        with open(os.path.join(d, f"f{i:06}.{ext}"), "wb") as f:
            f.write(body)
        written += len(body)
    if a.manifest:
        with open(a.manifest, "w", encoding="utf-8") as f:
            f.write("\n".join(manifest) + ("\n" if manifest else ""))
    dt = time.monotonic() - t0
    print(
        f"wrote {a.files} files, {written / 1e6:.1f} MB in {len(made_dirs)} directories "
        f"(depth {depth}, fanout {fanout}) under {a.out} in {dt:.1f}s (seed {a.seed})"
    )
    print(
        f"planted {sum(planted.values())} secrets: "
        + ", ".join(f"{v} {k}" for k, v in planted.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
