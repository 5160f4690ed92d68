//! Build contexts: selection, determinism, and GNU tar reading exactly what was written.

use std::path::Path;

use capstan::tar::{Context, ContextErrorKind, ContextOptions, DockerIgnoreError, Stop};

mod common;
use common::Scratch as Dir;

#[cfg(unix)]
fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// A tree with what a context must handle.
fn fixture(d: &Dir) {
    d.write("Dockerfile", b"FROM scratch\n");
    d.write(
        ".dockerignore",
        b"*.log\nsecret/\n!secret/public.pem\nDockerfile\n",
    );
    d.write("app/main.c", b"int main(void) { return 0; }\n");
    let run = d.write("app/run.sh", b"#!/bin/sh\necho hi\n");
    chmod(&run, 0o755);
    d.write("debug.log", b"noise\n");
    d.write("secret/key.pem", b"private\n");
    d.write("secret/public.pem", b"public\n");
    let long = format!("{}/{}.txt", "d".repeat(120), "n".repeat(150));
    d.write(&long, b"long name\n");
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("../app/main.c", d.0.join("app/link.c")).expect("symlink");
        std::os::unix::fs::symlink("/etc/passwd", d.0.join("outside")).expect("symlink");
        std::fs::hard_link(d.0.join("app/main.c"), d.0.join("app/hard.c")).expect("hardlink");
    }
}

fn tar_of(dir: &Path, mtime: u64) -> Vec<u8> {
    let ctx = Context::select(
        dir,
        &ContextOptions {
            mtime,
            ..ContextOptions::default()
        },
    )
    .expect("selects");
    let mut out = Vec::new();
    ctx.write_to(&mut out).expect("writes");
    out
}

#[test]
fn selection_follows_dockerignore_and_always_sends_the_dockerfile() {
    let d = Dir::new("select");
    fixture(&d);
    let ctx = Context::select(&d.0, &ContextOptions::default()).expect("selects");
    let names: Vec<&str> = ctx.names().collect();
    assert!(
        names.contains(&"Dockerfile"),
        "always sent even if ignored: {names:?}"
    );
    assert!(names.contains(&".dockerignore"));
    assert!(!names.contains(&"debug.log"));
    assert!(!names.contains(&"secret/key.pem"));
    assert!(
        names.contains(&"secret/public.pem"),
        "the exception reaches inside: {names:?}"
    );
    assert!(
        !names.contains(&"secret/"),
        "the excluded directory itself stays out"
    );
    assert!(names.contains(&"app/") && names.contains(&"app/link.c"));
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "tar order is name order");
}

#[test]
fn a_bad_dockerignore_names_the_file_and_line() {
    let d = Dir::new("bad-ignore");
    d.write(".dockerignore", b"ok\n[\n");
    let e = Context::select(&d.0, &ContextOptions::default()).expect_err("rejected");
    assert_eq!(e.kind(), ContextErrorKind::Ignore, "{e}");
    assert_eq!(e.path(), Some(d.0.join(".dockerignore").as_path()));
    let line = std::error::Error::source(&e)
        .and_then(|s| s.downcast_ref::<DockerIgnoreError>())
        .map(DockerIgnoreError::line);
    assert_eq!(line, Some(2), "the pattern's error is the cause: {e:?}");
    let msg = e.to_string();
    assert!(
        msg.contains(".dockerignore") && msg.contains("line 2"),
        "{msg}"
    );
}

#[test]
fn output_is_byte_identical_across_runs_and_touches() {
    let d = Dir::new("determinism");
    fixture(&d);
    let first = tar_of(&d.0, 0);
    assert_eq!(first, tar_of(&d.0, 0));
    // Touch everything (new mtimes, same content): same bytes.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let main = d.0.join("app/main.c");
    std::fs::write(&main, std::fs::read(&main).expect("read")).expect("rewrite");
    assert_eq!(first, tar_of(&d.0, 0));
    assert_ne!(
        first,
        tar_of(&d.0, 1_700_000_000),
        "the mtime option is honoured"
    );
}

