//! The tree scanner: what it walks and skips, archives, order, cache, and bad inputs.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use capstan::scan::{RuleSet, Rules, ScanCache, ScanOutcome, TreeScanner, WalkOptions};

const TOKEN: &str = "GITHUB_TOKEN=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\n";

mod common;
use common::Scratch as Tree;

fn rules() -> Rules {
    Rules::compile(&RuleSet::builtin(&["secrets", "crypto"]).expect("packs")).expect("compiles")
}

fn scan(rules: &Rules, opts: WalkOptions, inputs: &[PathBuf]) -> ScanOutcome {
    TreeScanner::new(rules, opts).scan(inputs)
}

/// Paths of the findings, relative to the tree.
fn paths(o: &ScanOutcome, root: &Path) -> Vec<String> {
    let prefix = format!("{}/", root.display());
    o.findings
        .iter()
        .map(|f| f.path.strip_prefix(&prefix).unwrap_or(&f.path).to_owned())
        .collect()
}

fn opts() -> WalkOptions {
    WalkOptions::default()
}

#[test]
fn order_is_the_same_whatever_the_thread_count() {
    let t = Tree::new("order");
    for i in 0..120 {
        let body = format!(
            "line\n{}\nimport hashlib\nhashlib.md5(x)\n{TOKEN}",
            "x".repeat(i)
        );
        t.write(&format!("d{}/sub{}/f{i}.py", i % 7, i % 3), body);
    }
    let rules = rules();
    let one = scan(
        &rules,
        WalkOptions {
            threads: 1,
            ..opts()
        },
        std::slice::from_ref(&t.0),
    );
    assert_eq!(one.findings.len(), 240, "{:?}", one.errors);
    for threads in [2, 8] {
        let many = scan(
            &rules,
            WalkOptions { threads, ..opts() },
            std::slice::from_ref(&t.0),
        );
        assert_eq!(one.findings, many.findings, "{threads} threads");
    }
    let sorted = {
        let mut v: Vec<_> = one
            .findings
            .iter()
            .map(|f| (f.path.clone(), f.line, f.column, f.rule_id.clone()))
            .collect();
        v.sort();
        v
    };
    let got: Vec<_> = one
        .findings
        .iter()
        .map(|f| (f.path.clone(), f.line, f.column, f.rule_id.clone()))
        .collect();
    assert_eq!(got, sorted);
    assert_eq!(one.stats.files, 120);
    assert_eq!((one.stats.secrets, one.stats.crypto), (120, 120));
}

#[test]
fn ignore_files_hidden_files_excludes_and_git() {
    let t = Tree::new("ignores");
    std::fs::create_dir_all(t.0.join(".git")).expect("a repository");
    t.write(".git/config", TOKEN);
    t.write(".gitignore", "build/\n");
    t.write("build/out.env", TOKEN);
    t.write(".env", TOKEN);
    t.write("vendor/lib/a.env", TOKEN);
    t.write("src/a.env", TOKEN);
    let rules = rules();
    let o = scan(&rules, opts(), std::slice::from_ref(&t.0));
    assert_eq!(paths(&o, &t.0), [".env", "src/a.env", "vendor/lib/a.env"]);

    let o = scan(
        &rules,
        WalkOptions {
            respect_ignore: false,
            ..opts()
        },
        std::slice::from_ref(&t.0),
    );
    assert_eq!(
        paths(&o, &t.0),
        [".env", "build/out.env", "src/a.env", "vendor/lib/a.env"],
        ".git is never entered"
    );

    let o = scan(
        &rules,
        WalkOptions {
            hidden: false,
            ..opts()
        },
        std::slice::from_ref(&t.0),
    );
    assert_eq!(paths(&o, &t.0), ["src/a.env", "vendor/lib/a.env"]);

    let excludes = vec!["vendor/".to_owned(), "*.txt".to_owned()];
    let o = scan(
        &rules,
        WalkOptions { excludes, ..opts() },
        std::slice::from_ref(&t.0),
    );
    assert_eq!(paths(&o, &t.0), [".env", "src/a.env"]);

    let o = scan(
        &rules,
        WalkOptions {
            excludes: vec!["[".to_owned()],
            ..opts()
        },
        std::slice::from_ref(&t.0),
    );
    assert!(
        o.errors.iter().any(|e| e.reason.contains("--exclude")),
        "{:?}",
        o.errors
    );
}

