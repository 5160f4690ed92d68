//! The worst inputs: tar bombs, lying headers, truncated gzip, a 100 MB line, a 1,000-level
//! tree, names with newlines and invalid UTF-8, files that vanish mid-scan, regexes that would
//! explode. Each ends in a clear error or a correct answer, with nothing lost and nothing
//! written where it should not be.

use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::sync::Mutex;

use capstan::scan::{RuleSet, Rules, Scanner, TreeScanner, WalkOptions};
use capstan::tar::{Context, ContextOptions, TarLimits, extract_limited};

const TOKEN: &str = "GITHUB_TOKEN=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\n";

mod common;
use common::Scratch as Dir;

fn rules() -> Rules {
    Rules::compile(&RuleSet::builtin(&["secrets"]).expect("packs")).expect("compiles")
}

/// A raw tar header block: name, type flag and size as given (size in octal, or base-256 when
/// it does not fit), checksum filled in.
fn header(name: &str, kind: u8, size: u64) -> [u8; 512] {
    let mut h = [0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..108].copy_from_slice(b"0000644\0");
    h[108..116].copy_from_slice(b"0000000\0");
    h[116..124].copy_from_slice(b"0000000\0");
    if size < 8u64.pow(11) {
        h[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    } else {
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    h[136..148].copy_from_slice(b"00000000000\0");
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    h
}

/// `n` empty members, generated as they are read (no memory, no disk).
struct TinyMembers {
    n: u64,
    next: u64,
    block: [u8; 512],
    pos: usize,
}

impl TinyMembers {
    fn new(n: u64) -> Self {
        TinyMembers {
            n,
            next: 0,
            block: [0; 512],
            pos: 512,
        }
    }
}

impl Read for TinyMembers {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos == 512 {
            if self.next > self.n + 1 {
                return Ok(0);
            }
            self.block = if self.next < self.n {
                header(&format!("f{}", self.next), b'0', 0)
            } else {
                [0; 512] // two end-of-archive blocks
            };
            self.next += 1;
            self.pos = 0;
        }
        let k = (512 - self.pos).min(out.len());
        out[..k].copy_from_slice(&self.block[self.pos..self.pos + k]);
        self.pos += k;
        Ok(k)
    }
}

#[test]
fn a_tar_bomb_of_tiny_members_stops_at_the_entry_limit_and_scans_in_bounded_memory() {
    let d = Dir::new("tiny");
    let limits = TarLimits {
        max_entries: 1000,
        ..TarLimits::default()
    };
    let err = extract_limited(TinyMembers::new(1_000_000), &d.0, limits).expect_err("bomb");
    assert!(err.to_string().contains("more than 1000 members"), "{err}");
    let written = std::fs::read_dir(&d.0).expect("dir").count();
    assert_eq!(written, 1000, "stopped at the limit, not after it");

    // Scanning streams members: 250,000 of them go through with no findings and no error.
    let rules = rules();
    let scanner = TreeScanner::new(&rules, WalkOptions::default());
    let out = scanner.scan_reader("bomb.tar", &mut TinyMembers::new(250_000));
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.stats.files, 250_000);
}

#[test]
fn headers_claiming_gigabytes_are_refused_before_anything_is_buffered() {
    let d = Dir::new("claims");
    // A PAX header claiming 4 GiB, followed by a little data.
    let mut pax = header("PaxHeaders/x", b'x', 4 << 30).to_vec();
    pax.extend_from_slice(&[b'a'; 1024]);
    // And a GNU long name claiming 2 GiB.
    let mut long = header("././@LongLink", b'L', 2 << 30).to_vec();
    long.extend_from_slice(&[b'n'; 1024]);
    for (bytes, what) in [
        (&pax, "PAX extension header claims"),
        (&long, "GNU long-name"),
    ] {
        let err = extract_limited(&bytes[..], &d.0, TarLimits::default()).expect_err("refused");
        assert!(err.to_string().contains(what), "{err}");
        let rules = rules();
        let out = TreeScanner::new(&rules, WalkOptions::default())
            .scan_reader("claims.tar", &mut &bytes[..]);
        assert!(out.errors[0].reason.contains(what), "{:?}", out.errors);
    }
    // A member declaring 10 GiB with 1 KB behind it: a truncation error naming it, no file.
    let mut huge = header("big.bin", b'0', 10 << 30).to_vec();
    huge.extend_from_slice(&[b'z'; 1024]);
    let err = extract_limited(&huge[..], &d.0, TarLimits::default()).expect_err("truncated");
    assert!(
        err.to_string()
            .contains("big.bin: truncated: 1024 of 10737418240 bytes"),
        "a truncation, not a limit: {err}"
    );
    let on_disk = std::fs::metadata(d.0.join("big.bin")).map_or(0, |m| m.len());
    assert_eq!(on_disk, 0, "a half file was left: {on_disk} bytes");
    // And over the data limit, it is refused up front.
    let small = TarLimits {
        max_bytes: 1 << 30,
        ..TarLimits::default()
    };
    let err = extract_limited(&huge[..], &d.0, small).expect_err("over the limit");
    assert!(
        err.to_string().contains("more than 1073741824 bytes"),
        "{err}"
    );
}

