#!/usr/bin/env python3
"""Checks rules before they go into a pack, with a built capstan and no cargo build.

    crates/core/rules/tools/rulecheck.py RULES.toml [--capstan BIN] [--corpus DIR]...
                                         [--suite RULES_DIR]...

1. Form: the fields `crates/core/tests/rule_packs.rs` demands (description, keywords,
   examples and counterexamples), lowercase keywords that appear in every example, ids
   unique here and against the packs; a warning for keywords under 4 characters (they
   are on many lines, and every line with one runs the rule).
2. Examples: every example fires its rule and no counterexample does, scanned with
   `--config RULES.toml` (the rules alone).
3. `--corpus DIR`: the rules alone over clean trees (a source tree, /usr/lib): every finding
   is printed, because on code with no secrets each one is a false positive to fix.
4. `--suite DIR`: the positive and negative examples of another tool's rule files (see
   benches/examples_suite.py): positives found and negatives flagged by these rules alone.

Exit status 1 when a check in 1 or 2 fails.
"""

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import tomllib

HERE = os.path.dirname(os.path.abspath(__file__))
RULES = os.path.dirname(HERE)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(RULES)))


def scan(binary, config, target, extra=()):
    """The JSON report of the rules alone over `target`, at every confidence."""
    with tempfile.TemporaryDirectory(prefix="rulecheck-report.") as tmp:
        out = os.path.join(tmp, "report.json")
        subprocess.run([binary, "scan", "--config", config, "--no-cache", "--no-ignore",
                        "--min-confidence", "low", "--format", "json", "-o", out, *extra, "."],
                       cwd=target, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       check=False)
        if not os.path.exists(out):
            sys.exit(f"rulecheck.py: {binary} wrote no report for {target}")
        with open(out, encoding="utf-8") as fh:
            return json.load(fh)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rules")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--capstan", default=os.path.join(target, "release", "capstan"))
    ap.add_argument("--corpus", action="append", default=[])
    ap.add_argument("--suite", action="append", default=[])
    args = ap.parse_args()
    args.capstan = os.path.abspath(args.capstan)
    if not os.access(args.capstan, os.X_OK):
        sys.exit(f"rulecheck.py: no capstan at {args.capstan}: "
                 "cargo build --release -p capstan-cli")
    config = os.path.abspath(args.rules)
    with open(config, "rb") as fh:
        rules = tomllib.load(fh).get("rules", [])
    existing = set()
    for f in os.listdir(RULES):
        if f.endswith(".toml") and os.path.abspath(os.path.join(RULES, f)) != config:
            with open(os.path.join(RULES, f), "rb") as fh:
                existing |= {r["id"] for r in tomllib.load(fh).get("rules", [])}
    bad, seen = [], set()
    for r in rules:
        rid = r.get("id", "?")
        if rid in existing or rid in seen:
            bad.append(f"{rid}: duplicate id")
        seen.add(rid)
        for field in ("description", "keywords", "examples", "counterexamples", "regex"):
            if not r.get(field):
                bad.append(f"{rid}: no {field}")
        for k in r.get("keywords", []):
            if k != k.lower():
                bad.append(f"{rid}: keyword {k!r} is not lowercase")
            if len(k) < 4:
                print(f"warning: {rid}: keyword {k!r} is short", file=sys.stderr)
        for ex in r.get("examples", []):
            if not any(k in ex.lower() for k in r.get("keywords", [])):
                bad.append(f"{rid}: no keyword in example {ex!r}")
    # Examples, one file each.
    with tempfile.TemporaryDirectory(prefix="rulecheck.") as tmp:
        index = {}
        for i, r in enumerate(rules):
            name = r.get("example_path", "example.txt")
            for kind in ("examples", "counterexamples"):
                for j, ex in enumerate(r.get(kind, [])):
                    rel = os.path.join(str(i), kind, str(j), name)
                    os.makedirs(os.path.join(tmp, os.path.dirname(rel)), exist_ok=True)
                    with open(os.path.join(tmp, rel), "w", encoding="utf-8") as fh:
                        fh.write(ex + "\n")
                    index[os.path.normpath(rel)] = (r["id"], kind, ex)
        report = scan(args.capstan, config, tmp)
        if report.get("errors") and not report.get("findings"):
            sys.exit(f"rulecheck.py: the scan failed: {report['errors'][:3]}")
        hits = {(os.path.normpath(f["path"]), f["rule_id"]) for f in report["findings"]}
        for rel, (rid, kind, ex) in index.items():
            fired = (rel, rid) in hits
            if kind == "examples" and not fired:
                bad.append(f"{rid}: example did not fire: {ex!r}")
            if kind == "counterexamples" and fired:
                bad.append(f"{rid}: counterexample fired: {ex!r}")
    for corpus in args.corpus:
        report = scan(args.capstan, config, corpus, ["--no-redact"])
        print(f"corpus {corpus}: {len(report['findings'])} findings")
        for f in report["findings"]:
            print(f"  {f['rule_id']}: {f['path']}:{f['line']}: {f.get('secret', '')[:60]}")
    if args.suite:
        spec = importlib.util.spec_from_file_location(
            "suite", os.path.join(ROOT, "benches", "examples_suite.py"))
        suite = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(suite)
        with tempfile.TemporaryDirectory(prefix="rulecheck-suite.") as tmp:
            index = suite.write(suite.load(args.suite), tmp)
            report = scan(args.capstan, config, tmp)
            hits = {os.path.normpath(f["path"]) for f in report["findings"]}
            found = sum(1 for rel, (_, _, k) in index.items() if k == "pos" and rel in hits)
            flagged = [rel for rel, (_, _, k) in index.items() if k == "neg" and rel in hits]
            providers = sorted({index[rel][1] for rel in hits if rel in index})
            print(f"suite: {found} positives found, {len(flagged)} negatives flagged "
                  f"{flagged[:10]}; providers hit: {' '.join(providers)}")
    for b in bad:
        print(b)
    print(f"{len(rules)} rules, {len(bad)} problems")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
