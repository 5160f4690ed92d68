//! Resolving a registry's credentials as the docker CLI and podman do: config files,
//! credential helpers, and the `X-Registry-Auth` header.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use base64::Engine as _;
use hashbrown::HashMap;
use parking_lot::Mutex;
use process_control::{ChildExt as _, Control as _};
use serde::Deserialize;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::ImageRef;
use crate::exec::Limiter;

/// A secret (password or identity token): `Debug` and `Display` show `<redacted>`, and the
/// bytes are zeroed when it is dropped (its clones too: each is a `Secret`).
#[derive(Clone, Default, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
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

/// An authentication header value (`X-Registry-Auth`, or `Authorization: Basic …`): it
/// carries a secret, so it is zeroed when dropped and `Debug` shows `<redacted>`. It reads as
/// the `str` it holds (`Deref`, `AsRef<str>`), and `Display` writes that value: it exists to
/// be sent or printed on request.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct AuthHeader(String);

impl AuthHeader {
    /// The value.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for AuthHeader {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for AuthHeader {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AuthHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuthHeader(<redacted>)")
    }
}

impl std::fmt::Display for AuthHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for AuthHeader {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for AuthHeader {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for AuthHeader {
    fn eq(&self, other: &String) -> bool {
        self.0 == *other
    }
}

/// base64 (`engine`) of `bytes` as an [`AuthHeader`] with `prefix` before it, built in one
/// allocation of the exact size, so no copy is left behind by growing it.
/// (`encode_slice` writes straight into it; `encode_string` would pass the text through a
/// buffer on the stack that nobody zeroes.)
fn encode_header(prefix: &str, engine: &impl base64::Engine, bytes: &[u8]) -> AuthHeader {
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(0);
    let mut out = Zeroizing::new(Vec::with_capacity(prefix.len() + len));
    out.extend_from_slice(prefix.as_bytes());
    out.resize(prefix.len() + len, 0);
    let written = engine
        .encode_slice(bytes, &mut out[prefix.len()..])
        .unwrap_or(0);
    out.truncate(prefix.len() + written);
    // base64 is ASCII, so this moves the bytes into the `String` without copying them.
    match String::from_utf8(std::mem::take(&mut *out)) {
        Ok(text) => AuthHeader(text),
        Err(e) => {
            e.into_bytes().zeroize();
            AuthHeader(String::new())
        }
    }
}

/// What credentials a registry gets. Every secret in it is zeroed when it is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
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
    /// padding, of `{"username","password","serveraddress"}` or `{"identitytoken"}`. The
    /// JSON it is made from is zeroed before this returns, and the value when it is dropped.
    ///
    /// ```
    /// use capstan::auth::{Credentials, Secret};
    /// let c = Credentials::Basic { username: "u".into(), password: Secret::new("p") };
    /// assert_eq!(
    ///     c.registry_auth_header("r.io").as_str(),
    ///     "eyJ1c2VybmFtZSI6InUiLCJwYXNzd29yZCI6InAiLCJzZXJ2ZXJhZGRyZXNzIjoici5pbyJ9"
    /// );
    /// ```
    pub fn registry_auth_header(&self, server: &str) -> AuthHeader {
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
        // Room for the worst case (every byte escaped as `\u00XX`) and the keys, so the
        // buffer never grows: growing would leave an unzeroed copy of the JSON behind.
        let fields = [h.username, h.password, h.serveraddress, h.identitytoken];
        let cap = 64 + 6 * fields.iter().flatten().map(|f| f.len()).sum::<usize>();
        let mut json = Zeroizing::new(Vec::with_capacity(cap));
        if serde_json::to_writer(&mut *json, &h).is_err() {
            json.clear();
        }
        encode_header("", &base64::engine::general_purpose::URL_SAFE, &json)
    }

