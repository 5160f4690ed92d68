//! A rule set compiled for scanning: one keyword automaton, a regex per rule, allowlists.
//!
//! Design (the numbers behind it are in BENCHMARKS.md): every keyword of every rule goes into
//! one ASCII case-insensitive Aho-Corasick DFA, run once over the input. A rule's regex runs only
//! on a line where one of its keywords occurs — most rules never run on most lines — or, for
//! rules written to span lines (PEM blocks), on a bounded window starting at that line. The few
//! rules without keywords run their regex over each block, jumping line by line. Entropy,
//! stopwords and allowlists are checked only after a match.
//!
//! Composite rules (gitleaks' `[[rules.required]]`) are linked here: each required id becomes a
//! *partner* slot. A partner runs over every line of a file (as gitleaks runs a required rule
//! over the whole fragment, whatever its keywords), so only configs with composite rules pay
//! for it; the scanner records where partners match and decides on the primaries' findings at
//! the end of the file.

use aho_corasick::{AhoCorasick, AhoCorasickKind};

use super::config::{ConfigError, Repr};
use super::regex::{Checked, LazyRegex, spans_lines};
use super::rule::{Category, Condition, Confidence, CryptoInfo, RegexTarget, RuleSet, Severity};

/// A compiled allowlist.
#[derive(Debug)]
pub(crate) struct CAllow {
    pub(crate) regexes: Option<LazyRegex>,
    pub(crate) target: RegexTarget,
    pub(crate) stopwords: Option<Stopwords>,
    pub(crate) paths: Option<LazyRegex>,
    pub(crate) condition: Condition,
    /// Lowers what it covers to this confidence instead of dropping it.
    pub(crate) confidence: Option<Confidence>,
    /// Whether it has any check capstan evaluates (an allowlist of only `commits` has none).
    pub(crate) has_checks: bool,
}

/// An allowlist's stopwords, ASCII case-insensitive. gitleaks' generic rule has ~1,500: one
/// automaton instead of a substring search per word, built the first time a candidate is
/// checked (most scans never check one).
#[derive(Debug)]
pub(crate) struct Stopwords {
    words: Box<[Box<[u8]>]>,
    automaton: std::sync::OnceLock<Option<AhoCorasick>>,
}

impl Stopwords {
    /// Whether any stopword occurs in `secret`.
    fn occur_in(&self, secret: &[u8]) -> bool {
        let automaton = self.automaton.get_or_init(|| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&self.words)
                .ok()
        });
        match automaton {
            Some(ac) => ac.is_match(secret),
            // Unreachable in practice (an automaton past 2^31 states); the same answer, slower.
            None => self.words.iter().any(|w| {
                secret
                    .windows(w.len().max(1))
                    .any(|s| s.eq_ignore_ascii_case(w))
            }),
        }
    }
}

/// What an allowlist check needs to see.
pub(crate) struct Candidate<'a> {
    pub(crate) secret: &'a [u8],
    pub(crate) whole: &'a [u8],
    pub(crate) line: &'a [u8],
}

impl CAllow {
    /// Whether this allowlist suppresses the candidate; `path_hit` is precomputed per file.
    pub(crate) fn allows(&self, c: &Candidate<'_>, path_hit: Option<bool>) -> bool {
        if !self.has_checks {
            return false;
        }
        // A pattern that could not be built allows nothing (see `LazyRegex::get`).
        let regex = self.regexes.as_ref().map(|re| {
            let target = match self.target {
                RegexTarget::Secret => c.secret,
                RegexTarget::Match => c.whole,
                RegexTarget::Line => c.line,
            };
            re.get().is_some_and(|re| re.is_match(target))
        });
        let stop = self.stopwords.as_ref().map(|s| s.occur_in(c.secret));
        let checks = [regex, stop, path_hit];
        match self.condition {
            Condition::Or => checks.contains(&Some(true)),
            Condition::And => {
                checks.iter().any(Option::is_some) && checks.iter().all(|c| *c != Some(false))
            }
        }
    }

