//! `.dockerignore`, with the semantics of moby's `patternmatcher` and `ignorefile` packages
//! (what the docker CLI and BuildKit use).
//!
//! - The file: a UTF-8 BOM is stripped; a line starting with `#` in column 1 is a comment;
//!   lines are trimmed; `!` starts an exception; each pattern is cleaned like Go's
//!   `filepath.Clean` and a leading `/` is dropped, so every pattern is anchored at the
//!   context root.
//! - A pattern: `*` and `?` never match `/`; `**` matches any number of directories (zero
//!   included); `[...]` classes with `[^...]` negation; `\` escapes the next character.
//! - Matching: the last pattern that matches a path decides; a pattern matches a path when it
//!   matches the path itself or one of its parent directories, so everything under an
//!   excluded directory is excluded unless an exception re-includes it.
//!
//! Patterns are compiled once, when the file is parsed, and all of them together into one
//! automaton that answers "which patterns match this path or one of its parents" in a single
//! pass over the path (the last one decides), instead of each pattern being tried against the
//! path and each of its parents in turn.

use regex_automata::meta::Regex;
use regex_automata::{Input, MatchKind, PatternSet};

/// A pattern that is not valid glob syntax, or an exception with nothing to except.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(".dockerignore line {line}: {message}: {pattern:?}")]
pub struct DockerIgnoreError {
    line: usize,
    pattern: String,
    kind: DockerIgnoreErrorKind,
    message: &'static str,
}

/// What kind of thing is wrong with a pattern in a [`DockerIgnoreError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DockerIgnoreErrorKind {
    /// Not valid glob syntax (an unclosed `[`, an empty class, a trailing `\`).
    Syntax,
    /// A `!` with no pattern after it.
    EmptyException,
}

impl DockerIgnoreError {
    /// What is wrong with the pattern.
    pub fn kind(&self) -> DockerIgnoreErrorKind {
        self.kind
    }

    /// The 1-based line of the bad pattern.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The pattern as written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }
}

#[derive(Debug)]
enum Kind {
    /// No wildcards: the path equals the pattern.
    Exact,
    /// `dir/**`: the path starts with `dir/`.
    Prefix(String),
    /// `**/name` (or `**`): the path ends with `/name` or is `name`.
    Suffix(String),
    /// The compiled regex and its source.
    Regex(Regex, String),
}

#[derive(Debug)]
struct Pattern {
    cleaned: String,
    exception: bool,
    kind: Kind,
}

impl Pattern {
    /// One regex that matches what this pattern matches *or any path below it*: the path
    /// itself or one of its parent directories matching the pattern, as moby tests them.
    fn below_regex(&self) -> String {
        let lit = regex_syntax::escape;
        match &self.kind {
            Kind::Exact => format!("^{}(/.*)?$", lit(&self.cleaned)),
            // A parent that starts with the prefix means the path does too.
            Kind::Prefix(p) => format!("^{}", lit(p)),
            Kind::Suffix(s) => match s.strip_prefix('/') {
                Some(bare) => format!("^(.*{}|{})(/.*)?$", lit(s), lit(bare)),
                None => format!("^.*{}(/.*)?$", lit(s)),
            },
            // Already anchored and open below (`(/.*)?$`).
            Kind::Regex(_, source) => source.clone(),
        }
    }

    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            Kind::Exact => path == self.cleaned,
            Kind::Prefix(p) => path.starts_with(p.as_str()),
            Kind::Suffix(s) => {
                path.ends_with(s.as_str()) || s.strip_prefix('/').is_some_and(|s| path == s)
            }
            Kind::Regex(re, _) => re.is_match(path),
        }
    }
}

