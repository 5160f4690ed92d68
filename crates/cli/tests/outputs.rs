//! `-o PATH` writes *into* what PATH names: a device, FIFO or socket is written in place (never
//! replaced by a plain file), a symlink is followed and its target replaced (the link stays), a
//! regular file is replaced atomically. And SIGINT around an output still behaves as documented.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;

const TOKEN_LINE: &str = "GITHUB_TOKEN=ghp_8kTqZ2vXw9LmN4bR7cYd1FhJ3sPaE6gUo0Ki\n";

/// A scratch directory with a tree to scan (`tree/.env` holds a secret, `tree/Dockerfile` makes
/// it a build context) and a cache directory.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("outputs-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("tree")).expect("scratch dir");
        std::fs::write(dir.join("tree/.env"), TOKEN_LINE).expect("write");
        std::fs::write(dir.join("tree/Dockerfile"), "FROM scratch\n").expect("write");
        Scratch(dir)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn tree(&self) -> PathBuf {
        self.path("tree")
    }
    fn capstan(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_capstan"));
        c.env("XDG_CACHE_HOME", self.path("cache"));
        c
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The names in `dir` but the cache, sorted: what a run left there.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "cache")
        .collect();
    names.sort();
    names
}

fn run(cmd: &mut Command) -> Output {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    wait(child, Duration::from_secs(60))
}

/// Waits for `child` at most `limit`; a hang (e.g. writing to a FIFO nobody reads) kills it
/// and fails the test.
fn wait(mut child: Child, limit: Duration) -> Output {
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

fn shell(program: &str, args: &[&std::ffi::OsStr]) {
    let out = common::tool(program).args(args).output().expect(program);
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn mkfifo(path: &Path) {
    shell("mkfifo", &[path.as_os_str()]);
}

/// Reads a FIFO to its end in a thread: the receiver gets what was written into it.
fn read_fifo(path: &Path) -> mpsc::Receiver<std::io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel();
    let path = path.to_owned();
    std::thread::spawn(move || {
        let read = std::fs::File::open(&path).and_then(|mut f| {
            let mut all = Vec::new();
            f.read_to_end(&mut all).map(|_| all)
        });
        let _ = tx.send(read);
    });
    rx
}

fn file_type(path: &Path) -> std::fs::FileType {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .file_type()
}

/// A scan report in JSON holding the finding of `tree/.env`.
fn assert_json_report(bytes: &[u8]) {
    let v: serde_json::Value = serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(bytes)));
    let findings = v["findings"].as_array().expect("findings");
    assert_eq!(findings.len(), 1, "{v}");
    assert_eq!(findings[0]["rule_id"], "github-classic-pat", "{v}");
    assert_eq!(v["interrupted"], false, "{v}");
}

#[test]
fn a_character_device_is_written_in_place_and_stays_a_device() {
    let s = Scratch::new("chardev");
    // The same devices as /dev/full and /dev/null, made where a temporary file could be put.
    let full = s.path("full");
    let null = s.path("null");
    shell(
        "mknod",
        &[full.as_os_str(), "c".as_ref(), "1".as_ref(), "7".as_ref()],
    );
    shell(
        "mknod",
        &[null.as_os_str(), "c".as_ref(), "1".as_ref(), "3".as_ref()],
    );
    let before = names_in(&s.0);

    // A write error is exit 2 with the path and the cause.
    let out = run(s.capstan().args(["scan", "-o"]).arg(&full).arg(s.tree()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&*full.to_string_lossy()),
        "names the path: {err}"
    );
    assert!(err.contains("No space left on device"), "the cause: {err}");

    // Written into: a finding is exit 1, as with a file.
    let out = run(s
        .capstan()
        .args(["scan", "-f", "json", "-o"])
        .arg(&null)
        .arg(s.tree()));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    for (node, minor) in [(&full, 7), (&null, 3)] {
        let meta = std::fs::symlink_metadata(node).expect("node");
        assert!(
            meta.file_type().is_char_device(),
            "{} is still a character device: {:?}",
            node.display(),
            meta.file_type()
        );
        assert_eq!(meta.rdev(), libc::makedev(1, minor));
    }
    assert_eq!(names_in(&s.0), before, "no temporary file left beside them");
}

#[test]
fn a_fifo_gets_the_whole_report_and_stays_a_fifo() {
    let s = Scratch::new("fifo");
    let fifo = s.path("report.fifo");
    mkfifo(&fifo);
    let received = read_fifo(&fifo);
    let out = run(s
        .capstan()
        .args(["scan", "-f", "json", "-o"])
        .arg(&fifo)
        .arg(s.tree()));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Checked before waiting for the reader: a FIFO replaced by a file is never opened for
    // writing, and its reader waits forever.
    assert!(file_type(&fifo).is_fifo(), "still a FIFO");
    let bytes = received
        .recv_timeout(Duration::from_secs(30))
        .expect("the reader got an end of file")
        .expect("read");
    assert_json_report(&bytes);
    assert_eq!(names_in(&s.0), ["report.fifo", "tree"]);
}