#[test]
fn large_files_are_skipped_and_listed() {
    let t = Tree::new("large");
    let mut big = "x".repeat(2000);
    big.push('\n');
    big.push_str(TOKEN);
    t.write("big.env", &big);
    t.write("small.env", TOKEN);
    let o = scan(
        &rules(),
        WalkOptions {
            max_file_size: 1000,
            ..opts()
        },
        std::slice::from_ref(&t.0),
    );
    assert_eq!(paths(&o, &t.0), ["small.env"]);
    assert_eq!(o.skipped.len(), 1);
    assert!(o.skipped[0].path.ends_with("big.env"));
    assert!(
        o.skipped[0].reason.contains("max-file-size"),
        "{}",
        o.skipped[0].reason
    );
    assert!(o.errors.is_empty());
}

#[cfg(target_os = "linux")]
#[test]
fn symlinks_are_not_followed_loops_do_not_hang_and_fifos_are_skipped() {
    use std::os::unix::fs::symlink;
    let t = Tree::new("links");
    let outside = Tree::new("links-outside");
    outside.write("secret.env", TOKEN);
    t.write("in.env", TOKEN);
    symlink(&outside.0, t.0.join("out")).expect("link");
    symlink(&t.0, t.0.join("loop")).expect("loop");
    let fifo = t.0.join("pipe");
    let c = std::ffi::CString::new(fifo.to_string_lossy().as_bytes()).expect("path");
    // SAFETY: `c` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let rules = rules();
    let o = scan(&rules, opts(), std::slice::from_ref(&t.0));
    assert_eq!(paths(&o, &t.0), ["in.env"]);
    assert!(
        o.skipped.iter().any(|s| s.path.ends_with("pipe")),
        "{:?}",
        o.skipped
    );

    let o = scan(
        &rules,
        WalkOptions {
            follow_links: true,
            ..opts()
        },
        std::slice::from_ref(&t.0),
    );
    assert_eq!(paths(&o, &t.0), ["in.env", "out/secret.env"]);
    assert!(
        o.errors.iter().any(|e| e.reason.contains("loop")),
        "{:?}",
        o.errors
    );
}

fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, body) in members {
        let mut h = tar::Header::new_ustar();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, *body).expect("append");
    }
    b.into_inner().expect("tar")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

#[test]
fn archives_are_scanned_member_by_member_nested_layers_included() {
    let t = Tree::new("archives");
    let layer = tar_of(&[
        ("etc/app.env", TOKEN.as_bytes()),
        ("bin/tool", b"\0\0binary"),
    ]);
    let oci_layer = gzip(&tar_of(&[("srv/.env", TOKEN.as_bytes())]));
    let image = tar_of(&[
        ("manifest.json", b"[]"),
        ("3f2a/layer.tar", &layer),
        ("blobs/sha256/9b1c", &oci_layer),
    ]);
    t.write("image.tar", &image);
    t.write("src.tgz", gzip(&tar_of(&[("./a/b.env", TOKEN.as_bytes())])));
    t.write("plain.gz", gzip(TOKEN.as_bytes()));
    let rules = rules();
    let o = scan(&rules, opts(), std::slice::from_ref(&t.0));
    assert_eq!(
        paths(&o, &t.0),
        [
            "image.tar!3f2a/layer.tar!etc/app.env",
            "image.tar!blobs/sha256/9b1c!srv/.env",
            "src.tgz!a/b.env"
        ]
    );
    assert!(o.errors.is_empty(), "{:?}", o.errors);

    let o = scan(
        &rules,
        WalkOptions {
            archives: false,
            ..opts()
        },
        std::slice::from_ref(&t.0),
    );
    assert!(o.findings.is_empty(), "archives off: binary files");

    // Standard input: `docker save img | capstan scan -`.
    let o = TreeScanner::new(&rules, opts()).scan_reader("-", &mut image.as_slice());
    assert_eq!(
        paths(&o, &t.0),
        [
            "-!3f2a/layer.tar!etc/app.env",
            "-!blobs/sha256/9b1c!srv/.env"
        ]
    );
}

#[test]
fn a_truncated_archive_is_an_error_and_what_came_before_is_kept() {
    let t = Tree::new("truncated");
    let mut big = vec![b'a'; 4096];
    big.push(b'\n');
    let whole = tar_of(&[("one.env", TOKEN.as_bytes()), ("two.txt", &big)]);
    t.write("cut.tar", &whole[..1024 + 512 + 100]);
    let o = scan(&rules(), opts(), std::slice::from_ref(&t.0));
    assert_eq!(paths(&o, &t.0), ["cut.tar!one.env"]);
    assert_eq!(o.errors.len(), 1, "{:?}", o.errors);
    assert!(o.errors[0].path.ends_with("cut.tar"));
}

