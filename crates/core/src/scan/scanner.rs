//! The streaming scanner: feed it chunks of any size; findings don't depend on where the chunks
//! split, and memory stays bounded by the window sizes below, not by the input.
//!
//! The input is processed in blocks of complete lines. A line longer than [`MAX_LINE`] is cut
//! into pieces at fixed offsets from its start (each piece overlapping the next by
//! [`OVERLAP`]), so even a 1 GB file without a newline is scanned in bounded memory, and the
//! cut points depend only on the content. Multi-line rules wait until [`MULTILINE_WINDOW`]
//! bytes past their keyword's line are buffered (or the input ends).
//!
//! Composite rules (gitleaks' `[[rules.required]]`): a primary's findings are held until
//! [`Scanner::finish`], and the rules it requires run over every line in a second role, in
//! which they never report and only their positions are kept (a flag when no requirement
//! bounds the distance; lines, columns or both otherwise). At the end a held finding is kept
//! when every required id has a match close enough. Memory grows with those matches and the
//! held findings, never with the input.

use memchr::{memchr, memrchr};
use regex_automata::util::captures::Captures;
use regex_automata::{Anchored, Input};

use std::sync::Arc;

use super::engine::{CRule, Candidate, Near, Rules};
use super::finding::{Finding, Verified, fingerprint, redact, shannon_entropy};
use super::regex::LazyRegex;
use super::rule::{Category, Confidence};

/// Lines longer than this are scanned in pieces.
pub const MAX_LINE: usize = 128 << 10;
/// How much consecutive pieces of a long line overlap: a match shorter than this is never cut.
pub const OVERLAP: usize = 4 << 10;
/// How far past its keyword's line a multi-line rule (a PEM block) may match.
pub const MULTILINE_WINDOW: usize = 32 << 10;
/// Binary detection looks for a NUL in this many leading bytes.
pub const BINARY_PROBE: usize = 8 << 10;
/// Input is taken in steps of this size, so one huge `feed` doesn't grow the buffer.
const STEP: usize = 1 << 20;

/// Why a rule runs: to report its findings, or as a partner that a composite rule requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Its matches are findings (unless it is `skipReport`); a composite primary's are held.
    Report,
    /// Only where it matches is recorded, for the composite rules that require it.
    Partner,
}

/// Where a partner matched in this file, as gitleaks measures it: (line, column) of each
/// match's start, with a coordinate left at 0 when no requirement bounds it. Kept at most
/// about twice the distinct positions (sorted and deduplicated as it doubles).
#[derive(Debug, Default)]
struct PartnerHits {
    seen: bool,
    at: Vec<(u64, u64)>,
    /// `at` is compacted when it reaches this length.
    compact_at: usize,
}

impl PartnerHits {
    fn push(&mut self, at: (u64, u64)) {
        if self.at.last() == Some(&at) {
            return;
        }
        self.at.push(at);
        if self.at.len() >= self.compact_at {
            self.compact();
            self.compact_at = (self.at.len() * 2).max(1024);
        }
    }

    fn compact(&mut self) {
        self.at.sort_unstable();
        self.at.dedup();
    }

    /// Whether a match lies within `near` of a primary match at (`line`, `column`); `at` is
    /// sorted.
    fn near(&self, line: u64, column: u64, near: Near) -> bool {
        if !self.seen {
            return false;
        }
        let within = |a: u64, b: u64, n: i64| u64::try_from(n).is_ok_and(|n| a.abs_diff(b) <= n);
        match (near.lines, near.columns) {
            (None, None) => true,
            (Some(n), columns) => {
                let Ok(n) = u64::try_from(n) else {
                    return false;
                };
                let from = self
                    .at
                    .partition_point(|&(l, _)| l < line.saturating_sub(n));
                self.at[from..]
                    .iter()
                    .take_while(|&&(l, _)| l <= line.saturating_add(n))
                    .any(|&(_, c)| columns.is_none_or(|m| within(c, column, m)))
            }
            (None, Some(m)) => self.at.iter().any(|&(_, c)| within(c, column, m)),
        }
    }
}

/// gitleaks' column for a match at 1-based `column` of `line`: it counts a line's columns from
/// the newline before it, so every line but a fragment's first starts at column 2 (gitleaks
/// detect/location.go, `location`). Proximity is measured in these columns; a file is one
/// fragment here.
fn gitleaks_column(line: u64, column: u64) -> u64 {
    if line > 1 { column + 1 } else { column }
}

/// A multi-line rule waiting for its window to fill.
#[derive(Debug, Clone, Copy)]
struct Pending {
    rule: u32,
    role: Role,
    /// Absolute offset of the window start (the keyword's line, or the piece start).
    start: u64,
    /// Absolute offset of the end of that line (matches must start before it).
    line_end: u64,
    /// Absolute offset of that line's true start, for columns.
    line_start: u64,
    line_no: u64,
}

