//! Bytes a regex cannot match without: a check that runs before the regex on a keyword's line.
//!
//! A rule's regex runs on every line where one of its keywords occurs. Some keywords are common
//! (gitleaks' generic rule is keyed on `key`, `token`, `api`, … — a third of the lines of Go code
//! with one of them hold no `=`, `:`, `>`, `,`, `|` or `?`, and its regex cannot match without
//! one, yet each run costs microseconds of lazy-DFA work). From the pattern's syntax tree we take
//! a set of bytes at least one of which every match contains, choosing, where a pattern offers
//! several such sets, the one rarest in source code; a line holding none of them is skipped.

use regex_syntax::hir::{Class, Hir, HirKind};

/// How often each byte occurs in source code, per ten thousand bytes (rounded up; 255 caps it):
/// measured on 64 MiB of a `cargo vendor` tree (Rust, C, Markdown, TOML, JSON).
#[rustfmt::skip]
const FREQUENCY: [u8; 256] = [
      0,   0,   0,   0,   0,   0,   0,   0,   0,  16, 255,   0,   0,   3,   0,   0,
      0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   1,   0,   0,   0,   0,
    255,  12, 126,  24,   5,   1,  14,  38,  84,  84,   9,   4, 193,  40, 209, 107,
    126, 146, 179, 123, 120,  85, 130,  70,  88,  63, 158,  70,  36, 121,  44,   2,
      1,  70,  21,  55,  38,  78,  42,  18,  18,  63,   2,  10,  67,  33,  54,  50,
     47,   3,  58,  67,  77,  22,  18,   8,  11,  11,   3,  29,   4,  29,   1, 255,
     20, 252, 135, 202, 137, 255, 113,  90,  85, 249,   9,  48, 195, 115, 255, 255,
    169,  12, 255, 255, 255, 212,  41,  32,  39,  64,  14,  30,   5,  30,   1,   0,
      1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,
      1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,
      1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,
      1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,
      0,   0,   1,   1,   1,   1,   0,   0,   0,   0,   0,   0,   1,   0,   1,   1,
      1,   1,   0,   0,   0,   0,   0,   1,   1,   1,   0,   1,   0,   0,   0,   0,
      1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   1,   0,   1,
      1,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,   0,
];

/// A set worth checking occurs at most this often per ten thousand bytes (10%): above it, nearly
/// every line holds one of its bytes and the check would only cost time.
const SELECTIVE: u32 = 1000;

/// Bytes of which every match of a regex contains at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequiredBytes {
    set: [bool; 256],
    /// The set's bytes when there are at most three (searched with `memchr3`).
    few: Option<[u8; 3]>,
}

impl RequiredBytes {
    /// The rarest set the pattern guarantees, if there is one rare enough to be worth a check.
    pub(crate) fn of(hir: &Hir) -> Option<RequiredBytes> {
        let set = required(hir)?;
        if cost(&set) > SELECTIVE {
            return None;
        }
        let bytes: Vec<u8> = (0..=255u8).filter(|&b| set[usize::from(b)]).collect();
        let few = match bytes.as_slice() {
            [a] => Some([*a, *a, *a]),
            [a, b] => Some([*a, *b, *b]),
            [a, b, c] => Some([*a, *b, *c]),
            _ => None,
        };
        Some(RequiredBytes { set, few })
    }

    /// Whether one of the bytes occurs in `hay` (when not, the regex cannot match in it).
    pub(crate) fn occur_in(&self, hay: &[u8]) -> bool {
        match self.few {
            Some([a, b, c]) => memchr::memchr3(a, b, c, hay).is_some(),
            None => hay.iter().any(|&b| self.set[usize::from(b)]),
        }
    }
}

/// How often a set's bytes occur, per ten thousand bytes of source code.
fn cost(set: &[bool; 256]) -> u32 {
    (0..256)
        .filter(|&b| set[b])
        .map(|b| u32::from(FREQUENCY[b]))
        .sum()
}

