//! Resolving a registry's credentials as the docker CLI and podman do: config files,
//! credential helpers, and the `X-Registry-Auth` header.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;

use super::ImageRef;

/// A secret (password or identity token): `Debug` and `Display` show `<redacted>`, and the
/// bytes are zeroed when it is dropped.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself: call it only where it must be sent or shown on request.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl Drop for Secret {
    #[allow(unsafe_code)] // volatile writes: the one way to zero memory the optimiser can't drop
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        for b in &mut bytes {
            // SAFETY: `b` is a valid, aligned, exclusive reference into `bytes`; a volatile
            // write keeps the compiler from eliding the zeroing of memory about to be freed.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
    }
}

/// What credentials a registry gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// None: pull anonymously.
    Anonymous,
    /// A user name and password.
    Basic {
        /// The user.
        username: String,
        /// The password.
        password: Secret,
    },
    /// An identity (refresh) token, exchanged for a bearer token by the registry's auth server.
    IdentityToken(Secret),
}

impl Credentials {
    /// `"basic"`, `"identity_token"` or `"anonymous"`.
    pub fn kind(&self) -> &'static str {
        match self {
            Credentials::Anonymous => "anonymous",
            Credentials::Basic { .. } => "basic",
            Credentials::IdentityToken(_) => "identity_token",
        }
    }

    /// The user name, if any.
    pub fn username(&self) -> Option<&str> {
        match self {
            Credentials::Basic { username, .. } => Some(username),
            _ => None,
        }
    }

    /// The secret, if any.
    pub fn secret(&self) -> Option<&Secret> {
        match self {
            Credentials::Basic { password, .. } => Some(password),
            Credentials::IdentityToken(t) => Some(t),
            Credentials::Anonymous => None,
        }
    }

    /// The docker daemon's `X-Registry-Auth` header value: URL-safe base64, **with**
    /// padding, of `{"username","password","serveraddress"}` or `{"identitytoken"}`.
    ///
    /// ```
    /// use capstan::auth::{Credentials, Secret};
    /// let c = Credentials::Basic { username: "u".into(), password: Secret::new("p") };
    /// assert_eq!(
    ///     c.registry_auth_header("r.io"),
    ///     "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAiLCJzZXJ2ZXJhZGRyZXNzIjoici5pbyJ9"
    /// );
    /// ```
    pub fn registry_auth_header(&self, server: &str) -> String {
        // Field order as docker's Go struct marshals it (serde_json's maps would sort keys).
        #[derive(serde::Serialize)]
        struct Header<'a> {
            #[serde(skip_serializing_if = "Option::is_none")]
            username: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            password: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            serveraddress: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            identitytoken: Option<&'a str>,
        }
        let h = match self {
            Credentials::Basic { username, password } => Header {
                username: Some(username),
                password: Some(password.expose()),
                serveraddress: Some(server),
                identitytoken: None,
            },
            Credentials::IdentityToken(t) => Header {
                username: None,
                password: None,
                serveraddress: None,
                identitytoken: Some(t.expose()),
            },
            Credentials::Anonymous => Header {
                username: None,
                password: None,
                serveraddress: None,
                identitytoken: None,
            },
        };
        let json = serde_json::to_string(&h).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE.encode(json)
    }

    /// A `Basic` `Authorization` header value, for user and password credentials.
    pub fn basic_authorization(&self) -> Option<String> {
        match self {
            Credentials::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose()))
            )),
            _ => None,
        }
    }
}

/// Where credentials came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `docker-credential-NAME` (from `credHelpers` or `credsStore`).
    Helper(String),
    /// An `auths` entry of this file.
    File(PathBuf),
    /// Nothing configured for the registry.
    None,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Helper(h) => write!(f, "docker-credential-{h}"),
            Source::File(p) => write!(f, "{}", p.display()),
            Source::None => f.write_str("none"),
        }
    }
}

/// The answer for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The registry host.
    pub registry: String,
    /// Where the answer came from.
    pub source: Source,
    /// The credentials.
    pub credentials: Credentials,
}

/// Why credentials could not be resolved. Never carries a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A config file is not valid JSON of the expected shape.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong (from the JSON parser; no values are quoted).
        message: String,
    },
    /// A config file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A configured credential helper is not on `PATH`.
    #[error("docker-credential-{0}: credential helper not found on PATH")]
    HelperMissing(String),
    /// A helper failed; its message is kept (helpers don't print secrets on failure).
    #[error("docker-credential-{helper}: {message}")]
    Helper {
        /// The helper's name.
        helper: String,
        /// What it said, or what went wrong running it.
        message: String,
    },
    /// A helper did not answer in time and was killed.
    #[error("docker-credential-{helper}: no answer within {timeout:?}; killed")]
    Timeout {
        /// The helper's name.
        helper: String,
        /// The limit.
        timeout: Duration,
    },
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: std::collections::BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Default, Deserialize)]
pub(crate) struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthEntry(<redacted>)")
    }
}