#[cfg(unix)]
#[test]
fn gnu_tar_lists_and_extracts_the_same_files_bytes_and_modes() {
    let d = Dir::new("interop");
    fixture(&d);
    let tar = tar_of(&d.0, 1_700_000_000);
    let out = Dir::new("interop-out");
    let archive = out.write("ctx.tar", &tar);
    let listing = common::stdout_of(common::tool("tar").arg("-tvf").arg(&archive));
    let listing = String::from_utf8_lossy(&listing).into_owned();
    assert!(
        listing.contains("root/root") || listing.contains("0/0"),
        "{listing}"
    );
    assert!(listing.contains("2023-11-14"), "fixed mtime: {listing}");
    assert!(listing.contains("app/link.c -> ../app/main.c"), "{listing}");
    assert!(
        listing.contains("outside -> /etc/passwd"),
        "stored, not followed: {listing}"
    );
    assert!(
        listing.contains("app/main.c link to app/hard.c")
            || listing.contains("app/hard.c link to app/main.c"),
        "{listing}"
    );

    let x = out.0.join("x");
    std::fs::create_dir_all(&x).expect("dir");
    common::stdout_of(
        common::tool("tar")
            .arg("-xf")
            .arg(&archive)
            .arg("-C")
            .arg(&x),
    );
    let long = format!("{}/{}.txt", "d".repeat(120), "n".repeat(150));
    for rel in [
        "app/main.c",
        "app/hard.c",
        "app/run.sh",
        "secret/public.pem",
        long.as_str(),
        "Dockerfile",
    ] {
        assert_eq!(
            std::fs::read(x.join(rel)).expect(rel),
            std::fs::read(d.0.join(rel)).expect(rel),
            "{rel}"
        );
    }
    let perms = std::fs::metadata(x.join("app/run.sh"))
        .expect("run.sh")
        .permissions();
    let mode = std::os::unix::fs::PermissionsExt::mode(&perms);
    assert_eq!(mode & 0o777, 0o755);
    assert_eq!(
        std::fs::read_link(x.join("app/link.c")).expect("link"),
        Path::new("../app/main.c")
    );
}

#[test]
fn sizes_round_trip_with_block_padding() {
    let d = Dir::new("sizes");
    d.write("Dockerfile", b"FROM scratch\n");
    for (name, len) in [
        ("zero", 0usize),
        ("one", 1),
        ("block", 512),
        ("odd", 70_001),
    ] {
        d.write(name, vec![b'x'; len]);
    }
    let tar = tar_of(&d.0, 0);
    let mut archive = ::tar::Archive::new(tar.as_slice());
    let mut seen = Vec::new();
    for e in archive.entries().expect("entries") {
        let e = e.expect("entry");
        seen.push((e.path().expect("path").display().to_string(), e.size()));
    }
    assert_eq!(
        seen,
        [
            ("Dockerfile".to_owned(), 13),
            ("block".to_owned(), 512),
            ("odd".to_owned(), 70_001),
            ("one".to_owned(), 1),
            ("zero".to_owned(), 0)
        ]
    );
}

#[test]
fn the_reader_streams_the_same_bytes_and_stops_when_dropped() {
    use std::io::Read;
    let d = Dir::new("reader");
    d.write("Dockerfile", b"FROM scratch\n");
    for i in 0..40 {
        d.write(&format!("blob{i}"), vec![b'a' + (i % 26) as u8; 100_000]);
    }
    let whole = tar_of(&d.0, 0);
    let ctx = Context::select(&d.0, &ContextOptions::default()).expect("selects");
    let mut streamed = Vec::new();
    ctx.clone()
        .into_reader()
        .read_to_end(&mut streamed)
        .expect("reads");
    assert_eq!(streamed, whole);
    // Read a little and drop: the writer thread must stop, not hang the test.
    let mut r = ctx.into_reader();
    let mut first = [0u8; 1000];
    r.read_exact(&mut first).expect("reads");
    drop(r);
}

#[test]
fn a_dockerfile_outside_the_context_is_sent_under_a_content_name() {
    let d = Dir::new("external");
    d.write("app.c", b"int x;\n");
    let outside = Dir::new("external-df");
    let df = outside.write("Dockerfile.prod", b"FROM scratch\nCOPY app.c /\n");
    let opts = ContextOptions {
        external_dockerfile: Some(df),
        ..ContextOptions::default()
    };
    let ctx = Context::select(&d.0, &opts).expect("selects");
    let name = ctx.dockerfile_name().to_owned();
    assert!(
        name.starts_with(".dockerfile.") && name.len() == 32,
        "{name}"
    );
    assert_eq!(ctx.names().collect::<Vec<_>>(), [name.as_str(), "app.c"]);
    let again = Context::select(&d.0, &opts).expect("selects");
    assert_eq!(
        again.dockerfile_name(),
        name,
        "the same content, the same name"
    );
}