/// A parsed `.dockerignore`.
///
/// ```
/// use capstan::tar::DockerIgnore;
///
/// let ignore = DockerIgnore::parse("# build output\ntarget\n*.log\n!keep.log\n**/*.tmp\n")?;
/// assert!(ignore.is_excluded("target/debug/app", false));
/// assert!(ignore.is_excluded("server.log", false));
/// assert!(!ignore.is_excluded("keep.log", false));
/// assert!(!ignore.is_excluded("logs/server.log", false), "`*` does not cross `/`");
/// assert!(ignore.is_excluded("a/b/c.tmp", false));
/// assert!(!ignore.is_excluded("src/main.rs", false));
/// # Ok::<(), capstan::tar::DockerIgnoreError>(())
/// ```
#[derive(Debug, Default)]
pub struct DockerIgnore {
    patterns: Vec<Pattern>,
    /// Every pattern's [`Pattern::below_regex`], pattern `i` as the automaton's pattern `i`;
    /// `None` when there are no patterns, or should the automaton not build (then they are
    /// tried one by one).
    all: Option<Regex>,
}

impl DockerIgnore {
    /// Parses the text of a `.dockerignore` file.
    pub fn parse(text: &str) -> Result<DockerIgnore, DockerIgnoreError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut patterns = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            if raw.starts_with('#') {
                continue;
            }
            let mut p = raw.trim();
            if p.is_empty() {
                continue;
            }
            let exception = p.starts_with('!');
            if exception {
                p = p[1..].trim();
            }
            let err = |kind, message| DockerIgnoreError {
                line: i + 1,
                pattern: raw.trim().to_owned(),
                kind,
                message,
            };
            if p.is_empty() {
                return Err(err(
                    DockerIgnoreErrorKind::EmptyException,
                    "an exception (`!`) needs a pattern",
                ));
            }
            let syntax = |message| err(DockerIgnoreErrorKind::Syntax, message);
            let mut cleaned = clean(p);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
            validate(&cleaned).map_err(syntax)?;
            let kind = compile(&cleaned).map_err(syntax)?;
            patterns.push(Pattern {
                cleaned,
                exception,
                kind,
            });
        }
        let all = if patterns.is_empty() {
            None
        } else {
            let sources: Vec<String> = patterns.iter().map(Pattern::below_regex).collect();
            Regex::builder()
                .configure(Regex::config().match_kind(MatchKind::All))
                .build_many(&sources)
                .ok()
        };
        Ok(DockerIgnore { patterns, all })
    }

    /// Number of patterns (comments and blank lines not counted).
    pub fn len(&self) -> usize {
        self.patterns.len()
    }

    /// Whether there are no patterns.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether `path` (relative to the context root, `/`-separated) is left out of the
    /// context. `is_dir` is accepted for callers walking a tree; as in moby, a pattern matches
    /// files and directories alike.
    pub fn is_excluded(&self, path: &str, is_dir: bool) -> bool {
        let _ = is_dir;
        let path = clean(path);
        let path = path.strip_prefix('/').unwrap_or(&path);
        let Some(all) = &self.all else {
            return self.is_excluded_one_by_one(path);
        };
        // The last pattern that matches the path or a parent decides: an exclusion (nothing
        // after it re-includes) or an exception.
        let mut matched = PatternSet::new(all.pattern_len());
        all.which_overlapping_matches(&Input::new(path), &mut matched);
        matched
            .iter()
            .next_back()
            .is_some_and(|last| !self.patterns[last.as_usize()].exception)
    }

    /// [`is_excluded`](Self::is_excluded) as moby computes it: each pattern in turn against
    /// the (cleaned) path and each of its parents.
    fn is_excluded_one_by_one(&self, path: &str) -> bool {
        let parent_end = path.rfind('/');
        let mut excluded = false;
        for p in &self.patterns {
            // An exclusion can only change a path not yet excluded, an exception one that is.
            if p.exception != excluded {
                continue;
            }
            let mut hit = p.matches(path);
            if !hit && let Some(end) = parent_end {
                hit = path[..end]
                    .match_indices('/')
                    .map(|(i, _)| i)
                    .chain(std::iter::once(end))
                    .any(|i| p.matches(&path[..i]));
            }
            if hit {
                excluded = !p.exception;
            }
        }
        excluded
    }

    /// Whether an exception could re-include something below the directory `dir`: a walker
    /// must then descend into `dir` even though `dir` itself is excluded (BuildKit does; the
    /// classic builder descended always). `**` anywhere in an exception's leading components
    /// answers yes.
    pub fn may_include_below(&self, dir: &str) -> bool {
        let dir = clean(dir);
        let dir: Vec<&str> = dir
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        self.patterns.iter().filter(|p| p.exception).any(|p| {
            if p.cleaned.contains('[') {
                // A character class may match `/` (moby copies classes into its regex as they
                // are), so components cannot be compared one by one: descend.
                return true;
            }
            let comps: Vec<&str> = p.cleaned.split('/').collect();
            for (i, d) in dir.iter().enumerate() {
                let Some(c) = comps.get(i) else {
                    return false;
                };
                if c.contains("**") {
                    return true;
                }
                if !component_matches(c, d) {
                    return false;
                }
            }
            comps.len() > dir.len()
        })
    }
}