/// Scans one input (a file, a stream) with compiled [`Rules`].
///
/// ```
/// use capstan::scan::{RuleSet, Rules, Scanner};
///
/// let rules = Rules::compile(&RuleSet::from_toml(r#"
///     [[rules]]
///     id = "internal-token"
///     regex = '''itk_[a-z0-9]{32}'''
///     keywords = ["itk_"]
/// "#)?)?;
/// let mut scanner = Scanner::new(&rules).path("config/app.env");
/// scanner.feed(b"# config\nTOKEN=itk_0123456789abcd");
/// scanner.feed(b"ef0123456789abcdef\n");
/// let findings = scanner.finish();
/// assert_eq!(findings.len(), 1);
/// assert_eq!((findings[0].line, findings[0].column), (2, 7));
/// # Ok::<(), capstan::scan::ConfigError>(())
/// ```
/// A C or Go host keeps a scanner across calls: [`Scanner::shared`] owns an `Arc` of its
/// rules, so the scanner lives as long as it needs to without a borrow.
#[derive(Debug)]
pub struct Scanner<'r> {
    rules: RulesRef<'r>,
    path: String,
    redact: bool,
    binary: bool,
    prepared: bool,
    /// The binary probe has run.
    probed: bool,
    skip: bool,
    /// Per rule: whether its `path` admits this file.
    active: Vec<bool>,
    /// Per allowlist: its path check on this file.
    allow_paths: Vec<Option<bool>>,
    buf: Vec<u8>,
    /// Absolute offset of `buf[0]`.
    base: u64,
    /// `buf[..scanned]` has been scanned.
    scanned: usize,
    /// `buf[scanned..newline_free]` is known to hold no newline (so byte-at-a-time feeding of
    /// a long line doesn't search it again and again).
    newline_free: usize,
    /// 1-based line number at `buf[scanned]`.
    line_no: u64,
    /// Absolute offset of the start of the line containing `buf[scanned]`.
    line_start: u64,
    pending: Vec<Pending>,
    /// Per rule: 1 + the absolute start of the last window it searched (0: none yet).
    last_window: Vec<u64>,
    /// The same for the partner role.
    last_partner_window: Vec<u64>,
    /// Findings, each with the absolute byte range of its secret (empty for path-only ones).
    findings: Vec<(Finding, Span)>,
    /// Composite primaries' findings (with the rule's index), decided on in `finish`.
    held: Vec<(u32, Finding, Span)>,
    /// Per partner slot: whether a composite rule that applies to this file requires it.
    partner_on: Vec<bool>,
    /// Per partner slot: where it matched.
    partner_hits: Vec<PartnerHits>,
    bytes: u64,
    /// Keyword hits of the current block (kept to reuse the allocation).
    hits: Vec<(usize, u32)>,
}

/// The rules a [`Scanner`] reads: borrowed (the tree walker, one per file, no reference count
/// touched) or shared (a scanner kept by a C or Go host).
#[derive(Debug, Clone)]
enum RulesRef<'r> {
    Borrowed(&'r Rules),
    Shared(Arc<Rules>),
}

impl RulesRef<'_> {
    fn get(&self) -> &Rules {
        match self {
            RulesRef::Borrowed(r) => r,
            RulesRef::Shared(r) => r,
        }
    }
}

impl Scanner<'static> {
    /// A scanner that keeps its rules alive itself, for a host that holds it across calls.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use capstan::scan::{RuleSet, Rules, Scanner};
    ///
    /// let rules = Arc::new(Rules::compile(&RuleSet::builtin(&["secrets"])?)?);
    /// let mut scanner = Scanner::shared(Arc::clone(&rules)).path(".env");
    /// drop(rules); // the scanner holds its own reference
    /// scanner.feed(b"GITHUB_TOKEN=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\n");
    /// assert_eq!(scanner.finish().len(), 1);
    /// # Ok::<(), capstan::scan::ConfigError>(())
    /// ```
    pub fn shared(rules: Arc<Rules>) -> Self {
        Self::with(RulesRef::Shared(rules))
    }
}

impl<'r> Scanner<'r> {
    /// A scanner for one input, reported under the path `-` until [`path`](Self::path) says
    /// otherwise.
    pub fn new(rules: &'r Rules) -> Self {
        Self::with(RulesRef::Borrowed(rules))
    }

    fn with(rules: RulesRef<'r>) -> Self {
        Scanner {
            rules,
            path: "-".to_owned(),
            redact: true,
            binary: false,
            prepared: false,
            probed: false,
            skip: false,
            active: Vec::new(),
            allow_paths: Vec::new(),
            buf: Vec::new(),
            base: 0,
            scanned: 0,
            newline_free: 0,
            line_no: 1,
            line_start: 0,
            pending: Vec::new(),
            last_window: Vec::new(),
            last_partner_window: Vec::new(),
            findings: Vec::new(),
            held: Vec::new(),
            partner_on: Vec::new(),
            partner_hits: Vec::new(),
            bytes: 0,
            hits: Vec::new(),
        }
    }