#[test]
fn the_background_scan_finds_what_the_inline_scan_finds_in_tar_order() {
    use capstan::scan::{ContextScan, RuleSet, Rules, scan_in_background};
    let d = Dir::new("bgscan");
    d.write("Dockerfile", b"FROM scratch\n");
    let token = b"GITHUB_TOKEN=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\n";
    for i in 0..30 {
        let mut body = vec![b'x'; 50_000 * (i % 3)];
        body.push(b'\n');
        if i % 4 == 0 {
            body.extend_from_slice(token);
        }
        d.write(&format!("f{i:02}.env"), &body);
    }
    let rules = Rules::compile(&RuleSet::builtin(&["secrets"]).expect("packs")).expect("compiles");
    let ctx = Context::select(&d.0, &ContextOptions::default()).expect("selects");
    let mut inline = ContextScan::new(&rules);
    let mut plain = Vec::new();
    ctx.write_observed(&mut plain, &mut inline).expect("writes");
    // 1 thread scans in line (one core), 3 in the background: the same answer.
    for threads in [1, 3] {
        let (written, found) = scan_in_background(&rules, threads, true, false, |o| {
            let mut out = Vec::new();
            ctx.write_observed(&mut out, o).map(|_| out)
        });
        assert_eq!(written.expect("writes"), plain, "the same tar");
        assert_eq!(found, inline.findings(), "the same findings, in tar order");
        assert_eq!(found.len(), 8);
    }

    for threads in [1, 2] {
        let (stopped, _) = scan_in_background(&rules, threads, true, true, |o| {
            let mut out = Vec::new();
            let r = ctx.write_observed(&mut out, o);
            (r, out)
        });
        let (result, out) = stopped;
        let e = result.expect_err("stopped");
        assert_eq!(e.kind(), ContextErrorKind::Stopped, "{e}");
        assert!(e.path().is_none());
        // In line the scan stops after the file; in the background, once every file is in.
        let (member, stop) = (e.member().unwrap_or(""), e.stop().map(Stop::reason));
        assert!(!member.is_empty(), "{e:?}");
        assert_eq!(
            Some(e.to_string()),
            stop.map(|r| format!("{member}: {r}; the context was not finished"))
        );
        assert!(!out.ends_with(&[0u8; 1024]), "no end-of-archive blocks");
    }
}

#[test]
fn a_file_that_changes_size_is_an_error_naming_it_never_a_corrupt_tar() {
    let d = Dir::new("changed");
    d.write("Dockerfile", b"FROM scratch\n");
    let f = d.write("data.bin", [7u8; 10_000]);
    let ctx = Context::select(&d.0, &ContextOptions::default()).expect("selects");
    std::fs::write(&f, [7u8; 4_000]).expect("shrink");
    let err = ctx.write_to(std::io::sink()).expect_err("shrunk");
    assert_eq!(err.kind(), ContextErrorKind::Changed, "{err}");
    assert_eq!(err.path(), Some(f.as_path()));
    assert!(
        err.to_string()
            .ends_with("data.bin: changed while being read (10000 bytes expected, 4000 found)"),
        "{err}"
    );
    std::fs::write(&f, [7u8; 12_000]).expect("grow");
    let err = ctx.write_to(std::io::sink()).expect_err("grew");
    assert_eq!(err.kind(), ContextErrorKind::Changed, "{err}");
}

#[test]
fn the_dockerfile_is_sent_even_from_a_directory_the_walk_skips() {
    let d = Dir::new("deep-dockerfile");
    d.write("docker/Dockerfile", b"FROM scratch\n");
    d.write("src/a.c", b"int a;\n");
    d.write(".dockerignore", b"*\n!src\n");
    let opts = ContextOptions {
        dockerfile: Some("docker/Dockerfile".into()),
        ..ContextOptions::default()
    };
    let ctx = Context::select(&d.0, &opts).expect("selects");
    let names: Vec<&str> = ctx.names().collect();
    assert_eq!(
        names,
        [".dockerignore", "docker/Dockerfile", "src/", "src/a.c"]
    );
}

#[test]
fn the_dockerfile_is_located_as_the_docker_cli_does() {
    use std::os::unix::ffi::OsStrExt;
    let d = Dir::new("locate");
    d.write("dockerfile", b"FROM scratch\n");
    d.write("build/app.Dockerfile", b"FROM scratch\n");
    // Only `dockerfile` exists: it is the default.
    let opts = ContextOptions::default()
        .locate_dockerfile(&d.0, None)
        .expect("default");
    assert_eq!(opts.dockerfile.as_deref(), Some("dockerfile"));
    let opts = ContextOptions::default()
        .locate_dockerfile(&d.0, Some(&d.0.join("build/../build/app.Dockerfile")))
        .expect("named");
    assert_eq!(opts.dockerfile.as_deref(), Some("build/app.Dockerfile"));
    let missing = ContextOptions::default().locate_dockerfile(&d.0, Some(&d.0.join("nope")));
    assert!(
        missing.is_err_and(|e| e.to_string().contains("nope")),
        "a missing Dockerfile is an error naming it"
    );
    // A name that is not UTF-8 is refused rather than sent under a mangled name.
    let odd = d.0.join(std::ffi::OsStr::from_bytes(b"a\xff.Dockerfile"));
    std::fs::write(&odd, b"FROM scratch\n").expect("write");
    let err = ContextOptions::default().locate_dockerfile(&d.0, Some(&odd));
    assert!(err.is_err_and(|e| e.to_string().contains("not UTF-8")));
}
