//! SECURITY.md's promises that are about what the code can do at all, checked on the source:
//! the only program the library runs is a credential helper, the only network it opens is the
//! registry client and the shared cache level, and it never prints. And two about the
//! repository: its tests, benches and scripts read nothing from outside it, and the README's
//! test command installs every program
//! the tests run.

use std::path::{Path, PathBuf};

mod common;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("src").filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Files (relative to the crate's `src/`, `/`-separated) whose code, outside comments, uses any
/// of `needles`.
fn users(needles: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut hits: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).expect("read");
            text.lines()
                .map(str::trim_start)
                .filter(|l| !l.starts_with("//"))
                .any(|l| needles.iter().any(|n| l.contains(n)))
        })
        .map(|f| {
            f.strip_prefix(&src)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/")
        })
        .collect();
    hits.sort();
    hits
}

#[test]
fn the_only_program_run_is_a_credential_helper() {
    assert_eq!(
        users(&[
            "Command::new",
            "process::Command",
            "libc::exec",
            "libc::fork"
        ]),
        ["auth/creds.rs"]
    );
}

/// The registry client (credentials check and token flow, image pulls) and the shared cache
/// level (Redis) are the only network.
#[test]
fn the_only_network_is_the_registries_and_the_shared_cache() {
    assert_eq!(
        users(&[
            "ureq::",
            "redis::",
            "TcpStream",
            "TcpListener",
            "UdpSocket",
            "ToSocketAddrs"
        ]),
        ["auth/registry.rs", "image/registry.rs", "scan/shared.rs"]
    );
}

#[test]
fn the_library_never_prints() {
    assert_eq!(
        users(&["println!", "eprintln!", "print!(", "eprint!(", "dbg!("]),
        Vec::<String>::new()
    );
}

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Code, scripts and manifests under `dir`: files ending in one of `EXTS`, Makefiles, and
/// scripts without an extension that start with `#!` (as `.ci/`'s do). Build output and the
/// fuzzer's scratch directories are skipped; links are not followed.
fn code_files(dir: &Path, out: &mut Vec<PathBuf>) {
    const EXTS: [&str; 8] = ["rs", "sh", "go", "toml", "c", "h", "py", "bash"];
    const SKIP: [&str; 5] = [".git", "target", "corpus", "artifacts", "coverage"];
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries.filter_map(Result::ok) {
        let (p, Ok(kind)) = (e.path(), e.file_type()) else {
            continue;
        };
        if kind.is_dir() {
            if !SKIP.iter().any(|s| e.file_name() == *s) {
                code_files(&p, out);
            }
        } else if kind.is_file() {
            let code = match p.extension() {
                Some(x) => EXTS.iter().any(|ext| x == *ext),
                None => {
                    e.file_name() == "Makefile"
                        || std::fs::read(&p).is_ok_and(|b| b.starts_with(b"#!"))
                }
            };
            if code {
                out.push(p);
            }
        }
    }
}

#[test]
fn tests_benches_and_scripts_read_nothing_from_outside_the_repository() {
    // Third-party test data lives in testdata/peers/ (see its README), never beside the
    // repository: a clone on its own must test. (Split so that this file does not match.)
    let needles = [concat!("shared", "/peers"), concat!("..", "/shared")];
    let root = root();
    let mut files = Vec::new();
    for dir in ["crates", "benches", "examples", "tests", "fuzz", ".ci"] {
        code_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "the walk found too little: {files:?}");
    let mut hits = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for (n, line) in text.lines().enumerate() {
            if needles.iter().any(|needle| line.contains(needle)) {
                let rel = f.strip_prefix(&root).unwrap_or(f).display().to_string();
                hits.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        hits.is_empty(),
        "read from outside the repository (copy the file into testdata/peers/, with its \
         licence, and read it from there):\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_test_command_installs_every_program_the_tests_run() {
    let path = root().join(".ci/deps");
    let deps = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let packages: Vec<&str> = deps
        .split_once("APT_PACKAGES=(")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(list, _)| list.split_whitespace().collect())
        .expect("APT_PACKAGES=( ... ) in .ci/deps");
    let missing: Vec<String> = common::TOOLS
        .iter()
        .filter(|(_, package)| !packages.contains(package))
        .map(|(program, package)| format!("{package} (for {program})"))
        .collect();
    assert!(
        missing.is_empty(),
        ".ci/deps does not install {missing:?}: add them to its APT_PACKAGES"
    );
}