    /// The path the input is reported under; rules and allowlists with `path` patterns match
    /// against it. Set it before the first `feed`.
    pub fn path(mut self, path: &str) -> Self {
        path.clone_into(&mut self.path);
        self
    }

    /// Whether secrets are redacted in findings (default `true`).
    pub fn redact(mut self, on: bool) -> Self {
        self.redact = on;
        self
    }

    /// Whether binary input (a NUL in the first 8 KiB) is scanned anyway (default `false`).
    pub fn binary(mut self, on: bool) -> Self {
        self.binary = on;
        self
    }

    /// Bytes fed so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Bytes held in the scanner's window right now (bounded by about `MAX_LINE + OVERLAP +
    /// MULTILINE_WINDOW` plus one 1 MiB step, whatever the input size).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Whether the input was skipped (binary, or a global allowlist excludes its path).
    pub fn skipped(&self) -> bool {
        self.skip
    }

    fn prepare(&mut self) {
        if self.prepared {
            return;
        }
        self.prepared = true;
        let path = self.path.as_str();
        // Most rules and allowlists have no path pattern: fill, then visit only those that do.
        let held = self.rules.clone();
        let rules = held.get();
        // `allow_paths` stays empty when no allowlist has a path (see `allow_path`).
        self.allow_paths.clear();
        if !rules.path_allows.is_empty() {
            self.allow_paths.resize(rules.allows.len(), None);
        }
        for &i in &rules.path_allows {
            self.allow_paths[i as usize] = rules.allows[i as usize].path_hit(path);
        }
        self.active.clear();
        self.active.resize(rules.rules.len(), true);
        for &i in &rules.path_scoped {
            let r = &rules.rules[i as usize];
            self.active[i as usize] = r
                .path
                .as_ref()
                .is_none_or(|p| p.get().is_some_and(|p| p.is_match(path.as_bytes())));
        }
        self.partner_on.clear();
        self.partner_hits.clear();
        if !rules.composite.partners.is_empty() {
            self.partner_on
                .resize(rules.composite.partners.len(), false);
            self.partner_hits
                .resize_with(rules.composite.partners.len(), PartnerHits::default);
            for &ci in &rules.composite.primaries {
                if self.active[ci as usize] {
                    for g in &rules.rules[ci as usize].required {
                        for &slot in &g.partners {
                            self.partner_on[slot] = true;
                        }
                    }
                }
            }
        }
        if rules
            .file_skips
            .iter()
            .any(|&i| self.allow_path(i) == Some(true))
        {
            self.skip = true;
        }
    }

    /// Scans the next chunk of input.
    pub fn feed(&mut self, mut data: &[u8]) {
        self.prepare();
        self.bytes += data.len() as u64;
        if self.skip {
            return;
        }
        while !data.is_empty() {
            let take = data.len().min(STEP);
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.process(false);
            if self.skip {
                return;
            }
        }
    }

    /// Scans what is left and returns every finding, ordered by position then rule.
    pub fn finish(mut self) -> Vec<Finding> {
        self.prepare();
        if !self.skip {
            self.process(true);
        }
        if !self.skip {
            self.path_only_findings();
            self.decide_composites();
        }
        let mut findings = std::mem::take(&mut self.findings);
        findings.sort_by(|(a, _), (b, _)| {
            (a.line, a.column, &a.rule_id, a.end_line, a.end_column).cmp(&(
                b.line,
                b.column,
                &b.rule_id,
                b.end_line,
                b.end_column,
            ))
        });
        findings.dedup_by(|(a, _), (b, _)| {
            a.rule_id == b.rule_id
                && (a.line, a.column, a.end_line, a.end_column)
                    == (b.line, b.column, b.end_line, b.end_column)
        });
        yield_generic(findings)
    }

    /// Whether allowlist `a`'s path patterns match this input (`None`: it has none).
    fn allow_path(&self, a: usize) -> Option<bool> {
        self.allow_paths.get(a).copied().flatten()
    }

    /// The confidence of a candidate of `rule`, or `None` when an allowlist (or an inline
    /// `capstan:allow`) drops it: a secret in its provider's verified format is as sure as a
    /// finding gets; an allowlist with a confidence lowers what it covers, one without drops it.
    fn judge(&self, rules: &Rules, rule: &CRule, candidate: &Candidate<'_>) -> Option<Confidence> {
        if inline_allow(candidate.line) {
            return None;
        }
        let mut confidence = if rule.checksum.is_some() {
            Confidence::High
        } else {
            rule.confidence
        };
        for &a in &rule.allows {
            let allow = &rules.allows[a];
            if allow.allows(candidate, self.allow_path(a)) {
                confidence = confidence.min(allow.confidence?);
            }
        }
        Some(confidence)
    }

