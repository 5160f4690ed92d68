//! Regex dialect handling: gitleaks configs are written for Go's RE2; capstan compiles with
//! `regex-automata`. The two agree on nearly everything; the differences handled here:
//!
//! - `\Q…\E` literal spans (RE2) are escaped into plain literals;
//! - `\w`, `\d`, `\s`, `\b` and `(?i)` are ASCII in RE2; capstan compiles byte-oriented with
//!   Unicode off, which matches RE2 exactly there and keeps the automata small. A pattern that
//!   needs Unicode (`\p{L}`, a non-ASCII literal under `(?i)`) is compiled with Unicode on.
//!
//! Anything else `regex-syntax` refuses is reported with the parser's message.

use regex_automata::meta;
use regex_automata::util::syntax;

/// NFA size limit per rule: gitleaks patterns such as `[A-Za-z0-9\-_]{50,1000}` need more than
/// regex's default.
const NFA_LIMIT: usize = 64 << 20;

fn syntax_config(unicode: bool) -> syntax::Config {
    syntax::Config::new().unicode(unicode).utf8(false)
}

/// Rewrites Go/RE2-only syntax and checks the result parses.
#[cfg(test)]
pub(crate) fn translate(re: &str) -> Result<String, String> {
    translate_checked(re).map(|(out, _)| out)
}

/// Rewrites Go/RE2-only syntax and checks the result as [`LazyRegex::many`] does, returning
/// what the check found so that compiling the pattern later doesn't parse it again.
pub(crate) fn translate_checked(re: &str) -> Result<(String, Check), String> {
    let out = escape_literal_braces(&expand_quote_spans(re));
    let checked = LazyRegex::many(&[&out])?;
    let check = Check::Parsed {
        groups: checked.groups.unwrap_or(0),
        unicode: checked.unicode.unwrap_or(false),
        bound: checked.bound,
    };
    Ok((out, check))
}

/// What checking one pattern found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    /// Parsed when its config loaded: explicit capture groups, whether it needs Unicode, and
    /// the bound on its automata (see [`LazyRegex::many`]).
    Parsed {
        groups: usize,
        unicode: bool,
        bound: u64,
    },
    /// A pattern of a built-in pack as it ships. The test suite checks every one of them
    /// (`built_in_packs_load_without_parsing_exactly_as_checked`), so loading the packs parses
    /// none: a one-file scan pays only for the patterns its keywords reach.
    Builtin,
}

/// Patterns already checked, by their (translated) text: carried from loading a rule set to
/// compiling it, so no pattern is parsed twice. Keyed by content, so a rule whose pattern is
/// changed after loading is simply checked again when it compiles.
#[derive(Clone, Default)]
pub(crate) struct Checked(hashbrown::HashMap<Box<str>, Check>);

impl Checked {
    pub(crate) fn insert(&mut self, re: &str, check: Check) {
        self.0.insert(re.into(), check);
    }

    pub(crate) fn get(&self, re: &str) -> Option<Check> {
        self.0.get(re).copied()
    }

    pub(crate) fn extend(&mut self, other: Checked) {
        self.0.extend(other.0);
    }
}

/// Not part of a rule set's identity: two sets with the same rules are equal and digest alike
/// however much of them was checked.
impl PartialEq for Checked {
    fn eq(&self, _: &Checked) -> bool {
        true
    }
}

impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Checked")
    }
}

/// RE2 reads a `{` that does not start a valid repetition (`{n}`, `{n,}`, `{n,m}`) as a literal
/// brace — gitleaks rules rely on it for `{{ template }}` placeholders; Rust's parser refuses it,
/// so such braces are escaped. Braces inside classes and escaped braces are left alone.
fn escape_literal_braces(re: &str) -> String {
    let b = re.as_bytes();
    let mut out = String::with_capacity(re.len() + 4);
    let mut in_class = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match c {
            b'\\' => {
                let next = re[i + 1..].chars().next().map_or(0, char::len_utf8);
                out.push_str(&re[i..i + 1 + next]);
                i += 1 + next;
                continue;
            }
            b'[' if !in_class => {
                in_class = true;
                out.push('[');
                // A `]` or `^]` right after the opening bracket is a literal.
                let mut j = i + 1;
                if b.get(j) == Some(&b'^') {
                    out.push('^');
                    j += 1;
                }
                if b.get(j) == Some(&b']') {
                    out.push(']');
                    j += 1;
                }
                i = j;
                continue;
            }
            b']' if in_class => in_class = false,
            b'{' if !in_class && !starts_repetition(&b[i..]) => {
                out.push_str("\\{");
                i += 1;
                continue;
            }
            b'}' if !in_class && !closes_repetition(b, i) => {
                out.push_str("\\}");
                i += 1;
                continue;
            }
            _ => {}
        }
        let ch_len = re[i..].chars().next().map_or(1, char::len_utf8);
        out.push_str(&re[i..i + ch_len]);
        i += ch_len;
    }
    out
}

