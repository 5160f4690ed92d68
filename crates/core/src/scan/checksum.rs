//! Offline checksums that some providers build into their tokens: a rule with
//! `checksum = "<scheme>"` reports a match only when the secret's checksum holds, and marks the
//! finding `verified: checksum`. Nothing here contacts the provider; a valid checksum says the
//! string was made by the provider's generator (or by someone who knows the format), not that
//! the token is live.
//!
//! Every scheme is CRC-32 (IEEE 802.3, the zlib / `hash/crc32` / `Zlib.crc32` one), computed by
//! `crc32fast`; they differ in what is checksummed and how the checksum is written.
//!
//! | scheme | tokens | layout | documented by |
//! |---|---|---|---|
//! | `github-crc32` | GitHub `ghp_ gho_ ghu_ ghs_` and 40-character `ghr_`, npm `npm_` | `prefix_` + random base62 + CRC-32 of the random part, base62 (`0-9A-Za-z`), 6 digits | GitHub blog, "Behind GitHub's new authentication token formats" (2021-04-05) and "Announcing npm's new access token format" (2021-09-23): the last six characters are a CRC32 checksum encoded in base62 |
//! | `grafana-crc32` | Grafana service-account tokens `glsa_` | `glsa_` + 32 random + `_` + CRC-32 of everything before that `_`, as the 8 lowercase hex digits of its little-endian bytes | grafana/grafana `pkg/components/satokengen` (`CalculateChecksum`, `Decode`) |
//! | `gitlab-crc32` | GitLab routable tokens (`glpat-…`, `glrt-t1_…`) | everything + CRC-32 of everything before it, base36 (`0-9a-z`), 7 digits | gitlab `lib/authn/token_field/generator/routable_token.rb` (`append_crc`) and its spec matchers |

use std::fmt;

/// An offline checksum scheme a rule's secrets carry (`checksum = "…"` in a rule pack).
///
/// ```
/// use capstan::scan::Checksum;
///
/// let scheme = Checksum::parse("grafana-crc32").expect("a known scheme");
/// // Grafana's own test vector (pkg/components/satokengen).
/// assert!(scheme.verify(b"glsa_iNValIdinValiDinvalidinvalidinva_5b582697"));
/// assert!(!scheme.verify(b"glsa_iNValIdinValiDinvalidinvalidinvb_5b582697"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Checksum {
    /// GitHub's token format, which npm adopted: after the last `_`, random base62 characters
    /// and the CRC-32 of them as 6 base62 digits (`0-9A-Za-z`, most significant first,
    /// zero-padded). The prefix is not checksummed.
    GithubCrc32,
    /// Grafana service-account tokens: the token up to its last `_`, then the CRC-32 of that
    /// part as the 8 lowercase hex digits of its little-endian bytes.
    GrafanaCrc32,
    /// GitLab routable tokens: the token's last 7 characters are the CRC-32 of everything
    /// before them (prefix included) in base36 (`0-9a-z`), zero-padded.
    GitlabCrc32,
}

/// Every scheme, in the order error messages list them.
const ALL: [Checksum; 3] = [
    Checksum::GithubCrc32,
    Checksum::GrafanaCrc32,
    Checksum::GitlabCrc32,
];

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BASE36: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Digits of the GitHub checksum (62^6 > 2^32).
const GITHUB_DIGITS: usize = 6;
/// Digits of the GitLab checksum (36^7 > 2^32).
const GITLAB_DIGITS: usize = 7;
/// Digits of the Grafana checksum (4 bytes in hex).
const GRAFANA_DIGITS: usize = 8;