    /// A `Basic` `Authorization` header value, for user and password credentials.
    pub fn basic_authorization(&self) -> Option<AuthHeader> {
        match self {
            Credentials::Basic { username, password } => {
                let secret = password.expose();
                let mut pair =
                    Zeroizing::new(String::with_capacity(username.len() + 1 + secret.len()));
                pair.push_str(username);
                pair.push(':');
                pair.push_str(secret);
                Some(encode_header(
                    "Basic ",
                    &base64::engine::general_purpose::STANDARD,
                    pair.as_bytes(),
                ))
            }
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
#[error(transparent)]
pub struct AuthError(Repr);

#[derive(Debug, thiserror::Error)]
enum Repr {
    /// `message` is from the JSON parser; no values are quoted.
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("docker-credential-{0}: credential helper not found on PATH")]
    HelperMissing(String),
    /// `message` is what the helper said (helpers don't print secrets on failure) or what
    /// went wrong running it; `source` the I/O error when there was one.
    #[error("docker-credential-{helper}: {message}")]
    Helper {
        helper: String,
        message: String,
        source: Option<std::io::Error>,
    },
    #[error("docker-credential-{helper}: no answer within {timeout:?}; killed")]
    Timeout { helper: String, timeout: Duration },
}

/// What kind of thing went wrong in an [`AuthError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// A config file is not valid JSON of the expected shape.
    Config,
    /// A config file could not be read (the cause is the error's `source`).
    Read,
    /// A configured credential helper is not on `PATH`.
    HelperMissing,
    /// A helper failed; its message is kept (helpers don't print secrets on failure). When it
    /// could not be run or waited for, the I/O error is the error's `source`.
    Helper,
    /// A helper did not answer in time and was killed.
    Timeout,
}

impl AuthError {
    fn config(path: &Path, message: String) -> Self {
        AuthError(Repr::Config {
            path: path.to_owned(),
            message,
        })
    }

    fn helper_failed(helper: &str, message: String, source: Option<std::io::Error>) -> Self {
        AuthError(Repr::Helper {
            helper: helper.to_owned(),
            message,
            source,
        })
    }

    /// What went wrong.
    pub fn kind(&self) -> AuthErrorKind {
        match self.0 {
            Repr::Config { .. } => AuthErrorKind::Config,
            Repr::Read { .. } => AuthErrorKind::Read,
            Repr::HelperMissing(_) => AuthErrorKind::HelperMissing,
            Repr::Helper { .. } => AuthErrorKind::Helper,
            Repr::Timeout { .. } => AuthErrorKind::Timeout,
        }
    }

