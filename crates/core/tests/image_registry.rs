//! Image scans from a registry: a fake distribution API on loopback (with a Bearer token
//! server) serving an OCI layout written by `common::oci`; credentials from a docker config
//! this binary points `DOCKER_CONFIG` at.
//!
//! Every test calls [`docker_config`] (itself or through [`registry`]) before it starts a
//! server or a scan: that sets the environment once for the whole binary (the auth lookup
//! reads it in every scan); [`login`] then adds the test's registry to the shared config.

#![cfg(feature = "registry")]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use base64::Engine as _;
use capstan::image::{ImageOptions, Platform};
use capstan::scan::{CachePolicy, Finding, Request, ScanOutcome};
use common::Scratch;
use common::oci::{Compression, Image, Layer, Written, host_arch, write_layout};

const TOKEN: &[u8] = b"GITHUB_TOKEN=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\n";
const TOKEN2: &[u8] = b"token = \"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\"\n";
/// What the token server hands out.
const BEARER: &str = "Bearer reg-t0ken-4-team-app";

// ---- the environment ------------------------------------------------------------------------

/// Registry → `user:password`, as written to the shared docker config.
static AUTHS: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The docker config directory of this process, made and exported once.
fn docker_config() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // Per process: two runs of this binary must not rewrite each other's config. Those of
        // runs that have ended are removed (where /proc tells which have).
        let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
        if Path::new("/proc/self").exists() {
            for entry in std::fs::read_dir(tmp).into_iter().flatten().flatten() {
                let name = entry.file_name();
                let pid = name
                    .to_str()
                    .and_then(|n| n.strip_prefix("image_registry-env-"));
                if let Some(pid) = pid.filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
                    && !Path::new("/proc").join(pid).exists()
                {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let root = tmp.join(format!("image_registry-env-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let docker = root.join("docker");
        let home = root.join("home");
        std::fs::create_dir_all(&docker).expect("docker config dir");
        std::fs::create_dir_all(&home).expect("home dir");
        // SAFETY: nothing in this binary reads the environment but the scans (and the HTTP
        // client they start), and every test calls this function before it starts a server or
        // a scan; `OnceLock` holds the other tests in that call until this initializer
        // returns, so nothing reads the environment while it is written. The same values hold
        // for the rest of the process. `Resolver::from_env` reads exactly these:
        // REGISTRY_AUTH_FILE and XDG_RUNTIME_DIR go, HOME points at an empty directory, and
        // DOCKER_CONFIG at ours, so no file of the machine's answers.
        unsafe {
            std::env::remove_var("REGISTRY_AUTH_FILE");
            std::env::remove_var("XDG_RUNTIME_DIR");
            std::env::set_var("HOME", &home);
            std::env::set_var("DOCKER_CONFIG", &docker);
        }
        docker
    })
}

/// Configures `user:password` for `registry` in the shared docker config (rewritten whole and
/// renamed into place, so a scan reading it meanwhile sees the old or the new file).
fn login(registry: &str, user: &str, password: &str) {
    let dir = docker_config();
    let mut auths = lock(&AUTHS);
    auths.insert(registry.to_owned(), format!("{user}:{password}"));
    let entries: serde_json::Map<String, serde_json::Value> = auths
        .iter()
        .map(|(r, up)| (r.clone(), serde_json::json!({ "auth": b64(up) })))
        .collect();
    let tmp = dir.join("config.json.tmp");
    std::fs::write(
        &tmp,
        serde_json::to_vec(&serde_json::json!({ "auths": entries })).expect("json"),
    )
    .expect("write config");
    std::fs::rename(&tmp, dir.join("config.json")).expect("rename config");
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

// ---- a tiny HTTP server ---------------------------------------------------------------------

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Req {
    /// With its query.
    path: String,
    authorization: Option<String>,
}

impl Req {
    fn path_only(&self) -> &str {
        self.path.split('?').next().unwrap_or(&self.path)
    }
}

struct Resp {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn new(status: u16, body: impl Into<Vec<u8>>) -> Resp {
        Resp {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Resp {
        self.headers.push((name, value.into()));
        self
    }
}

type Handler = dyn Fn(&Req) -> Resp + Send + Sync;

/// Serves `handler` on a loopback port until the process ends, a thread a connection, one
/// request a connection (`Connection: close`); logs every request.
fn listen(handler: Arc<Handler>) -> (u16, Arc<Mutex<Vec<Req>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let log = Arc::new(Mutex::new(Vec::new()));
    let logged = Arc::clone(&log);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let handler = Arc::clone(&handler);
            let log = Arc::clone(&logged);
            std::thread::spawn(move || answer(stream, &*handler, &log));
        }
    });
    (port, log)
}

fn answer(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Req>>) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((name, value)) = h.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
        {
            authorization = Some(value.trim().to_owned());
        }
    }
    // GETs only: no request body to read.
    let req = Req {
        path,
        authorization,
    };
    lock(log).push(req.clone());
    let resp = handler(&req);
    let reason = match resp.status {
        200 => "OK",
        307 => "Temporary Redirect",
        401 => "Unauthorized",
        404 => "Not Found",
        429 => "Too Many Requests",
        _ => "Internal Server Error",
    };
    let mut s = BufWriter::new(stream);
    let _ = write!(s, "HTTP/1.1 {} {reason}\r\n", resp.status);
    for (k, v) in &resp.headers {
        let _ = write!(s, "{k}: {v}\r\n");
    }
    let _ = write!(
        s,
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        resp.body.len()
    );
    let _ = s.write_all(&resp.body);
    let _ = s.flush();
}