    /// Whether path-only rule `ri` matches this file's path and no allowlist excuses it: the
    /// confidence its finding has then (an allowlist with a confidence lowers it).
    fn path_only_fires(&self, ri: u32) -> Option<Confidence> {
        let rules = self.rules.get();
        let rule = &rules.rules[ri as usize];
        if !self.active[ri as usize] {
            return None;
        }
        let mut confidence = rule.confidence;
        for &a in &rule.allows {
            if self.allow_path(a) == Some(true) {
                confidence = confidence.min(rules.allows[a].confidence?);
            }
        }
        Some(confidence)
    }

    fn path_only_findings(&mut self) {
        let held = self.rules.clone();
        let rules = held.get();
        for &ri in &rules.path_only {
            let rule = &rules.rules[ri as usize];
            if rule.skip_report {
                continue;
            }
            if let Some(confidence) = self.path_only_fires(ri) {
                let mut found = finding(rule, &self.path, [1, 1, 1, 1], String::new(), 0.0, b"");
                found.confidence = confidence;
                self.findings.push((found, 0..0));
            }
        }
    }

    /// Keeps each held composite finding whose every required id has a match close enough
    /// (gitleaks detect.go: `processRequiredRules`, `hasAllRequiredRules`, `withinProximity`).
    fn decide_composites(&mut self) {
        if self.held.is_empty() {
            return;
        }
        let shared = self.rules.clone();
        let rules = shared.get();
        // A path-only partner matches the file as a whole: gitleaks gives that finding line 0
        // and column 0, and measures proximity from there.
        for (slot, p) in rules.composite.partners.iter().enumerate() {
            if rules.rules[p.rule as usize].regex.is_none()
                && self.partner_on[slot]
                && self.path_only_fires(p.rule).is_some()
            {
                let hits = &mut self.partner_hits[slot];
                hits.seen = true;
                hits.at.push((0, 0));
            }
        }
        for hits in &mut self.partner_hits {
            hits.compact();
        }
        for (ri, f, span) in std::mem::take(&mut self.held) {
            let (line, column) = (f.line, gitleaks_column(f.line, f.column));
            let satisfied = rules.rules[ri as usize].required.iter().all(|g| {
                g.near.iter().any(|&near| {
                    g.partners
                        .iter()
                        .any(|&slot| self.partner_hits[slot].near(line, column, near))
                })
            });
            if satisfied {
                self.findings.push((f, span));
            }
        }
    }

    /// Records a partner match of the rule in `slot` at 1-based (`line`, `column`).
    fn record_partner(&mut self, slot: usize, line: u64, column: u64) {
        if !self.partner_on.get(slot).copied().unwrap_or(false) {
            return;
        }
        let held = self.rules.clone();
        let spec = &held.get().composite.partners[slot];
        let at = (
            if spec.lines { line } else { 0 },
            if spec.columns {
                gitleaks_column(line, column)
            } else {
                0
            },
        );
        let hits = &mut self.partner_hits[slot];
        hits.seen = true;
        if spec.lines || spec.columns {
            hits.push(at);
        }
    }

    fn process(&mut self, last: bool) {
        if !self.probed && !self.binary {
            if self.buf.len() < BINARY_PROBE && !last {
                return;
            }
            self.probed = true;
            let probe = &self.buf[..self.buf.len().min(BINARY_PROBE)];
            if memchr(0, probe).is_some() {
                self.skip = true;
                self.buf = Vec::new();
                return;
            }
        }
        loop {
            let avail = &self.buf[self.scanned..];
            if avail.is_empty() {
                break;
            }
            let from = self.newline_free.max(self.scanned);
            if let Some(nl) = memrchr(b'\n', &self.buf[from..]) {
                let end = from + nl + 1;
                self.scan_block(self.scanned, end, end);
                self.advance_lines(end);
            } else if avail.len() >= MAX_LINE + OVERLAP {
                self.newline_free = self.buf.len();
                let start = self.scanned;
                self.scan_block(start, start + MAX_LINE + OVERLAP, start + MAX_LINE);
                self.scanned = start + MAX_LINE;
            } else if last {
                let end = self.buf.len();
                self.scan_block(self.scanned, end, end);
                self.advance_lines(end);
            } else {
                self.newline_free = self.buf.len();
                break;
            }
        }
        self.resolve_pending(last);
        self.compact();
    }

    /// Moves `scanned` to `end` (just past a newline, or the end of input), counting lines.
    fn advance_lines(&mut self, end: usize) {
        let chunk = &self.buf[self.scanned..end];
        let newlines = memchr::memchr_iter(b'\n', chunk).count() as u64;
        if let Some(last_nl) = memrchr(b'\n', chunk) {
            self.line_start = self.base + (self.scanned + last_nl + 1) as u64;
        }
        self.line_no += newlines;
        self.scanned = end;
    }

    fn compact(&mut self) {
        let keep_from = self
            .pending
            .iter()
            .map(|p| p.start)
            .min()
            .map_or(self.scanned, |s| {
                usize::try_from(s - self.base).map_or(self.scanned, |s| s.min(self.scanned))
            });
        if keep_from > 0 {
            self.buf.drain(..keep_from);
            self.base += keep_from as u64;
            self.scanned -= keep_from;
            self.newline_free = self.newline_free.saturating_sub(keep_from);
        }
    }

