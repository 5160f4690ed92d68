//! Safe extraction against a corpus of hostile archives built here: nothing may land outside
//! the target directory.

use std::path::{Path, PathBuf};

use capstan::tar::{ExtractErrorKind, TarLimits, extract_limited};

struct Sandbox {
    root: PathBuf,
}

impl Sandbox {
    /// `root/dest` is the target; `root` itself must stay as it was.
    fn new(name: &str) -> Sandbox {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("extract-{name}"));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("dest")).expect("dirs");
        Sandbox { root }
    }
    fn dest(&self) -> PathBuf {
        self.root.join("dest")
    }
    /// Everything under `root` except `dest`.
    fn outside(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.root)
            .expect("root")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.file_name().is_some_and(|n| n != "dest"))
            .collect()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// One raw member: the name and link bytes go in unchecked.
struct Member<'a> {
    name: &'a [u8],
    kind: tar::EntryType,
    link: &'a [u8],
    data: &'a [u8],
    mode: u32,
}

fn member(name: &'static str, data: &'static [u8]) -> Member<'static> {
    Member {
        name: name.as_bytes(),
        kind: tar::EntryType::Regular,
        link: b"",
        data,
        mode: 0o644,
    }
}

fn raw_tar(members: &[Member<'_>]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_gnu();
        let name = &mut h.as_old_mut().name;
        name[..m.name.len()].copy_from_slice(m.name);
        if !m.link.is_empty() {
            h.as_old_mut().linkname[..m.link.len()].copy_from_slice(m.link);
        }
        h.set_entry_type(m.kind);
        h.set_size(m.data.len() as u64);
        h.set_mode(m.mode);
        h.set_cksum();
        b.append(&h, m.data).expect("append");
    }
    b.into_inner().expect("tar")
}