    /// The config file at fault.
    pub fn path(&self) -> Option<&Path> {
        match &self.0 {
            Repr::Config { path, .. } | Repr::Read { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The credential helper at fault (`desktop` for `docker-credential-desktop`).
    pub fn helper(&self) -> Option<&str> {
        match &self.0 {
            Repr::HelperMissing(helper)
            | Repr::Helper { helper, .. }
            | Repr::Timeout { helper, .. } => Some(helper),
            _ => None,
        }
    }
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

/// One `auths` entry: every field may hold a secret, so all are zeroed when it is dropped.
#[derive(Default, Deserialize, Zeroize, ZeroizeOnDrop)]
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
            // The file holds the `auths` secrets: its bytes are zeroed once parsed.
            let text = match std::fs::read(path) {
                Ok(t) => Zeroizing::new(t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => {
                    return Err(AuthError(Repr::Read {
                        path: path.clone(),
                        source,
                    }));
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
    serde_json::from_slice(text).map_err(|e| {
        AuthError::config(
            path,
            format!(
                "not a valid auth config ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            ),
        )
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
    entry_fields(e).map_err(|message| {
        AuthError::config(path, format!("auths entry for {registry}: {message}"))
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
        let text = Secret::new(String::from_utf8(raw).map_err(|e| {
            e.into_bytes().zeroize();
            "`auth` is not UTF-8"
        })?);
        let (user, pass) = text
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

/// A helper's answer: zeroed when dropped.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// At most this much of a helper's stdout (and stderr) is kept; the rest is read and dropped,
/// so a helper that writes more is not blocked on a full pipe.
const HELPER_OUTPUT_LIMIT: usize = 1 << 20;

/// The turn of the helper `name`: one run of each helper at a time in this process, whichever
/// registries ask (two registries behind one `credsStore` must not run it at once: the
/// [`AuthCache`](super::AuthCache)'s single flight is per registry). The map holds one small
/// entry per helper name ever run, and the names come from the config files: a handful.
fn helper_turn(name: &str) -> Arc<Limiter> {
    static TURNS: LazyLock<Mutex<HashMap<String, Arc<Limiter>>>> =
        LazyLock::new(|| Mutex::new(HashMap::new()));
    let mut turns = TURNS.lock();
    match turns.get(name) {
        Some(turn) => Arc::clone(turn),
        None => {
            let turn = Arc::new(Limiter::new(1));
            turns.insert(name.to_owned(), Arc::clone(&turn));
            turn
        }
    }
}

/// Runs `docker-credential-NAME get` with `server` on stdin, within `timeout`: a helper still
/// running then is killed (an [`AuthError`] of kind [`Timeout`](AuthErrorKind::Timeout)). One
/// run of a helper at a time ([`helper_turn`]); waiting for the turn is not part of the timeout
/// (each run before it is bounded by its own).
///
/// The wait is `process_control`'s (`controlled().time_limit().terminate_for_timeout()`): on
/// Unix a thread blocks in `waitid(P_PID, pid, WNOWAIT)` for this child alone, so no SIGCHLD
/// handler is installed and the process capstan is loaded in (a Go or C host) keeps its signal
/// dispositions as they were. (Only where `waitid` is missing — OpenBSD, Redox, tvOS and some
/// embedded targets — does `process_control` fall back to a SIGCHLD handler, signal-hook's.)
pub(crate) fn run_helper(
    name: &str,
    server: &str,
    timeout: Duration,
    path: Option<&std::ffi::OsStr>,
) -> Result<Credentials, AuthError> {
    let program = format!("docker-credential-{name}");
    let fail = |message: String, source| AuthError::helper_failed(name, message, source);
    let turn = helper_turn(name);
    let _turn = turn.acquire();
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
            std::io::ErrorKind::NotFound => AuthError(Repr::HelperMissing(name.to_owned())),
            _ => fail(e.to_string(), Some(e)),
        })?;
    // Each pipe is drained on its own thread from the start, into a zeroizing buffer that
    // keeps at most HELPER_OUTPUT_LIMIT bytes (process_control's `controlled_with_output`
    // would keep all of it, in `Vec`s that grow by reallocating and are never zeroed): a helper
    // that fills a pipe (or writes more than we keep) must not stall until the timeout. Neither
    // thread is joined after a kill (a grandchild may hold a pipe open), so neither can hang us.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // A pipe that fails mid-way counts as empty: the exit status and the JSON
            // check judge the answer.
            let buf = pipe
                .and_then(|p| read_zeroizing(p, HELPER_OUTPUT_LIMIT).ok())
                .unwrap_or_default();
            // When nobody waits any more, the buffer comes back in the error and is zeroed.
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
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its exit status below. The name is
        // far smaller than a pipe's buffer, so this cannot block on a helper that never reads.
        // Dropping `stdin` closes it: the helper sees the end of its input.
        let _ = stdin.write_all(server.as_bytes());
    }
    // `terminate_for_timeout`: past the limit, or when the wait fails, the helper is killed
    // and reaped before `wait` returns.
    let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        child
            .controlled()
            .time_limit(timeout)
            .terminate_for_timeout()
            .wait()
    }));
    let status = match waited {
        Ok(Ok(Some(status))) => status.into_std_lossy(),
        Ok(Ok(None)) => {
            return Err(AuthError(Repr::Timeout {
                helper: name.to_owned(),
                timeout,
            }));
        }
        Ok(Err(e)) => {
            // ECHILD: a host that ignores SIGCHLD has the kernel reap its children unasked.
            #[cfg(any(target_os = "linux", target_os = "android"))]
            let hint = if e.raw_os_error() == Some(libc::ECHILD) {
                " (is SIGCHLD ignored in this process?)"
            } else {
                ""
            };
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            let hint = "";
            return Err(fail(format!("waiting for it failed: {e}{hint}"), Some(e)));
        }
        // process_control (5.2) also wakes for a *stopped* child (`WSTOPPED`), then finds no
        // exit status and panics: a stopped helper (SIGSTOP, or a Ctrl-Z that stopped the
        // whole job) is this run's error, not the caller's crash. It has not been killed.
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(
                "stopped by a signal while it was waited for; killed".to_owned(),
                None,
            ));
        }
    };
    let wait = Duration::from_secs(1);
    let out = out_rx.recv_timeout(wait).unwrap_or_default();
    let err = err_rx.recv_timeout(wait).unwrap_or_default();
    helper_answer(name, status, &out, &err)
}

/// Reads `r` to its end, keeping the first `limit` bytes in a buffer that is zeroed when
/// dropped and reading (and zeroing) the rest. The buffer grows by copying into a new
/// zeroizing buffer, never by `Vec`'s own reallocation, which would free the old bytes as
/// they are: no copy of a credential is left unzeroed in memory. On a read error what was read
/// is zeroed and the error returned.
pub(crate) fn read_zeroizing(
    mut r: impl Read,
    limit: usize,
) -> std::io::Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(Vec::with_capacity(4096.min(limit)));
    loop {
        if buf.len() == buf.capacity() && buf.len() < limit {
            let mut bigger = Zeroizing::new(Vec::with_capacity((buf.len() * 2).min(limit)));
            bigger.extend_from_slice(&buf);
            buf = bigger;
        }
        let len = buf.len();
        if len >= limit {
            break;
        }
        let room = buf.capacity().min(limit);
        buf.resize(room, 0);
        let got = r.read(&mut buf[len..]);
        buf.truncate(len + got.as_ref().map_or(0, |n| *n));
        match got {
            Ok(0) => return Ok(buf),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let mut rest = Zeroizing::new([0u8; 8192]);
    loop {
        match r.read(&mut rest[..]) {
            Ok(0) => return Ok(buf),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// What a helper's exit status and output mean: credentials, "not found" (anonymous), or an
/// error carrying its message.
pub(crate) fn helper_answer(
    name: &str,
    status: std::process::ExitStatus,
    out: &[u8],
    err: &[u8],
) -> Result<Credentials, AuthError> {
    let fail = |message: String| AuthError::helper_failed(name, message, None);
    if !status.success() {
        // Only a failed helper's output is quoted (a successful one's is the credentials).
        let said = String::from_utf8_lossy(if out.is_empty() { err } else { out })
            .trim()
            .to_owned();
        if said.contains("credentials not found") {
            return Ok(Credentials::Anonymous);
        }
        return Err(fail(if said.is_empty() {
            status.to_string()
        } else {
            said
        }));
    }
    let mut answer: HelperAnswer = serde_json::from_slice(out)
        .map_err(|_| fail("answered with something that is not credentials JSON".to_owned()))?;
    // The strings are moved out (no copy); what stays in `answer` is zeroed with it.
    let secret = Secret::new(std::mem::take(&mut answer.secret));
    Ok(if answer.username == "<token>" {
        Credentials::IdentityToken(secret)
    } else if answer.username.is_empty() && secret.is_empty() {
        Credentials::Anonymous
    } else {
        Credentials::Basic {
            username: std::mem::take(&mut answer.username),
            password: secret,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles only if every type that holds a secret zeroes it when dropped.
    #[test]
    fn secret_holders_zeroize_on_drop() {
        fn zeroized_on_drop<T: ZeroizeOnDrop>() {}
        zeroized_on_drop::<Secret>();
        zeroized_on_drop::<Credentials>();
        zeroized_on_drop::<AuthHeader>();
        zeroized_on_drop::<AuthEntry>();
        zeroized_on_drop::<HelperAnswer>();
        zeroized_on_drop::<Zeroizing<Vec<u8>>>();
    }

    #[test]
    fn zeroize_empties_every_secret() {
        let mut c = Credentials::Basic {
            username: "u".to_owned(),
            password: Secret::new("pw"),
        };
        c.zeroize();
        assert_eq!(c.secret().map(Secret::expose), Some(""));
        let mut h = Credentials::IdentityToken(Secret::new("t")).registry_auth_header("r");
        h.zeroize();
        assert_eq!(h.as_str(), "");
    }

    #[test]
    fn reading_keeps_the_first_bytes_and_drains_the_rest() {
        let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let read = |r: &[u8], limit| read_zeroizing(r, limit).expect("reads");
        assert_eq!(&read(&data, 70_000)[..], &data[..70_000]);
        assert_eq!(&read(&data, 1 << 20)[..], &data[..]);
        assert_eq!(&read(&data, 4096)[..], &data[..4096]);
        assert!(read(b"", 10).is_empty());
        assert_eq!(&read(b"abc", 10)[..], b"abc");
        assert_eq!(&read(b"abc", 0)[..], b"");
    }

    #[test]
    fn headers_are_built_exactly() {
        let c = Credentials::Basic {
            username: "u\u{1}\"x".to_owned(),
            password: Secret::new("p\u{0}\\"),
        };
        let h = c.registry_auth_header("r.io");
        let json = base64::engine::general_purpose::URL_SAFE
            .decode(h.as_bytes())
            .expect("base64");
        let v: serde_json::Value = serde_json::from_slice(&json).expect("JSON");
        assert_eq!(v["username"], "u\u{1}\"x");
        assert_eq!(v["password"], "p\u{0}\\");
        assert_eq!(v["serveraddress"], "r.io");
        assert_eq!(
            Credentials::Anonymous.registry_auth_header("r.io").as_str(),
            "e30="
        );
        assert_eq!(
            c.basic_authorization().as_deref(),
            Some(
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode("u\u{1}\"x:p\u{0}\\")
                )
                .as_str()
            )
        );
        assert_eq!(format!("{h:?}"), "AuthHeader(<redacted>)");
        assert_eq!(h.to_string(), h.as_str());
    }
}