#[test]
fn a_truncated_gzip_is_an_error_and_what_came_before_is_kept() {
    let mut b = tar::Builder::new(Vec::new());
    for (name, body) in [("a.env", TOKEN), ("b.txt", "x\n".repeat(50_000).as_str())] {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, body.as_bytes())
            .expect("append");
    }
    let tar = b.into_inner().expect("tar");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    io::Write::write_all(&mut gz, &tar).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let cut = &gz[..gz.len() - 40];
    let rules = rules();
    let out = TreeScanner::new(&rules, WalkOptions::default()).scan_reader("a.tgz", &mut &cut[..]);
    assert_eq!(
        out.findings.len(),
        1,
        "the secret before the cut is reported"
    );
    assert!(out.findings[0].path.ends_with("a.tgz!a.env"));
    assert_eq!(
        out.errors.len(),
        1,
        "the truncation is reported: {:?}",
        out.errors
    );
}

#[test]
fn a_100_mb_single_line_is_scanned_in_bounded_memory() {
    let rules = rules();
    let mut s = Scanner::new(&rules).path("one-line.min.js");
    let chunk = vec![b'q'; 1 << 20];
    let mut peak = 0;
    for _ in 0..100 {
        s.feed(&chunk);
        peak = peak.max(s.buffered());
    }
    s.feed(b" GITHUB_TOKEN=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");
    let found = s.finish();
    assert_eq!(found.len(), 1, "the secret at the end of the line");
    assert_eq!(found[0].line, 1);
    assert!(found[0].column > 100 << 20);
    assert!(peak < 2 << 20, "buffered {peak} bytes of a 100 MB line");
}

#[test]
fn a_thousand_levels_deep_scan_and_context_round_trip() {
    let d = Dir::new("deep");
    let mut path = d.0.join("ctx");
    for _ in 0..1000 {
        path.push("d");
    }
    std::fs::create_dir_all(&path).expect("deep dirs");
    std::fs::write(path.join(".env"), TOKEN).expect("write");
    std::fs::write(d.0.join("ctx/Dockerfile"), "FROM scratch\n").expect("write");

    let rules = rules();
    let out = TreeScanner::new(&rules, WalkOptions::default()).scan(&[d.0.join("ctx")]);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(out.findings.len(), 1, "the secret 1,000 levels down");

    let ctx = Context::select(&d.0.join("ctx"), &ContextOptions::default()).expect("select");
    let mut tar = Vec::new();
    ctx.write_to(&mut tar).expect("write");
    std::fs::create_dir_all(d.0.join("out")).expect("out");
    extract_limited(&tar[..], &d.0.join("out"), TarLimits::default()).expect("extract");
    let back = std::fs::read(
        d.0.join("out")
            .join(path.strip_prefix(d.0.join("ctx")).expect("rel"))
            .join(".env"),
    )
    .expect("the deep file came back");
    assert_eq!(back, TOKEN.as_bytes());
}

#[test]
fn names_with_newlines_and_invalid_utf8_are_scanned_and_sent_byte_for_byte() {
    let d = Dir::new("names");
    let ctx = d.0.join("ctx");
    std::fs::create_dir_all(&ctx).expect("dir");
    let odd: [&[u8]; 3] = [b"new\nline.env", b"bad\xff\xfe.env", b"tab\there.env"];
    for name in odd {
        std::fs::write(ctx.join(std::ffi::OsStr::from_bytes(name)), TOKEN).expect("write");
    }
    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\n").expect("write");
    // Two names that are the same once made lossy, and a hard link between invalid names.
    let os = |b: &[u8]| ctx.join(std::ffi::OsStr::from_bytes(b));
    std::fs::write(os(b"x\xff"), "first\n").expect("write");
    std::fs::write(os(b"x\xfe"), "second\n").expect("write");
    std::fs::hard_link(os(b"x\xff"), os(b"y\xfd")).expect("link");
    let rules = rules();
    let out = TreeScanner::new(&rules, WalkOptions::default()).scan(std::slice::from_ref(&ctx));
    assert_eq!(out.findings.len(), 3, "{:?}", out.findings);
    assert!(out.errors.is_empty());

    let c = Context::select(&ctx, &ContextOptions::default()).expect("select");
    let mut tar = Vec::new();
    c.write_to(&mut tar).expect("write");
    let back = d.0.join("back");
    std::fs::create_dir_all(&back).expect("dir");
    extract_limited(&tar[..], &back, TarLimits::default()).expect("extract");
    for name in odd {
        let p = back.join(std::ffi::OsStr::from_bytes(name));
        assert_eq!(
            std::fs::read(&p).ok().as_deref(),
            Some(TOKEN.as_bytes()),
            "{p:?}"
        );
    }
    let read = |b: &[u8]| std::fs::read(back.join(std::ffi::OsStr::from_bytes(b))).ok();
    assert_eq!(read(b"x\xff").as_deref(), Some(&b"first\n"[..]));
    assert_eq!(read(b"x\xfe").as_deref(), Some(&b"second\n"[..]));
    assert_eq!(read(b"y\xfd").as_deref(), Some(&b"first\n"[..]));
}

