#!/usr/bin/env python3
"""Writes secret rules in the packs' house style from short provider specs.

    crates/core/rules/tools/rulegen.py SPEC.toml > RULES.toml

An authoring aid, not a build step: its output is reviewed and pasted into a pack, and the pack
is what ships (and what `crates/core/tests/rule_packs.rs` tests). A spec names what a person
reads in the provider's documentation -- the token's shape and, for tokens with no prefix of
their own, the words it is found beside:

    [[provider]]
    id = "algolia-admin-api-key"        # rule id: lowercase [a-z0-9-], unique across packs
    name = "Algolia"                    # the provider, as its documentation spells it
    what = "admin API key"              # description = "<name> <what>"
    area = "search"                     # first tag (cloud, vcs, ci, payments, ai, ...)
    severity = "high"                   # default "high"
    confidence = "high"                 # default: "high" with a prefix, else "medium"
    source = "https://www.algolia.com/doc/guides/security/api-keys/"
    value = "[a-f0-9]{32}"              # the token's shape: [class]{n} / [class]{n,m} / literals
    prefix = "sk_live_"                 # a literal the token starts with: a self-identifying
                                        # token, found anywhere (its keyword is the prefix)
    context = ["algolia"]               # no prefix: the provider words (lowercase) that must
                                        # come before the value; they are the rule's keywords
    qualify = true                      # context rules: a key/token/secret word must sit
                                        # between the provider word and the value (default)
    examples = []                       # extra examples / counterexamples, kept after the
    counterexamples = []                # generated ones

Generated examples are random fakes of the spec's shape (seeded by the id, so the output is
stable), in the assignments people write (.env, JSON, YAML, headers); counterexamples are a
placeholder, a value one character short, a run of one character, and (context rules) the same
value beside another provider's name.
"""

import hashlib
import math
import random
import re
import sys
import tomllib

QUALIFIERS = r"(?:key|token|secret|passw(?:or)?d|pwd|auth|bearer|credential|api|access|pat|sid|private)"
ASSIGN = r"""["'\]]{0,2}(?:[ \t]{0,3}(?:=|:=|:|=>|\?=|,)[ \t]{0,5}|[ \t]{1,3})["'`]?"""


def parse_shape(value):
    """[(chars, lo, hi)] for a shape like `[a-f0-9]{32}-[a-z]{4,8}` (literals are 1-char classes)."""
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "[":
            j = value.index("]", i + 1)
            body, chars, k = value[i + 1:j], [], 0
            while k < len(body):
                a = body[k]
                if a == "\\":
                    k += 1
                    a = body[k]
                if k + 2 < len(body) and body[k + 1] == "-":
                    b = body[k + 2]
                    chars.extend(chr(x) for x in range(ord(a), ord(b) + 1))
                    k += 3
                else:
                    chars.append(a)
                    k += 1
            i = j + 1
        else:
            if c == "\\":
                i += 1
                c = value[i]
            chars = [c]
            i += 1
        lo = hi = 1
        m = re.match(r"\{(\d+)(?:,(\d+))?\}", value[i:])
        if m:
            lo = int(m.group(1))
            hi = int(m.group(2)) if m.group(2) else lo
            i += m.end()
        out.append(("".join(dict.fromkeys(chars)), lo, hi))
    return out


def sample(shape, rng, short=False):
    s = []
    for n, (chars, lo, hi) in enumerate(shape):
        k = rng.randint(lo, hi)
        if short and n == max(range(len(shape)), key=lambda i: shape[i][1]):
            k = shape[n][1] - 1
        s.append("".join(rng.choice(chars) for _ in range(k)))
    return "".join(s)


def entropy(s):
    counts = {c: s.count(c) for c in set(s)}
    return -sum(v / len(s) * math.log2(v / len(s)) for v in counts.values())


def floor_for(shape):
    """An entropy floor a random token of this shape clears with room to spare."""
    biggest = max(shape, key=lambda seg: seg[1])
    alphabet, length = len(biggest[0]), sum(lo for _, lo, _ in shape)
    f = 0.7 * min(math.log2(max(alphabet, 2)), math.log2(max(length, 2)))
    return round(max(2.0, min(f, 4.0)), 1)


