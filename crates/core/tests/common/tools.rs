//! The external programs the tests run, each with the Debian package that provides it. The
//! README's test command (`.ci/test`) installs them all first (`.ci/deps`; `policy.rs` checks
//! that the two lists agree). Shared by the CLI's tests too (`crates/cli/tests/common`).

use std::path::Path;
use std::process::Command;

/// Every program a test runs, and the Debian package it comes from.
pub const TOOLS: [(&str, &str); 19] = [
    ("bash", "bash"),
    ("docker-registry", "docker-registry"),
    ("git", "git"),
    ("groff", "groff-base"),
    ("htpasswd", "apache2-utils"),
    ("kill", "procps"),
    ("mkfifo", "coreutils"),
    ("mknod", "coreutils"),
    ("openssl", "openssl"),
    ("pre-commit", "pre-commit"),
    ("python3", "python3"),
    ("redis-cli", "redis-tools"),
    ("redis-server", "redis-server"),
    ("setpriv", "util-linux"),
    ("sh", "dash"),
    ("skopeo", "skopeo"),
    ("tar", "tar"),
    ("time", "time"),
    ("true", "coreutils"),
];

/// A `Command` for `program`, one of [`TOOLS`], once it is known to be on `PATH`.
///
/// # Panics
/// If `program` is not on `PATH`: the test fails saying which package to install, not with a
/// bare "No such file or directory" from the spawn. Also if `program` is not in [`TOOLS`].
#[track_caller]
pub fn tool(program: &str) -> Command {
    let Some(&(_, package)) = TOOLS.iter().find(|(p, _)| *p == program) else {
        panic!(
            "{program} is not in TOOLS (crates/core/tests/common/tools.rs): add it with the \
             Debian package that provides it, and the package to .ci/deps"
        )
    };
    assert!(
        on_path(program),
        "{program} not found on PATH: install Debian's {package} package (the README's test \
         command .ci/test does)"
    );
    Command::new(program)
}

/// Whether `PATH` has an executable file named `program`, as the spawn will look it up.
fn on_path(program: &str) -> bool {
    let Some(path) = std::env::var_os("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| executable(&dir.join(program)))
}

#[cfg(unix)]
fn executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn executable(p: &Path) -> bool {
    p.is_file() || p.with_extension("exe").is_file()
}
