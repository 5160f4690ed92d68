//! SECURITY.md's promises that are about what the code can do at all, checked on the source:
//! the only program the library runs is a credential helper, the only network it opens is the
//! registry client, and it never prints.

use std::path::{Path, PathBuf};

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

#[test]
fn the_only_network_is_the_registry_client() {
    assert_eq!(
        users(&[
            "ureq::",
            "TcpStream",
            "TcpListener",
            "UdpSocket",
            "ToSocketAddrs"
        ]),
        ["auth/registry.rs"]
    );
}

#[test]
fn the_library_never_prints() {
    assert_eq!(
        users(&["println!", "eprintln!", "print!(", "eprint!(", "dbg!("]),
        Vec::<String>::new()
    );
}
