//! Talking to a registry (feature `registry`): `GET /v2/` with credentials, following a
//! `Bearer` challenge to its token server.

use std::time::Duration;

use zeroize::{Zeroize, Zeroizing};

use super::{Credentials, ImageRef, Secret};

/// What the registry said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// `/v2/` answered 200 with these credentials.
    Ok,
    /// The registry (or its token server) refused them: 401 or 403.
    Denied,
}

/// Why a check could not be made (the network, a malformed challenge). Never holds a secret.
#[derive(Debug, thiserror::Error)]
#[error("{registry}: {message}")]
pub struct CheckError {
    registry: String,
    kind: CheckErrorKind,
    message: String,
}

/// What kind of thing went wrong in a [`CheckError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CheckErrorKind {
    /// The registry could not be reached or did not answer over HTTP.
    Network,
    /// The registry answered `/v2/` with a status that is neither success nor refusal.
    Status,
    /// The token server the registry named is not https: credentials were not sent to it.
    InsecureRealm,
    /// The token server could not be reached or gave no usable answer.
    TokenServer,
}

impl CheckError {
    /// What went wrong.
    pub fn kind(&self) -> CheckErrorKind {
        self.kind
    }

    /// The registry host.
    pub fn registry(&self) -> &str {
        &self.registry
    }
}

/// A parsed `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BearerChallenge {
    /// The token server's URL.
    pub realm: String,
    /// `service=` parameter.
    pub service: Option<String>,
    /// `scope=` parameter.
    pub scope: Option<String>,
}

impl BearerChallenge {
    /// Parses a `WWW-Authenticate` value; `None` unless it is a `Bearer` challenge with a realm.
    ///
    /// ```
    /// use capstan::auth::BearerChallenge;
    /// let c = BearerChallenge::parse(
    ///     r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
    /// ).unwrap();
    /// assert_eq!(c.realm, "https://auth.docker.io/token");
    /// assert_eq!(c.scope.as_deref(), Some("repository:library/alpine:pull"));
    /// ```
    pub fn parse(header: &str) -> Option<BearerChallenge> {
        let rest = header.trim();
        let (scheme, params) = rest.split_once(' ').unwrap_or((rest, ""));
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let mut c = BearerChallenge::default();
        let mut s = params.trim();
        while !s.is_empty() {
            let (key, after) = s.split_once('=')?;
            let key = key.trim().trim_start_matches(',').trim();
            let (value, tail) = if let Some(q) = after.strip_prefix('"') {
                let end = q.find('"')?;
                (&q[..end], &q[end + 1..])
            } else {
                after.split_once(',').map_or((after, ""), |(v, t)| (v, t))
            };
            match key.to_ascii_lowercase().as_str() {
                "realm" => value.clone_into(&mut c.realm),
                "service" => c.service = Some(value.to_owned()),
                "scope" => c.scope = Some(value.to_owned()),
                _ => {}
            }
            s = tail.trim_start().trim_start_matches(',').trim_start();
        }
        (!c.realm.is_empty()).then_some(c)
    }
}

