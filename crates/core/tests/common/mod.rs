//! Helpers shared by the integration tests (each test binary uses its own subset).
#![allow(dead_code)]

use std::path::PathBuf;

#[allow(dead_code)] // image tests only
pub mod oci;
mod tools;
#[allow(unused_imports)] // each test binary uses its own subset
pub use tools::{TOOLS, tool};

/// A scratch directory under cargo's target tmp dir, named after the test binary and `name`,
/// emptied when made and removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("{}-{name}", env!("CARGO_CRATE_NAME")));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }

    /// Writes `body` at `rel` (parents made) and returns its path.
    pub fn write(&self, rel: &str, body: impl AsRef<[u8]>) -> PathBuf {
        let p = self.0.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("dirs");
        std::fs::write(&p, body).expect("write");
        p
    }
}

/// Runs `cmd` (GNU tar from [`tool`], in these tests) and returns its standard output; fails the
/// test with the command's standard error unless it succeeds.
pub fn stdout_of(cmd: &mut std::process::Command) -> Vec<u8> {
    let out = cmd.output().expect("the command runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
