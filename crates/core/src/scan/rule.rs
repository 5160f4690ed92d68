//! Rules as loaded from TOML, before compilation.

use serde::{Deserialize, Serialize};

/// What a rule looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Credentials and keys.
    Secret,
    /// Weak or quantum-vulnerable cryptography.
    Crypto,
    /// Code that downloads and runs things, reverse shells, miners.
    Threat,
}

impl Category {
    /// The lowercase name used in configs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Secret => "secret",
            Category::Crypto => "crypto",
            Category::Threat => "threat",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "secret" => Some(Category::Secret),
            "crypto" => Some(Category::Crypto),
            "threat" => Some(Category::Threat),
            _ => None,
        }
    }
}

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Low.
    Low,
    /// Medium.
    Medium,
    /// High.
    High,
    /// Fix now.
    Critical,
}

impl Severity {
    /// The lowercase name used in configs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "info" => Some(Severity::Info),
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// How likely a finding is to be what its rule looks for: a token in its provider's own format
/// (`high`), a value of the right shape beside the provider's name (`medium`), or a match where
/// documentation, examples and vendored code live (`low`). `--min-confidence` (default
/// `medium`) decides what is reported.
///
/// A rule says its own (`confidence = "high"`, default `medium`); a secret that passes its
/// rule's checksum is `high`; an allowlist with a `confidence` lowers the matches it covers to
/// that instead of dropping them.
///
/// ```
/// use capstan::scan::Confidence;
/// assert!(Confidence::Low < Confidence::Medium && Confidence::Medium < Confidence::High);
/// assert_eq!("high".parse::<Confidence>(), Ok(Confidence::High));
/// assert_eq!(Confidence::default().as_str(), "medium");
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    /// Worth a look where nothing is missed on purpose (`--min-confidence low`).
    Low,
    /// The default floor.
    #[default]
    Medium,
    /// In the provider's own format, or verified by its checksum.
    High,
}

impl Confidence {
    /// The lowercase name used in configs and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl std::str::FromStr for Confidence {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "low" => Ok(Confidence::Low),
            "medium" => Ok(Confidence::Medium),
            "high" => Ok(Confidence::High),
            _ => Err(format!(
                "unknown confidence {s:?} (expected low, medium or high)"
            )),
        }
    }
}

/// What an allowlist's regexes are matched against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RegexTarget {
    /// The secret (the rule's secret group).
    #[default]
    Secret,
    /// The whole regex match.
    Match,
    /// The line (or window) the match is on.
    Line,
}

/// How an allowlist's checks combine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Condition {
    /// Any check that is present suppresses the finding.
    #[default]
    Or,
    /// Every check that is present must agree.
    And,
}

/// Suppresses findings: gitleaks' `[[allowlists]]` / `[[rules.allowlists]]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Allowlist {
    /// Why it exists.
    pub description: String,
    /// Regexes matched against `regex_target`.
    pub regexes: Vec<String>,
    /// What `regexes` are matched against.
    pub regex_target: RegexTarget,
    /// Substrings that, when the secret contains one (ASCII case-insensitive), suppress it.
    pub stopwords: Vec<String>,
    /// Regexes matched against the file's path.
    pub paths: Vec<String>,
    /// How the checks combine.
    pub condition: Condition,
    /// Global allowlists only: the rules it applies to (all when empty).
    pub target_rules: Vec<String>,
    /// Instead of dropping the matches it covers, lower them to this confidence (a capstan
    /// field: documentation, examples and vendored code are worth a look, not an alarm).
    pub confidence: Option<Confidence>,
}

/// The cryptography a crypto rule identifies, for CBOM-style reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CryptoInfo {
    /// `RSA`, `ECDSA`, `MD5`, ...
    pub algorithm: String,
    /// `signature`, `kem`, `key-exchange`, `hash`, `cipher`, `mode`, `protocol`.
    pub primitive: String,
    /// `vulnerable` (broken by a quantum computer) or `weak` (broken today).
    pub quantum_class: String,
    /// What to migrate to, e.g. `ML-KEM-768`.
    pub replacement: String,
}

/// A rule that a composite rule's primary needs: gitleaks' `[[rules.required]]`.
///
/// The primary reports a match only when, for every required id, that rule also matches in the
/// same file — within `within_lines` lines and `within_columns` columns of the primary's match
/// when they are set (both set: both must hold). The required rule is checked everywhere in the
/// file, whatever its keywords, and even when it is `skip_report`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Required {
    /// The id of the rule that must also match.
    pub id: String,
    /// How many lines away (either way) its match may start (gitleaks `withinLines`).
    pub within_lines: Option<i64>,
    /// How many columns away (either way) its match may start (gitleaks `withinColumns`).
    pub within_columns: Option<i64>,
}

/// One detection rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Unique id, e.g. `github-classic-pat`.
    pub id: String,
    /// What it finds.
    pub description: String,
    /// Secret, crypto or threat.
    pub category: Category,
    /// How much a finding matters.
    pub severity: Severity,
    /// How likely a match is to be real (a capstan field; default medium).
    pub confidence: Confidence,
    /// The pattern (Rust regex syntax; Go/RE2 configs are translated on load).
    pub regex: Option<String>,
    /// Which capture group is the secret; `None`: the first non-empty group, else the match.
    pub secret_group: Option<usize>,
    /// Minimum Shannon entropy (bits per byte) of the secret.
    pub entropy: Option<f64>,
    /// Lowercase literals; the regex runs only where one occurs.
    pub keywords: Vec<String>,
    /// The offline checksum the secret carries (`checksum = "…"`): a match whose checksum fails
    /// is not reported, one that holds is marked `verified: checksum`.
    pub checksum: Option<super::Checksum>,
    /// Only files whose path matches this regex are checked.
    pub path: Option<String>,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// The regex may span lines (PEM blocks); it runs on a window from the keyword's line.
    pub multiline: bool,
    /// Crypto rules: what the finding is about.
    pub crypto: Option<CryptoInfo>,
    /// Rule-level allowlists.
    pub allowlists: Vec<Allowlist>,
    /// Matches count for composite rules but are not reported (gitleaks `skipReport`).
    pub skip_report: bool,
    /// A match whose secret looks like a placeholder, a reference to a value kept elsewhere, an
    /// identifier or code, or a well-known example key is not reported (`skipPlaceholders`; a
    /// capstan field).
    pub skip_placeholders: bool,
    /// Rules that must also match in the same file for this one to report (gitleaks'
    /// `[[rules.required]]`): this rule is then a composite rule's primary.
    pub required: Vec<Required>,
    /// Lines this rule must fire on (built-in packs; checked by tests).
    pub examples: Vec<String>,
    /// Lines this rule must stay quiet on.
    pub counterexamples: Vec<String>,
    /// The path the examples are scanned under.
    pub example_path: Option<String>,
}

/// A set of rules and global allowlists, loaded but not compiled.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSet {
    /// The rules, in load order.
    pub rules: Vec<Rule>,
    /// Allowlists that apply to every rule (or to their `target_rules`).
    pub allowlists: Vec<Allowlist>,
    /// What loading learned about each pattern, so that compiling parses none twice.
    pub(crate) checked: super::regex::Checked,
}

impl RuleSet {
    /// Adds `other`'s rules and global allowlists after this set's (a config plus built-in
    /// packs, say). Rules are not merged by id: use `[extend]` for overrides.
    pub fn append(&mut self, other: RuleSet) {
        self.rules.extend(other.rules);
        self.allowlists.extend(other.allowlists);
        self.checked.extend(other.checked);
    }
}