#[test]
fn archive_members_over_the_size_limit_are_skipped_but_nested_archives_are_not() {
    let t = Tree::new("member-limit");
    let mut big = "x".repeat(5000);
    big.push('\n');
    big.push_str(TOKEN);
    let layer = tar_of(&[("small.env", TOKEN.as_bytes())]);
    let mut padded_layer = layer.clone();
    padded_layer.resize(layer.len().max(8192), 0);
    let image = tar_of(&[("big.env", big.as_bytes()), ("l/layer.tar", &padded_layer)]);
    let archive = t.write("image.tar", &image);
    let o = scan(
        &rules(),
        WalkOptions {
            max_file_size: 4096,
            ..opts()
        },
        &[archive],
    );
    assert_eq!(paths(&o, &t.0), ["image.tar!l/layer.tar!small.env"]);
    assert!(
        o.skipped
            .iter()
            .any(|s| s.path.ends_with("image.tar!big.env")),
        "{:?}",
        o.skipped
    );
}

#[test]
fn the_cache_answers_unchanged_files_and_rescans_changed_ones() {
    let t = Tree::new("cache");
    let cache_dir = Tree::new("cache-store");
    let db = cache_dir.0.join("scan.redb");
    for i in 0..20 {
        t.write(
            &format!("f{i}.env"),
            if i % 4 == 0 {
                TOKEN.to_owned()
            } else {
                format!("x = {i}\n")
            },
        );
    }
    t.write("blob.bin", b"\0\0\0 binary");
    let image = tar_of(&[("a.env", TOKEN.as_bytes()), ("big.txt", &[b'x'; 3000])]);
    let outside = Tree::new("cache-image");
    let image = outside.write("image.tar", &image);
    let inputs = [t.0.clone(), image];
    let rules = rules();
    let opts = || WalkOptions {
        max_file_size: 2048,
        ..WalkOptions::default()
    };
    let run = |rules: &Rules, opts: WalkOptions| {
        let s = TreeScanner::new(rules, opts);
        let cache = ScanCache::open(&db, &s.settings_digest()).expect("cache");
        let s = s.cache(&cache);
        let o = s.scan(&inputs);
        cache.close().expect("close");
        o
    };
    let cold = run(&rules, opts());
    assert_eq!((cold.stats.cache_hits, cold.stats.cache_misses), (0, 22));
    let warm = run(&rules, opts());
    assert_eq!((warm.stats.cache_hits, warm.stats.cache_misses), (22, 0));
    assert_eq!(cold.findings, warm.findings);
    assert_eq!(warm.findings.len(), 6);
    // A run answered from the cache counts what the scan counted: archive members scanned,
    // the binary file and the oversized member skipped (and listed).
    assert_eq!((cold.stats.files, cold.stats.skipped), (21, 2));
    assert_eq!((warm.stats.files, warm.stats.skipped), (21, 2));
    assert_eq!(warm.skipped, cold.skipped);
    assert!(
        warm.skipped[0].path.ends_with("image.tar!big.txt"),
        "{:?}",
        warm.skipped
    );

    t.write("f1.env", TOKEN);
    let changed = run(&rules, opts());
    assert_eq!(
        (changed.stats.cache_hits, changed.stats.cache_misses),
        (21, 1)
    );
    assert_eq!(changed.findings.len(), 7);

    let fewer = Rules::compile(&RuleSet::builtin(&["secrets"]).expect("packs")).expect("compiles");
    let other_rules = run(&fewer, opts());
    assert_eq!(
        other_rules.stats.cache_misses, 22,
        "another rule set invalidates everything"
    );
    let other_opts = run(
        &fewer,
        WalkOptions {
            max_file_size: 1 << 19,
            ..opts()
        },
    );
    assert_eq!(other_opts.stats.cache_misses, 22, "so do other options");

    // Unredacted secrets are never written to the cache.
    let s = TreeScanner::new(
        &fewer,
        WalkOptions {
            redact: false,
            ..opts()
        },
    );
    let cache = ScanCache::open(&db, &s.settings_digest()).expect("cache");
    let o = s.cache(&cache).scan(std::slice::from_ref(&t.0));
    assert_eq!((o.stats.cache_hits, o.stats.cache_misses), (0, 0));
    cache.close().expect("close");
}

#[test]
fn a_missing_input_is_an_error_and_the_rest_is_scanned() {
    let t = Tree::new("missing");
    let present = t.write("a.env", TOKEN);
    let o = scan(&rules(), opts(), &[t.0.join("nope.txt"), present]);
    assert_eq!(o.findings.len(), 1);
    assert_eq!(o.errors.len(), 1);
    assert!(o.errors[0].path.ends_with("nope.txt"), "{:?}", o.errors);
}

#[test]
fn a_cancelled_scan_says_so() {
    let t = Tree::new("cancel");
    t.write("a.env", TOKEN);
    let rules = rules();
    let stop = AtomicBool::new(true);
    let o = TreeScanner::new(&rules, opts())
        .cancel_on(&stop)
        .scan(std::slice::from_ref(&t.0));
    assert!(o.interrupted);
    assert!(o.findings.is_empty());
}