impl Checksum {
    /// The name used in rule packs.
    pub fn as_str(self) -> &'static str {
        match self {
            Checksum::GithubCrc32 => "github-crc32",
            Checksum::GrafanaCrc32 => "grafana-crc32",
            Checksum::GitlabCrc32 => "gitlab-crc32",
        }
    }

    /// The scheme a rule pack names, if it is one capstan knows.
    pub fn parse(name: &str) -> Option<Self> {
        ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The names of every scheme, comma-separated (for error messages).
    pub(crate) fn names() -> String {
        ALL.map(Checksum::as_str).join(", ")
    }

    /// Whether `secret` (the whole token, prefix included) carries a valid checksum of this
    /// scheme. Anything malformed — too short, a checksum digit outside the scheme's alphabet
    /// or in the wrong case — fails.
    pub fn verify(self, secret: &[u8]) -> bool {
        match self {
            Checksum::GithubCrc32 => {
                let Some(body) = after_last(secret, b'_') else {
                    return false;
                };
                let Some(cut) = body.len().checked_sub(GITHUB_DIGITS).filter(|&c| c > 0) else {
                    return false;
                };
                let (random, given) = body.split_at(cut);
                random.iter().all(u8::is_ascii_alphanumeric)
                    && given == digits::<GITHUB_DIGITS>(crc32fast::hash(random), BASE62)
            }
            Checksum::GrafanaCrc32 => {
                let Some(at) = secret.iter().rposition(|&b| b == b'_') else {
                    return false;
                };
                let (key, given) = (&secret[..at], &secret[at + 1..]);
                !key.is_empty() && given == grafana_hex(crc32fast::hash(key))
            }
            Checksum::GitlabCrc32 => {
                let Some(cut) = secret.len().checked_sub(GITLAB_DIGITS).filter(|&c| c > 0) else {
                    return false;
                };
                let (body, given) = secret.split_at(cut);
                given == digits::<GITLAB_DIGITS>(crc32fast::hash(body), BASE36)
            }
        }
    }

    /// `unsigned` (a token without its checksum) completed with the checksum this scheme
    /// gives it, so that [`verify`](Self::verify) accepts it: how test fixtures and rule
    /// examples get made-up tokens that a checksum rule reports. (Only a provider issues a
    /// token that works.)
    ///
    /// ```
    /// use capstan::scan::Checksum;
    ///
    /// let token = Checksum::GithubCrc32.with_checksum("ghp_Capstan0Test0Token0Made0Up0Xyz");
    /// assert_eq!(token.len(), 40);
    /// assert!(Checksum::GithubCrc32.verify(token.as_bytes()));
    /// ```
    pub fn with_checksum(self, unsigned: &str) -> String {
        let tail = match self {
            Checksum::GithubCrc32 => {
                let random = after_last(unsigned.as_bytes(), b'_').unwrap_or(unsigned.as_bytes());
                digits::<GITHUB_DIGITS>(crc32fast::hash(random), BASE62).to_vec()
            }
            Checksum::GrafanaCrc32 => {
                let mut t = vec![b'_'];
                t.extend(grafana_hex(crc32fast::hash(unsigned.as_bytes())));
                t
            }
            Checksum::GitlabCrc32 => {
                digits::<GITLAB_DIGITS>(crc32fast::hash(unsigned.as_bytes()), BASE36).to_vec()
            }
        };
        format!("{unsigned}{}", String::from_utf8_lossy(&tail))
    }
}

impl fmt::Display for Checksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The bytes after the last `sep`, if `sep` occurs.
fn after_last(bytes: &[u8], sep: u8) -> Option<&[u8]> {
    bytes
        .iter()
        .rposition(|&b| b == sep)
        .map(|at| &bytes[at + 1..])
}

/// `n` in base `alphabet.len()`, most significant digit first, zero-padded to `N` digits (`N`
/// is always enough for a `u32` in the schemes here).
fn digits<const N: usize>(mut n: u32, alphabet: &[u8]) -> [u8; N] {
    let base = alphabet.len() as u32;
    let mut out = [alphabet[0]; N];
    for slot in out.iter_mut().rev() {
        *slot = alphabet[(n % base) as usize];
        n /= base;
    }
    out
}

