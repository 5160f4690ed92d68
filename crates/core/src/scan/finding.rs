//! What a scan reports.

use serde::{Deserialize, Serialize};

use super::rule::{Category, Confidence, CryptoInfo, Severity};

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
    /// How likely it is to be real (see [`Confidence`]); reports written before capstan had
    /// it read as medium.
    #[serde(default)]
    pub confidence: Confidence,
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
    /// Stable across line moves: a hash (BLAKE3, 32 lowercase hex digits) of rule id, path and
    /// the secret as found, so it is the same whether the scan redacts or not.
    pub fingerprint: String,
    /// How the secret was confirmed to be in its provider's format, when it was: rules with a
    /// `checksum` verify it offline (JSON `"verified": "checksum"`; absent otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<Verified>,
    /// Tags of the rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Crypto rules: the algorithm, primitive, quantum class and replacement.
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub crypto: Option<CryptoInfo>,
    /// Image scans: the image, manifest and layer the finding was made in (`path` is then the
    /// path inside the layer, or `config:…` in the image config).
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageOrigin>,
    /// History scans: the commit that introduced the blob (`path` is its path there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitOrigin>,
}

/// How a finding's secret was verified. Nothing in capstan contacts a provider: a verified
/// secret is well-formed, not known to be live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Verified {
    /// The checksum the provider builds into its tokens holds (see [`Checksum`](super::Checksum)).
    Checksum,
}

impl Verified {
    /// The lowercase name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verified::Checksum => "checksum",
        }
    }
}

/// The commit that first brought a blob into history (oldest in history order).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitOrigin {
    /// The commit id (40 hex digits).
    pub commit: String,
    /// Its author's name.
    pub author: String,
    /// Its author's email.
    pub email: String,
    /// When it was authored, RFC 3339 with the author's UTC offset.
    pub date: String,
    /// Its message.
    pub message: String,
}

/// Where in a container image a finding was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageOrigin {
    /// The image as given: `alpine`, `ghcr.io/org/app:1.2`, `oci:DIR:TAG`,
    /// `docker-archive:FILE`.
    pub image: String,
    /// The digest of the manifest scanned (the platform's, for a multi-platform image); none
    /// for a legacy `docker save` archive, which has no manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    /// The platform picked from a multi-platform index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// The layer holding the file; none for findings in the image config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<LayerRef>,
    /// The layer whose whiteout deleted the file: it is not in the running container's
    /// filesystem, but its bytes still ship with every pull.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_in_layer: Option<u32>,
}

/// A layer of an image: its index from the base (0) and its digest as the manifest names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRef {
    /// 0 for the base layer.
    pub index: u32,
    /// `sha256:…`.
    pub digest: String,
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

/// The key-derivation context of fingerprints: fixed forever for this format (a new format
/// gets a new context, so old and new fingerprints never coincide).
const FINGERPRINT_CONTEXT: &str = "capstan 2025 finding fingerprint v2";

/// Hex digits in a fingerprint: the first 128 bits of the BLAKE3 output.
pub(crate) const FINGERPRINT_HEX_LEN: usize = 32;

/// BLAKE3 in key-derivation mode (its own context, so no other BLAKE3 use in capstan can
/// produce the same value) over the parts, each preceded by its length as a little-endian
/// `u64` (so no two different (rule, path, secret) triples frame to the same input), shown as
/// the first 32 hex digits (128 bits): stable across platforms and Rust versions, and
/// collision-resistant, so a crafted finding cannot share a baselined finding's fingerprint.
///
/// `secret` is the raw matched bytes, never the redacted form: a fingerprint is the same
/// whether or not the scan redacts.
pub(crate) fn fingerprint(rule_id: &str, path: &str, secret: &[u8]) -> String {
    let mut h = blake3::Hasher::new_derive_key(FINGERPRINT_CONTEXT);
    for part in [rule_id.as_bytes(), path.as_bytes(), secret] {
        h.update(&(part.len() as u64).to_le_bytes());
        h.update(part);
    }
    let hex = h.finalize().to_hex();
    hex[..FINGERPRINT_HEX_LEN].to_owned()
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
        assert_eq!(a.len(), FINGERPRINT_HEX_LEN);
    }

    #[test]
    fn fingerprint_frames_each_field() {
        // Moving bytes across a field boundary changes the fingerprint, whichever boundary.
        assert_ne!(fingerprint("ab", "c", b""), fingerprint("a", "bc", b""));
        assert_ne!(fingerprint("a", "bc", b"d"), fingerprint("a", "b", b"cd"));
        assert_ne!(fingerprint("a", "", b"b"), fingerprint("a", "b", b""));
        // A separator byte inside a field cannot forge the framing either.
        assert_ne!(fingerprint("a\0b", "c", b""), fingerprint("a", "b\0c", b""));
        assert_ne!(fingerprint("", "", b""), fingerprint("", "", b"\0"));
    }

    #[test]
    fn fingerprint_is_32_lowercase_hex_digits_and_pinned() {
        let f = fingerprint("github-classic-pat", ".env", b"ghp_x");
        assert_eq!(f.len(), 32);
        assert!(
            f.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "{f}"
        );
        // The format is part of every baseline and ignore file: it must never drift.
        let mut h = blake3::Hasher::new_derive_key("capstan 2025 finding fingerprint v2");
        for part in [&b"github-classic-pat"[..], b".env", b"ghp_x"] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part);
        }
        assert_eq!(f, h.finalize().to_hex()[..32]);
    }

    #[test]
    fn fingerprint_is_the_same_redacted_or_not() {
        use crate::scan::{RuleSet, Rules, Scanner};
        let rules = Rules::compile(&RuleSet::builtin(&["secrets"]).expect("pack")).expect("rules");
        let input = b"GITHUB_TOKEN=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\n";
        let run = |redact: bool| {
            let mut s = Scanner::new(&rules).path(".env").redact(redact);
            s.feed(input);
            s.finish()
        };
        let (redacted, plain) = (run(true), run(false));
        assert!(!redacted.is_empty());
        assert_eq!(redacted.len(), plain.len());
        for (r, p) in redacted.iter().zip(&plain) {
            assert_ne!(r.secret, p.secret, "one run redacts, the other does not");
            assert_eq!(r.fingerprint, p.fingerprint);
            assert_eq!(r.fingerprint.len(), 32);
            assert_eq!(
                r.fingerprint,
                fingerprint(&r.rule_id, ".env", p.secret.as_bytes()),
                "taken over the raw secret"
            );
        }
    }

    #[test]
    fn redaction_is_char_safe_and_never_reveals_much() {
        assert_eq!(redact(""), "…");
        assert_eq!(redact("ééééééééé"), "éé…");
        assert_eq!(redact("abc"), "…");
    }
}
