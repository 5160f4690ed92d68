//! A scan split with `--shard K/N` across three runs and joined with `capstan merge` gives the
//! report of the whole scan, byte for byte (JSON apart from its wall time, and SARIF): for a
//! tree, a git history and a list of images. And what merge refuses, and why.

mod common;

use std::process::{Command, Output};

use common::oci::{Compression, Image, Layer, write_layout};
use common::{Scratch, git, isolate, text, tool};

/// Tokens the built-in `github-classic-pat` rule finds.
const T1: &str = "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";
const T2: &str = "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";
const T3: &str = "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";
const T4: &str = "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";
/// An AWS key pair the `aws-access-key-id` and `aws-secret-access-key` rules find.
const AWS: &str = "aws_access_key_id = AKIALUR3GTATKZNMS7YT\n\
                   aws_secret_access_key = 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\n";

/// `capstan ARGS` from the scratch directory.
fn capstan(dir: &Scratch, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_capstan"));
    isolate(&mut cmd, dir);
    cmd.args(args).output().expect("capstan runs")
}

/// A JSON report with the lines that differ between two runs of one scan (its wall time and
/// the cache's counters) masked.
fn masked(report: &[u8]) -> String {
    text(report)
        .lines()
        .map(|l| {
            let key = l.trim_start();
            if ["\"seconds\":", "\"cache_hits\":", "\"cache_misses\":"]
                .iter()
                .any(|k| key.starts_with(k))
            {
                "(masked)"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

/// What a split run gave: the whole scan's JSON report, and each shard's.
struct Split {
    whole: serde_json::Value,
    shards: Vec<serde_json::Value>,
}

/// Runs `capstan COMMAND ARGS` whole and as shards 1/3, 2/3 and 3/3 (JSON reports
/// `NAME-K.json`), merges the shards, and checks that the merged JSON and SARIF reports are
/// the whole scan's, byte for byte (`merge_extra` goes to the SARIF merge).
fn split_and_merge(
    dir: &Scratch,
    name: &str,
    command: &str,
    args: &[&str],
    merge_extra: &[&str],
) -> Split {
    let run = |extra: &[&str]| {
        let mut all = vec![command, "--no-cache"];
        all.extend_from_slice(extra);
        all.extend_from_slice(args);
        capstan(dir, &all)
    };
    let whole = run(&["-f", "json"]);
    let code = whole.status.code();
    assert!(
        matches!(code, Some(1 | 2)),
        "the fixture has findings: {code:?} {}",
        text(&whole.stderr)
    );
    let parts: Vec<String> = (1..=3).map(|k| format!("{name}-{k}.json")).collect();
    let mut shards = Vec::new();
    for (k, part) in (1..=3).zip(&parts) {
        let shard = format!("{k}/3");
        let out = run(&["-f", "json", "--shard", &shard, "-o", part]);
        assert!(
            matches!(out.status.code(), Some(0..=2)) && !text(&out.stderr).contains("panicked"),
            "shard {shard}: {:?} {}",
            out.status.code(),
            text(&out.stderr)
        );
        let report: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path(part)).expect("the shard's report"))
                .expect("JSON");
        assert_eq!(report["shard"]["index"], k, "{report}");
        assert_eq!(report["shard"]["count"], 3);
        shards.push(report);
    }

    let mut merge: Vec<&str> = vec!["merge", "-f", "json"];
    merge.extend(parts.iter().map(String::as_str));
    let merged = capstan(dir, &merge);
    assert_eq!(
        merged.status.code(),
        code,
        "merge exits as the whole scan: {}",
        text(&merged.stderr)
    );
    assert_eq!(
        masked(&merged.stdout),
        masked(&whole.stdout),
        "the merged JSON report is the whole scan's"
    );
    let (w, m) = (json(&whole), json(&merged));
    for key in ["findings", "errors", "skipped"] {
        assert_eq!(
            serde_json::to_string_pretty(&m[key]).ok(),
            serde_json::to_string_pretty(&w[key]).ok(),
            "{key}"
        );
    }

    let sarif = run(&["-f", "sarif"]);
    let mut merge: Vec<&str> = vec!["merge", "-f", "sarif"];
    merge.extend_from_slice(merge_extra);
    merge.extend(parts.iter().map(String::as_str));
    let merged_sarif = capstan(dir, &merge);
    assert_eq!(merged_sarif.status.code(), code);
    assert!(
        sarif.stdout.starts_with(b"{"),
        "SARIF: {}",
        text(&sarif.stderr)
    );
    assert_eq!(
        text(&merged_sarif.stdout),
        text(&sarif.stdout),
        "the merged SARIF log is the whole scan's"
    );
    Split { whole: w, shards }
}

fn count(v: &serde_json::Value, key: &str) -> u64 {
    v["stats"][key].as_u64().unwrap_or(0)
}

#[test]
fn a_tree_split_in_three_merges_into_the_whole_scan() {
    let dir = Scratch::new("shard-tree");
    for m in 0..6 {
        for f in 0..6 {
            dir.write(
                &format!("tree/src/mod{m}/file{f}.rs"),
                &format!("// module {m}, file {f}\npub fn f{f}() -> u32 {{ {m} }}\n"),
            );
        }
    }
    dir.write("tree/.env", &format!("GITHUB_TOKEN={T1}\n"));
    dir.write(
        "tree/src/mod2/settings.py",
        &format!("TOKEN = \"{T2}\"\nOTHER = \"{T3}\"\n"),
    );
    dir.write("tree/src/mod4/copy.env", &format!("GITHUB_TOKEN={T1}\n"));
    dir.write("tree/deploy/aws.env", AWS);
    dir.write("tree/deploy/ci.yml", &format!("env:\n  token: {T4}\n{AWS}"));
    dir.write(
        "tree/src/legacy.py",
        "import hashlib\ndigest = hashlib.md5(data).hexdigest()\n",
    );
    dir.write("tree/big.log", &"padding line\n".repeat(400));
    dir.write("tree/bin/blob.bin", "\0\0binary\0");
    dir.write("extra/explicit.env", &format!("token={T3}\n"));
    // An archive: its members are the archive's shard's.
    let mut b = tar::Builder::new(Vec::new());
    let member = format!("GITHUB_TOKEN={T4}\n");
    let mut h = tar::Header::new_ustar();
    h.set_size(member.len() as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, "conf/.env", member.as_bytes())
        .expect("append");
    std::fs::write(dir.path("tree/backup.tar"), b.into_inner().expect("tar"))
        .expect("write archive");
    let fifo = tool("mkfifo")
        .arg(dir.path("tree/pipe"))
        .status()
        .expect("mkfifo runs");
    assert!(fifo.success());

    let split = split_and_merge(
        &dir,
        "tree",
        "scan",
        &["--max-file-size", "4K", "tree", "extra/explicit.env"],
        &[],
    );
    let whole = &split.whole;
    assert!(
        whole["findings"].as_array().is_some_and(|f| f.len() >= 9),
        "{whole}"
    );
    assert_eq!(
        whole["skipped"].as_array().map(Vec::len),
        Some(2),
        "big.log and the FIFO"
    );
    assert_eq!(count(whole, "skipped"), 3, "and the binary, counted");
    // Each shard scans a part, the parts cover everything once.
    let files: Vec<u64> = split.shards.iter().map(|s| count(s, "files")).collect();
    assert!(
        files.iter().all(|&n| n > 0 && n < count(whole, "files")),
        "{files:?} of {}",
        count(whole, "files")
    );
    assert_eq!(files.iter().sum::<u64>(), count(whole, "files"));
    let bytes: u64 = split.shards.iter().map(|s| count(s, "bytes")).sum();
    assert_eq!(bytes, count(whole, "bytes"));
    for s in &split.shards {
        assert_eq!(s["shard"]["images"], serde_json::json!([]));
    }
}

#[test]
fn a_history_split_in_three_merges_into_the_whole_scan() {
    let dir = Scratch::new("shard-git");
    dir.write(
        "home/.gitconfig",
        "[user]\n\tname = Capstan Test\n\temail = test@example.com\n\
         [init]\n\tdefaultBranch = main\n[commit]\n\tgpgSign = false\n\
         [gc]\n\tauto = 0\n[core]\n\tautocrlf = false\n",
    );
    let repo = dir.path("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    let mut clock = 1_796_544_000;
    git(&dir, &repo, clock, &["init", "-q"]);
    let mut commit = |message: &str| {
        clock += 60;
        git(&dir, &repo, clock, &["add", "-A"]);
        git(&dir, &repo, clock, &["commit", "-q", "-m", message]);
    };
    for i in 0..12 {
        dir.write(
            &format!("repo/src/file{i}.rs"),
            &format!("pub fn f{i}() {{}}\n"),
        );
    }
    dir.write("repo/app/.env", &format!("GITHUB_TOKEN={T1}\n"));
    dir.write("repo/README.md", "# app\n");
    commit("first");
    // The secret stays while its file changes around it: reported once, at the first commit.
    dir.write(
        "repo/app/.env",
        &format!("GITHUB_TOKEN={T1}\nOTHER_TOKEN={T2}\n"),
    );
    dir.write("repo/src/file3.rs", "pub fn f3() { todo!() }\n");
    commit("second token");
    dir.write("repo/secrets/old.env", &format!("token={T3}\n"));
    dir.write("repo/config/aws.env", AWS);
    dir.write("repo/src/file7.rs", &format!("const T: &str = \"{T2}\";\n"));
    dir.write("repo/docs/setup.md", &format!("Use `{T4}` to log in.\n"));
    dir.write("repo/deploy/prod.env", AWS);
    commit("credentials");
    std::fs::remove_file(dir.path("repo/secrets/old.env")).expect("remove");
    dir.write("repo/README.md", "# app\n\nNo secrets here any more.\n");
    commit("remove the old token");
    dir.write(
        "repo/app/.env",
        &format!("# local settings\nGITHUB_TOKEN={T1}\nOTHER_TOKEN={T2}\nNEW={T4}\n"),
    );
    commit("third token");
    for i in 0..4 {
        let notes = (0..=i)
            .map(|n| format!("# note {n}\n"))
            .collect::<Vec<_>>()
            .concat();
        dir.write(
            "repo/app/.env",
            &format!("# local settings\n{notes}GITHUB_TOKEN={T1}\nOTHER_TOKEN={T2}\nNEW={T4}\n"),
        );
        commit(&format!("note {i}"));
    }

    let split = split_and_merge(&dir, "git", "git", &["repo"], &["--repo", "repo"]);
    let whole = &split.whole;
    assert_eq!(count(whole, "commits"), 9);
    let findings = whole["findings"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        findings
            .iter()
            .filter(|f| f["path"] == "app/.env" && f["rule_id"] == "github-classic-pat")
            .count(),
        3,
        "T1, T2 and T4, each once: {findings:?}"
    );
    assert!(
        findings.iter().any(|f| f["path"] == "secrets/old.env"),
        "a deleted file's secret is in history"
    );
    for s in &split.shards {
        assert_eq!(count(s, "commits"), 9, "every shard walks every commit");
    }
    let files: Vec<u64> = split.shards.iter().map(|s| count(s, "files")).collect();
    assert!(
        files.iter().all(|&n| n > 0 && n < count(whole, "files")),
        "each shard reads some of the blobs: {files:?}"
    );
    assert_eq!(files.iter().sum::<u64>(), count(whole, "files"));
}

#[test]
fn images_split_in_three_merge_into_the_whole_scan() {
    let dir = Scratch::new("shard-image");
    let token = |t: &str| format!("GITHUB_TOKEN={t}\n").into_bytes();
    let big = "over the limit\n".repeat(300).into_bytes();
    let images: Vec<(&str, Image)> = ["alpha", "bravo", "charlie", "delta", "echo"]
        .iter()
        .zip([T1, T2, T3, T4, T1])
        .map(|(name, t)| {
            let readme = format!("the {name} image\n").into_bytes();
            let (env, secret) = (format!("srv/{name}/.env"), token(t));
            let whiteout = format!("srv/{name}/.wh..env");
            let conf = format!("etc/{name}.conf");
            let mut image = Image::new(vec![
                Layer::new(
                    Compression::Gzip,
                    &[
                        (env.as_str(), secret.as_slice()),
                        ("README", readme.as_slice()),
                    ],
                ),
                Layer::new(Compression::Plain, &[(whiteout.as_str(), b"".as_slice())]),
                Layer::new(
                    Compression::Zstd,
                    &[
                        (conf.as_str(), AWS.as_bytes()),
                        ("var/big.log", big.as_slice()),
                    ],
                ),
            ]);
            image.env.push(format!("API_TOKEN_{name}={T2}"));
            (*name, image)
        })
        .collect();
    let tagged: Vec<(&str, Vec<Image>)> =
        images.iter().map(|(n, i)| (*n, vec![i.clone()])).collect();
    write_layout(&dir.path("layout"), &tagged);
    let mut given: Vec<String> = images
        .iter()
        .map(|(n, _)| format!("oci:layout:{n}"))
        .collect();
    // One that cannot be read: an error, in its place.
    given.insert(2, "oci:missing:v1".to_owned());
    let mut args = vec!["--max-file-size", "2K"];
    args.extend(given.iter().map(String::as_str));

    let split = split_and_merge(&dir, "image", "image", &args, &[]);
    let whole = &split.whole;
    let errors = whole["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["path"], "oci:missing:v1");
    let skipped: Vec<&str> = whole["skipped"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["path"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        skipped,
        [
            "oci:layout:alpha@layer2:var/big.log",
            "oci:layout:bravo@layer2:var/big.log",
            "oci:layout:charlie@layer2:var/big.log",
            "oci:layout:delta@layer2:var/big.log",
            "oci:layout:echo@layer2:var/big.log"
        ]
    );
    let order: Vec<&str> = whole["findings"]
        .as_array()
        .map(|f| f.iter().filter_map(|f| f["image"].as_str()).collect())
        .unwrap_or_default();
    let mut firsts = order.clone();
    firsts.dedup();
    assert_eq!(
        firsts,
        [
            "oci:layout:alpha",
            "oci:layout:bravo",
            "oci:layout:charlie",
            "oci:layout:delta",
            "oci:layout:echo"
        ],
        "image by image, in the order given"
    );
    let mut owners = Vec::new();
    for s in &split.shards {
        assert_eq!(s["shard"]["images"], serde_json::json!(given));
        let mine: Vec<&str> = s["findings"]
            .as_array()
            .map(|f| f.iter().filter_map(|f| f["image"].as_str()).collect())
            .unwrap_or_default();
        owners.push(mine);
    }
    assert!(
        owners.iter().filter(|o| !o.is_empty()).count() >= 2,
        "the images are spread over the shards: {owners:?}"
    );
    for (a, b) in [(0, 1), (0, 2), (1, 2)] {
        assert!(
            owners[a].iter().all(|i| !owners[b].contains(i)),
            "an image is in one shard: {owners:?}"
        );
    }
}

/// A small tree scanned whole (`whole.json`) and as three shards (`part-K.json`), a text file
/// and a SARIF log, in a scratch directory `name`.
fn reports(name: &str) -> Scratch {
    let dir = Scratch::new(name);
    for i in 0..8 {
        dir.write(
            &format!("tree/f{i}.env"),
            &format!("GITHUB_TOKEN={T1}\nN={i}\n"),
        );
    }
    for k in 1..=3 {
        let out = capstan(
            &dir,
            &[
                "scan",
                "--no-cache",
                "-f",
                "json",
                "--shard",
                &format!("{k}/3"),
                "-o",
                &format!("part-{k}.json"),
                "tree",
            ],
        );
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            text(&out.stderr)
        );
    }
    let whole = capstan(
        &dir,
        &[
            "scan",
            "--no-cache",
            "-f",
            "json",
            "-o",
            "whole.json",
            "tree",
        ],
    );
    assert_eq!(whole.status.code(), Some(1));
    dir.write(
        "notes.txt",
        "these are not the reports you are looking for\n",
    );
    dir.write("sarif.json", "{\"version\": \"2.1.0\", \"runs\": []}\n");
    dir
}

#[test]
fn merge_refuses_a_missing_shard_and_a_report_that_is_not_one() {
    let dir = reports("shard-refused");

    let refused = |args: &[&str], needles: &[&str]| {
        let mut all = vec!["merge"];
        all.extend_from_slice(args);
        let out = capstan(&dir, &all);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}: no report");
        for n in needles {
            assert!(err.contains(n), "{args:?}: {n:?} in {err}");
        }
    };
    refused(&["part-1.json", "part-3.json"], &["shard 2/3 is missing"]);
    refused(
        &["part-1.json", "part-2.json", "notes.txt", "part-3.json"],
        &["notes.txt: not a capstan JSON report", "at line 1 column 2"],
    );
    refused(
        &["sarif.json"],
        &["sarif.json: not a capstan JSON report", "missing field"],
    );
    refused(
        &["part-1.json", "part-2.json", "nowhere.json"],
        &["nowhere.json: cannot read", "No such file"],
    );
    refused(
        &["whole.json", "part-1.json", "part-2.json", "part-3.json"],
        &["whole.json", "not a sharded report: run with --shard"],
    );
    refused(
        &["part-1.json", "part-2.json", "part-3.json", "part-2.json"],
        &["part-2.json, part-2.json: shard 2/3 is given twice"],
    );
    refused(&["-f", "jsonl", "part-1.json"], &["invalid value 'jsonl'"]);
}

#[test]
fn merge_takes_the_parts_in_any_order_and_reports_as_scan_does() {
    let dir = reports("shard-merged");

    // Every part once, in any order: the whole scan; written to a file with -o.
    let out = capstan(
        &dir,
        &[
            "merge",
            "-f",
            "json",
            "-o",
            "merged.json",
            "part-3.json",
            "part-1.json",
            "part-2.json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let read = |p: &str| std::fs::read(dir.path(p)).expect("report");
    assert_eq!(masked(&read("merged.json")), masked(&read("whole.json")));
    let out = capstan(
        &dir,
        &[
            "merge",
            "--exit-code",
            "7",
            "part-1.json",
            "part-2.json",
            "part-3.json",
        ],
    );
    assert_eq!(out.status.code(), Some(7));
    assert!(
        text(&out.stdout).contains("github-classic-pat"),
        "text by default"
    );
}

#[test]
fn shards_out_of_range_are_usage_errors() {
    let dir = Scratch::new("shard-usage");
    for (command, target) in [("scan", "tree"), ("git", "tree"), ("image", "oci:x")] {
        for bad in ["0/3", "4/3", "1/0", "two/3"] {
            let out = capstan(&dir, &[command, "--shard", bad, target]);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} --shard {bad}: {err}");
            assert!(
                err.contains(&format!("invalid value '{bad}' for '--shard <K/N>'")),
                "{command} --shard {bad}: {err}"
            );
        }
    }
    let out = capstan(&dir, &["scan", "--shard", "0/3", "tree"]);
    assert!(
        text(&out.stderr).contains("shards are numbered from 1"),
        "{}",
        text(&out.stderr)
    );
    let out = capstan(&dir, &["scan", "--shard", "4/3", "tree"]);
    assert!(
        text(&out.stderr).contains("there are only 3 shards"),
        "{}",
        text(&out.stderr)
    );
}