    pub(crate) fn path_hit(&self, path: &str) -> Option<bool> {
        self.paths
            .as_ref()
            .map(|re| re.get().is_some_and(|re| re.is_match(path.as_bytes())))
    }
}

/// A compiled rule.
#[derive(Debug)]
pub(crate) struct CRule {
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) category: Category,
    pub(crate) severity: Severity,
    pub(crate) confidence: Confidence,
    pub(crate) tags: Vec<String>,
    pub(crate) crypto: Option<CryptoInfo>,
    pub(crate) skip_report: bool,
    /// Drop matches whose secret looks like a placeholder (see `placeholder.rs`).
    pub(crate) skip_placeholders: bool,
    pub(crate) regex: Option<LazyRegex>,
    pub(crate) secret_group: Option<usize>,
    pub(crate) entropy: Option<f64>,
    /// A match whose secret fails this checksum is dropped; one that passes is marked.
    pub(crate) checksum: Option<super::Checksum>,
    /// Shared by the rules with the same path pattern (a dozen Dockerfile rules have one): built
    /// once.
    pub(crate) path: Option<std::sync::Arc<LazyRegex>>,
    pub(crate) multiline: bool,
    /// Indexes into `Rules::allows`: the rule's own and the global ones that target it.
    pub(crate) allows: Vec<usize>,
    /// Has a regex and no keywords: its reporting pass already visits every match in a file.
    pub(crate) everywhere: bool,
    /// A composite primary's requirements, one per distinct required id (empty for rules that
    /// aren't composite, and for those gitleaks never checks: path-only and `skipReport` ones).
    pub(crate) required: Vec<CRequired>,
    /// Its slot in `Composite::partners`, when some composite rule requires it.
    pub(crate) partner: Option<usize>,
}

/// One required id of a composite primary: satisfied when a match of one of `partners` lies
/// within one of the `near` bounds (gitleaks lists may name an id twice, and a match counts for
/// the id whichever entry it satisfied).
#[derive(Debug)]
pub(crate) struct CRequired {
    /// Slots in `Composite::partners` of the rules with this id (none: the id names no rule of the
    /// set, say a disabled one, and the primary never reports).
    pub(crate) partners: Vec<usize>,
    pub(crate) near: Vec<Near>,
}

/// How close a required match must be to the primary's (`None`: anywhere in the file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Near {
    pub(crate) lines: Option<i64>,
    pub(crate) columns: Option<i64>,
}

/// A rule that some composite rule requires.
#[derive(Debug)]
pub(crate) struct Partner {
    pub(crate) rule: u32,
    /// Whether some requirement on it bounds lines / columns (otherwise presence is enough and
    /// the scanner keeps no positions).
    pub(crate) lines: bool,
    pub(crate) columns: bool,
}

/// A rule set compiled for scanning; `Send + Sync`, built once and shared by every thread.
///
/// ```
/// use capstan::scan::{RuleSet, Rules};
///
/// let set = RuleSet::from_toml(r#"
///     [[rules]]
///     id = "internal-token"
///     regex = '''\b(itk_[a-z0-9]{32})\b'''
///     keywords = ["itk_"]
/// "#)?;
/// let rules = Rules::compile(&set)?;
/// let found = rules.scan_bytes("app.env", b"TOKEN=itk_0123456789abcdef0123456789abcdef\n");
/// assert_eq!(found.len(), 1);
/// assert_eq!((found[0].line, found[0].column), (1, 7));
/// assert_eq!(found[0].secret, "itk_…");
/// # Ok::<(), capstan::scan::ConfigError>(())
/// ```
#[derive(Debug)]
pub struct Rules {
    pub(crate) rules: Vec<CRule>,
    pub(crate) allows: Vec<CAllow>,
    /// Global allowlists without target rules that only check paths: a hit skips the file.
    pub(crate) file_skips: Vec<usize>,
    pub(crate) keywords: Option<Keywords>,
    /// Bytes in the longest keyword.
    pub(crate) max_keyword: usize,
    /// Keyword pattern index → the rules that listed it.
    pub(crate) keyword_rules: Vec<Vec<u32>>,
    /// Rules with a regex and no keywords.
    pub(crate) keywordless: Vec<u32>,
    /// Rules with a path and no regex.
    pub(crate) path_only: Vec<u32>,
    /// Rules with a path pattern (the others apply to every file).
    pub(crate) path_scoped: Vec<u32>,
    /// Allowlists with path patterns (the others never match on the path alone).
    pub(crate) path_allows: Vec<u32>,
    /// Composite rules and the rules they require.
    pub(crate) composite: Composite,
    /// A digest of the rule set and the capstan version: what cached results depend on.
    pub(crate) digest: [u8; 32],
}