fn refused(s: &Sandbox, members: &[Member<'_>]) -> String {
    let err = extract_limited(raw_tar(members).as_slice(), &s.dest(), TarLimits::default())
        .expect_err("refused");
    assert!(s.outside().is_empty(), "written outside: {:?}", s.outside());
    assert_eq!(
        err.kind(),
        ExtractErrorKind::Refused,
        "not a refusal: {err}"
    );
    let msg = err.to_string();
    let member = err.member().expect("a refusal names the member");
    assert!(msg.starts_with(&format!("{member}: refused: ")), "{msg}");
    msg
}

#[test]
fn absolute_names_and_dotdot_escapes_are_refused() {
    for name in ["/tmp/capstan-evil", "../evil", "a/../../evil", "./../evil"] {
        let s = Sandbox::new("escape");
        let msg = refused(&s, &[member(name, b"x")]);
        assert!(
            msg.contains("escape") || msg.contains("absolute"),
            "{name}: {msg}"
        );
    }
    assert!(!Path::new("/tmp/capstan-evil").exists());
}

#[test]
fn symlinks_out_and_writes_through_symlinks_are_refused() {
    let s = Sandbox::new("symlink-out");
    let link = |name: &'static str, to: &'static str| Member {
        name: name.as_bytes(),
        kind: tar::EntryType::Symlink,
        link: to.as_bytes(),
        data: b"",
        mode: 0o777,
    };
    refused(&s, &[link("etc", "/etc")]);
    refused(&s, &[link("up", "../..")]);
    refused(&s, &[link("a/up", "../../evil")]);
    // Chained links: each looks harmless on its own text.
    let s = Sandbox::new("symlink-chain");
    refused(
        &s,
        &[link("d", "."), link("e", "d/d/d/../../../etc/passwd")],
    );
    // A link that stays inside is fine, but nothing is written through it.
    let s = Sandbox::new("symlink-through");
    let msg = refused(&s, &[link("sub", "inner"), member("sub/evil", b"x")]);
    assert!(msg.contains("through a symlink"), "{msg}");
}

#[test]
fn hardlinks_out_devices_and_fifos_are_refused() {
    let hard = |name: &'static str, to: &'static str| Member {
        name: name.as_bytes(),
        kind: tar::EntryType::Link,
        link: to.as_bytes(),
        data: b"",
        mode: 0o644,
    };
    let s = Sandbox::new("hardlink");
    refused(&s, &[hard("passwd", "/etc/passwd")]);
    refused(&s, &[hard("passwd", "../../etc/passwd")]);
    for kind in [
        tar::EntryType::Char,
        tar::EntryType::Block,
        tar::EntryType::Fifo,
    ] {
        let s = Sandbox::new("device");
        let m = Member {
            name: b"dev",
            kind,
            link: b"",
            data: b"",
            mode: 0o600,
        };
        refused(&s, &[m]);
        assert!(!s.dest().join("dev").exists());
    }
}

#[test]
fn truncated_archives_are_errors_and_stay_inside() {
    let s = Sandbox::new("truncated");
    let whole = raw_tar(&[member("a.txt", b"first\n"), member("b.txt", &[b'x'; 4000])]);
    let err = extract_limited(&whole[..1024 + 1000], &s.dest(), TarLimits::default())
        .expect_err("truncated");
    assert_eq!(err.kind(), ExtractErrorKind::Archive, "{err}");
    assert!(
        std::error::Error::source(&err).is_some_and(<dyn std::error::Error>::is::<std::io::Error>),
        "{err:?}"
    );
    assert_eq!(
        std::fs::read(s.dest().join("a.txt")).expect("first member"),
        b"first\n"
    );
    assert!(s.outside().is_empty());
}

#[test]
fn a_good_archive_extracts_with_long_names_links_and_directory_modes() {
    let s = Sandbox::new("good");
    let long = format!("{}/{}.txt", "d".repeat(120), "n".repeat(150));
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o555);
    h.set_size(0);
    b.append_data(&mut h, "ro/", &[][..]).expect("dir");
    let mut h = tar::Header::new_ustar();
    h.set_mode(0o640);
    h.set_size(3);
    b.append_data(&mut h, "ro/inside.txt", &b"in\n"[..])
        .expect("file");
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(5);
    b.append_data(&mut h, &long, &b"long\n"[..])
        .expect("long name");
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "ro-link", "ro/inside.txt")
        .expect("symlink");
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Link);
    h.set_size(0);
    b.append_link(&mut h, "hard.txt", "ro/inside.txt")
        .expect("hardlink");
    let bytes = b.into_inner().expect("tar");
    let done =
        extract_limited(bytes.as_slice(), &s.dest(), TarLimits::default()).expect("extracts");
    assert_eq!((done.files, done.dirs, done.links), (2, 1, 2));
    let d = s.dest();
    assert_eq!(std::fs::read(d.join(&long)).expect("long"), b"long\n");
    assert_eq!(std::fs::read(d.join("ro-link")).expect("via link"), b"in\n");
    assert_eq!(
        std::fs::read(d.join("hard.txt")).expect("hardlink"),
        b"in\n"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode(&d.join("ro")), 0o555, "applied after its contents");
        assert_eq!(mode(&d.join("ro/inside.txt")), 0o640);
        // Let the sandbox be removed.
        std::fs::set_permissions(d.join("ro"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }
}

#[test]
fn a_capstan_context_round_trips() {
    use capstan::tar::{Context, ContextOptions};
    let src = Sandbox::new("roundtrip-src");
    let d = src.dest();
    std::fs::write(d.join("Dockerfile"), "FROM scratch\n").expect("write");
    std::fs::create_dir_all(d.join("app")).expect("dir");
    std::fs::write(d.join("app/main.c"), "int main;\n").expect("write");
    let mut tar = Vec::new();
    Context::select(&d, &ContextOptions::default())
        .expect("selects")
        .write_to(&mut tar)
        .expect("writes");
    let out = Sandbox::new("roundtrip-out");
    extract_limited(tar.as_slice(), &out.dest(), TarLimits::default()).expect("extracts");
    assert_eq!(
        std::fs::read(out.dest().join("app/main.c")).expect("file"),
        b"int main;\n"
    );
}