#[test]
fn files_that_vanish_or_shrink_mid_scan_are_reported_and_the_rest_is_scanned() {
    let d = Dir::new("vanish");
    for i in 0..200 {
        std::fs::write(d.0.join(format!("f{i:03}.env")), TOKEN).expect("write");
    }
    let rules = rules();
    let root = d.0.clone();
    let deleted = Mutex::new(false);
    // After the first file is done, delete half of the others and truncate some.
    let sink = |_: &[capstan::scan::Finding]| {
        let mut done = deleted.lock().expect("lock");
        if !*done {
            *done = true;
            for i in (0..200).step_by(2) {
                let _ = std::fs::remove_file(root.join(format!("f{i:03}.env")));
            }
            for i in (1..200).step_by(4) {
                let _ = std::fs::write(root.join(format!("f{i:03}.env")), b"");
            }
        }
    };
    let opts = WalkOptions {
        threads: 1,
        ..WalkOptions::default()
    };
    let out = TreeScanner::new(&rules, opts)
        .on_file(&sink)
        .scan(std::slice::from_ref(&d.0));
    // Every file is accounted for: found, reported unreadable, or read empty after truncation.
    let found = out.findings.len();
    let errors = out.errors.len();
    assert!(errors >= 90, "deleted files are reported: {errors}");
    assert!(
        out.errors.iter().all(|e| e.reason.contains("No such file")),
        "{:?}",
        out.errors
    );
    assert!(found >= 50, "the others are still scanned: {found}");
    assert!(found + errors <= 200);
}

#[test]
fn regexes_that_would_explode_are_refused_or_run_in_linear_time() {
    // Expands past the automaton size limit: refused with a reason, quickly.
    let bomb = "[[rules]]\nid = \"bomb\"\nregex = '''x{1000}{1000}{100}'''\n";
    let err = RuleSet::from_toml(bomb)
        .and_then(|set| Rules::compile(&set).map(drop))
        .expect_err("refused when it loads");
    assert!(err.to_string().contains("limit"), "{err}");
    // Catastrophic for a backtracking engine; linear here.
    let evil = "[[rules]]\nid = \"evil\"\nregex = '''(x+x+)+y'''\nkeywords = [\"x\"]\n";
    let rules = Rules::compile(&RuleSet::from_toml(evil).expect("parses")).expect("compiles");
    let input = "x".repeat(200_000);
    assert!(rules.scan_bytes("evil.txt", input.as_bytes()).is_empty());
}

#[test]
fn gnu_sparse_files_with_extension_blocks_are_extracted_and_counted_right() {
    // Nine data islands between holes: more than a GNU header's four slots, so GNU tar writes
    // sparse extension blocks, which the limit guard must step over as the tar crate does
    // (9 MiB: under the scanner's default size limit).
    let d = Dir::new("sparse");
    let src = d.0.join("src");
    std::fs::create_dir_all(&src).expect("dir");
    let f = std::fs::File::create(src.join("holes.bin")).expect("create");
    for i in 0..9u64 {
        std::os::unix::fs::FileExt::write_at(&f, b"data", i << 20).expect("write");
    }
    f.set_len(9 << 20).expect("len");
    std::fs::write(src.join("after.txt"), TOKEN).expect("write");
    let tar = common::stdout_of(
        common::tool("tar")
            .args(["--format=gnu", "-S", "-cf", "-", "holes.bin", "after.txt"])
            .current_dir(&src),
    );

    let dest = d.0.join("out");
    std::fs::create_dir_all(&dest).expect("dir");
    let two = TarLimits {
        max_entries: 2,
        ..TarLimits::default()
    };
    extract_limited(&tar[..], &dest, two).expect("extracts within two members");
    let holes = std::fs::read(dest.join("holes.bin")).expect("the sparse file");
    assert_eq!(holes.len(), 9 << 20);
    assert_eq!(&holes[5 << 20..(5 << 20) + 4], b"data");
    assert_eq!(
        std::fs::read(dest.join("after.txt")).ok().as_deref(),
        Some(TOKEN.as_bytes())
    );
    let one = TarLimits {
        max_entries: 1,
        ..TarLimits::default()
    };
    std::fs::create_dir_all(d.0.join("again")).expect("dir");
    let err = extract_limited(&tar[..], &d.0.join("again"), one).expect_err("two members");
    assert!(err.to_string().contains("more than 1 members"), "{err}");
    // The scanner steps over the sparse member (binary: NULs) and finds the secret after it.
    let rules = rules();
    let found =
        TreeScanner::new(&rules, WalkOptions::default()).scan_reader("s.tar", &mut &tar[..]);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    assert_eq!(found.findings.len(), 1);
    assert!(found.findings[0].path.ends_with("s.tar!after.txt"));
}