#[test]
fn context_writes_its_tar_into_a_fifo() {
    let s = Scratch::new("context-fifo");
    let fifo = s.path("ctx.fifo");
    mkfifo(&fifo);
    let received = read_fifo(&fifo);
    let out = run(s.capstan().args(["context", "-o"]).arg(&fifo).arg(s.tree()));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(file_type(&fifo).is_fifo(), "still a FIFO");
    let tar = received
        .recv_timeout(Duration::from_secs(30))
        .expect("the reader got an end of file")
        .expect("read");
    assert!(
        !tar.is_empty() && tar.len().is_multiple_of(512),
        "whole tar blocks: {} bytes",
        tar.len()
    );
    // Entries sorted by name: the first header names `.env`; two zero blocks end the archive.
    assert!(
        tar.starts_with(b".env\0"),
        "{:?}",
        &tar[..16.min(tar.len())]
    );
    assert!(
        tar[tar.len() - 1024..].iter().all(|&b| b == 0),
        "the tar end"
    );
    let names = String::from_utf8_lossy(&tar);
    assert!(names.contains("Dockerfile"), "both members");
}

#[test]
fn a_symlink_stays_a_link_and_its_target_through_a_chain_is_replaced() {
    let s = Scratch::new("symlink");
    std::fs::create_dir(s.path("real")).expect("dir");
    std::fs::create_dir(s.path("links")).expect("dir");
    let target = s.path("real/report.json");
    std::fs::write(&target, "the previous report").expect("write");
    // links/chain -> out.json -> ../real/report.json: two links, relative, through `..`.
    std::os::unix::fs::symlink("../real/report.json", s.path("links/out.json")).expect("link");
    std::os::unix::fs::symlink("out.json", s.path("links/chain")).expect("link");

    let out = run(s
        .capstan()
        .args(["scan", "-f", "json", "-o"])
        .arg(s.path("links/chain"))
        .arg(s.tree()));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for link in ["links/chain", "links/out.json"] {
        assert!(
            file_type(&s.path(link)).is_symlink(),
            "{link} is still a link"
        );
    }
    assert_eq!(
        std::fs::read_link(s.path("links/chain")).expect("link"),
        Path::new("out.json")
    );
    assert!(file_type(&target).is_file());
    assert_json_report(&std::fs::read(&target).expect("the target holds the report"));
    assert_eq!(names_in(&s.path("links")), ["chain", "out.json"]);
    assert_eq!(
        names_in(&s.path("real")),
        ["report.json"],
        "no temporary file left"
    );
}

#[test]
fn a_dangling_symlink_gets_its_target_created_0600() {
    let s = Scratch::new("dangling");
    std::fs::create_dir(s.path("sub")).expect("dir");
    let link = s.path("report.txt");
    std::os::unix::fs::symlink("sub/new.txt", &link).expect("link");
    let out = run(s.capstan().args(["scan", "-o"]).arg(&link).arg(s.tree()));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(file_type(&link).is_symlink(), "still a link");
    let created = s.path("sub/new.txt");
    let meta = std::fs::symlink_metadata(&created).expect("the target was created");
    assert!(meta.is_file());
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o600,
        "reports may hold secrets"
    );
    let text = std::fs::read_to_string(&created).expect("read");
    assert!(text.contains("github-classic-pat"), "{text}");
    assert_eq!(names_in(&s.path("sub")), ["new.txt"]);
}

#[test]
fn a_metrics_file_behind_a_symlink_is_replaced_0644_and_the_link_kept() {
    let s = Scratch::new("metrics");
    let link = s.path("capstan.prom");
    std::fs::write(s.path("real.prom"), "old\n").expect("write");
    std::os::unix::fs::symlink("real.prom", &link).expect("link");
    let out = run(s
        .capstan()
        .args(["scan", "-o"])
        .arg(s.path("report.txt"))
        .arg("--metrics-file")
        .arg(&link)
        .arg(s.tree()));
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(file_type(&link).is_symlink(), "still a link");
    let meta = std::fs::metadata(s.path("real.prom")).expect("target");
    assert_eq!(
        meta.permissions().mode() & 0o777,
        0o644,
        "the mode asked for"
    );
    let text = std::fs::read_to_string(s.path("real.prom")).expect("read");
    assert!(text.contains("# TYPE"), "{text}");
    let report = std::fs::metadata(s.path("report.txt")).expect("report");
    assert_eq!(report.permissions().mode() & 0o777, 0o600);
    assert_eq!(
        names_in(&s.0),
        ["capstan.prom", "real.prom", "report.txt", "tree"]
    );
}