/// A set of bytes every match of `hir` contains one of, or `None` when no such set is known (a
/// pattern that can match the empty string has none).
fn required(hir: &Hir) -> Option<[bool; 256]> {
    match hir.kind() {
        // Each can match without consuming a byte (a repetition that may run zero times too).
        HirKind::Empty | HirKind::Look(_) => None,
        HirKind::Literal(lit) => {
            // Any byte of the literal is in every match: the rarest.
            let &rarest = lit.0.iter().min_by_key(|&&b| FREQUENCY[usize::from(b)])?;
            let mut set = [false; 256];
            set[usize::from(rarest)] = true;
            Some(set)
        }
        HirKind::Class(Class::Bytes(class)) => {
            let mut set = [false; 256];
            for r in class.ranges() {
                for b in r.start()..=r.end() {
                    set[usize::from(b)] = true;
                }
            }
            class.ranges().first().map(|_| set)
        }
        HirKind::Class(Class::Unicode(class)) => {
            // ASCII-only classes are bytes; anything wider is left unchecked.
            let mut set = [false; 256];
            for r in class.ranges() {
                let (start, end) = (u32::from(r.start()), u32::from(r.end()));
                if end > 0x7f {
                    return None;
                }
                for b in start..=end {
                    set[b as usize] = true;
                }
            }
            class.ranges().first().map(|_| set)
        }
        HirKind::Repetition(rep) => (rep.min >= 1).then(|| required(&rep.sub)).flatten(),
        HirKind::Capture(cap) => required(&cap.sub),
        HirKind::Concat(parts) => parts
            .iter()
            .filter_map(required)
            .min_by_key(cost),
        HirKind::Alternation(branches) => {
            let mut union = [false; 256];
            for branch in branches {
                let set = required(branch)?;
                for (u, s) in union.iter_mut().zip(set) {
                    *u |= s;
                }
            }
            Some(union)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(re: &str) -> Option<RequiredBytes> {
        let config = regex_automata::util::syntax::Config::new()
            .unicode(false)
            .utf8(false);
        RequiredBytes::of(&regex_automata::util::syntax::parse_with(re, &config).expect("parses"))
    }

    fn bytes(r: &RequiredBytes) -> Vec<u8> {
        (0..=255u8).filter(|&b| r.set[usize::from(b)]).collect()
    }

    #[test]
    fn the_rarest_guaranteed_set_is_taken() {
        // gitleaks' generic rule: the assignment operators, not the keyword's letters.
        let generic = of(r#"(?i)[\w.-]{0,50}?(?:access|auth|(?-i:[Aa]pi|API)|credential|creds|key|passw(?:or)?d|secret|token)(?:[ \t\w.-]{0,20})[\s'"]{0,3}(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)[\x60'"\s=]{0,5}([\w.=-]{10,150}|[a-z0-9][a-z0-9+/]{11,}={0,3})(?:[\x60'"\s;]|\\[nr]|$)"#)
            .expect("a set");
        let got = bytes(&generic);
        assert!(got.contains(&b'=') && got.contains(&b','), "{got:?}");
        assert!(got.iter().all(|b| !b.is_ascii_alphanumeric()), "{got:?}");
        // A literal's rarest byte (`_` is common in code, `h` less so).
        assert_eq!(
            of("ghp_[0-9a-zA-Z]{36}").map(|r| bytes(&r)),
            Some(vec![b'h'])
        );
        assert_eq!(of("xoxb-[0-9]{10}").map(|r| bytes(&r)), Some(vec![b'x']));
    }

    #[test]
    fn nothing_is_claimed_that_a_match_can_do_without() {
        for re in [
            "a?",
            "(?:x|)",
            "[a-z]*",
            r"\b",
            "(?:=|[a-z]*)",
            // Only common bytes: not worth a check.
            "[a-z]+",
            "[^=]",
        ] {
            assert_eq!(of(re), None, "{re}");
        }
    }

    #[test]
    fn a_line_without_the_bytes_cannot_match() {
        // Random lines over a small alphabet: whenever the regex matches, the check says so.
        let patterns = [
            r"(?i)(?:key|token)[ \t]*(?:=|:|=>)[ \t]*([a-z0-9]{4,})",
            r"pass(?:word)?\s*[:=,]\s*\S{3,}",
            r"(?:a|b)[|?]{1,2}c",
            r"k[e=]y",
        ];
        let alphabet = b"keytokn=:>|?, \tabcpsword0123";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for re in patterns {
            let required = of(re).expect("a set");
            let regex = regex_automata::meta::Regex::new(re).expect("builds");
            for round in 0..20_000 {
                let len = 1 + round % 40;
                let line: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        alphabet[(state % alphabet.len() as u64) as usize]
                    })
                    .collect();
                if regex.is_match(&line[..]) {
                    assert!(
                        required.occur_in(&line),
                        "{re} matches {:?}",
                        String::from_utf8_lossy(&line)
                    );
                }
            }
        }
    }

    /// Every built-in and gitleaks pattern against every example and counterexample line of
    /// the packs: where a pattern matches a line, the check lets it through.
    #[test]
    fn no_built_in_or_gitleaks_pattern_is_ever_skipped_where_it_matches() {
        use crate::scan::{RuleSet, Rules};
        let gitleaks = include_str!("../../../../testdata/peers/gitleaks/gitleaks.toml");
        let builtin = RuleSet::builtin_all().expect("packs");
        let mut lines: Vec<&str> = Vec::new();
        for rule in &builtin.rules {
            lines.extend(
                rule.examples
                    .iter()
                    .chain(&rule.counterexamples)
                    .flat_map(|e| e.lines()),
            );
        }
        let mut checked = 0;
        let lower: Vec<String> = lines.iter().map(|l| l.to_ascii_lowercase()).collect();
        for set in [
            builtin.clone(),
            RuleSet::from_toml(gitleaks).expect("gitleaks"),
        ] {
            let rules = Rules::compile(&set).expect("compiles");
            for (rule, source) in rules.rules.iter().zip(&set.rules) {
                let Some(lazy) = &rule.regex else { continue };
                let Some(regex) = lazy.get() else { continue };
                let Some(required) = lazy.required() else {
                    continue;
                };
                for (line, low) in lines.iter().zip(&lower) {
                    // As the scanner runs it: on lines with one of its keywords.
                    let keyed = source.keywords.is_empty()
                        || source.keywords.iter().any(|k| low.contains(k.as_str()));
                    if keyed && regex.is_match(line.as_bytes()) {
                        checked += 1;
                        assert!(required.occur_in(line.as_bytes()), "{}: {line}", rule.id);
                    }
                }
            }
        }
        assert!(checked > 500, "{checked} matching lines checked");
    }
}
