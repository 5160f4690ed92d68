//! Helpers shared by the CLI's integration tests (each test binary uses its own subset).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Output};
use std::time::{Duration, Instant};

/// The external programs the tests run and the packages they come from: one list for the
/// whole workspace, kept with the core crate's test helpers.
#[path = "../../../core/tests/common/tools.rs"]
mod tools;
#[allow(unused_imports)] // each test binary uses its own subset
pub use tools::{TOOLS, tool};

/// Container images for the tests, built in the test: shared with the core's tests.
#[path = "../../../core/tests/common/oci.rs"]
pub mod oci;

/// A line the built-in `github-classic-pat` rule finds (at column 14).
pub const TOKEN_LINE: &str = "GITHUB_TOKEN=ghp_8kTqZ2vXw9LmN4bR7cYd1FhJ3sPaE6gUo0Ki\n";

/// A scratch directory `NAME` under cargo's target tmpdir (the test binaries share it: each
/// names its own), made empty by `new` and removed on drop together with `NAME.cache` beside
/// it, the cache directory for the runs that ask for one ([`Scratch::cache`]).
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let s = Scratch(Path::new(env!("CARGO_TARGET_TMPDIR")).join(name));
        s.remove();
        std::fs::create_dir_all(&s.0).expect("create scratch dir");
        s
    }
    /// `rel` inside the directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    /// Writes `text` to `rel`, making the directories above it.
    pub fn write(&self, rel: &str, text: &str) {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write fixture");
    }
    /// `NAME.cache` beside the directory: a cache for capstan (`XDG_CACHE_HOME`) outside the
    /// tree it scans and the listings the tests check.
    pub fn cache(&self) -> PathBuf {
        PathBuf::from(format!("{}.cache", self.0.display()))
    }
    fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_dir_all(self.cache());
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.remove();
    }
}

/// Waits for `child` at most `limit`; a hang (e.g. writing to a FIFO nobody reads) kills it
/// and fails the test.
pub fn wait(mut child: Child, limit: Duration) -> Output {
    let start = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("capstan did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `child` SIGINT (a Ctrl-C) with kill(1).
pub fn sigint(child: &Child) {
    let sent = tool("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
}

/// Debian's `docker-registry` on a free loopback port with htpasswd auth; stopped on drop. Both
/// programs come from `common::tool`: a missing one fails naming the package to install.
pub struct Registry {
    child: std::process::Child,
    pub port: u16,
    dir: Scratch,
}

impl Registry {
    pub fn start(user: &str, pass: &str) -> Registry {
        // One directory per registry: tests in one binary run at once.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = Scratch::new(&format!("registry-{}-{n}", std::process::id()));
        let htpasswd = tool("htpasswd")
            .args(["-Bbn", user, pass])
            .output()
            .expect("htpasswd runs");
        assert!(
            htpasswd.status.success(),
            "htpasswd: {}",
            String::from_utf8_lossy(&htpasswd.stderr)
        );
        std::fs::write(dir.0.join("htpasswd"), &htpasswd.stdout).expect("htpasswd file");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let config = format!(
            "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {root}/data\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: capstan-test\n    path: {root}/htpasswd\n",
            root = dir.0.display()
        );
        std::fs::write(dir.0.join("config.yml"), config).expect("config");
        let child = tool("docker-registry")
            .arg("serve")
            .arg(dir.0.join("config.yml"))
            // The access log (one line per request) goes to stdout: `blob_gets` reads it.
            .stdout(std::fs::File::create(dir.0.join("access.log")).expect("log file"))
            .stderr(std::fs::File::create(dir.0.join("error.log")).expect("log file"))
            .spawn()
            .expect("docker-registry starts");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the registry did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Registry { child, port, dir }
    }
}

impl Registry {
    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Successful blob downloads of `repository` so far (200s and redirects), from the access log.
    pub fn blob_gets(&self, repository: &str) -> usize {
        let log = std::fs::read_to_string(self.dir.0.join("access.log")).unwrap_or_default();
        let get = format!("\"GET /v2/{repository}/blobs/");
        log.lines()
            .filter(|l| l.contains(&get) && (l.contains("\" 200 ") || l.contains("\" 307 ")))
            .count()
    }

    /// A docker config directory (for `DOCKER_CONFIG`) in `dir` holding `user:pass` for it.
    pub fn docker_config(&self, dir: &Scratch, user: &str, pass: &str) -> PathBuf {
        use base64::Engine as _;
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        dir.write(
            "docker/config.json",
            &format!(
                r#"{{"auths": {{"{}": {{"auth": "{auth}"}}}}}}"#,
                self.host()
            ),
        );
        dir.path("docker")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