#[test]
fn a_directory_that_cannot_be_written_is_exit_2_naming_the_path_and_nothing_is_left() {
    let s = Scratch::new("readonly");
    let dir = s.path("ro");
    std::fs::create_dir(&dir).expect("dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    let target = dir.join("report.txt");
    // Root writes anywhere: run it without the capability that lets it (CAP_DAC_OVERRIDE),
    // so the mode counts as for anyone else.
    let root = std::fs::metadata("/proc/self").expect("/proc/self").uid() == 0;
    let mut cmd = if root {
        let mut c = common::tool("setpriv");
        c.args(["--bounding-set", "-dac_override,-dac_read_search", "--"])
            .arg(env!("CARGO_BIN_EXE_capstan"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_capstan"))
    };
    cmd.args(["scan", "--no-cache", "-o"])
        .arg(&target)
        .arg(s.tree());
    let out = run(&mut cmd);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&*target.to_string_lossy()),
        "names the path: {err}"
    );
    assert!(err.contains("Permission denied"), "the cause: {err}");
    assert!(names_in(&dir).is_empty(), "{:?}", names_in(&dir));
}

#[test]
fn a_path_under_a_regular_file_is_exit_2_naming_the_path() {
    let s = Scratch::new("notdir");
    let target = s.path("tree/Dockerfile/report.txt");
    let out = run(s.capstan().args(["scan", "-o"]).arg(&target).arg(s.tree()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&*target.to_string_lossy()),
        "names the path: {err}"
    );
    assert!(err.contains("Not a directory"), "the cause: {err}");
}

#[test]
fn an_unfinished_context_leaves_the_previous_file_and_no_temporary_file() {
    let s = Scratch::new("unfinished");
    let target = s.path("ctx.tar");
    std::fs::write(&target, "the previous context").expect("write");
    // Stopped at the secret: the tar is written up to there, then dropped unfinished.
    let out = run(s
        .capstan()
        .args(["context", "--fail-on-findings", "-o"])
        .arg(&target)
        .arg(s.tree()));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not finished"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&target).expect("read"),
        "the previous context"
    );
    assert_eq!(names_in(&s.0), ["ctx.tar", "tree"]);
}

/// Waits until `child` is blocked opening a FIFO that has no reader (past its SIGINT setup).
fn blocked_opening_a_fifo(child: &mut Child) {
    let wchan = format!("/proc/{}/wchan", child.id());
    let started = Instant::now();
    while std::fs::read_to_string(&wchan).unwrap_or_default() != "wait_for_partner" {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "ended before opening the FIFO"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "never blocked opening the FIFO ({wchan})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn sigint(child: &Child) {
    let sent = common::tool("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());
}

#[test]
fn a_second_ctrl_c_ends_a_scan_at_once_by_the_signal() {
    let s = Scratch::new("sigint-twice");
    let fifo = s.path("report.fifo");
    mkfifo(&fifo);
    // Nobody reads the FIFO: the scan waits in its open, where only the signals move it.
    let mut child = s
        .capstan()
        .args(["scan", "-f", "json", "-o"])
        .arg(&fifo)
        .arg(s.tree())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    blocked_opening_a_fifo(&mut child);
    sigint(&child);
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "the first Ctrl-C only stops the walk"
    );
    sigint(&child);
    let out = wait(child, Duration::from_secs(10));
    assert_eq!(out.status.signal(), Some(libc::SIGINT), "{:?}", out.status);
    assert!(file_type(&fifo).is_fifo());
}

#[test]
fn a_ctrl_c_ignored_from_the_start_stays_ignored() {
    let s = Scratch::new("sigint-ignored");
    let fifo = s.path("report.fifo");
    mkfifo(&fifo);
    // As a background job of a script: started with SIGINT ignored.
    let mut child = common::tool("sh")
        .arg("-c")
        .arg("trap '' INT; exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_capstan"))
        .args(["scan", "-f", "json", "-o"])
        .arg(&fifo)
        .arg(s.tree())
        .env("XDG_CACHE_HOME", s.path("cache"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    blocked_opening_a_fifo(&mut child);
    sigint(&child);
    sigint(&child);
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().expect("wait").is_none(), "still running");
    let received = read_fifo(&fifo);
    let out = wait(child, Duration::from_secs(60));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a finding, not interrupted: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = received
        .recv_timeout(Duration::from_secs(30))
        .expect("the reader got an end of file")
        .expect("read");
    assert_json_report(&bytes);
}
