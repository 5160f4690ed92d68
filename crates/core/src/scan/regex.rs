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
pub(crate) fn translate(re: &str) -> Result<String, String> {
    translate_counting(re).map(|(out, _)| out)
}

/// [`translate`], also returning the number of capture groups (group 0 not counted).
pub(crate) fn translate_counting(re: &str) -> Result<(String, usize), String> {
    let out = escape_literal_braces(&expand_quote_spans(re));
    let groups = parse(&out)?.properties().explicit_captures_len();
    Ok((out, groups))
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

fn parse(re: &str) -> Result<regex_syntax::hir::Hir, String> {
    let ascii = regex_syntax::ParserBuilder::new()
        .unicode(false)
        .utf8(false)
        .build()
        .parse(re);
    match ascii {
        Ok(h) => Ok(h),
        Err(_) => regex_syntax::ParserBuilder::new()
            .utf8(false)
            .build()
            .parse(re)
            .map_err(|e| one_line(&e.to_string())),
    }
}

fn one_line(msg: &str) -> String {
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a pattern is written to span lines: an explicit newline, `[\s\S]`-style "anything",
/// or `(?s)`. Such rules run on a multi-line window; all others on the keyword's line.
pub(crate) fn spans_lines(re: &str) -> bool {
    [
        "\\n", "\\r", "[\\s\\S", "[\\S\\s", "(?s", "\\x0a", "\\x0A", "[\\w\\W", "[\\d\\D",
    ]
    .iter()
    .any(|p| re.contains(p))
}

/// Compiles one pattern (already translated).
pub(crate) fn compile(re: &str) -> Result<meta::Regex, String> {
    build(&[re])
}

/// Compiles many patterns into one regex whose pattern ids are their indexes.
pub(crate) fn compile_many(res: &[&str]) -> Result<meta::Regex, String> {
    build(res)
}

/// Byte-oriented with Unicode off first (RE2's ASCII classes, small automata); Unicode on only
/// for patterns that need it.
///
/// The one-pass DFA is off: building it was a third of compile time, and the only anchored
/// searches capstan runs (capture groups over a match already found) are a few dozen bytes,
/// where the bounded backtracker is as fast.
///
/// The lazy DFA may grow to 16 MiB per regex and thread (the default 2 MiB made gitleaks'
/// generic rule clear and rebuild its states over and over: 40% less CPU on a vendored-crates
/// tree with the bigger cap, for about 12 MB more peak RSS per thread).
fn build(res: &[&str]) -> Result<meta::Regex, String> {
    let config = meta::Config::new()
        .nfa_size_limit(Some(NFA_LIMIT))
        .onepass(false)
        .hybrid_cache_capacity(16 << 20);
    let attempt = |unicode| {
        meta::Builder::new()
            .configure(config.clone())
            .syntax(syntax_config(unicode))
            .build_many(res)
            .map_err(|e| {
                // The size limit's own message is in the source ("exceeded size limit ...").
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
            })
    };
    attempt(false).or_else(|_| attempt(true))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let re = compile(&t).expect("compiles");
        assert!(re.is_match("${{ secrets.TOKEN }}xxyz{,3}".as_bytes()));
    }

    #[test]
    fn go_escapes_that_rust_accepts_pass_through() {
        for re in [
            r#"[\'\"0-9a-zA-Z\/+]{40}"#,
            r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9\-_]{50,1000}",
        ] {
            assert!(translate(re).is_ok(), "{re}");
            assert!(compile(re).is_ok(), "{re}");
        }
    }

    #[test]
    fn ascii_classes_match_like_re2() {
        let re = compile(r"\w+").expect("compiles");
        let m = re.find("é_abc".as_bytes()).expect("matches");
        assert_eq!(m.range(), 2..6, "\\w is ASCII, as in RE2");
        assert!(compile(r"\p{Greek}+").is_ok(), "Unicode classes still work");
    }

    #[test]
    fn errors_are_one_line() {
        let e = translate("a(b").expect_err("unclosed group");
        assert!(!e.contains('\n') && e.contains("unclosed"), "{e}");
    }

    #[test]
    fn line_spanning_patterns_are_recognised() {
        assert!(spans_lines(r"-----BEGIN[\s\S-]{64,}?KEY-----"));
        assert!(!spans_lines(r"ghp_[0-9a-zA-Z]{36}"));
    }
}