def tail_class(shape):
    """What may follow the token: anything outside its last segment's alphabet, or the end."""
    codes = sorted({ord(c) for c in shape[-1][0]})
    runs, start = [], None
    for i, c in enumerate(codes):
        if start is None:
            start = c
        if i + 1 == len(codes) or codes[i + 1] != c + 1:
            runs.append((start, c))
            start = None
    esc = lambda c: "\\" + chr(c) if chr(c) in "\\]^-[" else chr(c)
    body = "".join(esc(a) if a == b else esc(a) + esc(b) if b == a + 1 else f"{esc(a)}-{esc(b)}"
                   for a, b in runs)
    return f"(?:[^{body}]|$)"


def toml_str(s):
    if "'''" in s or s.endswith("'"):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"'''{s}'''"


def rule(spec):
    rid = spec["id"]
    rng = random.Random(hashlib.sha256(rid.encode()).digest())
    name, what, area = spec["name"], spec["what"], spec["area"]
    value = spec["value"]
    shape = parse_shape(value)
    prefix = spec.get("prefix")
    context = [c.lower() for c in spec.get("context", [])]
    slug = re.sub(r"[^a-z0-9]+", "", name.lower())
    ent = spec.get("entropy", floor_for(shape))
    tail = tail_class(shape)
    if prefix:
        p = re.escape(prefix)
        regex = rf"\b({p}{value}){tail}"
        keywords = [prefix.lower()]
    else:
        if not context:
            sys.exit(f"{rid}: a spec needs a prefix or context words")
        words = "|".join(re.escape(c) for c in context)
        mid = rf"[A-Za-z0-9 _.-]{{0,24}}?{QUALIFIERS}[A-Za-z0-9 _.-]{{0,16}}?" if spec.get(
            "qualify", True) else r"[A-Za-z0-9 _.-]{0,24}?"
        regex = rf"(?i:\b(?:{words}){mid}){ASSIGN}(?-i:({value})){tail}"
        keywords = context
    def good():
        for _ in range(50):
            v = sample(shape, rng)
            if entropy(v) >= ent + 0.3:
                return v
        sys.exit(f"{rid}: random tokens of this shape miss the entropy floor {ent}")
    word = (context[0] if context else slug).upper().replace("-", "_").replace(".", "_")
    if prefix:
        examples = [
            f"{word}_TOKEN={prefix}{good()}",
            f'  "token": "{prefix}{good()}",',
            f"curl -H 'Authorization: Bearer {prefix}{good()}' https://api.example.com/",
        ]
        counter = [
            f"{word}_TOKEN={prefix}{sample(shape, rng, short=True)}",
            f"{word}_TOKEN={prefix}<your-token>",
            f"{word}_TOKEN={prefix}{shape[0][0][0] * sum(lo for _, lo, _ in shape)}",
        ]
    else:
        camel = context[0].replace("-", "").replace(".", "")
        examples = [
            f"{word}_API_KEY={good()}",
            f'  "{camel}Token": "{good()}",',
            f"{context[0]}.secret: '{good()}'",
        ]
        counter = [
            f"{word}_API_KEY=<your-{context[0]}-api-key>",
            f"{word}_API_KEY={sample(shape, rng, short=True)}",
            f"{word}_API_KEY={shape[0][0][0] * sum(lo for _, lo, _ in shape)}",
            f"OTHER_SERVICE_API_KEY={good()}",
        ]
    examples += spec.get("examples", [])
    counter += spec.get("counterexamples", [])
    lines = ["[[rules]]", f'id = "{rid}"']
    if spec.get("source"):
        lines.insert(0, f"# source: {spec['source']}")
    lines += [
        f'description = "{name} {what}"',
        'category = "secret"',
        f'severity = "{spec.get("severity", "high")}"',
        f'confidence = "{spec.get("confidence", "high" if prefix else "medium")}"',
        f"regex = '''{regex}'''",
        f"entropy = {ent}",
        "skipPlaceholders = true",
        "keywords = [" + ", ".join(f'"{k}"' for k in keywords) + "]",
        "tags = [" + ", ".join(f'"{t}"' for t in dict.fromkeys([area, slug])) + "]",
        "examples = [",
        *[f"    {toml_str(e)}," for e in examples],
        "]",
        "counterexamples = [",
        *[f"    {toml_str(e)}," for e in counter],
        "]",
        "",
        "[[rules.allowlists]]",
        'description = "sequential placeholder characters"',
        'stopwords = ["abcdefghij", "0123456789", "1234567890"]',
    ]
    return "\n".join(lines) + "\n"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as fh:
        specs = tomllib.load(fh).get("provider", [])
    print("\n".join(rule(s) for s in specs), end="")


if __name__ == "__main__":
    main()