    /// Scans `buf[start..end]`, a block of whole lines or one piece of a long line; only hits
    /// starting before `core_end` count (the rest belong to the next piece).
    fn scan_block(&mut self, start: usize, end: usize, core_end: usize) {
        let held = self.rules.clone();
        let rules = held.get();
        let mut lines = LineCursor {
            idx: start,
            line_no: self.line_no,
        };
        if let Some(keywords) = &rules.keywords {
            let ac = keywords.searcher(end - start);
            let mut hits = std::mem::take(&mut self.hits);
            hits.clear();
            keyword_hits(
                ac,
                rules.max_keyword,
                &self.buf[..end],
                start,
                core_end,
                &mut hits,
            );
            let mut line: Option<Line> = None;
            for &(pos, pattern) in &hits {
                let cur = match line {
                    Some(l) if l.start <= pos && pos < l.end => l,
                    _ => {
                        let l = self.line_at(&mut lines, start, end, pos);
                        line = Some(l);
                        l
                    }
                };
                for &ri in &rules.keyword_rules[pattern as usize] {
                    self.run_rule(ri, &cur, core_end, Role::Report);
                }
            }
            self.hits = hits;
        }
        for &ri in &rules.keywordless {
            self.run_everywhere(ri, Role::Report, [start, end, core_end], &mut lines);
        }
        for &ri in &rules.composite.partner_pass {
            let on = rules.rules[ri as usize]
                .partner
                .is_some_and(|slot| self.partner_on[slot]);
            if on {
                self.run_everywhere(ri, Role::Partner, [start, end, core_end], &mut lines);
            }
        }
    }

    /// Runs rule `ri` on every line of the block `buf[start..end]` where its regex matches
    /// (starting before `core_end`), whatever the keywords.
    fn run_everywhere(
        &mut self,
        ri: u32,
        role: Role,
        [start, end, core_end]: [usize; 3],
        lines: &mut LineCursor,
    ) {
        if !self.active[ri as usize] {
            return;
        }
        let held = self.rules.clone();
        let Some(re) = held.get().rules[ri as usize]
            .regex
            .as_ref()
            .and_then(LazyRegex::get)
        else {
            return;
        };
        let mut pos = start;
        while pos < core_end {
            let Some(m) = re.find(Input::new(&self.buf[..end]).span(pos..end)) else {
                break;
            };
            if m.start() >= core_end {
                break;
            }
            let line = self.line_at(lines, start, end, m.start());
            self.run_rule(ri, &line, core_end, role);
            pos = line.end + 1;
        }
    }

    /// The line around `pos`, clipped to the block.
    fn line_at(&self, cur: &mut LineCursor, start: usize, end: usize, pos: usize) -> Line {
        let ls = memrchr(b'\n', &self.buf[start..pos]).map_or(start, |i| start + i + 1);
        let le = memchr(b'\n', &self.buf[pos..end]).map_or(end, |i| pos + i);
        let line_no = cur.line_of(&self.buf, ls);
        let line_start = if ls == start {
            self.line_start_at_block(start)
        } else {
            self.base + ls as u64
        };
        Line {
            start: ls,
            end: le,
            line_no,
            line_start,
        }
    }

    /// Absolute start of the line that contains `buf[start]`, the first byte of a block.
    fn line_start_at_block(&self, start: usize) -> u64 {
        if start == self.scanned {
            self.line_start
        } else {
            self.base + start as u64
        }
    }

    fn run_rule(&mut self, ri: u32, line: &Line, core_end: usize, role: Role) {
        let i = ri as usize;
        if !self.active[i] {
            return;
        }
        let key = self.base + line.start as u64 + 1;
        let n = self.rules.get().rules.len();
        let last_window = match role {
            Role::Report => &mut self.last_window,
            Role::Partner => &mut self.last_partner_window,
        };
        if last_window.is_empty() {
            // Sized at the first keyword hit: clean inputs never pay for it.
            last_window.resize(n, 0);
        }
        if last_window[i] == key {
            return;
        }
        last_window[i] = key;
        if self.rules.get().rules[i].multiline {
            self.pending.push(Pending {
                rule: ri,
                role,
                start: self.base + line.start as u64,
                line_end: self.base + line.end as u64,
                line_start: line.line_start,
                line_no: line.line_no,
            });
            return;
        }
        self.search_window(
            ri,
            role,
            line.start..line.end,
            core_end.saturating_sub(line.start),
            line.line_no,
            line.line_start,
        );
    }

