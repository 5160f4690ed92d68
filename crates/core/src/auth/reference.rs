//! Image references, parsed and normalized as the docker CLI does
//! (`github.com/distribution/reference`: `ParseNormalizedNamed`).

use std::fmt;

/// Docker Hub's registry host in normalized references.
pub const DOCKER_HUB: &str = "docker.io";
/// The key Docker Hub's credentials are stored under in `config.json`.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";
/// Longest name (registry and path) a reference may have.
const NAME_MAX: usize = 255;

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {reference:?}: {reason}")]
pub struct ReferenceError {
    reference: String,
    kind: ReferenceErrorKind,
    reason: &'static str,
}

/// Which part of an image reference is wrong in a [`ReferenceError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceErrorKind {
    /// The reference is empty.
    Empty,
    /// The tag is not 1-128 of `[A-Za-z0-9_.-]`, not starting with `.` or `-`.
    Tag,
    /// The digest is not `algorithm:hex` or its hex is malformed.
    Digest,
    /// The registry is not a host name or IP with an optional port.
    Registry,
    /// The repository path is not lowercase components separated by `/`.
    Path,
    /// The name (registry and path) is longer than 255 characters.
    TooLong,
}

impl ReferenceError {
    /// Which part is wrong.
    pub fn kind(&self) -> ReferenceErrorKind {
        self.kind
    }

    /// The reference as given.
    pub fn reference(&self) -> &str {
        &self.reference
    }
}