/// How to resolve: which files, which helper timeout.
#[derive(Debug, Clone)]
pub struct Resolver {
    /// Config files in lookup order (podman's, then docker's); the first that exists and
    /// configures the registry answers.
    pub files: Vec<PathBuf>,
    /// How long a credential helper may take.
    pub helper_timeout: Duration,
    /// The `PATH` helpers are looked up in (`None`: this process's).
    pub helper_path: Option<std::ffi::OsString>,
}

impl Resolver {
    /// The files docker and podman read, from the environment: `REGISTRY_AUTH_FILE`,
    /// `$XDG_RUNTIME_DIR/containers/auth.json`, `~/.config/containers/auth.json`, then
    /// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
    pub fn from_env() -> Self {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let home = env("HOME");
        let mut files = Vec::new();
        files.extend(env("REGISTRY_AUTH_FILE"));
        files.extend(env("XDG_RUNTIME_DIR").map(|d| d.join("containers/auth.json")));
        files.extend(
            home.as_ref()
                .map(|h| h.join(".config/containers/auth.json")),
        );
        match env("DOCKER_CONFIG") {
            Some(d) => files.push(d.join("config.json")),
            None => files.extend(home.map(|h| h.join(".docker/config.json"))),
        }
        Resolver {
            files,
            helper_timeout: Duration::from_secs(10),
            helper_path: None,
        }
    }

    /// Only `file` (`--authfile`).
    pub fn with_file(file: impl Into<PathBuf>) -> Self {
        Resolver {
            files: vec![file.into()],
            helper_timeout: Duration::from_secs(10),
            helper_path: None,
        }
    }

    /// Resolves the credentials for `image`'s registry.
    pub fn resolve(&self, image: &ImageRef) -> Result<Resolved, AuthError> {
        for path in &self.files {
            let text = match std::fs::read(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(AuthError::Read {
                        path: path.clone(),
                        source,
                    });
                }
            };
            let cfg = parse_config(&text, path)?;
            let registry = image.registry().to_owned();
            match find(&cfg, image) {
                Found::Helper(h) => {
                    let key = image.credential_key();
                    let credentials =
                        run_helper(h, key, self.helper_timeout, self.helper_path.as_deref())?;
                    return Ok(Resolved {
                        registry,
                        source: Source::Helper(h.to_owned()),
                        credentials,
                    });
                }
                Found::Entry(entry) => {
                    return Ok(Resolved {
                        credentials: entry_credentials(entry, path, &registry)?,
                        registry,
                        source: Source::File(path.clone()),
                    });
                }
                Found::Nothing => {}
            }
        }
        Ok(Resolved {
            registry: image.registry().to_owned(),
            source: Source::None,
            credentials: Credentials::Anonymous,
        })
    }
}

/// Parses one auth config file's bytes (`path` only names it in errors).
pub(crate) fn parse_config(text: &[u8], path: &Path) -> Result<ConfigFile, AuthError> {
    serde_json::from_slice(text).map_err(|e| AuthError::Config {
        path: path.to_owned(),
        message: format!(
            "not a valid auth config ({:?} error at line {}, column {})",
            e.classify(),
            e.line(),
            e.column()
        ),
    })
}

/// What one config file says about an image's registry.
pub(crate) enum Found<'a> {
    /// Ask this credential helper.
    Helper(&'a str),
    /// Use this `auths` entry.
    Entry(&'a AuthEntry),
    /// The file has nothing for it.
    Nothing,
}

/// docker's order: `credHelpers[host]`, then `credsStore` (whose "not found" is final), then
/// `auths` — most specific scoped key first (podman), then the exact key, then keys normalized
/// to a host.
pub(crate) fn find<'a>(cfg: &'a ConfigFile, image: &ImageRef) -> Found<'a> {
    let registry = image.registry();
    let key = image.credential_key();
    let helper = cfg
        .cred_helpers
        .get(registry)
        .or_else(|| cfg.cred_helpers.get(key))
        .or(cfg.creds_store.as_ref());
    if let Some(h) = helper {
        return Found::Helper(h);
    }
    let repo = image.repository();
    let mut scoped: Vec<&str> = vec![repo.as_str()];
    let mut cut = repo.as_str();
    while let Some(i) = cut.rfind('/') {
        cut = &cut[..i];
        scoped.push(cut);
    }
    let entry = scoped
        .iter()
        .find_map(|k| cfg.auths.get(*k))
        .or_else(|| cfg.auths.get(key))
        .or_else(|| {
            cfg.auths
                .iter()
                .find(|(k, _)| {
                    to_hostname(k) == registry
                        || (key == super::DOCKER_HUB_KEY && to_hostname(k) == "index.docker.io")
                })
                .map(|(_, v)| v)
        });
    entry.map_or(Found::Nothing, Found::Entry)
}