/// `%XX` decoded (and `+` as a space), for query values.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query(req: &Req) -> HashMap<String, String> {
    req.path
        .split_once('?')
        .map_or("", |(_, q)| q)
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect()
}

// ---- the fake registry ----------------------------------------------------------------------

/// Answers a blob request instead of the layout: given the digest and which request for it
/// this is (from 1); `None` serves the blob.
type BlobHook = dyn Fn(&str, usize) -> Option<Resp> + Send + Sync;

/// A registry serving `team/app` from an OCI layout, behind a Bearer token server at
/// `/token` that accepts `alice` with one password.
struct Fake {
    port: u16,
    log: Arc<Mutex<Vec<Req>>>,
}

impl Fake {
    fn start(layout: &Path, password: &'static str, hook: Option<Box<BlobHook>>) -> Fake {
        let layout = layout.to_owned();
        let counts: Mutex<HashMap<String, usize>> = Mutex::new(HashMap::new());
        let port_cell: Arc<OnceLock<u16>> = Arc::new(OnceLock::new());
        let port_of = Arc::clone(&port_cell);
        let handler = move |req: &Req| -> Resp {
            let port = *port_of.get().expect("port set before the first request");
            let path = req.path_only();
            if path == "/token" {
                let q = query(req);
                let ok = req.authorization.as_deref()
                    == Some(format!("Basic {}", b64(&format!("alice:{password}"))).as_str())
                    && q.get("service").map(String::as_str) == Some("fake")
                    && q.get("scope").map(String::as_str) == Some("repository:team/app:pull");
                return if ok {
                    let token = BEARER.strip_prefix("Bearer ").expect("prefix");
                    Resp::new(200, format!(r#"{{"token":"{token}","expires_in":300}}"#))
                        .header("Content-Type", "application/json")
                } else {
                    Resp::new(401, r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#)
                };
            }
            let Some(rest) = path.strip_prefix("/v2/team/app/") else {
                return Resp::new(404, "");
            };
            if req.authorization.as_deref() != Some(BEARER) {
                return Resp::new(401, r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#).header(
                    "WWW-Authenticate",
                    format!(
                        r#"Bearer realm="http://127.0.0.1:{port}/token",service="fake",scope="repository:team/app:pull""#
                    ),
                );
            }
            if let Some(reference) = rest.strip_prefix("manifests/") {
                return serve_manifest(&layout, reference);
            }
            if let Some(digest) = rest.strip_prefix("blobs/") {
                let nth = {
                    let mut c = lock(&counts);
                    let n = c.entry(digest.to_owned()).or_insert(0);
                    *n += 1;
                    *n
                };
                if let Some(r) = hook.as_ref().and_then(|h| h(digest, nth)) {
                    return r;
                }
                return serve_blob(&layout, digest);
            }
            Resp::new(404, "")
        };
        let (port, log) = listen(Arc::new(handler));
        port_cell.set(port).expect("set once");
        Fake { port, log }
    }

    fn registry(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn image(&self, tag: &str) -> String {
        format!("127.0.0.1:{}/team/app:{tag}", self.port)
    }

    /// The requests so far, and the log emptied.
    fn take(&self) -> Vec<Req> {
        std::mem::take(&mut *lock(&self.log))
    }
}

/// `blobs/sha256/<hex>` of the layout, for a well-formed digest.
fn blob_path(layout: &Path, digest: &str) -> Option<PathBuf> {
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| layout.join("blobs/sha256").join(hex))
}

fn serve_blob(layout: &Path, digest: &str) -> Resp {
    match blob_path(layout, digest).and_then(|p| std::fs::read(p).ok()) {
        Some(bytes) => Resp::new(200, bytes).header("Content-Type", "application/octet-stream"),
        None => Resp::new(404, r#"{"errors":[{"code":"BLOB_UNKNOWN"}]}"#),
    }
}

/// A manifest by tag (the layout's `index.json` entry of that name) or by digest, served as
/// its media type with its digest.
fn serve_manifest(layout: &Path, reference: &str) -> Resp {
    let digest = if reference.starts_with("sha256:") {
        Some(reference.to_owned())
    } else {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index.json"))
                .expect("index json");
        index["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == reference)
            .and_then(|m| m["digest"].as_str())
            .map(str::to_owned)
    };
    let Some(bytes) = digest
        .as_deref()
        .and_then(|d| blob_path(layout, d))
        .and_then(|p| std::fs::read(p).ok())
    else {
        return Resp::new(404, r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#);
    };
    let parsed: serde_json::Value = serde_json::from_slice(&bytes).expect("manifest json");
    let media = parsed["mediaType"]
        .as_str()
        .unwrap_or("application/vnd.oci.image.manifest.v1+json")
        .to_owned();
    Resp::new(200, bytes)
        .header("Content-Type", media)
        .header("Docker-Content-Digest", digest.unwrap_or_default())
}

/// The digests of blob requests in `log`, in order.
fn blobs(log: &[Req]) -> Vec<String> {
    log.iter()
        .filter_map(|r| r.path_only().strip_prefix("/v2/team/app/blobs/"))
        .map(str::to_owned)
        .collect()
}

/// The references of manifest requests in `log` that were answered (carried the token).
fn manifests(log: &[Req]) -> Vec<String> {
    log.iter()
        .filter(|r| r.authorization.as_deref() == Some(BEARER))
        .filter_map(|r| r.path_only().strip_prefix("/v2/team/app/manifests/"))
        .map(str::to_owned)
        .collect()
}

fn token_requests(log: &[Req]) -> usize {
    log.iter().filter(|r| r.path_only() == "/token").count()
}

// ---- the image --------------------------------------------------------------------------------

/// Five layers in every compression: a secret in the base that layer 2 deletes, one each in
/// layers 1, 3 and 4; and one in the config's Env.
fn planted() -> Image {
    let mut image = Image::new(vec![
        Layer::new(
            Compression::Gzip,
            &[("etc/app/.env", TOKEN), ("bin/tool", b"\x7fELF\0\0")],
        ),
        Layer::new(
            Compression::Zstd,
            &[("srv/key.txt", TOKEN2), ("srv/ok.txt", b"hello")],
        ),
        Layer::new(
            Compression::Plain,
            &[("etc/app/.wh..env", b""), ("README", b"nothing here")],
        ),
        Layer::new(Compression::Gzip, &[("srv/new.txt", TOKEN)]),
        Layer::new(Compression::Zstd, &[("opt/deploy.sh", TOKEN2)]),
    ]);
    image
        .env
        .push("API_TOKEN=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".into());
    image
}

type Place = (String, Option<u32>, Option<u32>);

fn expected_places() -> Vec<Place> {
    vec![
        ("config:Env[1]".into(), None, None),
        ("etc/app/.env".into(), Some(0), Some(2)),
        ("srv/key.txt".into(), Some(1), None),
        ("srv/new.txt".into(), Some(3), None),
        ("opt/deploy.sh".into(), Some(4), None),
    ]
}

/// (path, layer, removed in) of each finding, in report order.
fn places(findings: &[Finding]) -> Vec<Place> {
    findings
        .iter()
        .map(|f| {
            let o = f.image.as_ref().expect("image findings carry their origin");
            (
                f.path.clone(),
                o.layer.as_ref().map(|l| l.index),
                o.removed_in_layer,
            )
        })
        .collect()
}

/// A layout holding [`planted`] as `v1`, in a scratch dir named `name`.
fn layout(name: &str) -> (Scratch, PathBuf, Written) {
    let scratch = Scratch::new(name);
    let dir = scratch.0.join("layout");
    let written = write_layout(&dir, &[("v1", vec![planted()])]);
    let w = written[0][0].clone();
    (scratch, dir, w)
}

fn scan(image: &str, options: ImageOptions, cache: Option<&Path>) -> ScanOutcome {
    let mut r = Request::images([image.to_owned()])
        .packs(["secrets"])
        .image_options(options);
    if let Some(c) = cache {
        r = r.cache(CachePolicy::Dir(c.to_owned()));
    }
    r.prepare().expect("prepares").run()
}

/// A registry for `layout` that `alice:s3cret` may pull from.
fn registry(layout: &Path, hook: Option<Box<BlobHook>>) -> Fake {
    docker_config();
    let fake = Fake::start(layout, "s3cret", hook);
    login(&fake.registry(), "alice", "s3cret");
    fake
}

// ---- the tests --------------------------------------------------------------------------------

#[test]
fn a_bearer_token_is_fetched_once_and_every_layer_pulled_once() {
    let (_scratch, dir, w) = layout("bearer");
    let fake = registry(&dir, None);
    let given = fake.image("v1");
    let out = scan(&given, ImageOptions::default(), None);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(places(&out.findings), expected_places());
    for f in &out.findings {
        let o = f.image.as_ref().expect("origin");
        assert_eq!(o.image, given);
        assert_eq!(
            o.manifest_digest.as_deref(),
            Some(w.manifest_digest.as_str())
        );
        if let Some(l) = &o.layer {
            assert_eq!(l.digest, w.layer_digests[l.index as usize]);
        }
    }
    assert_eq!(out.stats.layers_pulled, 5);

    let log = fake.take();
    assert_eq!(token_requests(&log), 1, "one token for the repository");
    let mut pulled = blobs(&log);
    pulled.sort();
    let mut want: Vec<String> = w.layer_digests.clone();
    want.push(w.config_digest.clone());
    want.sort();
    assert_eq!(pulled, want, "each layer and the config, once");
    assert_eq!(manifests(&log), ["v1"]);
    // Only the first request went without the token: it drew the challenge.
    let registry_requests: Vec<&Req> = log.iter().filter(|r| r.path_only() != "/token").collect();
    assert_eq!(registry_requests[0].authorization, None);
    assert!(
        registry_requests[1..]
            .iter()
            .all(|r| r.authorization.as_deref() == Some(BEARER)),
        "{log:?}"
    );
}

#[test]
fn a_wrong_password_is_one_error_naming_the_registry_and_never_the_password() {
    let (_scratch, dir, _) = layout("denied");
    docker_config();
    let fake = Fake::start(&dir, "s3cret", None);
    login(&fake.registry(), "alice", "hunter2-wrong");
    let given = fake.image("v1");
    let out = scan(&given, ImageOptions::default(), None);
    assert!(out.findings.is_empty(), "{:?}", places(&out.findings));
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    let e = &out.errors[0];
    assert_eq!(e.path, given);
    let registry = fake.registry();
    assert!(
        e.reason.contains(&registry)
            && e.reason.contains(&format!("{registry}/team/app"))
            && (e.reason.contains("refused") || e.reason.contains("denied")),
        "{e:?}"
    );
    for secret in ["hunter2-wrong", &b64("alice:hunter2-wrong")] {
        assert!(!e.reason.contains(secret), "{e:?}");
    }
    let log = fake.take();
    assert_eq!(token_requests(&log), 1);
    assert!(blobs(&log).is_empty(), "nothing pulled: {log:?}");
    assert_eq!(out.stats.layers_pulled, 0);
}

#[test]
fn blob_redirects_to_another_origin_carry_no_credentials() {
    let (_scratch, dir, w) = layout("redirect");
    let storage_dir = dir.clone();
    let (storage_port, storage_log) = listen(Arc::new(move |req: &Req| {
        match req.path_only().strip_prefix("/storage/") {
            Some(d) if req.path.contains("?X-Amz-Signature=") => serve_blob(&storage_dir, d),
            _ => Resp::new(404, ""),
        }
    }));
    let hook: Box<BlobHook> = Box::new(move |digest, _| {
        Some(Resp::new(307, "").header(
            "Location",
            format!("http://127.0.0.1:{storage_port}/storage/{digest}?X-Amz-Signature=f00d"),
        ))
    });
    let fake = registry(&dir, Some(hook));
    let out = scan(&fake.image("v1"), ImageOptions::default(), None);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(places(&out.findings), expected_places());

    let stored = lock(&storage_log).clone();
    assert_eq!(stored.len(), 6, "five layers and the config: {stored:?}");
    assert!(
        stored.iter().all(|r| r.authorization.is_none()),
        "the registry's token leaked to storage: {stored:?}"
    );
    let mut served: Vec<&str> = stored
        .iter()
        .filter_map(|r| r.path_only().strip_prefix("/storage/"))
        .collect();
    served.sort_unstable();
    let mut want: Vec<&str> = w.layer_digests.iter().map(String::as_str).collect();
    want.push(&w.config_digest);
    want.sort_unstable();
    assert_eq!(served, want);
    // The registry itself was asked with the token.
    let log = fake.take();
    assert_eq!(blobs(&log).len(), 6);
    assert!(
        log.iter()
            .filter(|r| r.path_only().contains("/blobs/"))
            .all(|r| r.authorization.as_deref() == Some(BEARER))
    );
}

#[test]
fn a_429_is_retried_after_the_time_the_registry_asks() {
    let (_scratch, dir, w) = layout("retry-429");
    let victim = w.layer_digests[1].clone();
    let target = victim.clone();
    let hook: Box<BlobHook> = Box::new(move |digest, nth| {
        (digest == target && nth == 1).then(|| {
            Resp::new(429, r#"{"errors":[{"code":"TOOMANYREQUESTS"}]}"#).header("Retry-After", "0")
        })
    });
    let fake = registry(&dir, Some(hook));
    let out = scan(&fake.image("v1"), ImageOptions::default(), None);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(places(&out.findings), expected_places());
    let pulled = blobs(&fake.take());
    assert_eq!(pulled.iter().filter(|d| **d == victim).count(), 2);
    assert_eq!(pulled.len(), 7, "one retry on top of six blobs");
    assert!(
        out.warnings
            .iter()
            .any(|w| w.starts_with("1 registry request(s) were retried")),
        "{:?}",
        out.warnings
    );
}

#[test]
fn a_blob_failing_with_500_every_time_is_an_error_for_its_layer_alone() {
    let (_scratch, dir, w) = layout("retry-500");
    let victim = w.layer_digests[3].clone();
    let target = victim.clone();
    let hook: Box<BlobHook> = Box::new(move |digest, _| {
        (digest == target).then(|| Resp::new(500, "boom").header("Retry-After", "0"))
    });
    let fake = registry(&dir, Some(hook));
    let given = fake.image("v1");
    let out = scan(&given, ImageOptions::default(), None);
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    let e = &out.errors[0];
    assert_eq!(e.path, format!("{given}@layer3"));
    assert!(
        e.reason.contains("status 500 after 4 tries") && e.reason.contains(&victim),
        "{e:?}"
    );
    let found = places(&out.findings);
    let want: Vec<Place> = expected_places()
        .into_iter()
        .filter(|p| p.1 != Some(3))
        .collect();
    assert_eq!(found, want, "the other layers are reported");
    let pulled = blobs(&fake.take());
    assert_eq!(pulled.iter().filter(|d| **d == victim).count(), 4);
}

#[test]
fn a_tampered_blob_is_a_digest_error_naming_it() {
    let (_scratch, dir, w) = layout("tampered");
    let victim = w.layer_digests[3].clone();
    let target = victim.clone();
    let bytes_dir = dir.clone();
    let hook: Box<BlobHook> = Box::new(move |digest, _| {
        (digest == target).then(|| {
            let mut bytes =
                std::fs::read(blob_path(&bytes_dir, digest).expect("path")).expect("blob");
            // Same size, one byte different: only the digest can tell.
            let last = bytes.len() - 1;
            bytes[last] ^= 0xff;
            Resp::new(200, bytes)
        })
    });
    let fake = registry(&dir, Some(hook));
    let given = fake.image("v1");
    let out = scan(&given, ImageOptions::default(), None);
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    let e = &out.errors[0];
    assert_eq!(e.path, format!("{given}@layer3"));
    assert!(
        e.reason.contains(&victim) && e.reason.contains("does not match its digest"),
        "{e:?}"
    );
    assert!(
        !out.findings.iter().any(|f| f
            .image
            .as_ref()
            .and_then(|o| o.layer.as_ref())
            .is_some_and(|l| l.index == 3)),
        "nothing from the tampered layer"
    );
    assert!(out.findings.iter().any(|f| f.path == "opt/deploy.sh"));
}

#[test]
fn a_multi_platform_index_resolves_to_the_host_by_digest() {
    let scratch = Scratch::new("multi");
    let dir = scratch.0.join("layout");
    let other_arch = if host_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let other = Image::new(vec![Layer::new(Compression::Gzip, &[("other.env", TOKEN)])])
        .platform(other_arch, None);
    let host = Image::new(vec![Layer::new(Compression::Gzip, &[("host.env", TOKEN)])]);
    let written = write_layout(&dir, &[("multi", vec![other, host])]);
    let (w_other, w_host) = (&written[0][0], &written[0][1]);
    let fake = registry(&dir, None);
    let given = fake.image("multi");

    let out = scan(&given, ImageOptions::default(), None);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let layer_paths: Vec<&str> = out
        .findings
        .iter()
        .filter(|f| !f.path.starts_with("config:"))
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(layer_paths, ["host.env"]);
    let host_platform = Platform::host().to_string();
    assert!(
        out.warnings.iter().any(|w| w.contains(&given)
            && w.contains("multi-platform")
            && w.contains(&host_platform)),
        "{:?}",
        out.warnings
    );
    assert!(out.findings.iter().all(|f| {
        f.image.as_ref().is_some_and(|o| {
            o.manifest_digest.as_deref() == Some(w_host.manifest_digest.as_str())
                && o.platform.as_deref() == Some(host_platform.as_str())
        })
    }));
    let log = fake.take();
    assert_eq!(
        manifests(&log),
        ["multi".to_owned(), w_host.manifest_digest.clone()],
        "the index by tag, then the host's manifest by digest"
    );
    let mut pulled = blobs(&log);
    pulled.sort();
    let mut want = vec![
        w_host.config_digest.clone(),
        w_host.layer_digests[0].clone(),
    ];
    want.sort();
    assert_eq!(pulled, want, "nothing of the other platform's");

    let out = scan(
        &given,
        ImageOptions {
            platform: Some(format!("linux/{other_arch}").parse().expect("platform")),
            ..ImageOptions::default()
        },
        None,
    );
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert!(out.findings.iter().any(|f| f.path == "other.env"));
    assert!(!out.findings.iter().any(|f| f.path == "host.env"));
    assert_eq!(
        manifests(&fake.take()),
        ["multi".to_owned(), w_other.manifest_digest.clone()]
    );
}

#[test]
fn a_cached_image_is_not_pulled_again() {
    let (scratch, dir, w) = layout("cache");
    let cache = scratch.0.join("cache");
    let fake = registry(&dir, None);
    let given = fake.image("v1");
    let first = scan(&given, ImageOptions::default(), Some(&cache));
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!(
        (first.stats.layers_pulled, first.stats.layers_cached),
        (5, 0)
    );
    assert_eq!(blobs(&fake.take()).len(), 6);

    let again = scan(&given, ImageOptions::default(), Some(&cache));
    assert!(again.errors.is_empty(), "{:?}", again.errors);
    assert_eq!(
        (again.stats.layers_pulled, again.stats.layers_cached),
        (0, 5)
    );
    assert_eq!(places(&again.findings), places(&first.findings));
    let log = fake.take();
    assert_eq!(manifests(&log), ["v1"]);
    assert_eq!(
        blobs(&log),
        std::slice::from_ref(&w.config_digest),
        "only the config is fetched"
    );
}

#[test]
fn layer_transfers_stay_within_the_pulls_asked_for() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    for pulls in [1, 2, 4] {
        let (_scratch, dir, w) = layout(&format!("pulls-{pulls}"));
        let layers = w.layer_digests.clone();
        let (now, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (now2, most2) = (Arc::clone(&now), Arc::clone(&most));
        // Each layer request is held 100 ms before it is answered: overlapping requests show.
        let hook: Box<BlobHook> = Box::new(move |digest, _| {
            if layers.iter().any(|l| l == digest) {
                let n = now2.fetch_add(1, Ordering::SeqCst) + 1;
                most2.fetch_max(n, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(100));
                now2.fetch_sub(1, Ordering::SeqCst);
            }
            None
        });
        let fake = registry(&dir, Some(hook));
        let out = scan(
            &fake.image("v1"),
            ImageOptions {
                pulls,
                ..ImageOptions::default()
            },
            None,
        );
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert_eq!(places(&out.findings), expected_places(), "pulls {pulls}");
        assert_eq!(
            most.load(Ordering::SeqCst),
            pulls,
            "at most (and, with 5 layers, exactly) {pulls} layer requests at once"
        );
    }
}