impl Rules {
    /// Compiles a loaded rule set.
    ///
    /// The keyword automaton and the rule set's digest are built on threads of their own while
    /// the rules are: together they are most of a start-up (the built-in packs have 1,200
    /// keywords).
    pub fn compile(set: &RuleSet) -> Result<Rules, ConfigError> {
        let mut index = KeywordIndex::default();
        for (ri, r) in (0u32..).zip(&set.rules) {
            if r.regex.is_some() {
                for k in r.keywords.iter().filter(|k| !k.is_empty()) {
                    index.add(k, ri);
                }
            }
        }
        if set.rules.len() > u32::MAX as usize {
            return Err(ConfigError::new(Repr::Toml(
                "more than 4 billion rules".into(),
            )));
        }
        let words = std::mem::take(&mut index.list);
        let max_keyword = words.iter().map(String::len).max().unwrap_or(0);
        let build_keywords = || Keywords::new(words.clone());
        let hash = || digest(set);
        std::thread::scope(|scope| {
            let keywords = crate::exec::on_a_thread(scope, &build_keywords);
            let digest = crate::exec::on_a_thread(scope, &hash);
            let mut rules = Rules::compile_rules(set, index.rules, max_keyword)?;
            rules.keywords = keywords()?;
            rules.digest = digest();
            Ok(rules)
        })
    }

