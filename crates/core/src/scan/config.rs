//! Loading rules from TOML: capstan's native packs and gitleaks configs, unchanged.
//!
//! The format is gitleaks' (`[[rules]]`, `[[rules.allowlists]]`, the older `[rules.allowlist]`,
//! global `[allowlist]` / `[[allowlists]]` with `targetRules`, `[extend]`) plus capstan's own rule
//! fields (`category`, `severity`, `multiline`, `checksum`, the crypto fields, examples).
//! Semantics follow gitleaks where it defines them:
//!
//! - `[extend]` adds the base's rules; a rule with the same id overrides the base's non-empty
//!   fields and appends tags, keywords and allowlists. `useDefault` extends capstan's built-in
//!   packs; `path` a file, resolved against the working directory, then the naming file's
//!   directory, then the top-level config's directory. Extension is followed two levels deep.
//! - Validation runs after extension, so an override may omit `regex`.
//! - `[[rules.required]]` (composite rules: `id`, optional `withinLines` / `withinColumns`) is
//!   checked per file, before extension, as gitleaks does: an entry without an id, or naming a
//!   rule that the same file does not define, is an error. When a file overrides a base rule,
//!   the base's `required` list is kept and the override's is ignored (gitleaks' merge copies
//!   neither `required` nor `skipReport` from the override).
//! - `commits` in allowlists are accepted and ignored (capstan scans trees, not history).

use std::collections::HashSet;

use super::regex::{Check, Checked};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::rule::{
    Allowlist, Category, Condition, Confidence, CryptoInfo, RegexTarget, Required, Rule, RuleSet,
    Severity,
};

/// How deep `[extend]` chains are followed (gitleaks' limit).
const MAX_EXTEND_DEPTH: usize = 2;

/// What kind of thing went wrong in a [`ConfigError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigErrorKind {
    /// The file could not be read (the cause is the error's `source`).
    Io,
    /// The TOML did not parse or a field had the wrong type.
    Toml,
    /// A rule has no `id`.
    MissingId,
    /// A rule has neither `regex` nor `path`.
    NoRegexOrPath,
    /// A regex (rule, path or allowlist) is invalid or uses syntax capstan can't translate.
    Regex,
    /// `secretGroup` names a group the regex doesn't have.
    SecretGroup,
    /// An allowlist with nothing to check.
    EmptyAllowlist,
    /// The deprecated single allowlist beside the list form.
    OldAndNewAllowlist,
    /// `regexTarget` is not `secret`, `match` or `line`.
    UnknownRegexTarget,
    /// `condition` is not `AND` or `OR`.
    UnknownCondition,
    /// `targetRules` names a rule that does not exist.
    UnknownTargetRule,
    /// `[extend]` failed: the base could not be found, read or loaded (when it could not be
    /// read or loaded, the cause is the error's `source`).
    Extend,
    /// `category` or `severity` has an unknown value.
    UnknownValue,
    /// A built-in pack name that does not exist.
    UnknownPack,
    /// A `[[rules.required]]` entry has no `id`.
    MissingRequiredId,
    /// A `[[rules.required]]` entry names a rule that the same file does not define.
    UnknownRequiredRule,
    /// `checksum` names a scheme capstan does not know, or is set on a rule without a regex
    /// (there is no secret to verify).
    Checksum,
}

/// What went wrong, with what the message needs.
#[derive(Debug)]
pub(crate) enum Repr {
    Io(std::io::Error),
    Toml(String),
    /// The rule's description, if it has one, to help find it.
    MissingId(Option<String>),
    NoRegexOrPath,
    Regex(String),
    SecretGroup {
        group: usize,
        max: usize,
    },
    EmptyAllowlist,
    OldAndNewAllowlist,
    UnknownRegexTarget(String),
    UnknownCondition(String),
    UnknownTargetRule(String),
    /// `[extend] path` names no file.
    ExtendMissing(String),
    /// The base could not be read.
    ExtendRead(PathBuf, std::io::Error),
    /// The base is not a valid config.
    ExtendInvalid(PathBuf, Box<ConfigError>),
    UnknownValue {
        field: &'static str,
        value: String,
    },
    UnknownPack(String),
    MissingRequiredId,
    UnknownRequiredRule(String),
    UnknownChecksum(String),
    ChecksumWithoutRegex,
}