/// Grafana's checksum text: the CRC's little-endian bytes, each as two lowercase hex digits.
fn grafana_hex(crc: u32) -> [u8; GRAFANA_DIGITS] {
    let mut out = [0u8; GRAFANA_DIGITS];
    for (i, b) in crc.to_le_bytes().into_iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0xf)];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made-up tokens (no provider issued them), each signed with its scheme.
    fn samples() -> Vec<(Checksum, String, usize)> {
        // (scheme, token, first position the checksum covers)
        let mut out = Vec::new();
        for prefix in ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_"] {
            let t = Checksum::GithubCrc32
                .with_checksum(&format!("{prefix}Capstan0Test0Token0Made0Up0Xyz"));
            out.push((Checksum::GithubCrc32, t, prefix.len()));
        }
        out.push((
            Checksum::GrafanaCrc32,
            Checksum::GrafanaCrc32.with_checksum("glsa_CapstanTestTokenMadeUpForTests01"),
            0,
        ));
        out.push((
            Checksum::GitlabCrc32,
            Checksum::GitlabCrc32.with_checksum("glpat-nzphwuhLB9Wh5vDDsp1OeG86MQM.01.0r"),
            0,
        ));
        out.push((
            Checksum::GitlabCrc32,
            Checksum::GitlabCrc32.with_checksum("glrt-t2_PZHwpsLoe1ShDW6fPCe4Smc6N2YKbzoxCA.0y"),
            0,
        ));
        out
    }

    #[test]
    fn made_up_tokens_verify_and_have_the_documented_shape() {
        for (scheme, token, _) in samples() {
            assert!(scheme.verify(token.as_bytes()), "{scheme}: {token}");
        }
        let gh = Checksum::GithubCrc32.with_checksum("ghp_Capstan0Test0Token0Made0Up0Xyz");
        assert_eq!(gh.len(), 40, "4 + 30 + 6: {gh}");
        let glsa = Checksum::GrafanaCrc32.with_checksum("glsa_CapstanTestTokenMadeUpForTests01");
        assert_eq!(glsa.len(), 5 + 32 + 1 + 8, "{glsa}");
    }

    #[test]
    fn the_rule_pack_examples_are_signed_as_here() {
        // The built-in packs' examples were made with a script; this pins that it and `with_checksum`
        // agree on every scheme.
        for (scheme, unsigned, signed) in [
            (
                Checksum::GithubCrc32,
                "ghp_yFIxVHLiwrtXziBihb18Uwvc0fhnrf",
                "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",
            ),
            (
                Checksum::GithubCrc32,
                "npm_SgbA730rSOvbOQK3daoKKAhQU4czSy",
                "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",
            ),
            (
                Checksum::GrafanaCrc32,
                "glsa_YrCE5EyruxRieI0U5xe0JZbWD7RYxVzg",
                "glsa_YrCE5EyruxRieI0U5xe0JZbWD7RYxVzg_3da4e3f2",
            ),
            (
                Checksum::GitlabCrc32,
                "glpat-nzphwuhLB9Wh5vDDsp1OeG86MQM.01.0r",
                "glpat-nzphwuhLB9Wh5vDDsp1OeG86MQM.01.0r0v3k6i4",
            ),
            (
                Checksum::GitlabCrc32,
                "glpat-XA6Tp9HyS4bgejydFbL4ZGM6MgpvOjR4CnU6OWsN.14",
                "glpat-XA6Tp9HyS4bgejydFbL4ZGM6MgpvOjR4CnU6OWsN.141yw83b1",
            ),
        ] {
            assert_eq!(scheme.with_checksum(unsigned), signed);
        }
    }

    #[test]
    fn the_providers_published_examples_verify() {
        // Grafana's test vector (pkg/components/satokengen/tokengen_test.go).
        assert!(Checksum::GrafanaCrc32.verify(b"glsa_iNValIdinValiDinvalidinvalidinva_5b582697"));
        // GitHub's layout with a checksum of all zero bits: CRC-32 of "" is 0, but a token
        // needs random characters, so the empty body fails.
        assert!(!Checksum::GithubCrc32.verify(b"ghp_000000"));
    }

    #[test]
    fn every_single_character_mutation_is_rejected() {
        let alphabet: Vec<u8> = BASE62.iter().copied().chain(*b"_-.").collect();
        for (scheme, token, covered_from) in samples() {
            let bytes = token.as_bytes();
            for pos in covered_from..bytes.len() {
                for &c in &alphabet {
                    if c == bytes[pos] {
                        continue;
                    }
                    let mut m = bytes.to_vec();
                    m[pos] = c;
                    assert!(
                        !scheme.verify(&m),
                        "{scheme}: {token} with {:?} at {pos} still verifies",
                        char::from(c)
                    );
                }
            }
        }
    }

    #[test]
    fn checksum_digits_are_case_sensitive_and_malformed_input_fails() {
        let glsa = Checksum::GrafanaCrc32.with_checksum("glsa_CapstanTestTokenMadeUpForTests01");
        let upper = glsa[..glsa.len() - 8].to_owned() + &glsa[glsa.len() - 8..].to_uppercase();
        if upper != glsa {
            assert!(!Checksum::GrafanaCrc32.verify(upper.as_bytes()));
        }
        for scheme in ALL {
            for bad in [&b""[..], b"_", b"ghp_", b"abc", b"\xff\xfe_\x00"] {
                assert!(!scheme.verify(bad), "{scheme}: {bad:?}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for scheme in ALL {
            assert_eq!(Checksum::parse(scheme.as_str()), Some(scheme));
        }
        assert_eq!(Checksum::parse("crc32"), None);
        assert_eq!(
            Checksum::names(),
            "github-crc32, grafana-crc32, gitlab-crc32"
        );
    }

    #[test]
    fn digits_pad_and_cover_the_whole_range() {
        assert_eq!(&digits::<6>(0, BASE62), b"000000");
        assert_eq!(&digits::<6>(u32::MAX, BASE62), b"4gfFC3");
        assert_eq!(&digits::<7>(u32::MAX, BASE36), b"1z141z3");
        assert_eq!(&grafana_hex(0x9726_585b), b"5b582697");
    }
}