    /// Everything but the keyword automaton and the digest (see [`Rules::compile`]).
    fn compile_rules(
        set: &RuleSet,
        keyword_rules: Vec<Vec<u32>>,
        max_keyword: usize,
    ) -> Result<Rules, ConfigError> {
        let mut allows = Vec::new();
        let mut global = Vec::new();
        let mut file_skips = Vec::new();
        let global_allows =
            crate::exec::par_map(&set.allowlists, 8, |a| compile_allow(a, &set.checked));
        for (a, compiled) in set.allowlists.iter().zip(global_allows) {
            let idx = allows.len();
            allows.push(compiled.map_err(|e| ConfigError::new(Repr::Regex(e)))?);
            if a.target_rules.is_empty() && a.regexes.is_empty() && a.stopwords.is_empty() {
                file_skips.push(idx);
            }
            global.push((idx, &a.target_rules));
        }

        let mut checked = check_rules(&set.rules, &set.checked).into_iter();
        let mut rules = Vec::with_capacity(set.rules.len());
        let mut keywordless = Vec::new();
        let mut path_only = Vec::new();
        let mut paths: hashbrown::HashMap<&str, std::sync::Arc<LazyRegex>> =
            hashbrown::HashMap::new();
        for (ri, r) in (0u32..).zip(&set.rules) {
            let err = |e: String| {
                let mut ce = ConfigError::new(Repr::Regex(e));
                ce.set_rule(&r.id);
                ce
            };
            let (regex, path, own_allows) = checked.next().unwrap_or((Ok(None), Ok(None), vec![]));
            let (regex, path) = (regex.map_err(err)?, path.map_err(err)?);
            let path = path.zip(r.path.as_deref()).map(|(built, text)| {
                std::sync::Arc::clone(
                    paths
                        .entry(text)
                        .or_insert_with(|| std::sync::Arc::new(built)),
                )
            });
            let mut rule_allows = Vec::new();
            for a in own_allows {
                rule_allows.push(allows.len());
                allows.push(a.map_err(err)?);
            }
            for &(idx, targets) in &global {
                if targets.is_empty() || targets.contains(&r.id) {
                    rule_allows.push(idx);
                }
            }
            let keywords = r.keywords.iter().any(|k| !k.is_empty());
            if regex.is_some() {
                if !keywords {
                    keywordless.push(ri);
                }
            } else if path.is_some() {
                path_only.push(ri);
            }
            let multiline = r.multiline || r.regex.as_deref().is_some_and(spans_lines);
            rules.push(CRule {
                id: r.id.clone(),
                description: r.description.clone(),
                category: r.category,
                severity: r.severity,
                confidence: r.confidence,
                tags: r.tags.clone(),
                crypto: r.crypto.clone(),
                skip_report: r.skip_report,
                skip_placeholders: r.skip_placeholders,
                everywhere: regex.is_some() && !keywords,
                required: Vec::new(),
                partner: None,
                regex,
                secret_group: r.secret_group,
                entropy: r.entropy,
                checksum: r.checksum,
                path,
                multiline,
                allows: rule_allows,
            });
        }
        let with = |has: &dyn Fn(usize) -> bool, n: usize| {
            (0..n).filter(|&i| has(i)).map(|i| i as u32).collect()
        };
        let path_scoped = with(&|i| rules[i].path.is_some(), rules.len());
        let path_allows = with(&|i| allows[i].paths.is_some(), allows.len());
        let composite = link_required(set, &mut rules);
        Ok(Rules {
            rules,
            allows,
            file_skips,
            keywords: None,
            max_keyword,
            keyword_rules,
            keywordless,
            path_only,
            path_scoped,
            path_allows,
            composite,
            digest: [0; 32],
        })
    }

