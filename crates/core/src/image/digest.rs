//! Content digests (`sha256:<64 hex>`, `sha512:<128 hex>`): parsed, and checked while a blob
//! streams past ([`Verifying`]).

use std::fmt;
use std::io::{self, Read};

use sha2::{Digest as _, Sha256, Sha512};

/// A content digest as OCI writes it: `algorithm:hex`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<64 lowercase hex>` or `sha512:<128 lowercase hex>`; `None` otherwise
    /// (other algorithms cannot be verified, so they are not accepted).
    ///
    /// ```
    /// use capstan::image::Digest;
    /// let d = Digest::parse(&format!("sha256:{}", "ab".repeat(32))).unwrap();
    /// assert_eq!(d.hex().len(), 64);
    /// assert!(Digest::parse("sha256:ABC").is_none());
    /// assert!(Digest::parse("md5:00").is_none());
    /// ```
    pub fn parse(s: &str) -> Option<Digest> {
        let (alg, hex) = s.split_once(':')?;
        let len = match alg {
            "sha256" => 64,
            "sha512" => 128,
            _ => return None,
        };
        (hex.len() == len && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Digest(s.to_owned()))
    }

    /// The SHA-256 digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Digest(format!("sha256:{}", hex(&Sha256::digest(bytes))))
    }

    /// `sha256`, `sha512`.
    pub fn algorithm(&self) -> &str {
        self.0.split_once(':').map_or("", |(a, _)| a)
    }

    /// The hex part.
    pub fn hex(&self) -> &str {
        self.0.split_once(':').map_or("", |(_, h)| h)
    }

    /// `algorithm:hex`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short form for messages: `sha256:0123456789ab`.
    pub fn short(&self) -> &str {
        let end = (self.algorithm().len() + 1 + 12).min(self.0.len());
        &self.0[..end]
    }

    /// Whether `bytes` have this digest.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        let mut h = Hasher::for_digest(self);
        h.update(bytes);
        h.finish() == self.hex()
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn for_digest(d: &Digest) -> Hasher {
        if d.algorithm() == "sha512" {
            Hasher::Sha512(Sha512::new())
        } else {
            Hasher::Sha256(Sha256::new())
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Sha512(h) => hex(&h.finalize()),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// What [`Verifying::finish`] found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mismatch {
    /// The content hashes to something else.
    Digest { actual: String },
    /// More or fewer bytes than the descriptor's size.
    Size { expected: u64, actual: u64 },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Digest { actual } => {
                write!(f, "content does not match its digest (got {actual})")
            }
            Mismatch::Size { expected, actual } => {
                write!(
                    f,
                    "size mismatch: {actual} bytes where the manifest says {expected}"
                )
            }
        }
    }
}

/// Hashes a blob as it is read, never reading past its declared size; [`finish`](Self::finish)
/// (after the reader has been drained) says whether it was the blob the digest names.
pub(crate) struct Verifying<R> {
    inner: R,
    hasher: Option<Hasher>,
    expected: Digest,
    size: Option<u64>,
    read: u64,
}

impl<R: Read> Verifying<R> {
    pub(crate) fn new(inner: R, expected: &Digest, size: Option<u64>) -> Self {
        Verifying {
            inner,
            hasher: Some(Hasher::for_digest(expected)),
            expected: expected.clone(),
            size,
            read: 0,
        }
    }

    /// Reads what is left, then checks size and digest.
    pub(crate) fn finish(mut self) -> io::Result<Result<(), Mismatch>> {
        io::copy(&mut self, &mut io::sink())?;
        if let Some(expected) = self.size
            && expected != self.read
        {
            return Ok(Err(Mismatch::Size {
                expected,
                actual: self.read,
            }));
        }
        let actual = self.hasher.take().map(Hasher::finish).unwrap_or_default();
        if actual == self.expected.hex() {
            Ok(Ok(()))
        } else {
            Ok(Err(Mismatch::Digest {
                actual: format!("{}:{actual}", self.expected.algorithm()),
            }))
        }
    }
}

impl<R: Read> Read for Verifying<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // One byte beyond the declared size is read, so an oversized blob is noticed; no more.
        let room = match self.size {
            Some(s) => (s + 1).saturating_sub(self.read),
            None => u64::MAX,
        };
        if room == 0 {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifying_checks_digest_and_size() {
        let data = b"hello layer";
        let d = Digest::sha256_of(data);
        assert!(d.matches(data));
        let v = Verifying::new(&data[..], &d, Some(data.len() as u64));
        assert_eq!(v.finish().expect("reads"), Ok(()));
        let v = Verifying::new(&b"hello lazer"[..], &d, None);
        assert!(matches!(
            v.finish().expect("reads"),
            Err(Mismatch::Digest { .. })
        ));
        let v = Verifying::new(&data[..], &d, Some(4));
        assert_eq!(
            v.finish().expect("reads"),
            Err(Mismatch::Size {
                expected: 4,
                actual: 5
            })
        );
        let sha512 = Digest::parse(&format!("sha512:{}", "0".repeat(128))).expect("parses");
        assert_eq!(sha512.algorithm(), "sha512");
        assert!(!sha512.matches(data));
        assert_eq!(d.short().len(), "sha256:".len() + 12);
    }
}