/// docker's `ConvertToHostname`: drop the scheme and anything after the host.
fn to_hostname(key: &str) -> &str {
    let k = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    k.split('/').next().unwrap_or(k)
}

/// The credentials of an `auths` entry; an error names the file and registry, never a value.
pub(crate) fn entry_credentials(
    e: &AuthEntry,
    path: &Path,
    registry: &str,
) -> Result<Credentials, AuthError> {
    entry_fields(e).map_err(|message| AuthError::Config {
        path: path.to_owned(),
        message: format!("auths entry for {registry}: {message}"),
    })
}

fn entry_fields(e: &AuthEntry) -> Result<Credentials, &'static str> {
    if let Some(t) = e.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Credentials::IdentityToken(Secret::new(t)));
    }
    if let Some(a) = e.auth.as_deref().filter(|a| !a.is_empty()) {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(a.trim())
            .map_err(|_| "`auth` is not base64")?;
        let text = String::from_utf8(raw).map_err(|_| "`auth` is not UTF-8")?;
        let secret = Secret::new(text);
        let (user, pass) = secret
            .expose()
            .split_once(':')
            .ok_or("`auth` is not base64 of user:password")?;
        return Ok(Credentials::Basic {
            username: user.to_owned(),
            password: Secret::new(pass),
        });
    }
    match (&e.username, &e.password) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Credentials::Basic {
            username: u.clone(),
            password: Secret::new(p.as_str()),
        }),
        _ => Ok(Credentials::Anonymous),
    }
}

#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Runs `docker-credential-NAME get` with `server` on stdin, within `timeout`.
pub(crate) fn run_helper(
    name: &str,
    server: &str,
    timeout: Duration,
    path: Option<&std::ffi::OsStr>,
) -> Result<Credentials, AuthError> {
    let program = format!("docker-credential-{name}");
    let fail = |message: String| AuthError::Helper {
        helper: name.to_owned(),
        message,
    };
    let mut cmd = Command::new(&program);
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let mut child = cmd
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => AuthError::HelperMissing(name.to_owned()),
            _ => fail(e.to_string()),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its exit status below.
        let _ = stdin.write_all(server.as_bytes());
    }
    // Each pipe on its own thread: a helper that fills one while we wait on the other must
    // not stall until the timeout. Neither thread is joined after a kill (a grandchild may
    // hold a pipe open), so neither can hang us.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(p) = pipe {
                let _ = p.take(1 << 20).read_to_end(&mut buf);
            }
            let _ = tx.send(buf);
        });
        rx
    };
    let out_rx = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err_rx = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(AuthError::Timeout {
                    helper: name.to_owned(),
                    timeout,
                });
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(fail(e.to_string())),
        }
    };
    let wait = Duration::from_secs(1);
    let out = out_rx.recv_timeout(wait).unwrap_or_default();
    let err = err_rx.recv_timeout(wait).unwrap_or_default();
    helper_answer(name, status, &out, &err)
}

/// What a helper's exit status and output mean: credentials, "not found" (anonymous), or an
/// error carrying its message.
pub(crate) fn helper_answer(
    name: &str,
    status: std::process::ExitStatus,
    out: &[u8],
    err: &[u8],
) -> Result<Credentials, AuthError> {
    let fail = |message: String| AuthError::Helper {
        helper: name.to_owned(),
        message,
    };
    let said = String::from_utf8_lossy(if out.is_empty() { err } else { out })
        .trim()
        .to_owned();
    if !status.success() {
        if said.contains("credentials not found") {
            return Ok(Credentials::Anonymous);
        }
        return Err(fail(if said.is_empty() {
            status.to_string()
        } else {
            said
        }));
    }
    let answer: HelperAnswer = serde_json::from_slice(out)
        .map_err(|_| fail("answered with something that is not credentials JSON".to_owned()))?;
    Ok(if answer.username == "<token>" {
        Credentials::IdentityToken(Secret::new(answer.secret))
    } else if answer.username.is_empty() && answer.secret.is_empty() {
        Credentials::Anonymous
    } else {
        Credentials::Basic {
            username: answer.username,
            password: Secret::new(answer.secret),
        }
    })
}
