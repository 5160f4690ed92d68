//! Faults around the binary: a full disk, a reader that goes away, Ctrl-C in the middle of a
//! scan. Each ends in the documented exit status with a message, never in a report that looks
//! complete but is not.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;
use common::{Scratch, TOKEN_LINE, sigint, wait};

/// `n` files in `s`'s `tree`, every tenth with a secret.
fn tree(s: &Scratch, n: usize) -> PathBuf {
    let root = s.path("tree");
    for i in 0..n {
        let dir = root.join(format!("d{}", i / 500));
        if i % 500 == 0 {
            std::fs::create_dir_all(&dir).expect("dir");
        }
        let body = if i % 10 == 0 {
            format!("line one\n{TOKEN_LINE}")
        } else {
            "fn main() { let total = items.iter().sum(); }\n".repeat(40)
        };
        std::fs::write(dir.join(format!("f{i}.rs")), body).expect("write");
    }
    root
}

fn capstan() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_capstan"));
    c.env(
        "XDG_CACHE_HOME",
        std::env::temp_dir().join("capstan-faults-cache"),
    );
    c
}

/// Bytes process `pid` has read through read(2) so far (`rchar` in /proc/PID/io).
fn bytes_read(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Starts capstan with `args` and sends it SIGINT once it has read 4 MiB — once it is reading
/// files (loading rules reads next to nothing), however slow the machine is.
fn interrupted_once_reading<'a>(args: impl IntoIterator<Item = &'a OsStr>) -> Child {
    let mut child = capstan()
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    let started = Instant::now();
    while bytes_read(child.id()) < 4 << 20 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the work never started"
        );
        if child.try_wait().expect("wait").is_some() {
            let out = child.stderr.take().map(std::io::read_to_string);
            panic!("ended before it could be interrupted: {out:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    sigint(&child);
    child
}

#[test]
fn a_full_disk_is_exit_2_with_a_message() {
    let s = Scratch::new("faults-full");
    s.write(".env", TOKEN_LINE);
    s.write("Dockerfile", "FROM scratch\n");
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full")
    };
    for args in [
        vec!["scan", "--no-cache"],
        vec!["scan", "--no-cache", "-f", "json"],
        vec!["scan", "--no-cache", "-f", "sarif"],
        vec!["context", "-o", "-"],
    ] {
        let out = capstan()
            .args(&args)
            .arg(&s.0)
            .stdout(full())
            .stderr(Stdio::piped())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("No space left on device"), "{args:?}: {err}");
    }
}

#[test]
fn a_reader_that_goes_away_ends_the_scan_quietly() {
    let s = Scratch::new("faults-pipe");
    let root = tree(&s, 3000);
    let mut child = capstan()
        .args(["scan", "--no-cache", "--threads", "1", "-f", "jsonl"])
        .arg(&root)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    // `| head -1`: read one line, then close the pipe.
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("one line");
    assert!(line.contains("\"rule_id\""), "{line}");
    let out = wait(child, Duration::from_secs(120));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "a closed pipe is not an error: {err}"
    );
    assert!(err.is_empty(), "nothing said on stderr: {err}");
}

#[test]
fn ctrl_c_stops_the_walk_and_reports_what_was_found_marked_interrupted() {
    let s = Scratch::new("faults-sigint");
    // ~7 s of scanning for a debug build on one thread: long enough to be stopped midway.
    let root = tree(&s, 40_000);
    let report = s.0.join("report.json");
    let scan = ["scan", "--no-cache", "--threads", "1", "-f", "json", "-o"];
    let child = interrupted_once_reading(
        scan.iter()
            .map(OsStr::new)
            .chain([report.as_os_str(), root.as_os_str()]),
    );
    let start = Instant::now();
    let out = wait(child, Duration::from_secs(60));
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "stopped promptly"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("INTERRUPTED"), "{err}");
    // The report is whole JSON, says it is partial, and holds what was found before.
    let text = std::fs::read_to_string(&report).expect("the report was written");
    let v: serde_json::Value = serde_json::from_str(&text).expect("complete JSON");
    assert_eq!(v["interrupted"], true);
    let files = v["stats"]["files"].as_u64().expect("stats.files");
    assert!(files > 0 && files < 40_000, "a partial scan: {files} files");
    let found = v["findings"].as_array().expect("findings").len() as u64;
    assert!(
        found > 0 && found <= files,
        "{found} findings in {files} files"
    );
    // Nothing half-written beside it.
    let leftovers: Vec<_> = std::fs::read_dir(&s.0)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n != "report.json" && n != "tree")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn control_characters_in_names_cannot_forge_lines_or_colours() {
    let s = Scratch::new("faults-names");
    let evil =
        s.0.join("tree")
            .join("a\nFAKE:1:1: critical forged [secret] x\x1b[31m.env");
    std::fs::create_dir_all(evil.parent().expect("parent")).expect("dir");
    std::fs::write(&evil, TOKEN_LINE).expect("write");
    let out = capstan()
        .args(["scan", "--no-cache"])
        .arg(s.0.join("tree"))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(text.lines().count(), 1, "one finding, one line: {text:?}");
    assert!(
        text.contains("a\\nFAKE") && text.contains("\\x1b[31m"),
        "{text:?}"
    );
    assert!(
        !text.contains('\x1b'),
        "no raw escape reaches the terminal: {text:?}"
    );
}

#[test]
fn ctrl_c_while_writing_a_context_file_leaves_no_half_file() {
    let s = Scratch::new("faults-sigint-context");
    let root = tree(&s, 40_000);
    std::fs::write(root.join("Dockerfile"), "FROM scratch\n").expect("Dockerfile");
    let out = s.0.join("context.tar");
    let context = ["context", "--scan", "-o"];
    let child = interrupted_once_reading(
        context
            .iter()
            .map(OsStr::new)
            .chain([out.as_os_str(), root.as_os_str()]),
    );
    let done = wait(child, Duration::from_secs(60));
    // Ended by the SIGINT, as without a handler (so a shell loop stops too).
    assert_eq!(
        done.status.signal(),
        Some(libc::SIGINT),
        "{:?}",
        done.status
    );
    // Neither the archive nor its temporary file: an interrupted context is not a context.
    let left: Vec<_> = std::fs::read_dir(&s.0)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .filter(|n| n != "tree")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
