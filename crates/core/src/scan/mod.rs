//! Scanning text for secrets, weak or quantum-vulnerable cryptography, and threats.
//!
//! - [`RuleSet`]: rules loaded from TOML — capstan's built-in packs ([`RuleSet::builtin`]) or a
//!   gitleaks config, unchanged ([`RuleSet::load`]).
//! - [`Rules`]: a rule set compiled once and shared by every thread.
//! - [`Scanner`]: scans one input fed in chunks; [`Rules::scan_bytes`] for the one-shot case.
//! - [`Finding`]: what a match reports, secret redacted by default.
//! - [`Checksum`]: the checksums some providers build into their tokens, verified offline; a
//!   rule that names one reports only secrets that pass, marked [`Verified::Checksum`].
//!
//! ```
//! use capstan::scan::{RuleSet, Rules};
//!
//! let rules = Rules::compile(&RuleSet::builtin(&["secrets"])?)?;
//! let findings = rules.scan_bytes(".env", b"GITHUB_TOKEN=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\n");
//! assert!(findings.iter().any(|f| f.rule_id.starts_with("github")));
//! assert!(findings.iter().all(|f| !f.secret.contains("8kTqZ2")), "redacted by default");
//! # Ok::<(), capstan::scan::ConfigError>(())
//! ```

mod cache;
mod checksum;
mod config;
mod engine;
mod finding;
#[cfg(feature = "git")]
pub(crate) mod git;
pub(crate) mod image;
mod merge;
mod observe;
mod outcome;
mod packs;
mod placeholder;
mod regex;
pub mod report;
mod request;
mod rule;
mod scanner;
mod shard;
mod shared;
mod suppress;
mod walk;

pub use cache::{CacheError, CacheErrorKind, CacheKey, CachedFile, LOCAL_SLOTS, ScanCache};
pub use checksum::Checksum;
pub use config::{ConfigError, ConfigErrorKind};
pub use engine::Rules;
pub use finding::{Finding, GitOrigin, ImageOrigin, LayerRef, Verified, redact, shannon_entropy};
pub use merge::{MergeError, merge};
pub use observe::{ContextScan, scan_in_background};
pub use outcome::{Issue, Progress, ScanOutcome, ScanStats, ShardInfo};
pub use packs::PACKS;
pub use request::{
    CachePolicy, Hooks, IGNORE_FILE_NAME, IgnoreFiles, Request, RequestError, RequestErrorKind,
    RuleSources, Scan,
};
pub use rule::{
    Allowlist, Category, Condition, Confidence, CryptoInfo, RegexTarget, Required, Rule, RuleSet,
    Severity,
};
pub use scanner::{BINARY_PROBE, MAX_LINE, MULTILINE_WINDOW, OVERLAP, Scanner};
pub use shard::{Shard, ShardError};
pub use shared::{
    DEFAULT_TIMEOUT as SHARED_CACHE_TIMEOUT, DEFAULT_TTL as SHARED_CACHE_TTL, SharedCache,
    SharedCacheError, SharedCacheOptions, SharedCounters,
};
pub use suppress::{SuppressError, SuppressErrorKind, Suppressions};
pub(crate) use walk::sort_findings;
pub use walk::{FileSink, TreeScanner, WalkOptions};