/// Whether `s` (starting at a `{`) is `{n}`, `{n,}` or `{n,m}`.
fn starts_repetition(s: &[u8]) -> bool {
    let Some(end) = s.iter().position(|&c| c == b'}') else {
        return false;
    };
    let body = &s[1..end];
    let mut parts = body.splitn(2, |&c| c == b',');
    let lo = parts.next().unwrap_or_default();
    let hi = parts.next();
    let digits = |p: &[u8]| !p.is_empty() && p.iter().all(u8::is_ascii_digit);
    digits(lo) && hi.is_none_or(|h| h.is_empty() || digits(h))
}

/// Whether the `}` at `b[i]` ends a repetition that `starts_repetition` accepts.
fn closes_repetition(b: &[u8], i: usize) -> bool {
    b[..i].iter().rposition(|&c| c == b'{').is_some_and(|open| {
        let escaped = b[..open].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 1;
        !escaped && b[open..i].iter().all(|&c| c != b'}') && starts_repetition(&b[open..=i])
    })
}

fn expand_quote_spans(re: &str) -> String {
    if !re.contains("\\Q") {
        return re.to_owned();
    }
    let mut out = String::with_capacity(re.len() + 8);
    let mut rest = re;
    while let Some(i) = find_unescaped(rest, "\\Q") {
        out.push_str(&rest[..i]);
        let body = &rest[i + 2..];
        let (lit, tail) = match body.find("\\E") {
            Some(j) => (&body[..j], &body[j + 2..]),
            None => (body, ""),
        };
        out.push_str(&regex_syntax::escape(lit));
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Position of `pat` in `s` where the backslash starting it is not itself escaped.
fn find_unescaped(s: &str, pat: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = s[from..].find(pat).map(|i| i + from) {
        let backslashes = s[..i].bytes().rev().take_while(|&b| b == b'\\').count();
        if backslashes % 2 == 0 {
            return Some(i);
        }
        from = i + pat.len();
    }
    None
}

fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a pattern is written to span lines: an explicit newline, `[\s\S]`-style "anything",
/// or `(?s)`. Such rules run on a multi-line window; all others on the keyword's line. A
/// newline inside a negated class (`[^\n]*`, "the rest of the line") keeps a pattern on one
/// line: counting it made two dozen built-in rules search 32 KiB windows from every keyword
/// hit, a third of the CPU of a scan of the moby tree.
pub(crate) fn spans_lines(re: &str) -> bool {
    let outside = without_negated_classes(re);
    [
        "\\n", "\\r", "[\\s\\S", "[\\S\\s", "(?s", "\\x0a", "\\x0A", "[\\w\\W", "[\\d\\D",
    ]
    .iter()
    .any(|p| outside.contains(p))
}

/// `re` with the contents of its negated classes (`[^...]`) left out; `re` itself when a
/// negated class holds another class.
fn without_negated_classes(re: &str) -> String {
    let b = re.as_bytes();
    let mut out = String::with_capacity(re.len());
    // Open classes: (depth > 0) and whether the outermost is negated.
    let mut depth = 0usize;
    let mut negated = false;
    let mut i = 0;
    while i < b.len() {
        let len = re[i..].chars().next().map_or(1, char::len_utf8);
        let (piece, step) = match b[i] {
            b'\\' => {
                let next = re[i + 1..].chars().next().map_or(0, char::len_utf8);
                (&re[i..i + 1 + next], 1 + next)
            }
            // A class nested in a negated one can negate again: no shortcut then.
            b'[' if depth > 0 && negated => return re.to_owned(),
            b'[' => {
                let neg = b.get(i + 1) == Some(&b'^');
                if depth == 0 {
                    negated = neg;
                }
                depth += 1;
                // A `]` right after the opening bracket (or `^`) is a literal.
                let mut j = i + 1 + usize::from(neg);
                if b.get(j) == Some(&b']') {
                    j += 1;
                }
                (&re[i..j], j - i)
            }
            b']' if depth > 0 => {
                depth -= 1;
                let keep = !negated;
                if depth == 0 {
                    negated = false;
                }
                if keep {
                    out.push(']');
                }
                i += 1;
                continue;
            }
            _ => (&re[i..i + len], len),
        };
        if !(depth > 0 && negated) {
            out.push_str(piece);
        }
        i += step;
    }
    out
}

/// A rule's (or an allowlist's) patterns, checked when the rule set is compiled and built into
/// a searcher the first time a scan needs them.
///
/// Checking parses each pattern and bounds the size of its automata from the parse tree. A
/// pattern whose bound is small (a tenth of the 64 MiB limit; nearly every real rule) is
/// built on first use; any other is built in full at once, under the limit, so everything a
/// full compile can refuse (syntax, Unicode classes, the size limit) is still refused when
/// the config loads. The deferred part — the NFAs, prefilters, the lazy DFA's set-up — is
/// most of a compile, and a rule whose keywords never occur in the input never pays it (the
/// built-in packs compile in 47 ms instead of 98: BENCHMARKS.md). The first thread to need a
/// regex builds it; others needing the same one wait for it.
pub(crate) struct LazyRegex {
    patterns: Box<[Box<str>]>,
    /// `None`: not parsed yet (a built-in pattern); built ASCII first, as a check would.
    unicode: Option<bool>,
    /// `None`: not parsed yet; read off the searcher once built.
    groups: Option<usize>,
    /// The check's bound on the automata, in units of [`UNIT_BYTES`] (0: not parsed).
    bound: u64,
    regex: std::sync::OnceLock<Option<meta::Regex>>,
}

impl std::fmt::Debug for LazyRegex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyRegex")
            .field("patterns", &self.patterns)
            .field("compiled", &self.regex.get().is_some())
            .finish()
    }
}

