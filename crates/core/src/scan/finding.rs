//! What a scan reports.

use serde::{Deserialize, Serialize};

use super::rule::{Category, CryptoInfo, Severity};

/// One match of one rule.
///
/// Positions are 1-based; columns count bytes from the start of the line, and `end_column` is
/// the column of the match's last byte (so it is ≥ 1). `secret` is redacted unless the scan was
/// configured with `redact(false)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule that matched.
    pub rule_id: String,
    /// What the rule finds.
    pub description: String,
    /// Secret, crypto or threat.
    pub category: Category,
    /// How much it matters.
    pub severity: Severity,
    /// The file (or `-` for standard input).
    pub path: String,
    /// First line of the match.
    pub line: u64,
    /// First column (byte) of the match.
    pub column: u64,
    /// Last line of the match.
    pub end_line: u64,
    /// Column of the match's last byte.
    pub end_column: u64,
    /// The secret, or its first characters and `…` when redacted.
    pub secret: String,
    /// Shannon entropy of the secret, bits per byte.
    pub entropy: f64,
    /// Stable across line moves: a hash of rule id, path and the secret.
    pub fingerprint: String,
    /// Tags of the rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Crypto rules: the algorithm, primitive, quantum class and replacement.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub crypto: Option<CryptoInfo>,
}

/// Shannon entropy of `bytes` in bits per byte (0 for empty input).
///
/// ```
/// assert_eq!(capstan::scan::shannon_entropy(b"aaaa"), 0.0);
/// assert!((capstan::scan::shannon_entropy(b"abcd") - 2.0).abs() < 1e-9);
/// ```
pub fn shannon_entropy(bytes: &[u8]) -> f64 {
    if bytes.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in bytes {
        counts[usize::from(b)] += 1;
    }
    let n = bytes.len() as f64;
    counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum()
}

/// The first characters of a secret and `…`: four for secrets of 16 characters or more,
/// fewer for short ones, so that redaction never reveals more than a quarter of a secret.
///
/// ```
/// assert_eq!(capstan::scan::redact("ghp_abcdefghijklmnopqrstuvwxyz0123456789"), "ghp_…");
/// assert_eq!(capstan::scan::redact("hunter2"), "h…");
/// ```
pub fn redact(secret: &str) -> String {
    let chars = secret.chars().count();
    let keep = (chars / 4).min(4);
    let mut out: String = secret.chars().take(keep).collect();
    out.push('…');
    out
}

/// FNV-1a over the parts, separated by a NUL, as 16 hex digits: stable across platforms and
/// Rust versions, unlike `DefaultHasher`.
pub(crate) fn fingerprint(rule_id: &str, path: &str, secret: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [rule_id.as_bytes(), path.as_bytes(), secret] {
        for &b in part.iter().chain(std::iter::once(&0u8)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_depends_on_each_part_only() {
        let a = fingerprint("r", "p", b"s");
        assert_eq!(a, fingerprint("r", "p", b"s"));
        assert_ne!(a, fingerprint("r2", "p", b"s"));
        assert_ne!(a, fingerprint("r", "p2", b"s"));
        assert_ne!(a, fingerprint("r", "p", b"s2"));
        assert_ne!(fingerprint("ab", "c", b""), fingerprint("a", "bc", b""));
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn redaction_is_char_safe_and_never_reveals_much() {
        assert_eq!(redact(""), "…");
        assert_eq!(redact("ééééééééé"), "éé…");
        assert_eq!(redact("abc"), "…");
    }
}