    /// A digest of the rule set this was compiled from and of the capstan version, as 64 hex
    /// digits: equal digests scan alike, so cached results keyed by it stay valid.
    pub fn digest(&self) -> String {
        hex(&self.digest)
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Scans one complete input under `path` with default options (redacted, text only).
    pub fn scan_bytes(&self, path: &str, bytes: &[u8]) -> Vec<super::Finding> {
        let mut s = super::Scanner::new(self).path(path);
        s.feed(bytes);
        s.finish()
    }
}

/// Every distinct keyword, in first-seen order, and the rules that listed it.
#[derive(Default)]
struct KeywordIndex {
    slots: hashbrown::HashMap<String, usize>,
    list: Vec<String>,
    rules: Vec<Vec<u32>>,
}

impl KeywordIndex {
    fn add(&mut self, keyword: &str, rule: u32) {
        let slot = *self.slots.entry(keyword.to_owned()).or_insert_with(|| {
            self.list.push(keyword.to_owned());
            self.rules.push(Vec::new());
            self.list.len() - 1
        });
        if !self.rules[slot].contains(&rule) {
            self.rules[slot].push(rule);
        }
    }
}

/// Composite rules (`[[rules.required]]`) and the rules they require, linked.
#[derive(Debug, Default)]
pub(crate) struct Composite {
    /// Rules that composite rules require, by slot.
    pub(crate) partners: Vec<Partner>,
    /// Partners with a regex and keywords, on one line: they get a pass of their own over every
    /// line where their regex matches. (Keywordless partners are found by their reporting pass,
    /// which already goes everywhere; multi-line ones by theirs too, from their keywords' lines,
    /// where capstan's multi-line windows start.)
    pub(crate) partner_pass: Vec<u32>,
    /// Composite primaries (rules with a non-empty `CRule::required`).
    pub(crate) primaries: Vec<u32>,
}

/// Resolves every composite rule's `[[rules.required]]` ids to partner slots, filling
/// `CRule::required` and `CRule::partner`.
///
/// As in gitleaks (detect.go, `detectRule`): a path-only rule reports before its requirements
/// are looked at, and a `skipReport` rule never reports, so neither needs partners.
fn link_required(set: &RuleSet, rules: &mut [CRule]) -> Composite {
    let mut by_id: hashbrown::HashMap<&str, Vec<u32>> = hashbrown::HashMap::new();
    for (i, r) in set.rules.iter().enumerate() {
        by_id.entry(r.id.as_str()).or_default().push(i as u32);
    }
    let mut partners: Vec<Partner> = Vec::new();
    let mut slot_of: hashbrown::HashMap<u32, usize> = hashbrown::HashMap::new();
    let mut primaries = Vec::new();
    for (i, r) in set.rules.iter().enumerate() {
        if r.required.is_empty() || rules[i].regex.is_none() || r.skip_report {
            continue;
        }
        let mut groups: Vec<(&str, CRequired)> = Vec::new();
        for q in &r.required {
            let near = Near {
                lines: q.within_lines,
                columns: q.within_columns,
            };
            if let Some((_, g)) = groups.iter_mut().find(|(id, _)| *id == q.id) {
                g.near.push(near);
                continue;
            }
            groups.push((
                q.id.as_str(),
                CRequired {
                    partners: Vec::new(),
                    near: vec![near],
                },
            ));
        }
        for (id, g) in &mut groups {
            for &ri in by_id.get(*id).map_or(&[][..], Vec::as_slice) {
                let slot = *slot_of.entry(ri).or_insert_with(|| {
                    partners.push(Partner {
                        rule: ri,
                        lines: false,
                        columns: false,
                    });
                    partners.len() - 1
                });
                partners[slot].lines |= g.near.iter().any(|n| n.lines.is_some());
                partners[slot].columns |= g.near.iter().any(|n| n.columns.is_some());
                g.partners.push(slot);
            }
        }
        rules[i].required = groups.into_iter().map(|(_, g)| g).collect();
        primaries.push(i as u32);
    }
    for (slot, p) in partners.iter().enumerate() {
        rules[p.rule as usize].partner = Some(slot);
    }
    let partner_pass = partners
        .iter()
        .map(|p| p.rule)
        .filter(|&ri| {
            let r = &rules[ri as usize];
            r.regex.is_some() && !r.everywhere && !r.multiline
        })
        .collect();
    Composite {
        partners,
        partner_pass,
        primaries,
    }
}

/// A digest of every field that affects what a scan reports, and of the version (which covers
/// changes to the engine itself). A rule's examples don't affect a scan and are left out (they
/// are most of a pack's text); naming every field, with no `..`, makes a new field a compile
/// error here until it is hashed or said not to matter.
fn digest(set: &RuleSet) -> [u8; 32] {
    use std::fmt::Write as _;
    /// Feeds formatted text straight into the hash (no string is built).
    struct Feed(blake3::Hasher);
    impl std::fmt::Write for Feed {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            self.0.update(s.as_bytes());
            Ok(())
        }
    }
    let mut h = Feed(blake3::Hasher::new());
    h.0.update(crate::VERSION.as_bytes());
    h.0.update(b"\0");
    let RuleSet {
        rules,
        allowlists,
        checked: _,
    } = set;
    for rule in rules {
        let super::rule::Rule {
            id,
            description,
            category,
            severity,
            confidence,
            regex,
            secret_group,
            entropy,
            keywords,
            checksum,
            path,
            tags,
            multiline,
            crypto,
            allowlists,
            skip_report,
            skip_placeholders,
            required,
            examples: _,
            counterexamples: _,
            example_path: _,
        } = rule;
        let _ = write!(
            h,
            "{id:?}{description:?}{category:?}{severity:?}{confidence:?}{regex:?}{secret_group:?}{entropy:?}\
             {keywords:?}{checksum:?}{path:?}{tags:?}{multiline:?}{crypto:?}{allowlists:?}\
             {skip_report:?}{skip_placeholders:?}{required:?};"
        );
    }
    let _ = write!(h, "{allowlists:?}");
    *h.0.finalize().as_bytes()
}

