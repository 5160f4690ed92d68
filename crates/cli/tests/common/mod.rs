//! Helpers shared by the CLI's integration tests (each test binary uses its own subset).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
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

/// Environment variables that would point git (or gix) somewhere else than the test means:
/// set when the tests run inside a git hook, or by the user. Removed from every git and capstan
/// run of a test that builds repositories.
pub const GIT_ENV: [&str; 20] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_TEMPLATE_DIR",
    "GIT_SHALLOW_FILE",
    "GIT_REPLACE_REF_BASE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_QUARANTINE_PATH",
    "PRE_COMMIT_HOME",
];

/// `cmd` isolated from the user's git, docker and capstan configuration, in `dir`: its own
/// `HOME`, no system git config, git never looking above `dir`, no `CAPSTAN_CACHE_URL`.
pub fn isolate(cmd: &mut Command, dir: &Scratch) {
    for var in GIT_ENV {
        cmd.env_remove(var);
    }
    cmd.env("HOME", dir.path("home"))
        .env("XDG_CONFIG_HOME", dir.path("home/.config"))
        .env("XDG_CACHE_HOME", dir.cache())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", dir.path("home/.gitconfig"))
        .env("GIT_CEILING_DIRECTORIES", &dir.0)
        .env("DOCKER_CONFIG", dir.path("home/.docker"))
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("CAPSTAN_CACHE_URL")
        .env("LC_ALL", "C")
        .current_dir(&dir.0)
        .stdin(Stdio::null());
}

/// `git ARGS` in `repo`, isolated as [`isolate`] says and dated `when` (seconds); a failure
/// fails the test.
pub fn git(dir: &Scratch, repo: &Path, when: i64, args: &[&str]) {
    let mut cmd = tool("git");
    isolate(&mut cmd, dir);
    let date = format!("{when} +0100");
    let out = cmd
        .current_dir(repo)
        .args(args)
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

/// `capstan ARGS` in the test's environment, run to completion.
pub fn capstan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .output()
        .expect("run the capstan binary")
}

/// A process's output as text (invalid UTF-8 replaced).
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A line the built-in `github-classic-pat` rule finds (at column 14).
pub const TOKEN_LINE: &str = "GITHUB_TOKEN=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\n";

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

/// A free loopback port (bound, noted and closed: nothing listens on it until someone binds it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A `redis-server` of the test's own on a free loopback port, saving nothing to disk; killed
/// (SIGKILL) on drop. `redis-server` and `redis-cli` come from `common::tool`: a missing one
/// fails naming the package to install.
pub struct Redis {
    child: std::sync::Mutex<Child>,
    port: u16,
    password: Option<String>,
    dir: Scratch,
}

impl Redis {
    pub fn start() -> Redis {
        Redis::start_with(&[])
    }

    /// A server with `extra` arguments after the test's own (`--requirepass PASSWORD`,
    /// `--enable-debug-command local`).
    pub fn start_with(extra: &[&str]) -> Redis {
        // One directory per server: tests in one binary run at once.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = Scratch::new(&format!("redis-{}-{n}", std::process::id()));
        let password = extra
            .windows(2)
            .find(|w| w[0] == "--requirepass")
            .map(|w| w[1].to_owned());
        // The port is free when chosen but may be taken before the server binds it (another
        // test's server): a server that exits, or a port where another one answers, is retried.
        for _ in 0..5 {
            let port = free_port();
            let log = std::fs::File::create(dir.path("redis.log")).expect("log file");
            let mut child = tool("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(&dir.0)
                .args(extra)
                .current_dir(&dir.0)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .expect("redis-server starts");
            if up(&mut child, port, password.as_deref()) {
                return Redis {
                    child: std::sync::Mutex::new(child),
                    port,
                    password,
                    dir,
                };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!(
            "redis-server did not start: {}",
            std::fs::read_to_string(dir.path("redis.log")).unwrap_or_default()
        );
    }

    /// `redis://127.0.0.1:PORT` (no password in it, even when the server has one).
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether something on the port answers `PING` within `within` (`+PONG`, or `-NOAUTH`
    /// from a server with a password): false while the server is busy (`DEBUG SLEEP`) or gone.
    pub fn answers(&self, within: Duration) -> bool {
        answers(self.port, within)
    }

    /// `redis-cli` against the server (authenticated when it has a password).
    pub fn cli_command(&self) -> Command {
        redis_cli(self.port, self.password.as_deref())
    }

    /// `redis-cli ARGS`: its standard output. A failure fails the test.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self
            .cli_command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli runs");
        assert!(
            out.status.success(),
            "redis-cli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs the commands in `script` (one a line, as `redis-cli` reads them from standard
    /// input: arguments quoted with `"…"` may hold `\xHH` escapes); their replies.
    pub fn cli_script(&self, script: &str) -> String {
        use std::io::Write as _;
        let mut child = self
            .cli_command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("redis-cli runs");
        let mut stdin = child.stdin.take().expect("stdin");
        // Written from a thread: the replies fill stdout's pipe while the script is written.
        let script = script.to_owned();
        let writer = std::thread::spawn(move || stdin.write_all(script.as_bytes()));
        let out = child.wait_with_output().expect("redis-cli runs");
        writer.join().expect("writer").expect("script written");
        assert!(
            out.status.success(),
            "redis-cli: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Kills the server (SIGKILL: no chance to answer anything more) and reaps it.
    pub fn kill(&self) {
        let mut child = self.child.lock().expect("child");
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether the `redis-server` just started as `child` came up on `port`: it answers there, and
/// it is this process that does (not another test's server that took the port first).
fn up(child: &mut Child, port: u16, password: Option<&str>) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !answers(port, Duration::from_millis(200)) {
        if child.try_wait().expect("wait").is_some() || Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let Ok(info) = redis_cli(port, password)
        .args(["INFO", "server"])
        .stdin(Stdio::null())
        .output()
    else {
        return false;
    };
    let pid = format!("process_id:{}", child.id());
    String::from_utf8_lossy(&info.stdout)
        .lines()
        .any(|l| l.trim() == pid)
}

/// Whether something on loopback `port` answers `PING` within `within` (`+PONG`, or `-NOAUTH`
/// from a server with a password).
fn answers(port: u16, within: Duration) -> bool {
    use std::io::{Read as _, Write as _};
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = std::net::TcpStream::connect_timeout(&addr, within) else {
        return false;
    };
    let mut reply = [0u8; 7];
    s.set_read_timeout(Some(within)).is_ok()
        && s.write_all(b"PING\r\n").is_ok()
        && s.read(&mut reply).is_ok_and(|n| n > 0)
        && (reply.starts_with(b"+PONG") || reply.starts_with(b"-NOAUTH"))
}

/// `redis-cli` for the server on loopback `port`, with its password (`REDISCLI_AUTH`: not on
/// the command line) when it has one.
fn redis_cli(port: u16, password: Option<&str>) -> Command {
    let mut cmd = tool("redis-cli");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    match password {
        Some(p) => cmd.env("REDISCLI_AUTH", p),
        None => cmd.env_remove("REDISCLI_AUTH"),
    };
    cmd
}