    /// Runs rule `ri` over `buf[window]` and records each non-empty match that starts before
    /// `starts_before` (relative to the window): the rest belong to another window.
    fn search_window(
        &mut self,
        ri: u32,
        role: Role,
        window: std::ops::Range<usize>,
        starts_before: usize,
        line_no: u64,
        line_start: u64,
    ) {
        let held = self.rules.clone();
        let rules = held.get();
        let Some(re) = rules.rules[ri as usize]
            .regex
            .as_ref()
            .and_then(LazyRegex::get)
        else {
            return;
        };
        let found: Vec<_> = re
            .find_iter(&self.buf[window.clone()])
            .take_while(|m| m.start() < starts_before)
            .filter(|m| !m.is_empty())
            .map(|m| m.range())
            .collect();
        for range in found {
            self.emit(
                ri,
                role,
                window.start,
                window.end,
                range,
                line_no,
                line_start,
            );
        }
    }

    fn resolve_pending(&mut self, last: bool) {
        if self.pending.is_empty() {
            return;
        }
        let buffered_to = self.base + self.buf.len() as u64;
        let pending = std::mem::take(&mut self.pending);
        let mut keep = Vec::new();
        for p in pending {
            if !last && p.start + (MULTILINE_WINDOW as u64) > buffered_to {
                keep.push(p);
                continue;
            }
            let Ok(ws) = usize::try_from(p.start - self.base) else {
                continue;
            };
            let we = (ws + MULTILINE_WINDOW).min(self.buf.len());
            let line_end = usize::try_from(p.line_end - self.base).unwrap_or(we);
            // Matches must start on the keyword's line (its newline included).
            self.search_window(
                p.rule,
                p.role,
                ws..we,
                line_end + 1 - ws,
                p.line_no,
                p.line_start,
            );
        }
        self.pending = keep;
    }

    /// Checks and records a match of rule `ri` at `range` within `buf[ws..we]`: a finding, a
    /// held finding (composite primaries) or a partner match.
    #[allow(clippy::too_many_arguments)] // one call site per role's path; a struct adds nothing
    fn emit(
        &mut self,
        ri: u32,
        role: Role,
        ws: usize,
        we: usize,
        range: std::ops::Range<usize>,
        line_no: u64,
        line_start: u64,
    ) {
        let held = self.rules.clone();
        let rules = held.get();
        let rule = &rules.rules[ri as usize];
        let Some(re) = rule.regex.as_ref().and_then(LazyRegex::get) else {
            return;
        };
        let window = &self.buf[ws..we];
        let whole = &window[range.clone()];
        let groups = rule.regex.as_ref().map_or(0, LazyRegex::groups);
        let secret_range = if groups == 0 {
            range.clone()
        } else {
            let mut caps = Captures::all(re.group_info().clone());
            re.search_captures(
                &Input::new(window)
                    .span(range.clone())
                    .anchored(Anchored::Yes),
                &mut caps,
            );
            secret_span(&caps, rule.secret_group, groups).unwrap_or(range.clone())
        };
        let secret = &window[secret_range.clone()];
        let entropy = shannon_entropy(secret);
        if rule.entropy.is_some_and(|min| entropy < min) {
            return;
        }
        // A secret that fails its rule's checksum is not a match of that rule at all (not a
        // finding, and not a partner match for composite rules either).
        if rule.checksum.is_some_and(|c| !c.verify(secret)) {
            return;
        }
        if rule.skip_placeholders && super::placeholder::looks_like_placeholder(secret) {
            return;
        }
        let line_end =
            memchr(b'\n', &window[range.start..]).map_or(window.len(), |i| range.start + i);
        let line_begin = memrchr(b'\n', &window[..range.start]).map_or(0, |i| i + 1);
        let candidate = Candidate {
            secret,
            whole,
            line: &window[line_begin..line_end],
        };
        let Some(confidence) = self.judge(rules, rule, &candidate) else {
            return;
        };
        let abs_start = self.base + (ws + range.start) as u64;
        let column = abs_start - line_start + 1;
        // Rules without a partner pass (see `Composite::partner_pass`) record their partner
        // matches as they report.
        let partner = rule
            .partner
            .filter(|_| role == Role::Partner || rule.everywhere || rule.multiline);
        if role == Role::Partner || rule.skip_report {
            if let Some(slot) = partner {
                self.record_partner(slot, line_no, column);
            }
            return;
        }
        let inner = &window[range.start..range.end - 1];
        let inner_newlines = memchr::memchr_iter(b'\n', inner).count() as u64;
        let end_line = line_no + inner_newlines;
        let end_column = match memrchr(b'\n', inner) {
            Some(i) => (inner.len() - i - 1) as u64 + 1,
            None => column + inner.len() as u64,
        };
        let secret_text = String::from_utf8_lossy(secret);
        let shown = if self.redact {
            redact(&secret_text)
        } else {
            secret_text.clone().into_owned()
        };
        let mut found = finding(
            rule,
            &self.path,
            [line_no, column, end_line, end_column],
            shown,
            entropy,
            secret,
        );
        if rule.checksum.is_some() {
            found.verified = Some(Verified::Checksum);
        }
        found.confidence = confidence;
        if let Some(slot) = partner {
            self.record_partner(slot, line_no, column);
        }
        let span = self.base + (ws + secret_range.start) as u64
            ..self.base + (ws + secret_range.end) as u64;
        if rule.required.is_empty() {
            self.findings.push((found, span));
        } else {
            self.held.push((ri, found, span));
        }
    }
}