/// Lowercase hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A rule's regex, path regex and own allowlists, checked.
type CheckedRule = (
    Result<Option<LazyRegex>, String>,
    Result<Option<LazyRegex>, String>,
    Vec<Result<CAllow, String>>,
);

/// Each rule's patterns, ready to be built on first use (see [`LazyRegex`]). Patterns the
/// rule set checked when it loaded are not parsed again; any other is checked now, on all
/// cores (a rule set whose patterns were changed after loading, say).
fn check_rules(rules: &[super::rule::Rule], checked: &Checked) -> Vec<CheckedRule> {
    let lazy = |re: &str| LazyRegex::prepared(&[re], checked);
    let unchecked = |re: &Option<String>| re.as_deref().is_some_and(|re| checked.get(re).is_none());
    let min_items = if rules
        .iter()
        .any(|r| unchecked(&r.regex) || unchecked(&r.path))
    {
        32
    } else {
        usize::MAX
    };
    crate::exec::par_map(rules, min_items, |r| {
        (
            r.regex.as_deref().map(lazy).transpose(),
            r.path.as_deref().map(lazy).transpose(),
            r.allowlists
                .iter()
                .map(|a| compile_allow(a, checked))
                .collect(),
        )
    })
}

/// Bytes a rule set scans with the keyword NFA before it builds the DFA: about where the
/// DFA's build (4 ms for the 500 keywords the built-in packs had when this was measured; they
/// have 1,200 now) pays for itself, since it walks 2.4 times faster (BENCHMARKS.md, "Instant
/// start").
const DFA_AFTER: u64 = 1 << 20;

/// Every distinct keyword in one ASCII case-insensitive Aho-Corasick automaton: a contiguous
/// NFA, quick to build, for the first megabyte a rule set scans (a pre-commit hook's handful
/// of files), then a DFA, built once by the first thread to cross that mark.
#[derive(Debug)]
pub(crate) struct Keywords {
    words: Box<[String]>,
    nfa: AhoCorasick,
    dfa: std::sync::OnceLock<Option<AhoCorasick>>,
    /// Bytes scanned with the NFA so far.
    fed: std::sync::atomic::AtomicU64,
}

impl Keywords {
    fn new(words: Vec<String>) -> Result<Option<Keywords>, ConfigError> {
        if words.is_empty() {
            return Ok(None);
        }
        let nfa = automaton(&words, AhoCorasickKind::ContiguousNFA)
            .or_else(|_| automaton(&words, AhoCorasickKind::NoncontiguousNFA))
            .map_err(|e| ConfigError::new(Repr::Regex(format!("keywords: {e}"))))?;
        Ok(Some(Keywords {
            words: words.into_boxed_slice(),
            nfa,
            dfa: std::sync::OnceLock::new(),
            fed: std::sync::atomic::AtomicU64::new(0),
        }))
    }

    /// The automaton to scan the next `bytes` with. Both find the same matches.
    pub(crate) fn searcher(&self, bytes: usize) -> &AhoCorasick {
        use std::sync::atomic::Ordering::Relaxed;
        if let Some(Some(dfa)) = self.dfa.get() {
            return dfa;
        }
        if self.fed.fetch_add(bytes as u64, Relaxed) >= DFA_AFTER {
            // A DFA too big to build leaves the NFA in charge.
            let dfa = self
                .dfa
                .get_or_init(|| automaton(&self.words, AhoCorasickKind::DFA).ok());
            if let Some(dfa) = dfa {
                return dfa;
            }
        }
        &self.nfa
    }
}

fn automaton(
    words: &[String],
    kind: AhoCorasickKind,
) -> Result<AhoCorasick, aho_corasick::BuildError> {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .kind(Some(kind))
        .build(words)
}