/// A config that could not be loaded: which file, which rule, and why.
#[derive(Debug)]
pub struct ConfigError {
    file: Option<PathBuf>,
    /// The line of the file where the rule at fault is declared (its `id`), when found.
    line: Option<usize>,
    rule_id: Option<String>,
    repr: Repr,
}

impl ConfigError {
    pub(crate) fn new(repr: Repr) -> Self {
        ConfigError {
            file: None,
            line: None,
            rule_id: None,
            repr,
        }
    }

    fn rule(mut self, id: &str) -> Self {
        self.set_rule(id);
        self
    }

    pub(crate) fn set_rule(&mut self, id: &str) {
        if self.rule_id.is_none() && !id.is_empty() {
            self.rule_id = Some(id.to_owned());
        }
    }

    fn file(mut self, file: &Path) -> Self {
        if self.file.is_none() {
            self.file = Some(file.to_owned());
        }
        self
    }

    /// Finds the line of `text` (the file's) that declares the rule at fault: `id = "…"`, not
    /// counting the `id`s of `[[rules.required]]` entries, which name other rules.
    fn locate_rule(mut self, text: &str) -> Self {
        if let (None, Some(id)) = (self.line, &self.rule_id) {
            let mut in_required = false;
            self.line = text
                .lines()
                .position(|l| {
                    let l = l.trim();
                    if l.starts_with('[') {
                        in_required = l.replace(' ', "").starts_with("[[rules.required]]");
                        return false;
                    }
                    !in_required
                        && l.strip_prefix("id")
                            .and_then(|r| r.trim_start().strip_prefix('='))
                            .map(str::trim)
                            .is_some_and(|v| {
                                v.trim_matches(|c| c == '"' || c == '\'') == id.as_str()
                                    && v.len() == id.len() + 2
                            })
                })
                .map(|i| i + 1);
        }
        self
    }

