//! `-o PATH` writes *into* what PATH names: a device, FIFO or socket is written in place (never
//! replaced by a plain file), a symlink is followed and its target replaced (the link stays), a
//! regular file is replaced atomically. And SIGINT around an output still behaves as documented.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

mod common;
use common::{Scratch, TOKEN_LINE, sigint, wait};

/// A scratch directory `outputs-NAME` with a tree to scan (`tree/.env` holds a secret,
/// `tree/Dockerfile` makes it a build context).
fn scratch(name: &str) -> Scratch {
    let s = Scratch::new(&format!("outputs-{name}"));
    s.write("tree/.env", TOKEN_LINE);
    s.write("tree/Dockerfile", "FROM scratch\n");
    s
}

/// capstan with the scratch directory's cache.
fn capstan(s: &Scratch) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_capstan"));
    c.env("XDG_CACHE_HOME", s.cache());
    c
}

/// `capstan ARGS -o OUTPUT TREE`: a run writing into `output`.
fn capstan_to(s: &Scratch, args: &[&str], output: &Path) -> Command {
    let mut c = capstan(s);
    c.args(args).arg("-o").arg(output).arg(s.path("tree"));
    c
}

/// The names in `dir`, sorted: what a run left there.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
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

/// Runs `cmd` as [`run`] does and checks it exits `code`, showing its stderr when it does not.
#[track_caller]
fn run_exits(cmd: &mut Command, code: i32) -> Output {
    let out = run(cmd);
    assert_eq!(out.status.code(), Some(code), "{}", stderr(&out));
    out
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Checks that an error message names `path` and says `cause`.
#[track_caller]
fn assert_names_path_and_cause(err: &str, path: &Path, cause: &str) {
    assert!(
        err.contains(&*path.to_string_lossy()),
        "names the path: {err}"
    );
    assert!(err.contains(cause), "the cause: {err}");
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

/// Reads a FIFO to its end in a thread: the receiver gets what was written into it
/// ([`received`]).
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

/// What the reader of [`read_fifo`] got once the writer closed the FIFO.
fn received(reader: &mpsc::Receiver<std::io::Result<Vec<u8>>>) -> Vec<u8> {
    reader
        .recv_timeout(Duration::from_secs(30))
        .expect("the reader got an end of file")
        .expect("read")
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
    let s = scratch("chardev");
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
    let out = run_exits(&mut capstan_to(&s, &["scan"], &full), 2);
    assert_names_path_and_cause(&stderr(&out), &full, "No space left on device");

    // Written into: a finding is exit 1, as with a file.
    run_exits(&mut capstan_to(&s, &["scan", "-f", "json"], &null), 1);

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
    let s = scratch("fifo");
    let fifo = s.path("report.fifo");
    mkfifo(&fifo);
    let reader = read_fifo(&fifo);
    run_exits(&mut capstan_to(&s, &["scan", "-f", "json"], &fifo), 1);
    // Checked before waiting for the reader: a FIFO replaced by a file is never opened for
    // writing, and its reader waits forever.
    assert!(file_type(&fifo).is_fifo(), "still a FIFO");
    assert_json_report(&received(&reader));
    assert_eq!(names_in(&s.0), ["report.fifo", "tree"]);
}

#[test]
fn context_writes_its_tar_into_a_fifo() {
    let s = scratch("context-fifo");
    let fifo = s.path("ctx.fifo");
    mkfifo(&fifo);
    let reader = read_fifo(&fifo);
    run_exits(&mut capstan_to(&s, &["context"], &fifo), 0);
    assert!(file_type(&fifo).is_fifo(), "still a FIFO");
    let tar = received(&reader);
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
    let s = scratch("symlink");
    std::fs::create_dir(s.path("real")).expect("dir");
    std::fs::create_dir(s.path("links")).expect("dir");
    let target = s.path("real/report.json");
    std::fs::write(&target, "the previous report").expect("write");
    // links/chain -> out.json -> ../real/report.json: two links, relative, through `..`.
    std::os::unix::fs::symlink("../real/report.json", s.path("links/out.json")).expect("link");
    std::os::unix::fs::symlink("out.json", s.path("links/chain")).expect("link");

    let chain = s.path("links/chain");
    run_exits(&mut capstan_to(&s, &["scan", "-f", "json"], &chain), 1);
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
    let s = scratch("dangling");
    std::fs::create_dir(s.path("sub")).expect("dir");
    let link = s.path("report.txt");
    std::os::unix::fs::symlink("sub/new.txt", &link).expect("link");
    run_exits(&mut capstan_to(&s, &["scan"], &link), 1);
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
    let s = scratch("metrics");
    let link = s.path("capstan.prom");
    std::fs::write(s.path("real.prom"), "old\n").expect("write");
    std::os::unix::fs::symlink("real.prom", &link).expect("link");
    run_exits(
        capstan(&s)
            .args(["scan", "-o"])
            .arg(s.path("report.txt"))
            .arg("--metrics-file")
            .arg(&link)
            .arg(s.path("tree")),
        1,
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
    let s = scratch("readonly");
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
        .arg(s.path("tree"));
    let out = run_exits(&mut cmd, 2);
    assert_names_path_and_cause(&stderr(&out), &target, "Permission denied");
    assert!(names_in(&dir).is_empty(), "{:?}", names_in(&dir));
}

#[test]
fn a_path_under_a_regular_file_is_exit_2_naming_the_path() {
    let s = scratch("notdir");
    let target = s.path("tree/Dockerfile/report.txt");
    let out = run_exits(&mut capstan_to(&s, &["scan"], &target), 2);
    assert_names_path_and_cause(&stderr(&out), &target, "Not a directory");
}

#[test]
fn an_unfinished_context_leaves_the_previous_file_and_no_temporary_file() {
    let s = scratch("unfinished");
    let target = s.path("ctx.tar");
    std::fs::write(&target, "the previous context").expect("write");
    // Stopped at the secret: the tar is written up to there, then dropped unfinished.
    let out = run_exits(
        &mut capstan_to(&s, &["context", "--fail-on-findings"], &target),
        1,
    );
    let err = stderr(&out);
    assert!(err.contains("not finished"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&target).expect("read"),
        "the previous context"
    );
    assert_eq!(names_in(&s.0), ["ctx.tar", "tree"]);
}

/// Starts `cmd` (stdout to /dev/null, stderr piped) and returns once it is blocked opening a
/// FIFO that has no reader (past its SIGINT setup).
fn started_blocked_opening_a_fifo(cmd: &mut Command) -> Child {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
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
    child
}

#[test]
fn a_second_ctrl_c_ends_a_scan_at_once_by_the_signal() {
    let s = scratch("sigint-twice");
    let fifo = s.path("report.fifo");
    mkfifo(&fifo);
    // Nobody reads the FIFO: the scan waits in its open, where only the signals move it.
    let mut child =
        started_blocked_opening_a_fifo(&mut capstan_to(&s, &["scan", "-f", "json"], &fifo));
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
    let s = scratch("sigint-ignored");
    let fifo = s.path("report.fifo");
    mkfifo(&fifo);
    // As a background job of a script: started with SIGINT ignored.
    let mut child = started_blocked_opening_a_fifo(
        common::tool("sh")
            .arg("-c")
            .arg("trap '' INT; exec \"$@\"")
            .arg("sh")
            .arg(env!("CARGO_BIN_EXE_capstan"))
            .args(["scan", "-f", "json", "-o"])
            .arg(&fifo)
            .arg(s.path("tree"))
            .env("XDG_CACHE_HOME", s.cache()),
    );
    sigint(&child);
    sigint(&child);
    std::thread::sleep(Duration::from_millis(500));
    assert!(child.try_wait().expect("wait").is_none(), "still running");
    let reader = read_fifo(&fifo);
    let out = wait(child, Duration::from_secs(60));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a finding, not interrupted: {}",
        stderr(&out)
    );
    assert_json_report(&received(&reader));
}