/// A normalized image reference: `alpine` is `docker.io/library/alpine:latest`.
///
/// ```
/// use capstan::auth::ImageRef;
///
/// let r: ImageRef = "alpine".parse()?;
/// assert_eq!(r.to_string(), "docker.io/library/alpine:latest");
/// assert_eq!(r.credential_key(), "https://index.docker.io/v1/");
///
/// let r: ImageRef = "localhost:5000/team/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".parse()?;
/// assert_eq!(r.registry(), "localhost:5000");
/// assert_eq!(r.path(), "team/app");
/// assert_eq!(r.tag(), None);
/// assert!("Alpine".parse::<ImageRef>().is_err());
/// # Ok::<(), capstan::auth::ReferenceError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRef {
    registry: String,
    path: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    /// The registry host (and port): `docker.io`, `ghcr.io`, `localhost:5000`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository path: `library/alpine`, `org/app`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag; `latest` when the reference had neither tag nor digest.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, `algorithm:hex`.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The key the registry's credentials are stored under in `config.json`: Docker Hub's
    /// `https://index.docker.io/v1/`, else the registry host.
    pub fn credential_key(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_KEY
        } else {
            &self.registry
        }
    }

    /// `registry/path`, without tag or digest (podman's scoped auth keys match against it).
    pub fn repository(&self) -> String {
        format!("{}/{}", self.registry, self.path)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for ImageRef {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        use ReferenceErrorKind as K;
        let err = |kind, reason| ReferenceError {
            reference: s.to_owned(),
            kind,
            reason,
        };
        if s.is_empty() {
            return Err(err(K::Empty, "it is empty"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                check_digest(d).map_err(|reason| err(K::Digest, reason))?;
                (r, Some(d.to_owned()))
            }
            None => (s, None),
        };
        // A tag follows the last ':' after the last '/' (a ':' before it is a port).
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let at = last_slash + i;
                let tag = &rest[at + 1..];
                if !valid_tag(tag) {
                    return Err(err(
                        K::Tag,
                        "the tag must be 1-128 of [A-Za-z0-9_.-], not starting with . or -",
                    ));
                }
                (&rest[..at], Some(tag.to_owned()))
            }
            None => (rest, None),
        };
        let (registry, path) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                (first, remainder.to_owned())
            }
            _ => (DOCKER_HUB, name.to_owned()),
        };
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB
        } else {
            registry
        };
        if !valid_host(registry) {
            return Err(err(
                K::Registry,
                "the registry must be a host name or IP, with an optional :port",
            ));
        }
        let path = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(err(K::Path, "repository names must be lowercase"));
        }
        if !path.split('/').all(valid_component) {
            return Err(err(
                K::Path,
                "each path component must be lowercase letters and digits, separated by '.', '_', '__' or '-'",
            ));
        }
        if registry.len() + 1 + path.len() > NAME_MAX {
            return Err(err(K::TooLong, "the name is longer than 255 characters"));
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_owned())
        } else {
            tag
        };
        Ok(ImageRef {
            registry: registry.to_owned(),
            path,
            tag,
            digest,
        })
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let sep_start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &c[sep_start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

/// `[\w][\w.-]{0,127}`
fn valid_tag(t: &str) -> bool {
    let word = |x: u8| x.is_ascii_alphanumeric() || x == b'_';
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && word(b[0])
        && b.iter().all(|&x| word(x) || x == b'.' || x == b'-')
}

/// A host name (labels of letters, digits and inner hyphens), an IPv4 address, or a bracketed
/// IPv6 address; then an optional `:port`.
fn valid_host(h: &str) -> bool {
    let (host, port) = if let Some(rest) = h.strip_prefix('[') {
        match rest.split_once(']') {
            Some((v6, after)) => {
                if v6.parse::<std::net::Ipv6Addr>().is_err() {
                    return false;
                }
                ("", after.strip_prefix(':'))
            }
            None => return false,
        }
    } else {
        match h.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (h, None),
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    let label = |l: &str| {
        let b = l.as_bytes();
        !b.is_empty()
            && b[0].is_ascii_alphanumeric()
            && b[b.len() - 1].is_ascii_alphanumeric()
            && b.iter().all(|&x| x.is_ascii_alphanumeric() || x == b'-')
    };
    port_ok && (h.starts_with('[') || host.split('.').all(label))
}

/// `algorithm:encoded`; sha256 must be 64 lowercase hex digits.
fn check_digest(d: &str) -> Result<(), &'static str> {
    let Some((alg, hex)) = d.split_once(':') else {
        return Err("a digest is algorithm:hex, e.g. sha256:<64 hex digits>");
    };
    let hex_ok = |n: usize| {
        hex.len() == n
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let ok = match alg {
        "sha256" => hex_ok(64),
        "sha512" => hex_ok(128),
        _ => {
            !alg.is_empty()
                && alg
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b))
                && hex.len() >= 32
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
        }
    };
    if ok {
        Ok(())
    } else {
        Err("the digest is malformed (sha256 needs 64 lowercase hex digits)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn normalization_table() {
        let cases = [
            (
                "alpine",
                "docker.io/library/alpine:latest",
                "https://index.docker.io/v1/",
            ),
            (
                "alpine:3.20",
                "docker.io/library/alpine:3.20",
                "https://index.docker.io/v1/",
            ),
            (
                "bitnami/redis",
                "docker.io/bitnami/redis:latest",
                "https://index.docker.io/v1/",
            ),
            (
                "docker.io/alpine",
                "docker.io/library/alpine:latest",
                "https://index.docker.io/v1/",
            ),
            (
                "index.docker.io/library/alpine:1",
                "docker.io/library/alpine:1",
                "https://index.docker.io/v1/",
            ),
            ("localhost/app", "localhost/app:latest", "localhost"),
            (
                "localhost:5000/x",
                "localhost:5000/x:latest",
                "localhost:5000",
            ),
            (
                "ghcr.io/org/team/app:v1.2-rc_3",
                "ghcr.io/org/team/app:v1.2-rc_3",
                "ghcr.io",
            ),
            (
                "quay.io/org/repo@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "quay.io/org/repo@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                "quay.io",
            ),
            (
                "127.0.0.1:5000/a_b__c-d--e.f:t",
                "127.0.0.1:5000/a_b__c-d--e.f:t",
                "127.0.0.1:5000",
            ),
            ("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000"),
            ("Registry/app", "Registry/app:latest", "Registry"),
        ];
        for (input, full, key) in cases {
            let r: ImageRef = input.parse().unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.to_string(), full, "{input}");
            assert_eq!(r.credential_key(), key, "{input}");
        }
        let r: ImageRef = format!("nginx:1.27@{SHA}").parse().expect("tag and digest");
        assert_eq!((r.tag(), r.digest()), (Some("1.27"), Some(SHA)));
        assert_eq!(r.repository(), "docker.io/library/nginx");
    }

    #[test]
    fn invalid_references_say_why() {
        use ReferenceErrorKind as K;
        for (input, why, kind) in [
            ("", "empty", K::Empty),
            ("Alpine", "lowercase", K::Path),
            ("alpine:", "tag", K::Tag),
            ("alpine:.x", "tag", K::Tag),
            ("alpine@sha256:abc", "digest", K::Digest),
            ("alpine@sha256", "digest", K::Digest),
            ("a//b", "path component", K::Path),
            ("-a", "path component", K::Path),
            ("a-", "path component", K::Path),
            ("a..b", "path component", K::Path),
            ("ex ample.com/app", "registry", K::Registry),
            ("example.com:port/app", "registry", K::Registry),
            ("example.com/", "path component", K::Path),
        ] {
            let e = input.parse::<ImageRef>().expect_err(input);
            assert!(e.to_string().contains(why), "{input}: {e}");
            assert_eq!((e.kind(), e.reference()), (kind, input), "{e}");
        }
        let long = format!("example.com/{}", "a".repeat(250));
        let e = long.parse::<ImageRef>().expect_err("long");
        assert!(e.to_string().contains("255"));
        assert_eq!(e.kind(), K::TooLong);
    }
}
