//! The registry client: manifests and blobs over the distribution API, with docker's rules for
//! credentials (Basic, or a Bearer token per repository scope from the token server the
//! registry names), plain HTTP only on loopback or when insecure, redirects to blob storage
//! followed without the registry's credentials, and bounded retries on 429 and 5xx.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use zeroize::Zeroizing;

use super::manifest::{self, Descriptor};
use super::store::{Root, Store, read_capped};
use super::{Digest, ImageError, ImageErrorKind};
use crate::auth::registry::{BearerChallenge, fetch_token, is_loopback, realm_allowed};
use crate::auth::{AuthCache, Credentials, DOCKER_HUB, ImageRef};

/// Tries per request: the first and three retries (429, 5xx, a refused connection).
const ATTEMPTS: u32 = 4;
/// Redirects followed per request (registries send blob downloads to storage once).
const MAX_REDIRECTS: u32 = 5;

type Response = ureq::http::Response<ureq::Body>;

/// What a run's registry clients had to do again: requests retried after a 429, a 5xx or a
/// failed connection (a scan that finished despite them says how many).
#[derive(Debug, Default)]
pub(crate) struct Requests {
    pub(crate) retries: AtomicU64,
}

/// One repository on one registry.
pub(crate) struct Registry<'a> {
    name: String,
    image: ImageRef,
    /// `http://host:port` or `https://host`.
    origin: String,
    insecure: bool,
    agent: ureq::Agent,
    auth: &'a AuthCache,
    /// The `Authorization` value that worked last for this repository (a token for its pull
    /// scope, or Basic): sent with every request to the registry, renewed on a 401.
    header: Mutex<Option<Zeroizing<String>>>,
    requests: &'a Requests,
}

impl<'a> Registry<'a> {
    pub(crate) fn new(
        name: &str,
        image: &ImageRef,
        insecure: bool,
        auth: &'a AuthCache,
        requests: &'a Requests,
    ) -> Self {
        let host = if image.registry() == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            image.registry()
        };
        let scheme = if insecure || is_loopback(host) {
            "http"
        } else {
            "https"
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(format!("capstan/{}", crate::VERSION))
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            // A transfer that stalls this long is a failure, not a wait.
            .timeout_per_read(Some(Duration::from_secs(60)))
            .build()
            .into();
        Registry {
            name: name.to_owned(),
            image: image.clone(),
            origin: format!("{scheme}://{host}"),
            insecure,
            agent,
            auth,
            header: Mutex::new(None),
            requests,
        }
    }

    fn err(&self, kind: ImageErrorKind, message: impl Into<String>) -> ImageError {
        ImageError::new(&self.name, kind, message)
    }

    /// `registry/repository`, as messages name it.
    fn repo(&self) -> String {
        format!("{}/{}", self.image.registry(), self.image.path())
    }