/// A secret's absolute byte range in the input.
type Span = std::ops::Range<u64>;

/// Whether a rule is a catch-all that yields to specific rules: its id contains `generic`
/// (ASCII case-insensitive), as gitleaks decides it (detect/utils.go, `filter`).
fn is_generic(rule_id: &str) -> bool {
    rule_id
        .as_bytes()
        .windows(7)
        .any(|w| w.eq_ignore_ascii_case(b"generic"))
}

/// Drops each finding of a generic rule (see [`is_generic`]) whose secret overlaps the secret
/// of a finding of a specific secret rule starting on the same line: one token, one finding,
/// the specific one. gitleaks 8 does the same for rules whose id contains `generic` (it
/// compares the secrets' text on the start line; capstan compares where they are, which is the
/// same for one token, and needs no unredacted secret). `findings` are sorted by line.
fn yield_generic(findings: Vec<(Finding, Span)>) -> Vec<Finding> {
    let overlaps = |a: &Span, b: &Span| a.start < b.end && b.start < a.end;
    let mut keep = vec![true; findings.len()];
    if findings.iter().any(|(f, _)| is_generic(&f.rule_id)) {
        let mut i = 0;
        while i < findings.len() {
            let line = findings[i].0.line;
            let end = findings[i..]
                .iter()
                .position(|(f, _)| f.line != line)
                .map_or(findings.len(), |n| i + n);
            let same = &findings[i..end];
            for (k, (g, gspan)) in same.iter().enumerate() {
                if is_generic(&g.rule_id)
                    && same.iter().any(|(f, span)| {
                        f.category == Category::Secret
                            && !is_generic(&f.rule_id)
                            && overlaps(span, gspan)
                    })
                {
                    keep[i + k] = false;
                }
            }
            i = end;
        }
    }
    findings
        .into_iter()
        .zip(keep)
        .filter_map(|((f, _), keep)| keep.then_some(f))
        .collect()
}

/// A finding of `rule` at `[line, column, end_line, end_column]`; `shown` is the secret as
/// reported (redacted or not), `secret` the raw bytes the fingerprint is taken over.
fn finding(
    rule: &CRule,
    path: &str,
    [line, column, end_line, end_column]: [u64; 4],
    shown: String,
    entropy: f64,
    secret: &[u8],
) -> Finding {
    Finding {
        rule_id: rule.id.clone(),
        description: rule.description.clone(),
        category: rule.category,
        severity: rule.severity,
        confidence: rule.confidence,
        path: path.to_owned(),
        line,
        column,
        end_line,
        end_column,
        secret: shown,
        entropy: (entropy * 1000.0).round() / 1000.0,
        fingerprint: fingerprint(&rule.id, path, secret),
        verified: None,
        tags: rule.tags.clone(),
        crypto: rule.crypto.clone(),
        image: None,
        git: None,
    }
}

/// Every keyword occurrence starting in `hay[start..core_end]`, in order, overlapping ones
/// included.
///
/// An overlapping search runs the automaton's slow per-state loop over every byte; instead a
/// non-overlapping search (the fast loop, with prefilters) finds where keywords are, and the
/// overlapping search runs only around those places. That misses nothing: a non-overlapping
/// search reports, from where it stands, the match that ends first, so an occurrence it passes
/// over overlaps a reported match `[a, b)` and lies within `[a - max + 1, b + max - 1)`.
fn keyword_hits(
    ac: &aho_corasick::AhoCorasick,
    max: usize,
    hay: &[u8],
    start: usize,
    core_end: usize,
    hits: &mut Vec<(usize, u32)>,
) {
    let end = hay.len();
    let reach = max.saturating_sub(1);
    let mut window: Option<(usize, usize)> = None;
    let flush = |w: (usize, usize), hits: &mut Vec<(usize, u32)>| {
        let input = aho_corasick::Input::new(hay).span(w.0..w.1);
        hits.extend(
            ac.find_overlapping_iter(input)
                .filter(|h| h.start() < core_end)
                .map(|h| (h.start(), h.pattern().as_u32())),
        );
    };
    for m in ac.find_iter(aho_corasick::Input::new(hay).span(start..end)) {
        // A reported match starting at or after `core_end` can still overlap (and so have
        // hidden) an occurrence starting just before it.
        if m.start() >= core_end + reach {
            break;
        }
        let lo = m.start().saturating_sub(reach).max(start);
        let hi = (m.end() + reach).min(end);
        window = match window {
            Some((a, b)) if lo <= b => Some((a, b.max(hi))),
            Some(w) => {
                flush(w, hits);
                Some((lo, hi))
            }
            None => Some((lo, hi)),
        };
    }
    if let Some(w) = window {
        flush(w, hits);
    }
}

