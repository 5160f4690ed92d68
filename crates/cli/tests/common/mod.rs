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