    /// GET `path` (below `/v2/<repository>/`) with auth, retries and redirects; a success
    /// status or an error saying what the registry answered.
    fn get(&self, path: &str, accept: Option<&str>, what: &str) -> Result<Response, ImageError> {
        let url = format!("{}/v2/{}/{path}", self.origin, self.image.path());
        let mut authorized = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let header = self.header.lock().clone();
            let resp = match self.send(&url, accept, header.as_deref().map(String::as_str)) {
                Ok(r) => r,
                Err(e) if attempt < ATTEMPTS && e.kind() == ImageErrorKind::Network => {
                    self.requests.retries.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(backoff(attempt, None));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let status = resp.status().as_u16();
            match status {
                200..=299 => return Ok(resp),
                401 if !authorized => {
                    authorized = true;
                    self.authorize(&resp)?;
                }
                401 | 403 => {
                    return Err(self.err(
                        ImageErrorKind::Denied,
                        format!(
                            "{} refused access to {} ({status}{}): check the credentials for {} (capstan auth {})",
                            self.image.registry(),
                            self.repo(),
                            if status == 401 { " Unauthorized" } else { " Forbidden" },
                            self.image.registry(),
                            self.repo(),
                        ),
                    ));
                }
                404 => {
                    return Err(self.err(
                        ImageErrorKind::NotFound,
                        format!("{what} not found in {} (404)", self.repo()),
                    ));
                }
                429 | 500..=599 if attempt < ATTEMPTS => {
                    self.requests.retries.fetch_add(1, Ordering::Relaxed);
                    let after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    std::thread::sleep(backoff(attempt, after));
                }
                _ => {
                    return Err(self.err(
                        ImageErrorKind::Status,
                        format!(
                            "{what} from {}: status {status}{}",
                            self.repo(),
                            if status == 429 || status >= 500 {
                                format!(" after {ATTEMPTS} tries")
                            } else {
                                String::new()
                            }
                        ),
                    ));
                }
            }
        }
    }

    /// One request, following redirects: the registry's credentials go only to the
    /// registry's own origin, and plain HTTP only where the registry itself may use it.
    fn send(
        &self,
        url: &str,
        accept: Option<&str>,
        auth: Option<&str>,
    ) -> Result<Response, ImageError> {
        let mut url = url.to_owned();
        for _ in 0..=MAX_REDIRECTS {
            let mut req = self.agent.get(&url);
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            let same_origin = origin_of(&url) == self.origin;
            if same_origin && let Some(a) = auth {
                req = req.header("Authorization", a);
            }
            let resp = req.call().map_err(|e| {
                self.err(
                    ImageErrorKind::Network,
                    format!("GET {}: {e}", without_query(&url)),
                )
            })?;
            let status = resp.status().as_u16();
            if !matches!(status, 301 | 302 | 303 | 307 | 308) {
                return Ok(resp);
            }
            let Some(location) = resp.headers().get("location").and_then(|v| v.to_str().ok())
            else {
                return Err(self.err(
                    ImageErrorKind::Status,
                    format!("GET {}: redirect without a location", without_query(&url)),
                ));
            };
            let next = join(&url, location);
            if let Some(rest) = next.strip_prefix("http://") {
                let host = rest.split('/').next().unwrap_or("");
                if !(self.insecure || is_loopback(host)) {
                    return Err(self.err(
                        ImageErrorKind::Insecure,
                        format!(
                            "redirected to plain HTTP ({}): refused (use --insecure)",
                            without_query(&next)
                        ),
                    ));
                }
            } else if !next.starts_with("https://") {
                return Err(self.err(
                    ImageErrorKind::Status,
                    format!("redirected to {}: not http(s)", without_query(&next)),
                ));
            }
            url = next;
        }
        Err(self.err(
            ImageErrorKind::Status,
            format!("more than {MAX_REDIRECTS} redirects"),
        ))
    }

    /// Answers a 401: a Bearer token for the challenge's scope (the repository's pull scope
    /// when it names none), or Basic credentials.
    fn authorize(&self, resp: &Response) -> Result<(), ImageError> {
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let credentials = self.credentials()?;
        let denied = |why: &str| {
            self.err(
                ImageErrorKind::Denied,
                format!(
                    "{} requires authentication for {}: {why} (capstan auth {})",
                    self.image.registry(),
                    self.repo(),
                    self.repo()
                ),
            )
        };
        if let Some(mut c) = BearerChallenge::parse(challenge) {
            if !realm_allowed(&c.realm, self.insecure) {
                return Err(self.err(
                    ImageErrorKind::Insecure,
                    format!("the token server {} is not https: refusing to send credentials (use --insecure)", c.realm),
                ));
            }
            if c.scope.is_none() {
                c.scope = Some(format!("repository:{}:pull", self.image.path()));
            }
            let token = fetch_token(&self.agent, &c, &credentials)
                .map_err(|m| self.err(ImageErrorKind::Network, m))?
                .ok_or_else(|| denied("the token server refused the credentials"))?;
            let mut bearer = Zeroizing::new(String::with_capacity(7 + token.expose().len()));
            bearer.push_str("Bearer ");
            bearer.push_str(token.expose());
            *self.header.lock() = Some(bearer);
            return Ok(());
        }
        match credentials.basic_authorization() {
            Some(basic) => {
                *self.header.lock() = Some(Zeroizing::new(basic.as_str().to_owned()));
                Ok(())
            }
            None => Err(denied("no credentials are configured for it")),
        }
    }

    fn credentials(&self) -> Result<Credentials, ImageError> {
        self.auth
            .get(&self.image)
            .map(|r| r.credentials.clone())
            .map_err(|e| self.err(ImageErrorKind::Auth, e.to_string()))
    }
}

impl Store for Registry<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn root(&self) -> Result<Root, ImageError> {
        let reference = self
            .image
            .digest()
            .or(self.image.tag())
            .unwrap_or("latest")
            .to_owned();
        let mut resp = self.get(
            &format!("manifests/{reference}"),
            Some(manifest::ACCEPT),
            &format!("manifest {reference}"),
        )?;
        let served = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
            .unwrap_or_default();
        let claimed = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .and_then(Digest::parse);
        let bytes = read_capped(
            &mut resp.body_mut().as_reader(),
            manifest::MAX_MANIFEST,
            "the manifest",
        )
        .map_err(|e| {
            self.err(
                ImageErrorKind::Network,
                format!("manifest {reference}: {e}"),
            )
        })?;
        // By digest, the bytes must be what was asked for; by tag, what the registry vouched for.
        let expected = self.image.digest().and_then(Digest::parse).or(claimed);
        if let Some(d) = &expected
            && !d.matches(&bytes)
        {
            return Err(self.err(
                ImageErrorKind::Digest,
                format!(
                    "manifest {reference} from {}: content does not match its digest {d}",
                    self.repo()
                ),
            ));
        }
        Ok(Root::Bytes(bytes, served, expected))
    }