/// Whether the line opts out of scanning with an inline `capstan:allow` (or gitleaks'
/// `gitleaks:allow`) marker, usually in a comment: `key = "..." # capstan:allow`.
fn inline_allow(line: &[u8]) -> bool {
    static MARKERS: std::sync::LazyLock<[memchr::memmem::Finder<'static>; 2]> =
        std::sync::LazyLock::new(|| {
            [
                memchr::memmem::Finder::new(b"capstan:allow"),
                memchr::memmem::Finder::new(b"gitleaks:allow"),
            ]
        });
    memchr::memchr(b':', line).is_some() && MARKERS.iter().any(|m| m.find(line).is_some())
}

/// gitleaks' secret selection: the named group, else the first non-empty group, else the match.
fn secret_span(
    caps: &Captures,
    group: Option<usize>,
    groups: usize,
) -> Option<std::ops::Range<usize>> {
    match group {
        Some(g) => caps.get_group(g).map(|s| s.range()),
        None => (1..=groups)
            .filter_map(|g| caps.get_group(g))
            .find(|s| !s.is_empty())
            .map(|s| s.range()),
    }
}

/// A line (or the piece of one) inside the buffer.
#[derive(Debug, Clone, Copy)]
struct Line {
    start: usize,
    end: usize,
    line_no: u64,
    /// Absolute offset of the line's true start.
    line_start: u64,
}

/// Line numbers for positions in a block, counted incrementally.
struct LineCursor {
    idx: usize,
    line_no: u64,
}

impl LineCursor {
    fn line_of(&mut self, buf: &[u8], pos: usize) -> u64 {
        if pos >= self.idx {
            self.line_no += memchr::memchr_iter(b'\n', &buf[self.idx..pos]).count() as u64;
            self.idx = pos;
            self.line_no
        } else {
            self.line_no - memchr::memchr_iter(b'\n', &buf[pos..self.idx]).count() as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::keyword_hits;

    fn composite(within: &str) -> super::Rules {
        let toml = format!(
            "[[rules]]\nid = \"pass\"\nregex = 'pass=(\\w+)'\nkeywords = [\"pass=\"]\n\
             [[rules.required]]\nid = \"user\"\n{within}\n\
             [[rules]]\nid = \"user\"\nregex = 'user=(\\w+)'\nkeywords = [\"user=\"]\n\
             skipReport = true\n"
        );
        let set = super::super::RuleSet::from_toml(&toml).expect("loads");
        super::Rules::compile(&set).expect("compiles")
    }

    /// A partner's matches cost a flag when no requirement bounds them, a position per line
    /// when only lines do, a position per distinct (line, column) when columns do.
    #[test]
    fn partner_matches_are_kept_as_little_as_the_requirements_need() {
        let line = b"user=a user=b user=c\n";
        for (within, kept) in [
            ("", 0),
            ("withinLines = 2", 1000),
            // gitleaks' columns on line 1 are one less than on the others: 2 × 3.
            ("withinColumns = 2", 6),
            ("withinLines = 2\nwithinColumns = 2", 3000),
        ] {
            let rules = composite(within);
            let mut s = super::Scanner::new(&rules);
            for _ in 0..1000 {
                s.feed(line);
            }
            s.feed(b"pass=hunter2\n");
            assert!(s.partner_hits[0].seen, "{within}");
            assert_eq!(s.held.len(), 1, "{within}");
            let mut at = s.partner_hits[0].at.clone();
            at.sort_unstable();
            at.dedup();
            assert_eq!(at.len(), kept, "{within}");
            // Compacted as it grows: at most twice the distinct positions (or 1024).
            assert!(
                s.partner_hits[0].at.len() <= (kept * 2).max(1024),
                "{within}"
            );
            assert_eq!(s.finish().len(), 1, "{within}");
        }
    }

    /// The windowed search finds exactly what a full overlapping search finds.
    #[test]
    fn keyword_hits_miss_no_overlapping_occurrence() {
        let words = ["sk_live", "live", "k_l", "api", "apikey", "key", "e"];
        let ac = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(words)
            .expect("builds");
        let max = words.iter().map(|w| w.len()).max().unwrap_or(0);
        let alphabet = b"sk_liveapyKE x";
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for round in 0..5000 {
            let len = 1 + round % 97;
            let hay: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    alphabet[(state % alphabet.len() as u64) as usize]
                })
                .collect();
            let start = round % 5 % len;
            let core_end = len - round % 3 % (len - start).max(1);
            let mut got = Vec::new();
            keyword_hits(&ac, max, &hay, start, core_end, &mut got);
            let want: Vec<(usize, u32)> = ac
                .find_overlapping_iter(aho_corasick::Input::new(&hay).span(start..len))
                .filter(|h| h.start() < core_end)
                .map(|h| (h.start(), h.pattern().as_u32()))
                .collect();
            let mut sorted = got.clone();
            sorted.sort_unstable();
            let mut want_sorted = want.clone();
            want_sorted.sort_unstable();
            assert_eq!(
                sorted,
                want_sorted,
                "{:?} {start}..{core_end}",
                String::from_utf8_lossy(&hay)
            );
        }
    }
}