/// Whether one glob component (no `/`, no `**`) matches one path component.
fn component_matches(glob: &str, name: &str) -> bool {
    match compile(glob) {
        Ok(Kind::Exact) => glob == name,
        Ok(kind) => Pattern {
            cleaned: glob.to_owned(),
            exception: false,
            kind,
        }
        .matches(name),
        Err(_) => false,
    }
}

/// Go's `filepath.Clean` for `/`-separated paths.
fn clean(path: &str) -> String {
    if path.is_empty() {
        return ".".to_owned();
    }
    let rooted = path.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if rooted => {}
                _ => out.push(".."),
            },
            p => out.push(p),
        }
    }
    let joined = out.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// The syntax check of Go's `filepath.Match`: classes closed and non-empty, ranges complete,
/// no dangling `\`.
fn validate(glob: &str) -> Result<(), &'static str> {
    const BAD: &str = "bad pattern syntax (an unclosed `[`, an empty class, or a trailing `\\`)";
    let b = glob.as_bytes();
    let mut i = 0;
    // One class member: a char or an escaped char, never `-` or `]` bare.
    let esc = |i: &mut usize| -> Result<(), &'static str> {
        match b.get(*i) {
            None | Some(b'-' | b']') => Err(BAD),
            Some(b'\\') => {
                *i += 1;
                if *i >= b.len() {
                    return Err(BAD);
                }
                *i += utf8_len(b[*i]);
                Ok(())
            }
            Some(&c) => {
                *i += utf8_len(c);
                Ok(())
            }
        }
    };
    while i < b.len() {
        match b[i] {
            b'\\' => {
                i += 1;
                if i >= b.len() {
                    return Err(BAD);
                }
                i += utf8_len(b[i]);
            }
            b'[' => {
                i += 1;
                if b.get(i) == Some(&b'^') {
                    i += 1;
                }
                let mut members = 0;
                loop {
                    if b.get(i) == Some(&b']') && members > 0 {
                        i += 1;
                        break;
                    }
                    esc(&mut i)?;
                    if b.get(i) == Some(&b'-') {
                        i += 1;
                        esc(&mut i)?;
                    }
                    members += 1;
                }
            }
            c => i += utf8_len(c),
        }
    }
    Ok(())
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0.. => 4,
        0xe0.. => 3,
        0xc0.. => 2,
        _ => 1,
    }
}