    /// The line of the config file that declares the rule at fault, when known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The config file, when the config came from one.
    pub fn path(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The rule at fault, when one is.
    pub fn rule_id(&self) -> Option<&str> {
        self.rule_id.as_deref()
    }

    /// What went wrong.
    pub fn kind(&self) -> ConfigErrorKind {
        match self.repr {
            Repr::Io(_) => ConfigErrorKind::Io,
            Repr::Toml(_) => ConfigErrorKind::Toml,
            Repr::MissingId(_) => ConfigErrorKind::MissingId,
            Repr::NoRegexOrPath => ConfigErrorKind::NoRegexOrPath,
            Repr::Regex(_) => ConfigErrorKind::Regex,
            Repr::SecretGroup { .. } => ConfigErrorKind::SecretGroup,
            Repr::EmptyAllowlist => ConfigErrorKind::EmptyAllowlist,
            Repr::OldAndNewAllowlist => ConfigErrorKind::OldAndNewAllowlist,
            Repr::UnknownRegexTarget(_) => ConfigErrorKind::UnknownRegexTarget,
            Repr::UnknownCondition(_) => ConfigErrorKind::UnknownCondition,
            Repr::UnknownTargetRule(_) => ConfigErrorKind::UnknownTargetRule,
            Repr::ExtendMissing(_) | Repr::ExtendRead(..) | Repr::ExtendInvalid(..) => {
                ConfigErrorKind::Extend
            }
            Repr::UnknownValue { .. } => ConfigErrorKind::UnknownValue,
            Repr::UnknownPack(_) => ConfigErrorKind::UnknownPack,
            Repr::MissingRequiredId => ConfigErrorKind::MissingRequiredId,
            Repr::UnknownRequiredRule(_) => ConfigErrorKind::UnknownRequiredRule,
            Repr::UnknownChecksum(_) | Repr::ChecksumWithoutRegex => ConfigErrorKind::Checksum,
        }
    }

    /// Whether the config file could not be read.
    pub fn is_io(&self) -> bool {
        matches!(self.repr, Repr::Io(_))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.file {
            write!(f, "{}: ", p.display())?;
            if let Some(n) = self.line {
                write!(f, "line {n}: ")?;
            }
        }
        if let Some(id) = &self.rule_id {
            write!(f, "rule {id}: ")?;
        }
        match &self.repr {
            Repr::Io(e) => write!(f, "cannot read config: {e}"),
            Repr::Toml(e) => write!(f, "invalid TOML: {e}"),
            Repr::MissingId(None) => write!(f, "rule |id| is missing or empty"),
            Repr::MissingId(Some(d)) => {
                write!(f, "rule |id| is missing or empty (description: {d:?})")
            }
            Repr::NoRegexOrPath => {
                write!(
                    f,
                    "both |regex| and |path| are empty, this rule will have no effect"
                )
            }
            Repr::Regex(e) => write!(f, "invalid regex: {e}"),
            Repr::SecretGroup { group, max } => {
                write!(
                    f,
                    "invalid regex secret group {group}, max regex secret group {max}"
                )
            }
            Repr::EmptyAllowlist => write!(
                f,
                "allowlist must contain at least one check for: commits, paths, regexes, or stopwords"
            ),
            Repr::OldAndNewAllowlist => write!(
                f,
                "the deprecated single allowlist ([allowlist] / [rules.allowlist]) cannot be used alongside [[allowlists]]"
            ),
            Repr::UnknownRegexTarget(t) => write!(
                f,
                "unknown allowlist |regexTarget| '{t}' (expected secret, match or line)"
            ),
            Repr::UnknownCondition(c) => {
                write!(
                    f,
                    "unknown allowlist |condition| '{c}' (expected AND or OR)"
                )
            }
            Repr::UnknownTargetRule(id) => {
                write!(f, "allowlist target rule ID '{id}' does not exist")
            }
            Repr::ExtendMissing(p) => {
                write!(f, "failed to load extended config: {p}: no such file")
            }
            Repr::ExtendRead(file, e) => {
                write!(f, "failed to load extended config: {}: {e}", file.display())
            }
            Repr::ExtendInvalid(file, e) => {
                write!(f, "failed to load extended config: {}: {e}", file.display())
            }
            Repr::UnknownValue { field, value } => {
                write!(f, "unknown {field} '{value}'")
            }
            Repr::UnknownPack(p) => write!(
                f,
                "unknown rule pack '{p}' (built-in packs: secrets, crypto, threats, dockerfile)"
            ),
            Repr::MissingRequiredId => write!(f, "[[rules.required]] rule ID is empty"),
            Repr::UnknownRequiredRule(id) => {
                write!(f, "[[rules.required]] rule ID '{id}' does not exist")
            }
            Repr::UnknownChecksum(c) => write!(
                f,
                "unknown checksum '{c}' (known schemes: {})",
                super::Checksum::names()
            ),
            Repr::ChecksumWithoutRegex => write!(
                f,
                "|checksum| needs a |regex|: it verifies the secret the regex matches"
            ),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.repr {
            Repr::Io(e) | Repr::ExtendRead(_, e) => Some(e),
            Repr::ExtendInvalid(_, e) => Some(&**e),
            _ => None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawConfig {
    extend: Option<RawExtend>,
    rules: Vec<RawRule>,
    allowlist: Option<RawAllowlist>,
    allowlists: Vec<RawAllowlist>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawExtend {
    use_default: bool,
    path: Option<String>,
    disabled_rules: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawRule {
    id: String,
    description: String,
    category: Option<String>,
    severity: Option<String>,
    confidence: Option<String>,
    regex: Option<String>,
    #[serde(rename = "secretGroup")]
    secret_group: Option<usize>,
    entropy: Option<f64>,
    keywords: Vec<String>,
    checksum: Option<String>,
    path: Option<String>,
    tags: Vec<String>,
    multiline: Option<bool>,
    algorithm: Option<String>,
    primitive: Option<String>,
    quantum_class: Option<String>,
    replacement: Option<String>,
    allowlist: Option<RawAllowlist>,
    allowlists: Vec<RawAllowlist>,
    #[serde(rename = "skipReport")]
    skip_report: bool,
    #[serde(rename = "skipPlaceholders")]
    skip_placeholders: bool,
    required: Vec<RawRequired>,
    examples: Vec<String>,
    counterexamples: Vec<String>,
    example_path: Option<String>,
}

/// One `[[rules.required]]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawRequired {
    id: String,
    within_lines: Option<i64>,
    within_columns: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RawAllowlist {
    description: String,
    regexes: Vec<String>,
    regex_target: Option<String>,
    stopwords: Vec<String>,
    paths: Vec<String>,
    commits: Vec<String>,
    condition: Option<String>,
    target_rules: Vec<String>,
    confidence: Option<String>,
}

/// A rule before validation: fields an override left out are `None`.
struct Partial {
    rule: Rule,
    /// Which optional fields the file set (so an override replaces only those).
    set_category: bool,
    set_severity: bool,
    set_confidence: bool,
    set_multiline: bool,
}

/// Where a config came from, for resolving `[extend] path`.
struct Origin<'a> {
    file: Option<&'a Path>,
    root_dir: Option<&'a Path>,
}

impl RuleSet {
    /// Loads a config file (native or gitleaks format), following `[extend]`.
    ///
    /// ```no_run
    /// use capstan::scan::RuleSet;
    /// let rules = RuleSet::load("gitleaks.toml")?;
    /// # Ok::<(), capstan::scan::ConfigError>(())
    /// ```
    pub fn load(path: impl AsRef<Path>) -> Result<RuleSet, ConfigError> {
        let path = path.as_ref();
        let root_dir = path.parent();
        let text = read(path)?;
        let origin = Origin {
            file: Some(path),
            root_dir,
        };
        parse_validated(&text, &origin).map_err(|e| e.file(path).locate_rule(&text))
    }

    /// Parses a config from a string; `[extend] path` resolves against the working directory.
    ///
    /// ```
    /// use capstan::scan::RuleSet;
    /// let rules = RuleSet::from_toml(r#"
    ///     [[rules]]
    ///     id = "internal-token"
    ///     regex = '''itk_[a-z0-9]{32}'''
    ///     keywords = ["itk_"]
    /// "#)?;
    /// assert_eq!(rules.rules[0].id, "internal-token");
    /// # Ok::<(), capstan::scan::ConfigError>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<RuleSet, ConfigError> {
        parse_validated(
            text,
            &Origin {
                file: None,
                root_dir: None,
            },
        )
    }

    /// Ids of every rule, in order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError::new(Repr::Io(e)).file(path))
}

fn parse_validated(text: &str, origin: &Origin<'_>) -> Result<RuleSet, ConfigError> {
    parse_checked(text, origin, Trust::Check)
}

/// Whether a config's patterns are parsed when it loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trust {
    /// Every pattern is translated and checked (any config a user gives).
    Check,
    /// A built-in pack as it ships, checked by the test suite instead (see `regex::Check`).
    Builtin,
}

fn parse_checked(text: &str, origin: &Origin<'_>, trust: Trust) -> Result<RuleSet, ConfigError> {
    checked_set(parse(text, origin, 0)?, trust)
}

fn checked_set(parsed: Parsed, trust: Trust) -> Result<RuleSet, ConfigError> {
    let (partials, allowlists, extends) = parsed;
    let mut set = RuleSet {
        rules: partials.into_iter().map(|p| p.rule).collect(),
        allowlists,
        checked: Checked::default(),
    };
    validate(&mut set, extends, trust)?;
    Ok(set)
}

/// A built-in pack, converted to JSON by the build script, loaded without parsing its
/// patterns (see [`Trust::Builtin`]).
pub(crate) fn builtin_pack(json: &str) -> Result<RuleSet, ConfigError> {
    let origin = Origin {
        file: None,
        root_dir: None,
    };
    let raw: RawConfig =
        serde_json::from_str(json).map_err(|e| ConfigError::new(Repr::Toml(e.to_string())))?;
    checked_set(from_raw(raw, &origin, 0)?, Trust::Builtin)
}

/// The rules and allowlists of a file after its `[extend]`, and whether it had one.
type Parsed = (Vec<Partial>, Vec<Allowlist>, bool);

fn parse(text: &str, origin: &Origin<'_>, depth: usize) -> Result<Parsed, ConfigError> {
    let raw: RawConfig =
        toml::from_str(text).map_err(|e| ConfigError::new(Repr::Toml(e.to_string())))?;
    from_raw(raw, origin, depth)
}

fn from_raw(raw: RawConfig, origin: &Origin<'_>, depth: usize) -> Result<Parsed, ConfigError> {
    let mut rules = Vec::with_capacity(raw.rules.len());
    for r in raw.rules {
        rules.push(convert_rule(r)?);
    }
    check_required(&rules)?;
    let mut allowlists = Vec::new();
    if raw.allowlist.is_some() && !raw.allowlists.is_empty() {
        return Err(ConfigError::new(Repr::OldAndNewAllowlist));
    }
    for a in raw.allowlist.into_iter().chain(raw.allowlists) {
        allowlists.push(convert_allowlist(a)?);
    }
    let Some(ext) = raw.extend else {
        return Ok((rules, allowlists, false));
    };
    if depth >= MAX_EXTEND_DEPTH {
        return Ok((rules, allowlists, true));
    }
    let (mut base, base_allow) = if ext.use_default {
        let text = super::packs::all_packs_toml();
        let mut out = (Vec::new(), Vec::new());
        for t in text {
            let (r, a, _) = parse(
                t,
                &Origin {
                    file: None,
                    root_dir: None,
                },
                MAX_EXTEND_DEPTH,
            )?;
            out.0.extend(r);
            out.1.extend(a);
        }
        out
    } else if let Some(p) = &ext.path {
        let file = resolve_extend(p, origin)
            .ok_or_else(|| ConfigError::new(Repr::ExtendMissing(p.clone())))?;
        let text = std::fs::read_to_string(&file)
            .map_err(|e| ConfigError::new(Repr::ExtendRead(file.clone(), e)))?;
        let inner = Origin {
            file: Some(&file),
            root_dir: origin.root_dir,
        };
        let (r, a, _) = parse(&text, &inner, depth + 1)
            .map_err(|e| ConfigError::new(Repr::ExtendInvalid(file.clone(), Box::new(e))))?;
        (r, a)
    } else {
        (Vec::new(), Vec::new())
    };
    let disabled: HashSet<&str> = ext.disabled_rules.iter().map(String::as_str).collect();
    base.retain(|r| !disabled.contains(r.rule.id.as_str()));
    // gitleaks: the base's rules come in, overridden field by field by this file's.
    for mine in rules {
        match base.iter_mut().find(|b| b.rule.id == mine.rule.id) {
            Some(b) => merge(b, mine),
            None => base.push(mine),
        }
    }
    let mut all_allow = base_allow;
    all_allow.extend(allowlists);
    Ok((base, all_allow, true))
}

fn merge(base: &mut Partial, mine: Partial) {
    let (b, m) = (&mut base.rule, mine.rule);
    if !m.description.is_empty() {
        b.description = m.description;
    }
    if m.entropy.is_some() {
        b.entropy = m.entropy;
    }
    if m.secret_group.is_some() {
        b.secret_group = m.secret_group;
    }
    if m.regex.is_some() {
        b.regex = m.regex;
    }
    if m.path.is_some() {
        b.path = m.path;
    }
    if mine.set_category {
        b.category = m.category;
    }
    if mine.set_severity {
        b.severity = m.severity;
    }
    if mine.set_confidence {
        b.confidence = m.confidence;
    }
    if mine.set_multiline {
        b.multiline = m.multiline;
    }
    if m.crypto.is_some() {
        b.crypto = m.crypto;
    }
    if m.checksum.is_some() {
        b.checksum = m.checksum;
    }
    b.tags.extend(m.tags);
    for k in m.keywords {
        if !b.keywords.contains(&k) {
            b.keywords.push(k);
        }
    }
    b.allowlists.extend(m.allowlists);
    b.skip_report |= m.skip_report;
    b.skip_placeholders |= m.skip_placeholders;
    // gitleaks keeps the base's `required` and drops the override's (config.go, extend).
}

/// gitleaks checks `[[rules.required]]` ids against the rules of the file that names them,
/// before any `[extend]` (config.go, `Translate`): a base's rules don't count.
fn check_required(rules: &[Partial]) -> Result<(), ConfigError> {
    let ids: HashSet<&str> = rules.iter().map(|p| p.rule.id.as_str()).collect();
    for p in rules {
        if let Some(missing) = p
            .rule
            .required
            .iter()
            .find(|r| !ids.contains(r.id.as_str()))
        {
            return Err(
                ConfigError::new(Repr::UnknownRequiredRule(missing.id.clone())).rule(&p.rule.id),
            );
        }
    }
    Ok(())
}

fn resolve_extend(p: &str, origin: &Origin<'_>) -> Option<PathBuf> {
    let p = Path::new(p);
    let mut candidates = vec![p.to_owned()];
    if p.is_relative() {
        if let Some(dir) = origin.file.and_then(Path::parent) {
            candidates.push(dir.join(p));
        }
        if let Some(dir) = origin.root_dir {
            candidates.push(dir.join(p));
        }
    }
    candidates.into_iter().find(|c| c.is_file())
}

fn convert_rule(r: RawRule) -> Result<Partial, ConfigError> {
    let id = r.id.trim().to_owned();
    if id.is_empty() {
        return Err(ConfigError::new(Repr::MissingId(
            (!r.description.is_empty()).then_some(r.description),
        )));
    }
    let err = |k| ConfigError::new(k).rule(&id);
    let category = match &r.category {
        Some(c) => Category::parse(c).ok_or_else(|| {
            err(Repr::UnknownValue {
                field: "category",
                value: c.clone(),
            })
        })?,
        None => Category::Secret,
    };
    let severity = match &r.severity {
        Some(s) => Severity::parse(s).ok_or_else(|| {
            err(Repr::UnknownValue {
                field: "severity",
                value: s.clone(),
            })
        })?,
        None => Severity::High,
    };
    let confidence = match &r.confidence {
        Some(c) => parse_confidence(c).map_err(|e| e.rule(&id))?,
        None => Confidence::default(),
    };
    let checksum = match &r.checksum {
        Some(c) => {
            Some(super::Checksum::parse(c).ok_or_else(|| err(Repr::UnknownChecksum(c.clone())))?)
        }
        None => None,
    };
    let crypto = match (r.algorithm, r.primitive, r.quantum_class, r.replacement) {
        (None, None, None, None) => None,
        (a, p, q, rep) => Some(CryptoInfo {
            algorithm: a.unwrap_or_default(),
            primitive: p.unwrap_or_default(),
            quantum_class: q.unwrap_or_default(),
            replacement: rep.unwrap_or_default(),
        }),
    };
    if r.allowlist.is_some() && !r.allowlists.is_empty() {
        return Err(err(Repr::OldAndNewAllowlist));
    }
    let mut allowlists = Vec::new();
    for a in r.allowlist.into_iter().chain(r.allowlists) {
        if !a.target_rules.is_empty() {
            return Err(err(Repr::Toml(
                "targetRules is only valid in a global allowlist".into(),
            )));
        }
        allowlists.push(convert_allowlist(a).map_err(|e| e.rule(&id))?);
    }
    let required = convert_required(r.required).map_err(|e| e.rule(&id))?;
    let set_category = r.category.is_some();
    let set_severity = r.severity.is_some();
    let set_confidence = r.confidence.is_some();
    let set_multiline = r.multiline.is_some();
    Ok(Partial {
        rule: Rule {
            description: r.description,
            category,
            severity,
            confidence,
            regex: r.regex.filter(|s| !s.is_empty()),
            secret_group: r.secret_group.filter(|&g| g != 0),
            entropy: r.entropy.filter(|&e| e > 0.0),
            keywords: r.keywords.iter().map(|k| k.to_ascii_lowercase()).collect(),
            checksum,
            path: r.path.filter(|s| !s.is_empty()),
            tags: r.tags,
            multiline: r.multiline.unwrap_or(false),
            crypto,
            allowlists,
            skip_report: r.skip_report,
            skip_placeholders: r.skip_placeholders,
            required,
            examples: r.examples,
            counterexamples: r.counterexamples,
            example_path: r.example_path,
            id,
        },
        set_category,
        set_severity,
        set_confidence,
        set_multiline,
    })
}

/// A rule's `[[rules.required]]` entries (each must name a rule).
fn convert_required(raw: Vec<RawRequired>) -> Result<Vec<Required>, ConfigError> {
    raw.into_iter()
        .map(|q| {
            let rid = q.id.trim();
            if rid.is_empty() {
                return Err(ConfigError::new(Repr::MissingRequiredId));
            }
            Ok(Required {
                id: rid.to_owned(),
                within_lines: q.within_lines,
                within_columns: q.within_columns,
            })
        })
        .collect()
}

fn convert_allowlist(a: RawAllowlist) -> Result<Allowlist, ConfigError> {
    if a.regexes.is_empty() && a.paths.is_empty() && a.stopwords.is_empty() && a.commits.is_empty()
    {
        return Err(ConfigError::new(Repr::EmptyAllowlist));
    }
    let regex_target = match a.regex_target.as_deref() {
        None | Some("" | "secret") => RegexTarget::Secret,
        Some("match") => RegexTarget::Match,
        Some("line") => RegexTarget::Line,
        Some(other) => {
            return Err(ConfigError::new(Repr::UnknownRegexTarget(other.to_owned())));
        }
    };
    let condition = match a
        .condition
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("" | "OR") => Condition::Or,
        Some("AND") => Condition::And,
        Some(_) => {
            return Err(ConfigError::new(Repr::UnknownCondition(
                a.condition.unwrap_or_default(),
            )));
        }
    };
    Ok(Allowlist {
        description: a.description,
        regexes: a.regexes,
        regex_target,
        stopwords: a.stopwords,
        paths: a.paths,
        condition,
        target_rules: a.target_rules,
        confidence: a.confidence.as_deref().map(parse_confidence).transpose()?,
    })
}

fn parse_confidence(c: &str) -> Result<Confidence, ConfigError> {
    c.parse().map_err(|_| {
        ConfigError::new(Repr::UnknownValue {
            field: "confidence",
            value: c.to_owned(),
        })
    })
}

/// Checks a merged rule set: every rule can match something, every regex parses (translated
/// from Go syntax where needed), secret groups exist, target rules exist.
///
/// As in gitleaks, a config that extends another may name a rule without `regex` or `path`
/// (an override whose base lacks it, say); such a rule is kept but never matches.
fn validate(set: &mut RuleSet, extends: bool, trust: Trust) -> Result<(), ConfigError> {
    // Parsing every regex is most of a load: on all cores, the first error in rule order wins.
    let min_items = if trust == Trust::Builtin {
        usize::MAX
    } else {
        32
    };
    let checked = crate::exec::par_map(&set.rules, min_items, |rule| {
        let mut rule = rule.clone();
        let mut checked = Checked::default();
        validate_rule(&mut rule, extends, trust, &mut checked).map(|()| (rule, checked))
    });
    let mut rules = Vec::with_capacity(set.rules.len());
    for one in checked {
        let (rule, checked) = one?;
        rules.push(rule);
        set.checked.extend(checked);
    }
    set.rules = rules;
    let ids: HashSet<&str> = set.rules.iter().map(|r| r.id.as_str()).collect();
    for a in &mut set.allowlists {
        if let Some(missing) = a.target_rules.iter().find(|t| !ids.contains(t.as_str())) {
            return Err(ConfigError::new(Repr::UnknownTargetRule(missing.clone())));
        }
    }
    for a in &mut set.allowlists {
        check_allowlist(a, trust, &mut set.checked).map_err(ConfigError::new)?;
    }
    Ok(())
}

/// One rule's part of [`validate`]: translates and checks its patterns in place, recording
/// each check in `checked`.
fn validate_rule(
    rule: &mut Rule,
    extends: bool,
    trust: Trust,
    checked: &mut Checked,
) -> Result<(), ConfigError> {
    let id = rule.id.clone();
    let err = |k| ConfigError::new(k).rule(&id);
    if rule.regex.is_none() && rule.path.is_none() && !extends {
        return Err(err(Repr::NoRegexOrPath));
    }
    if rule.checksum.is_some() && rule.regex.is_none() && !extends {
        return Err(err(Repr::ChecksumWithoutRegex));
    }
    if let Some(re) = &mut rule.regex {
        let check = check_pattern(re, trust, checked).map_err(|e| err(Repr::Regex(e)))?;
        if let (Some(g), Check::Parsed { groups, .. }) = (rule.secret_group, check)
            && g > groups
        {
            return Err(err(Repr::SecretGroup {
                group: g,
                max: groups,
            }));
        }
    }
    if let Some(p) = &mut rule.path {
        check_pattern(p, trust, checked).map_err(|e| err(Repr::Regex(format!("path: {e}"))))?;
    }
    for a in &mut rule.allowlists {
        check_allowlist(a, trust, checked).map_err(err)?;
    }
    Ok(())
}

fn check_allowlist(a: &mut Allowlist, trust: Trust, checked: &mut Checked) -> Result<(), Repr> {
    for re in a.regexes.iter_mut().chain(a.paths.iter_mut()) {
        check_pattern(re, trust, checked).map_err(|e| Repr::Regex(format!("allowlist: {e}")))?;
    }
    Ok(())
}

/// Translates `re` in place (Go syntax to capstan's) and checks it, unless it is a built-in
/// pattern, which ships translated and checked.
fn check_pattern(re: &mut String, trust: Trust, checked: &mut Checked) -> Result<Check, String> {
    let check = match trust {
        Trust::Builtin => Check::Builtin,
        Trust::Check => {
            let (translated, check) = super::regex::translate_checked(re)?;
            *re = translated;
            check
        }
    };
    checked.insert(re, check);
    Ok(check)
}