/// `GET /v2/` on `image`'s registry with `credentials`: plain HTTP only for loopback
/// registries or with `insecure`, as docker does.
pub fn check(
    image: &ImageRef,
    credentials: &Credentials,
    insecure: bool,
) -> Result<Check, CheckError> {
    let registry = image.registry();
    let err = |kind, message: String| CheckError {
        registry: registry.to_owned(),
        kind,
        message,
    };
    let host = if registry == super::DOCKER_HUB {
        "registry-1.docker.io"
    } else {
        registry
    };
    let scheme = if insecure || is_loopback(host) {
        "http"
    } else {
        "https"
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let url = format!("{scheme}://{host}/v2/");
    let mut req = agent.get(&url);
    if let Some(basic) = credentials.basic_authorization() {
        req = req.header("Authorization", basic.as_str());
    }
    let resp = req
        .call()
        .map_err(|e| err(CheckErrorKind::Network, format!("GET {url}: {e}")))?;
    match resp.status().as_u16() {
        200 => return Ok(Check::Ok),
        401 => {}
        403 => return Ok(Check::Denied),
        other => {
            return Err(err(
                CheckErrorKind::Status,
                format!("GET {url}: unexpected status {other}"),
            ));
        }
    }
    let Some(challenge) = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .and_then(BearerChallenge::parse)
    else {
        return Ok(Check::Denied);
    };
    // The realm comes from the registry's answer: credentials go there only over https,
    // unless plain HTTP is allowed for the registry itself.
    if !realm_allowed(&challenge.realm, insecure) {
        return Err(err(
            CheckErrorKind::InsecureRealm,
            format!(
                "the token server {} is not https: refusing to send credentials (use --insecure)",
                challenge.realm
            ),
        ));
    }
    let Some(token) = fetch_token(&agent, &challenge, credentials)
        .map_err(|m| err(CheckErrorKind::TokenServer, m))?
    else {
        return Ok(Check::Denied);
    };
    let mut bearer = Zeroizing::new(String::with_capacity(7 + token.expose().len()));
    bearer.push_str("Bearer ");
    bearer.push_str(token.expose());
    let resp = agent
        .get(&url)
        .header("Authorization", bearer.as_str())
        .call()
        .map_err(|e| err(CheckErrorKind::Network, format!("GET {url}: {e}")))?;
    Ok(if resp.status().as_u16() == 200 {
        Check::Ok
    } else {
        Check::Denied
    })
}

/// Bearer tokens by (realm, service, scope, credentials' hash), kept until `expires_in`; each
/// is zeroed when it leaves the cache.
static TOKENS: std::sync::LazyLock<crate::cache::TtlLru<String, Secret>> =
    std::sync::LazyLock::new(|| {
        crate::cache::TtlLru::builder()
            .capacity(256)
            .ttl(Duration::from_secs(60))
            .build()
    });

/// The token for `c`, from the process-wide token cache or the token server.
pub(crate) fn fetch_token(
    agent: &ureq::Agent,
    c: &BearerChallenge,
    credentials: &Credentials,
) -> Result<Option<Secret>, String> {
    // Hashed piecewise, each part length-prefixed: no string holding the secret is built.
    let mut who = blake3::Hasher::new();
    for part in [
        credentials.username().unwrap_or(""),
        credentials.secret().map_or("", |s| s.expose()),
    ] {
        who.update(&(part.len() as u64).to_le_bytes());
        who.update(part.as_bytes());
    }
    let who = who.finalize();
    let key = format!(
        "{}\0{}\0{}\0{}",
        c.realm,
        c.service.as_deref().unwrap_or(""),
        c.scope.as_deref().unwrap_or(""),
        who.to_hex()
    );
    if let Some(t) = TOKENS.get(key.as_str()) {
        return Ok(Some(t));
    }
    let Some((token, ttl)) = request_token(agent, c, credentials)? else {
        return Ok(None);
    };
    TOKENS.insert_with_ttl(key, token.clone(), ttl);
    Ok(Some(token))
}

/// The token server's answer: `token` or `access_token`, and how long it lives (its
/// `expires_in`, 60 s when absent as the spec says, less a margin). `None` when it refuses.
fn request_token(
    agent: &ureq::Agent,
    c: &BearerChallenge,
    credentials: &Credentials,
) -> Result<Option<(Secret, Duration)>, String> {
    let mut query: Vec<(&str, &str)> = Vec::new();
    if let Some(s) = &c.service {
        query.push(("service", s));
    }
    if let Some(s) = &c.scope {
        query.push(("scope", s));
    }
    let resp = match credentials {
        Credentials::IdentityToken(t) => {
            let mut form = vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", t.expose()),
            ];
            form.extend(query.iter().copied());
            form.push(("client_id", "capstan"));
            agent.post(&c.realm).send_form(form)
        }
        _ => {
            let mut req = agent.get(&c.realm);
            for (k, v) in &query {
                req = req.query(*k, *v);
            }
            if let Some(basic) = credentials.basic_authorization() {
                req = req.header("Authorization", basic.as_str());
            }
            req.call()
        }
    };
    let mut resp = resp.map_err(|e| format!("token server {}: {e}", c.realm))?;
    match resp.status().as_u16() {
        200 => {}
        401 | 403 => return Ok(None),
        other => return Err(format!("token server {}: status {other}", c.realm)),
    }
    // The body holds the token: read into a buffer zeroed when dropped (as much as ureq's
    // `read_to_string` would take), and every string parsed out of it is zeroed or moved into
    // a `Secret`.
    let body = crate::auth::creds::read_zeroizing(resp.body_mut().as_reader(), 10 << 20)
        .map_err(|e| format!("token server {}: {e}", c.realm))?;
    let mut v: serde_json::Value =
        serde_json::from_slice(&body).map_err(|_| format!("token server {}: not JSON", c.realm))?;
    let expires = v
        .get("expires_in")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(60);
    let ttl = Duration::from_secs(expires.saturating_sub(expires / 10).max(1));
    let key = if v.get("token").is_some() {
        "token"
    } else {
        "access_token"
    };
    let token = match v.get_mut(key) {
        Some(serde_json::Value::String(t)) => Some((Secret::new(std::mem::take(t)), ttl)),
        _ => None,
    };
    scrub(&mut v);
    Ok(token)
}

/// Zeroes every string in `v` (Docker Hub's answer, for one, holds the token twice).
fn scrub(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) => s.zeroize(),
        serde_json::Value::Array(a) => a.iter_mut().for_each(scrub),
        serde_json::Value::Object(o) => o.values_mut().for_each(scrub),
        _ => {}
    }
}

/// Whether credentials may go to the token server at `realm`: https, or plain HTTP on
/// loopback or with `insecure`.
pub(crate) fn realm_allowed(realm: &str, insecure: bool) -> bool {
    if let Some(rest) = realm.strip_prefix("https://") {
        return !rest.is_empty();
    }
    match realm.strip_prefix("http://") {
        Some(rest) => insecure || is_loopback(rest.split('/').next().unwrap_or("")),
        None => false,
    }
}

pub(crate) fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or(rest)
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_and_loopback() {
        let c = BearerChallenge::parse(
            r#"Bearer realm="http://127.0.0.1:1/t",service=reg,scope="repository:a/b:pull,push""#,
        )
        .expect("parses");
        assert_eq!(c.service.as_deref(), Some("reg"));
        assert_eq!(c.scope.as_deref(), Some("repository:a/b:pull,push"));
        assert!(BearerChallenge::parse(r#"Basic realm="x""#).is_none());
        assert!(BearerChallenge::parse("Bearer service=x").is_none());
        for h in [
            "localhost:5000",
            "127.0.0.1:5000",
            "[::1]:5000",
            "localhost",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        assert!(!is_loopback("registry.example.com:5000"));
        assert!(realm_allowed("https://auth.docker.io/token", false));
        assert!(realm_allowed("http://127.0.0.1:5001/token", false));
        assert!(!realm_allowed("http://evil.example/token", false));
        assert!(realm_allowed("http://evil.example/token", true));
        assert!(!realm_allowed("ftp://x/token", true));
    }
}