/// moby's `Pattern.compile`: plain patterns compare, `dir/**` and `**/name` test a prefix or
/// suffix, everything else becomes an anchored regex that also matches below the path.
fn compile(glob: &str) -> Result<Kind, &'static str> {
    #[derive(PartialEq)]
    enum T {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut t = T::Exact;
    let mut re = String::from("^");
    let chars: Vec<char> = glob.chars().collect();
    let mut i = 0;
    let mut first = true;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        match ch {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if t == T::Exact {
                        t = T::Prefix;
                    } else {
                        re.push_str(".*");
                        t = T::Regex;
                    }
                } else {
                    re.push_str("(.*/)?");
                    t = T::Regex;
                }
                if first {
                    t = T::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                t = T::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                t = T::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(ch);
            }
            '\\' => {
                re.push('\\');
                if let Some(&next) = chars.get(i) {
                    re.push(next);
                    i += 1;
                }
            }
            '[' | ']' => {
                re.push(ch);
                t = T::Regex;
            }
            c => re.push(c),
        }
        first = false;
    }
    Ok(match t {
        T::Exact => Kind::Exact,
        T::Prefix => Kind::Prefix(glob[..glob.len() - 2].to_owned()),
        T::Suffix => Kind::Suffix(glob[2..].to_owned()),
        T::Regex => {
            re.push_str("(/.*)?$");
            Kind::Regex(Regex::new(&re).map_err(|_| "pattern does not compile")?, re)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_is_gos() {
        for (i, o) in [
            ("", "."),
            ("a/b/../c", "a/c"),
            ("./a//b/", "a/b"),
            ("/../a", "/a"),
            ("../../a", "../../a"),
            ("a/..", "."),
            ("/", "/"),
        ] {
            assert_eq!(clean(i), o, "{i}");
        }
    }

    /// The one automaton decides every path as trying each pattern against the path and each of
    /// its parents does.
    #[test]
    fn the_automaton_agrees_with_the_patterns_one_by_one() {
        let lists = [
            "target\n*.log\n!keep.log\n**/*.tmp\n",
            "**\n!src\n!src/**\nsrc/gen\n!src/gen/keep.rs\n",
            "**name\n**/node_modules\ndocs/**\n!docs/api/**\na/**/b\n",
            "a\\b\n[a-c]*/x\n?.md\n!b?.md\n*/*/deep\n**\n!**/*.rs\n",
            ".git\nbuild/\n/abs/x\n./dot/y\n!*/\n[^a]x/**\n",
        ];
        let comps = [
            "a",
            "b",
            "src",
            "gen",
            "keep.rs",
            "x.log",
            "keep.log",
            "node_modules",
            "docs",
            "api",
            "y.tmp",
            "name",
            "myname",
            "a\\b",
            "bx",
            "cx",
            "q.md",
            "bq.md",
            "deep",
            "target",
            "build",
            "abs",
            "x",
            "dot",
            "y",
            ".git",
            "m.rs",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        for list in lists {
            let ignore = DockerIgnore::parse(list).expect(list);
            assert!(ignore.all.is_some(), "{list}: the automaton builds");
            for _ in 0..3000 {
                let depth = 1 + next(5);
                let path: Vec<&str> = (0..depth).map(|_| comps[next(comps.len())]).collect();
                let path = path.join("/");
                assert_eq!(
                    ignore.is_excluded(&path, false),
                    ignore.is_excluded_one_by_one(&clean(&path)),
                    "{list:?}: {path}"
                );
            }
        }
    }

    #[test]
    fn bad_patterns_name_their_line() {
        for bad in ["[", "a[]", "[a-]", "x\\", "[-a]", "!"] {
            let e = DockerIgnore::parse(&format!("ok\n# c\n{bad}\n")).expect_err(bad);
            assert_eq!(e.line(), 3, "{bad}: {e}");
            assert_eq!(e.pattern(), bad);
            let kind = if bad == "!" {
                DockerIgnoreErrorKind::EmptyException
            } else {
                DockerIgnoreErrorKind::Syntax
            };
            assert_eq!(e.kind(), kind, "{bad}: {e}");
            assert!(e.to_string().contains("line 3"), "{e}");
        }
        assert!(DockerIgnore::parse("[]]\n[^a]\n\\[\n").is_err());
        assert!(DockerIgnore::parse("[^a]\n\\[\n[a-c]\n").is_ok());
    }
}