fn refs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

fn compile_allow(a: &super::rule::Allowlist, checked: &Checked) -> Result<CAllow, String> {
    let regexes = (!a.regexes.is_empty())
        .then(|| LazyRegex::prepared(&refs(&a.regexes), checked))
        .transpose()?;
    let paths = (!a.paths.is_empty())
        .then(|| LazyRegex::prepared(&refs(&a.paths), checked))
        .transpose()?;
    let words: Vec<&str> = a
        .stopwords
        .iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
    let stopwords = (!words.is_empty()).then(|| Stopwords {
        words: words.iter().map(|w| w.as_bytes().into()).collect(),
        automaton: std::sync::OnceLock::new(),
    });
    let has_checks = regexes.is_some() || paths.is_some() || stopwords.is_some();
    Ok(CAllow {
        regexes,
        target: a.regex_target,
        stopwords,
        paths,
        condition: a.condition,
        confidence: a.confidence,
        has_checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(rules: &Rules) -> Vec<&str> {
        rules
            .rules
            .iter()
            .filter(|r| r.regex.as_ref().is_some_and(LazyRegex::is_built))
            .map(|r| r.id.as_str())
            .collect()
    }

    #[test]
    fn only_the_rules_an_input_needs_build_their_regexes() {
        let rules = Rules::compile(&RuleSet::builtin_all().expect("packs")).expect("compiles");
        assert!(built(&rules).is_empty(), "compiling builds no searcher");
        let found = rules.scan_bytes(
            ".env",
            b"GITHUB_TOKEN=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\n",
        );
        assert!(
            found.iter().any(|f| f.rule_id == "github-classic-pat"),
            "{found:?}"
        );
        let now = built(&rules);
        assert!(now.contains(&"github-classic-pat"), "{now:?}");
        assert!(
            now.len() < rules.len() / 4,
            "{} of {} built",
            now.len(),
            rules.len()
        );
    }

    #[test]
    fn the_keyword_dfa_takes_over_after_a_megabyte_and_finds_the_same() {
        let rules = Rules::compile(&RuleSet::builtin_all().expect("packs")).expect("compiles");
        let input: &[u8] = b"GITHUB_TOKEN=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\n\
            -----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n";
        let keywords = rules.keywords.as_ref().expect("keywords");
        let with_nfa = rules.scan_bytes(".env", input);
        assert!(keywords.dfa.get().is_none(), "a small input builds no DFA");
        assert!(!with_nfa.is_empty(), "{with_nfa:?}");
        let filler = b"let token = lookup(key); // nothing here\n".repeat(30_000);
        assert!(rules.scan_bytes("big.rs", &filler).is_empty());
        assert!(
            matches!(keywords.dfa.get(), Some(Some(_))),
            "built past 1 MiB"
        );
        assert_eq!(rules.scan_bytes(".env", input), with_nfa);
    }

    #[test]
    fn the_digest_follows_what_a_scan_reports_and_not_the_examples() {
        let set = RuleSet::from_toml(
            "[[rules]]\nid = \"t\"\nregex = 'tok_[a-z]{8}'\nkeywords = [\"tok_\"]\n",
        )
        .expect("loads");
        let base = digest(&set);
        let mut examples = set.clone();
        examples.rules[0].examples.push("tok_abcdefgh".into());
        assert_eq!(digest(&examples), base, "examples don't change a scan");
        for change in [
            |r: &mut super::super::rule::Rule| r.regex = Some("tok_[a-z]{9}".into()),
            |r: &mut super::super::rule::Rule| r.description = "other".into(),
            |r: &mut super::super::rule::Rule| r.entropy = Some(3.0),
            |r: &mut super::super::rule::Rule| r.keywords.push("x".into()),
        ] {
            let mut changed = set.clone();
            change(&mut changed.rules[0]);
            assert_ne!(digest(&changed), base);
        }
    }
}