    fn manifest(&self, d: &Descriptor) -> Result<Vec<u8>, ImageError> {
        let mut resp = self.get(
            &format!("manifests/{}", d.digest),
            Some(manifest::ACCEPT),
            &format!("manifest {}", d.digest),
        )?;
        read_capped(
            &mut resp.body_mut().as_reader(),
            manifest::MAX_MANIFEST,
            "a manifest",
        )
        .map_err(|e| {
            self.err(
                ImageErrorKind::Network,
                format!("manifest {}: {e}", d.digest),
            )
        })
    }

    fn blob(&self, d: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let resp = self.get(
            &format!("blobs/{}", d.digest),
            None,
            &format!("blob {}", d.digest),
        )?;
        Ok(Box::new(resp.into_body().into_reader()))
    }
}

/// Exponential backoff from 250 ms (a server's `Retry-After` when it gives one), at most 10 s.
fn backoff(attempt: u32, retry_after: Option<u64>) -> Duration {
    let wait = match retry_after {
        Some(s) => Duration::from_secs(s),
        None => Duration::from_millis(250 << (attempt - 1).min(5)),
    };
    wait.min(Duration::from_secs(10))
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..].find('/').map_or(url.len(), |i| after + i);
    &url[..end]
}

/// `location` resolved against `base`: absolute, or absolute-path on the same origin.
fn join(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else if location.starts_with('/') {
        format!("{}{location}", origin_of(base))
    } else {
        let dir = base.rsplit_once('/').map_or(base, |(d, _)| d);
        format!("{dir}/{location}")
    }
}

/// A URL for messages: storage redirects carry signatures in their query.
fn without_query(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_backoff() {
        assert_eq!(
            origin_of("http://127.0.0.1:5000/v2/a/blobs/x"),
            "http://127.0.0.1:5000"
        );
        assert_eq!(origin_of("https://h"), "https://h");
        assert_eq!(
            join("https://r/v2/a/blobs/x", "/s3/obj?sig=1"),
            "https://r/s3/obj?sig=1"
        );
        assert_eq!(join("https://r/v2/a", "https://cdn/x"), "https://cdn/x");
        assert_eq!(join("https://r/v2/a/b", "c"), "https://r/v2/a/c");
        assert_eq!(
            without_query("https://cdn/x?X-Amz-Signature=s"),
            "https://cdn/x"
        );
        assert_eq!(backoff(1, None), Duration::from_millis(250));
        assert_eq!(backoff(3, None), Duration::from_secs(1));
        assert_eq!(backoff(2, Some(60)), Duration::from_secs(10));
    }
}