impl LazyRegex {
    /// Checks one pattern (already translated); see [`LazyRegex::many`].
    #[cfg(test)]
    pub(crate) fn new(re: &str) -> Result<LazyRegex, String> {
        LazyRegex::many(&[re])
    }

    /// Checks patterns (already translated) that compile into one regex whose pattern ids are
    /// their indexes: byte-oriented with Unicode off (RE2's ASCII classes, small automata),
    /// Unicode on only for patterns that need it.
    pub(crate) fn many(res: &[&str]) -> Result<LazyRegex, String> {
        let check = |unicode: bool| -> Result<(usize, u64, Option<meta::Regex>), String> {
            let hirs = res
                .iter()
                .enumerate()
                .map(|(i, re)| {
                    syntax::parse_with(re, &syntax_config(unicode)).map_err(|e| {
                        let msg = one_line(&e.to_string());
                        if res.len() > 1 {
                            format!("pattern {i}: {msg}")
                        } else {
                            msg
                        }
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let groups = hirs
                .first()
                .map_or(0, |h| h.properties().explicit_captures_len());
            let bound = hirs.iter().map(nfa_bound).fold(0, u64::saturating_add);
            if bound <= SMALL_NFA {
                return Ok((groups, bound, None));
            }
            // Big enough to matter: built now, under the limit, as before.
            let built = build(res, unicode).map_err(|e| {
                let mut msg = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    msg = format!("{msg}: {c}");
                    cause = c.source();
                }
                if e.size_limit().is_some() {
                    msg += " (the pattern expands past the 64 MiB automaton limit; use a \
                            smaller repetition)";
                }
                one_line(&msg)
            })?;
            Ok((groups, bound, Some(built)))
        };
        let (unicode, (groups, bound, built)) = match check(false) {
            Ok(checked) => (false, checked),
            Err(_) => (true, check(true)?),
        };
        let regex = std::sync::OnceLock::new();
        if let Some(built) = built {
            let _ = regex.set(Some(built));
        }
        Ok(LazyRegex {
            patterns: res.iter().map(|&re| re.into()).collect(),
            unicode: Some(unicode),
            groups: Some(groups),
            bound,
            regex,
        })
    }

    /// [`LazyRegex::many`] for patterns that were checked when their rule set loaded: nothing
    /// is parsed again. Patterns not in `checked`, or together too big to be built lazily (as
    /// `many` decides it: the sum of their bounds), go through the full check.
    pub(crate) fn prepared(res: &[&str], checked: &Checked) -> Result<LazyRegex, String> {
        let checks: Option<Vec<Check>> = res.iter().map(|re| checked.get(re)).collect();
        let small = |cs: &Vec<Check>| {
            let bound = cs.iter().fold(0u64, |sum, c| match *c {
                Check::Parsed { bound, .. } => sum.saturating_add(bound),
                Check::Builtin => sum,
            });
            bound <= SMALL_NFA
        };
        let Some(checks) = checks.filter(small) else {
            return LazyRegex::many(res);
        };
        let parsed = |c: &Check| match *c {
            Check::Parsed {
                groups, unicode, ..
            } => Some((groups, unicode)),
            Check::Builtin => None,
        };
        let all: Option<Vec<(usize, bool)>> = checks.iter().map(parsed).collect();
        Ok(LazyRegex {
            patterns: res.iter().map(|&re| re.into()).collect(),
            unicode: all.as_ref().map(|a| a.iter().any(|&(_, u)| u)),
            groups: match checks.first() {
                Some(c) => parsed(c).map(|(g, _)| g),
                None => Some(0),
            },
            bound: 0,
            regex: std::sync::OnceLock::new(),
        })
    }

    /// Whether the searcher has been built (at check time only for big patterns).
    #[cfg(test)]
    pub(crate) fn is_built(&self) -> bool {
        self.regex.get().is_some()
    }

    /// Explicit capture groups in the first pattern (group 0 not counted).
    pub(crate) fn groups(&self) -> usize {
        self.groups.unwrap_or_else(|| {
            self.get().map_or(0, |re| {
                re.group_info()
                    .group_len(regex_automata::PatternID::ZERO)
                    .saturating_sub(1)
            })
        })
    }

    /// The searcher, built on first use (under the size limit, which the check's bound keeps
    /// it ten times below). `None` only if that build fails, which needs the bound to be wrong
    /// by a factor of ten (a test holds it to every built-in and gitleaks pattern and to
    /// adversarial ones); callers then treat the pattern as matching nothing, and an allowlist
    /// check built on it as not allowing.
    pub(crate) fn get(&self) -> Option<&meta::Regex> {
        self.regex
            .get_or_init(|| {
                let res: Vec<&str> = self.patterns.iter().map(|p| &**p).collect();
                match self.unicode {
                    Some(unicode) => build(&res, unicode).ok(),
                    None => build(&res, false).or_else(|_| build(&res, true)).ok(),
                }
            })
            .as_ref()
    }
}

/// Bytes of automaton one unit of [`nfa_bound`] may take.
const UNIT_BYTES: u64 = 64;

/// Patterns bounded by this many units (a tenth of [`NFA_LIMIT`]) are built on first use.
pub(crate) const SMALL_NFA: u64 = (NFA_LIMIT as u64 / 10) / UNIT_BYTES;

/// An upper bound, in units of [`UNIT_BYTES`], on the NFAs (forward and reverse) a pattern
/// compiles to: every piece of the parse tree counted with the states the compiler adds
/// around it, plus the unanchored prefix and the start and match states.
fn nfa_bound(h: &regex_syntax::hir::Hir) -> u64 {
    nfa_units(h).saturating_add(32)
}

/// The pieces of [`nfa_bound`]: one per literal byte, one per byte range, 40 per Unicode range
/// (its UTF-8 sequences, either direction), a repetition its body and glue times its bound
/// plus one, alternations and concatenations their parts and glue.
fn nfa_units(h: &regex_syntax::hir::Hir) -> u64 {
    use regex_syntax::hir::{Class, HirKind};
    match h.kind() {
        HirKind::Empty => 1,
        HirKind::Look(_) => 2,
        HirKind::Literal(l) => l.0.len() as u64 + 1,
        HirKind::Class(Class::Bytes(c)) => c.ranges().len() as u64 + 1,
        HirKind::Class(Class::Unicode(c)) => (c.ranges().len() as u64).saturating_mul(40) + 1,
        HirKind::Repetition(r) => {
            let times = u64::from(r.max.unwrap_or(r.min).max(r.min));
            nfa_units(&r.sub)
                .saturating_add(4)
                .saturating_mul(times.saturating_add(1))
                .saturating_add(4)
        }
        HirKind::Capture(c) => nfa_units(&c.sub).saturating_add(4),
        HirKind::Concat(v) => v.iter().map(nfa_units).fold(2, u64::saturating_add),
        HirKind::Alternation(v) => v
            .iter()
            .map(|b| nfa_units(b).saturating_add(2))
            .fold(2, u64::saturating_add),
    }
}

/// The full compile.
///
/// The one-pass DFA is off: building it was a third of compile time, and the only anchored
/// searches capstan runs (capture groups over a match already found) are a few dozen bytes,
/// where the bounded backtracker is as fast.
///
/// The lazy DFA may grow to 16 MiB per regex and thread (the default 2 MiB made gitleaks'
/// generic rule clear and rebuild its states over and over: 40% less CPU on a vendored-crates
/// tree with the bigger cap, for about 12 MB more peak RSS per thread).
fn build(res: &[&str], unicode: bool) -> Result<meta::Regex, Box<meta::BuildError>> {
    let config = meta::Config::new()
        .nfa_size_limit(Some(NFA_LIMIT))
        .onepass(false)
        .hybrid_cache_capacity(16 << 20);
    meta::Builder::new()
        .configure(config)
        .syntax(syntax_config(unicode))
        .build_many(res)
        .map_err(Box::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use regex_automata::nfa::thompson;

    #[test]
    fn quote_spans_become_literals() {
        assert_eq!(translate(r"a\Q.*+\Eb").as_deref(), Ok(r"a\.\*\+b"));
        assert_eq!(translate(r"\Q(x").as_deref(), Ok(r"\(x"));
        assert_eq!(translate(r"a\\Qb").as_deref(), Ok(r"a\\Qb"));
    }

    #[test]
    fn braces_that_are_not_repetitions_are_literals_as_in_re2() {
        let t = translate(r"\$?{{[^}]+}}x{2}y{1,}z{,3}").expect("translates");
        assert_eq!(t, r"\$?\{\{[^}]+\}\}x{2}y{1,}z\{,3\}");
        let re = LazyRegex::new(&t).expect("compiles");
        let re = re.get().expect("builds");
        assert!(re.is_match("${{ secrets.TOKEN }}xxyz{,3}".as_bytes()));
    }

    #[test]
    fn go_escapes_that_rust_accepts_pass_through() {
        for re in [
            r#"[\'\"0-9a-zA-Z\/+]{40}"#,
            r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9\-_]{50,1000}",
        ] {
            assert!(translate(re).is_ok(), "{re}");
            assert!(LazyRegex::new(re).is_ok_and(|r| r.get().is_some()), "{re}");
        }
    }

    #[test]
    fn ascii_classes_match_like_re2() {
        let re = LazyRegex::new(r"\w+").expect("compiles");
        let re = re.get().expect("builds");
        let m = re.find("é_abc".as_bytes()).expect("matches");
        assert_eq!(m.range(), 2..6, "\\w is ASCII, as in RE2");
        assert!(
            LazyRegex::new(r"\p{Greek}+").is_ok_and(|r| r.get().is_some()),
            "Unicode classes still work"
        );
    }

    #[test]
    fn checked_when_made_and_built_on_first_use() {
        let re = LazyRegex::new(r"ghp_[0-9a-zA-Z]{36}").expect("checks");
        assert!(
            re.regex.get().is_none(),
            "nothing is built before a search needs it"
        );
        let built = re.get().expect("builds");
        assert!(built.is_match(b"ghp_0123456789abcdefghijklmnopqrstuvwxyz"));
        assert!(re.regex.get().is_some());
        assert_eq!(LazyRegex::new(r"(a)(?:b)(c)").map(|r| r.groups()), Ok(2));
        // A pattern too big for the bound to vouch for is built, under the limit, at once.
        let big = LazyRegex::new("(?:abc){30000}").expect("fits the limit");
        assert!(big.is_built(), "built when it loads");
        // Every error a full build can raise is raised by the check.
        let e = LazyRegex::new("x{1000}{1000}{100}").expect_err("too big");
        assert!(e.contains("64 MiB automaton limit"), "{e}");
        let e = LazyRegex::many(&["ok", "a(b"]).expect_err("unclosed");
        assert!(e.contains("unclosed") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn the_nfa_bound_holds_for_every_built_in_and_gitleaks_pattern_and_hard_ones() {
        let mut patterns: Vec<String> = Vec::new();
        let gitleaks = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/peers/gitleaks/gitleaks.toml");
        for set in [
            crate::scan::RuleSet::builtin_all().expect("packs"),
            crate::scan::RuleSet::load(&gitleaks).expect("gitleaks' default config"),
        ] {
            patterns.extend(set.rules.iter().filter_map(|r| r.regex.clone()));
        }
        // A hundred nested stars around an optional piece (the compiler adds states per level
        // that the pattern's text does not show), repeated.
        let nested = format!("{}a?{}", "(?:".repeat(100), ")*".repeat(100));
        patterns.extend([
            format!("(?:{nested}){{40}}"),
            format!("(?:{nested}b|c{nested}){{2,9}}"),
            r"(?i)\p{L}{3,40}ß".into(),
            r"[\p{Greek}\p{Cyrillic}]+[^\x00-\x7f]{2}".into(),
            r"[^a]{1,20}\W+".into(),
            r"((a|bc){2,5}x?){3}".into(),
            r"(?i)(?:password|secret)\s*[:=]\s*[^\s]{8,200}".into(),
            r"\b\w{10,}\b(?m:^$)".into(),
        ]);
        // Both automata a full build makes, as it configures them, must fit in the bound.
        let forward = thompson::Config::new().shrink(false);
        let reverse = forward
            .clone()
            .which_captures(thompson::WhichCaptures::None)
            .reverse(true);
        for re in &patterns {
            // As the check chooses: Unicode only for patterns that need it.
            let parsed = [false, true].into_iter().find_map(|unicode| {
                syntax::parse_with(re, &syntax_config(unicode))
                    .ok()
                    .map(|hir| (unicode, hir))
            });
            if let Some((unicode, hir)) = parsed {
                let bytes = nfa_bound(&hir) * UNIT_BYTES;
                for config in [&forward, &reverse] {
                    let built = thompson::Compiler::new()
                        .configure(config.clone().nfa_size_limit(Some(bytes as usize)))
                        .build_from_hir(&hir);
                    assert!(
                        built.is_ok(),
                        "{re} (unicode {unicode}, reverse {:?}): over {bytes} bytes: {built:?}",
                        config.get_reverse()
                    );
                }
            }
        }
    }

    #[test]
    fn errors_are_one_line() {
        let e = translate("a(b").expect_err("unclosed group");
        assert!(!e.contains('\n') && e.contains("unclosed"), "{e}");
    }

    #[test]
    fn a_check_made_at_load_is_reused_unless_patterns_are_big_together() {
        let mut checked = Checked::default();
        for re in ["a{10000}", "b{10000}"] {
            let (out, check) = translate_checked(re).expect("checks");
            checked.insert(&out, check);
        }
        let one = LazyRegex::prepared(&["a{10000}"], &checked).expect("reused");
        assert!(!one.is_built(), "small alone: built on first use");
        let both = LazyRegex::prepared(&["a{10000}", "b{10000}"], &checked).expect("checked");
        assert!(
            both.is_built(),
            "too big together to vouch for: checked in full, as many()"
        );
        let unknown = LazyRegex::prepared(&["c(d"], &checked).expect_err("not checked yet");
        assert!(unknown.contains("unclosed"), "{unknown}");
    }

    #[test]
    fn line_spanning_patterns_are_recognised() {
        assert!(spans_lines(r"-----BEGIN[\s\S-]{64,}?KEY-----"));
        assert!(!spans_lines(r"ghp_[0-9a-zA-Z]{36}"));
        // The rest of the line is not another line.
        assert!(!spans_lines(r"\bcurl\s[^\n]*?\|\s*sh\b"));
        assert!(!spans_lines(r"x[^\r\n]{1,8}y[^]\n]z[a-z[\d]]"));
        assert!(spans_lines(r"[^\n]*\r?\nProc-Type"));
        assert!(
            spans_lines(r"a[\n]b"),
            "a positive class with a newline spans lines"
        );
        assert!(spans_lines(r"[^x][\s\S]{64}"));
        assert!(
            spans_lines(r"[^a[^\n]]"),
            "only a newline: counted, not reasoned about"
        );
    }
}
