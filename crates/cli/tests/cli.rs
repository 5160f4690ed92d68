//! The binary as a user runs it: exit codes and the text on each stream.

use std::process::{Command, Output};

mod common;
use common::{Scratch, TOKEN_LINE, capstan, text};

/// Asserts that an output stream holds `needle`, showing the whole stream when it does not.
#[track_caller]
fn assert_shows(stream: &[u8], needle: &str) {
    let t = text(stream);
    assert!(t.contains(needle), "{needle:?} not in:\n{t}");
}

#[test]
fn version_prints_the_package_version_and_exits_0() {
    let out = capstan(&["--version"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        text(&out.stdout).trim(),
        format!("capstan {}", capstan::VERSION)
    );
}

#[test]
fn help_goes_to_stdout_and_states_the_exit_codes() {
    let out = capstan(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    assert!(help.contains("Usage: capstan"), "{help}");
    assert!(
        help.contains("Exit status: 0 clean, 1 findings, 2 usage or runtime error"),
        "{help}"
    );
}

#[test]
fn no_arguments_shows_help_on_stderr_and_exits_2() {
    let out = capstan(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("Usage: capstan"));
}

#[test]
fn an_unknown_argument_is_a_usage_error_naming_it() {
    let out = capstan(&["--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("--no-such-flag"), "{err}");
}

/// `capstan ARGS` in `dir`, its cache beside `dir` (not the user's), colour left to the test.
fn command_in(dir: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_capstan"));
    cmd.args(args)
        .current_dir(dir)
        .env("XDG_CACHE_HOME", format!("{}.cache", dir.display()))
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    cmd
}

fn capstan_in(dir: &std::path::Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = command_in(dir, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the capstan binary");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input)
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("wait for capstan")
}

#[test]
fn scan_exits_0_when_clean_and_1_with_findings_redacted() {
    let dir = Scratch::new("scan_exit_codes");
    dir.write("src/main.rs", "fn main() { println!(\"hello\"); }\n");
    let out = capstan_in(&dir.0, &["scan", "."], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());

    dir.write("deploy/.env", TOKEN_LINE);
    let out = capstan_in(&dir.0, &["scan", "."], None);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("deploy/.env:1:14: high github-classic-pat [secret] ghp_…"),
        "{stdout}"
    );
    assert!(!stdout.contains("8kTqZ2"), "the secret leaked: {stdout}");

    let out = capstan_in(&dir.0, &["scan", "--no-redact", "."], None);
    assert!(text(&out.stdout).contains("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"));
}

#[test]
fn scan_json_has_the_finding_fields() {
    let out = capstan_in(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
        &["scan", "--format", "json", "--rules", "secrets", "-"],
        Some(TOKEN_LINE.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let findings = json["findings"].as_array().expect("a findings array");
    let f = findings
        .iter()
        .find(|f| f["rule_id"] == "github-classic-pat")
        .expect("the token is found");
    assert_eq!(f["path"], "-");
    assert_eq!(
        (f["line"].as_u64(), f["column"].as_u64()),
        (Some(1), Some(14))
    );
    assert_eq!(
        (f["end_line"].as_u64(), f["end_column"].as_u64()),
        (Some(1), Some(53))
    );
    assert_eq!(f["category"], "secret");
    assert_eq!(f["secret"], "ghp_…");
    assert_eq!(f["fingerprint"].as_str().map(str::len), Some(32));
    assert!(f["entropy"].as_f64().is_some_and(|e| e > 3.0));
}

#[test]
fn a_checksum_verified_finding_says_so_in_every_format_and_a_failing_one_is_not_reported() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let scan = |format: &str, input: &str| {
        capstan_in(
            dir,
            &["scan", "--format", format, "--rules", "secrets", "-"],
            Some(input.as_bytes()),
        )
    };
    let out = scan("text", TOKEN_LINE);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_shows(
        &out.stdout,
        "github-classic-pat [secret] ghp_… (verified: checksum)",
    );

    let out = scan("json", TOKEN_LINE);
    assert_shows(&out.stdout, r#""verified": "checksum""#);
    let report = json(&out.stdout);
    let f = &report["findings"][0];
    assert_eq!(
        (&f["rule_id"], &f["verified"]),
        (&"github-classic-pat".into(), &"checksum".into())
    );

    let out = scan("sarif", TOKEN_LINE);
    let sarif = json(&out.stdout);
    assert_eq!(
        sarif["runs"][0]["results"][0]["properties"]["verified"], "checksum",
        "{sarif:#}"
    );

    // One character of the random part changed: the checksum fails, nothing is reported.
    let mutated = TOKEN_LINE.replace("sPaE60w", "sPaE70w");
    assert_ne!(mutated, TOKEN_LINE);
    let out = scan("json", &mutated);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    assert_eq!(json(&out.stdout)["findings"], serde_json::json!([]));
}

#[test]
fn min_confidence_decides_what_is_reported_and_the_summary_counts_the_rest() {
    let dir = Scratch::new("scan_min_confidence");
    // A generic assignment in documentation: low confidence. The same line in code: medium.
    // A checksum-verified token: high.
    let generic = "export API_KEY=\"Q2hhbmdlTWVQbGVhc2U5OTk\"\n";
    dir.write("docs/setup.md", generic);
    dir.write("src/settings.sh", generic);
    dir.write("a.env", TOKEN_LINE);
    let scan = |min: Option<&str>| {
        let mut args = vec!["scan", "--no-cache", "--rules", "secrets", "-f", "json"];
        if let Some(m) = min {
            args.extend(["--min-confidence", m]);
        }
        args.push(".");
        let out = capstan_in(&dir.0, &args, None);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        let report = json(&out.stdout);
        let mut seen: Vec<(String, String)> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| {
                let field = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
                (field("path"), field("confidence"))
            })
            .collect();
        seen.sort();
        (
            seen,
            report["stats"]["below_confidence"].as_u64().unwrap_or(0),
        )
    };
    let pair = |p: &str, c: &str| (p.to_owned(), c.to_owned());
    assert_eq!(
        scan(None),
        (
            vec![pair("a.env", "high"), pair("src/settings.sh", "medium")],
            1
        )
    );
    assert_eq!(
        scan(Some("low")),
        (
            vec![
                pair("a.env", "high"),
                pair("docs/setup.md", "low"),
                pair("src/settings.sh", "medium")
            ],
            0
        )
    );
    assert_eq!(scan(Some("high")), (vec![pair("a.env", "high")], 2));

    let out = capstan_in(
        &dir.0,
        &["scan", "--no-cache", "--rules", "secrets", "."],
        None,
    );
    assert_shows(&out.stderr, "1 below --min-confidence");
    let out = capstan_in(
        &dir.0,
        &[
            "scan",
            "--no-cache",
            "--rules",
            "secrets",
            "--min-confidence",
            "low",
            "docs",
        ],
        None,
    );
    assert_shows(&out.stdout, "(low confidence)");
    let out = capstan_in(&dir.0, &["scan", "--min-confidence", "sure", "."], None);
    assert_eq!(out.status.code(), Some(2));
    assert_shows(&out.stderr, "possible values: low, medium, high");
}

#[test]
fn an_unreadable_path_is_reported_and_the_scan_goes_on() {
    let dir = Scratch::new("scan_unreadable");
    dir.write("a.env", TOKEN_LINE);
    let out = capstan_in(&dir.0, &["scan", "missing.txt", "a.env"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("missing.txt"), "{err}");
    assert!(
        text(&out.stdout).contains("a.env:1:14"),
        "the rest was not scanned"
    );
}

#[test]
fn crypto_findings_carry_the_algorithm() {
    let out = capstan_in(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")),
        &["scan", "--format", "json", "--rules", "crypto", "-"],
        Some(b"import hashlib\ndigest = hashlib.md5(data).hexdigest()\n"),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let f = &json["findings"][0];
    assert_eq!(f["category"], "crypto");
    assert_eq!(f["algorithm"], "MD5");
    assert_eq!(f["quantum_class"], "weak");
    assert!(f["replacement"].as_str().is_some_and(|r| !r.is_empty()));
}

#[test]
fn rules_lists_ids_and_refuses_an_invalid_config_naming_file_rule_and_reason() {
    let out = capstan(&["rules", "--rules", "secrets"]);
    let listed = text(&out.stdout);
    let line = |id: &str| {
        listed
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .map_or_else(
                || panic!("{id} not listed:\n{listed}"),
                |l| l.split_whitespace().collect::<Vec<_>>(),
            )
    };
    // id, category, severity, confidence, keywords, and the checksum a rule verifies.
    assert_eq!(
        line("github-classic-pat"),
        [
            "github-classic-pat",
            "secret",
            "high",
            "high",
            "ghp_",
            "(checksum:",
            "github-crc32)"
        ]
    );
    assert_eq!(
        line("generic-api-key")[..4],
        ["generic-api-key", "secret", "medium", "medium"]
    );

    let out = capstan(&["rules", "--rules", "dockerfile"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout)
            .lines()
            .all(|l| l.starts_with("dockerfile-")),
        "{}",
        text(&out.stdout)
    );

    let dir = Scratch::new("rules_invalid");
    dir.write(
        "bad.toml",
        "[[rules]]\nid = \"discord-api-key\"\nregex = '''x'''\nsecretGroup = 3\n",
    );
    let out = capstan_in(&dir.0, &["rules", "--config", "bad.toml"], None);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("discord-api-key"),
        "{err}"
    );
    assert!(err.contains("secret group 3"), "{err}");
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).expect("valid JSON")
}

const MD5_LINE: &str = "import hashlib\ndigest = hashlib.md5(data).hexdigest()\n";

#[test]
fn every_format_writes_what_it_promises() {
    let dir = Scratch::new("scan_formats");
    dir.write("app/.env", TOKEN_LINE);
    dir.write("app/hash.py", MD5_LINE);
    let out = capstan_in(&dir.0, &["scan", "-f", "json", "."], None);
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out.stdout);
    assert_eq!(v["findings"].as_array().map(Vec::len), Some(2));
    assert_eq!(v["stats"]["files"], 2);
    assert_eq!(
        (
            v["stats"]["secrets"].as_u64(),
            v["stats"]["crypto"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert!(v["errors"].as_array().is_some_and(Vec::is_empty));
    assert_eq!(v["interrupted"], false);

    let out = capstan_in(&dir.0, &["scan", "-f", "jsonl", "."], None);
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| json(l.as_bytes()))
        .collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|f| f["fingerprint"].is_string()));

    for (format, file) in [("sarif", "out.sarif"), ("cbom", "out.cdx.json")] {
        let out = capstan_in(&dir.0, &["scan", "-f", format, "-o", file, "app"], None);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(out.stdout.is_empty());
        let v = json(&std::fs::read(dir.0.join(file)).expect("report written"));
        if format == "sarif" {
            assert_eq!(v["version"], "2.1.0");
            assert_eq!(v["runs"][0]["results"].as_array().map(Vec::len), Some(2));
            let uri = &v["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
                ["uri"];
            assert_eq!(uri, "app/.env");
        } else {
            assert_eq!(v["specVersion"], "1.6");
            assert_eq!(
                v["components"].as_array().map(Vec::len),
                Some(1),
                "crypto only"
            );
        }
        let leftovers: Vec<_> = std::fs::read_dir(&dir.0)
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
}

#[test]
fn text_output_is_grouped_on_request_and_coloured_only_when_asked() {
    let dir = Scratch::new("scan_text");
    dir.write("a.env", TOKEN_LINE);
    let out = capstan_in(&dir.0, &["scan", "--heading", "."], None);
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("a.env\n  1:14      high     github-classic-pat"),
        "{stdout}"
    );
    assert!(!stdout.contains('\x1b'), "no colour when piped");
    let out = capstan_in(&dir.0, &["scan", "--color", "always", "."], None);
    assert_shows(&out.stdout, "\x1b[1;31mhigh\x1b[0m");
}

#[test]
fn baselines_ignore_files_and_inline_markers_suppress_findings() {
    let dir = Scratch::new("scan_suppress");
    dir.write("a.env", TOKEN_LINE);
    let out = capstan_in(
        &dir.0,
        &[
            "scan",
            "-f",
            "json",
            "-o",
            "../scan_suppress-baseline.json",
            ".",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    let baseline = dir.0.with_file_name("scan_suppress-baseline.json");
    let b = baseline.to_string_lossy().into_owned();
    let out = capstan_in(&dir.0, &["scan", "--baseline", &b, "."], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("1 suppressed"));
    let v = json(&capstan_in(&dir.0, &["scan", "-f", "json", "--baseline", &b, "."], None).stdout);
    assert_eq!(
        (
            v["stats"]["findings"].as_u64(),
            v["stats"]["secrets"].as_u64()
        ),
        (Some(0), Some(0))
    );
    std::fs::remove_file(&baseline).ok();

    // A new secret is still reported despite the baseline.
    dir.write("b.env", "AWS_ACCESS_KEY_ID=AKIAZ7VQ3HPLX4RT6JWM\n");
    dir.write(".capstanignore", "# reviewed\nb.env:aws-access-key-id:1\n");
    let out = capstan_in(&dir.0, &["scan", "a.env", "b.env"], None);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("a.env:1:14"), "{stdout}");
    assert!(
        !stdout.contains("b.env"),
        ".capstanignore in the current directory applies: {stdout}"
    );

    dir.write("other-ignore", "");
    let out = capstan_in(
        &dir.0,
        &["scan", "--ignore-file", "other-ignore", "b.env"],
        None,
    );
    assert!(
        text(&out.stdout).contains("b.env:1:"),
        "--ignore-file replaces the default"
    );

    dir.write(
        "c.env",
        &format!("{} # capstan:allow\n", TOKEN_LINE.trim_end()),
    );
    let out = capstan_in(&dir.0, &["scan", "c.env"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    let out = capstan_in(&dir.0, &["scan", "--baseline", "missing.json", "."], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing.json"));
}

#[test]
fn the_cache_makes_the_second_run_a_lookup_and_survives_damage() {
    let dir = Scratch::new("scan_cache");
    dir.write("src/a.env", TOKEN_LINE);
    dir.write("src/b.py", MD5_LINE);
    let cache = dir.0.with_file_name("scan_cache-store");
    let _ = std::fs::remove_dir_all(&cache);
    let c = cache.to_string_lossy().into_owned();
    let args = ["scan", "--stats", "--cache-dir", &c, "src"];
    let first = capstan_in(&dir.0, &args, None);
    assert_shows(&first.stderr, "cache 0 hit(s), 2 miss(es)");
    let second = capstan_in(&dir.0, &args, None);
    assert_shows(&second.stderr, "cache 2 hit(s), 0 miss(es)");
    assert_eq!(first.stdout, second.stdout);

    std::fs::write(cache.join("scan.redb"), b"garbage").expect("damage");
    let third = capstan_in(&dir.0, &args, None);
    assert_eq!(third.status.code(), Some(1));
    assert_shows(&third.stderr, "rebuilt");
    assert_eq!(first.stdout, third.stdout);

    let none = capstan_in(
        &dir.0,
        &["scan", "--stats", "--no-cache", "--cache-dir", &c, "src"],
        None,
    );
    assert!(text(&none.stderr).contains("cache 0 hit(s), 0 miss(es)"));
    std::fs::remove_dir_all(&cache).ok();
}

#[test]
fn metrics_file_and_exit_code_options() {
    let dir = Scratch::new("scan_metrics");
    dir.write("a.env", TOKEN_LINE);
    let out = capstan_in(
        &dir.0,
        &[
            "scan",
            "--exit-code",
            "3",
            "--metrics-file",
            "scan.prom",
            "a.env",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    let prom = std::fs::read_to_string(dir.0.join("scan.prom")).expect("metrics written");
    assert!(prom.contains("capstan_scan_files_total 1"), "{prom}");
    // The pool the scan read through reports too.
    assert!(
        prom.contains("capstan_bufpool_hits_total{class=\"65536\"}"),
        "{prom}"
    );
    assert!(
        prom.contains("capstan_scan_findings_total{category=\"secret\"} 1"),
        "{prom}"
    );
    assert!(
        prom.contains("# TYPE capstan_scan_bytes_total counter"),
        "{prom}"
    );
}

#[test]
fn bad_options_and_unwritable_outputs_are_errors_that_say_why() {
    let dir = Scratch::new("scan_bad_options");
    let out = capstan_in(&dir.0, &["scan", "--max-file-size", "10Q", "."], None);
    assert_eq!(out.status.code(), Some(2));
    assert_shows(&out.stderr, "unknown unit");
    // Sizes as people write them are taken; a limit that excludes everything is refused rather
    // than reported clean.
    for size in ["10MB", "1.5G", "512k"] {
        let out = capstan_in(&dir.0, &["scan", "--max-file-size", size, "."], None);
        assert_eq!(out.status.code(), Some(0), "{size}: {}", text(&out.stderr));
    }
    let out = capstan_in(&dir.0, &["scan", "--max-file-size", "0", "."], None);
    assert_eq!(out.status.code(), Some(2));
    assert_shows(&out.stderr, "skips every file");
    // A thread count past the maximum is an error at once, not 100,000 threads.
    let out = capstan_in(&dir.0, &["scan", "-j", "100000", "."], None);
    assert_eq!(out.status.code(), Some(2));
    assert_shows(&out.stderr, "maximum of 1024");
    // A parser's multi-line message prints as lines, not as `\n` escapes.
    dir.write("bad.toml", "[[rules]]\nid = \"x\"\nregex = \n");
    let out = capstan_in(&dir.0, &["scan", "--config", "bad.toml", "."], None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("bad.toml") && stderr.lines().count() > 1,
        "{stderr}"
    );
    assert!(!stderr.contains("\\n"), "{stderr}");
    let out = capstan_in(
        &dir.0,
        &["scan", "-o", "no/such/dir/report.json", "."],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_shows(&out.stderr, "no/such/dir/report.json");
}

#[cfg(unix)]
#[test]
fn a_pipe_named_on_the_command_line_is_read_but_one_found_in_a_tree_is_skipped() {
    let dir = Scratch::new("scan_fifo");
    let fifo = dir.0.join("pipe");
    let made = common::tool("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, TOKEN_LINE))
    };
    let out = capstan_in(&dir.0, &["scan", "--no-cache", "pipe"], None);
    writer.join().expect("writer").expect("wrote the pipe");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_shows(&out.stdout, "pipe:1:14");

    // Found by the walk, the same pipe is skipped (nobody writes to it: reading would hang).
    let out = capstan_in(&dir.0, &["scan", "--no-cache", "-f", "json", "."], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v = json(&out.stdout);
    assert_eq!(v["skipped"][0]["path"], "pipe");
}

#[test]
fn context_lists_in_tar_order_and_writes_a_reproducible_tar() {
    let dir = Scratch::new("context_cli");
    dir.write("Dockerfile", "FROM scratch\n");
    dir.write(".dockerignore", "*.log\n");
    dir.write("src/a.c", "int a;\n");
    dir.write("x.log", "noise\n");
    let out = capstan_in(&dir.0, &["context", "--list"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        ".dockerignore\nDockerfile\nsrc/\nsrc/a.c\n"
    );

    let first = capstan_in(&dir.0, &["context", "-o", "-", "."], None);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert_eq!(first.stdout.len() % 512, 0);
    let again = capstan_in(&dir.0, &["context", "-o", "../context_cli.tar", "."], None);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let file = dir.0.with_file_name("context_cli.tar");
    assert_eq!(std::fs::read(&file).expect("written"), first.stdout);
    std::fs::remove_file(file).ok();

    let elsewhere = dir.0.with_file_name("context_cli-elsewhere");
    std::fs::create_dir_all(&elsewhere).expect("dir");
    std::fs::write(elsewhere.join("Dockerfile"), "FROM scratch\n").expect("write");
    let outside = capstan_in(
        &dir.0,
        &[
            "context",
            "-f",
            "../context_cli-elsewhere/Dockerfile",
            "--list",
        ],
        None,
    );
    assert_eq!(outside.status.code(), Some(0), "{}", text(&outside.stderr));
    assert_shows(&outside.stderr, "sent as .dockerfile.");
    assert!(
        text(&outside.stdout).starts_with(".dockerfile."),
        "{}",
        text(&outside.stdout)
    );
    std::fs::remove_dir_all(&elsewhere).ok();

    let missing = capstan_in(
        &dir.0,
        &["context", "-f", "nope/Dockerfile", "--list"],
        None,
    );
    assert_eq!(missing.status.code(), Some(2));
    assert_shows(&missing.stderr, "cannot locate the Dockerfile");
}

#[test]
fn context_scans_on_the_way_out_and_can_refuse_to_finish() {
    let dir = Scratch::new("context_scan");
    dir.write("Dockerfile", "FROM scratch\nCOPY . /\n");
    dir.write("conf/.env", TOKEN_LINE);
    let out = capstan_in(
        &dir.0,
        &["context", "--scan", "--rules", "secrets", "-o", "-"],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("conf/.env:1:14: high github-classic-pat"),
        "{err}"
    );
    assert!(!err.contains("8kTqZ2"), "redacted: {err}");
    let whole = out.stdout;
    assert!(whole.ends_with(&[0u8; 1024]), "a finished tar");

    let out = capstan_in(
        &dir.0,
        &[
            "context",
            "--fail-on-findings",
            "--rules",
            "secrets",
            "-o",
            "../context_scan.tar",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_shows(&out.stderr, "not finished");
    assert!(
        !dir.0.with_file_name("context_scan.tar").exists(),
        "nothing left behind"
    );

    let out = capstan_in(
        &dir.0,
        &[
            "context",
            "--fail-on-findings",
            "--rules",
            "secrets",
            "-o",
            "-",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !out.stdout.ends_with(&[0u8; 1024]),
        "the consumer sees an unfinished tar"
    );
    let dir_tar = dir.0.with_file_name("context_scan-stopped.tar");
    std::fs::write(&dir_tar, &out.stdout).expect("write");
    let listed = common::tool("tar")
        .arg("-tf")
        .arg(&dir_tar)
        .output()
        .expect("GNU tar runs");
    assert!(
        !listed.status.success(),
        "GNU tar must reject a stopped context"
    );
    std::fs::remove_file(&dir_tar).ok();

    let gz = capstan_in(&dir.0, &["context", "--gzip", "-o", "-"], None);
    assert_eq!(&gz.stdout[..2], &[0x1f, 0x8b]);
    let mut unzipped = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(gz.stdout.as_slice()),
        &mut unzipped,
    )
    .expect("valid gzip");
    assert_eq!(unzipped, whole);
}

#[test]
fn extract_round_trips_a_gzipped_context_and_refuses_garbage() {
    let dir = Scratch::new("extract_cli");
    dir.write("Dockerfile", "FROM scratch\n");
    dir.write("src/a.c", "int a;\n");
    let out = capstan_in(
        &dir.0,
        &["context", "-z", "-o", "../extract_cli.tgz", "."],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let archive = dir.0.with_file_name("extract_cli.tgz");
    let a = archive.to_string_lossy().into_owned();
    let out = capstan_in(&dir.0, &["extract", &a, "out"], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        std::fs::read(dir.0.join("out/src/a.c")).expect("extracted"),
        b"int a;\n"
    );
    std::fs::remove_file(&archive).ok();

    let out = capstan_in(&dir.0, &["extract", "-", "junk"], Some(b"not a tar at all"));
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("bad archive") && !err.contains("block: failed"),
        "{err}"
    );
}

#[test]
fn auth_shows_source_and_user_but_never_the_secret_unless_asked() {
    let dir = Scratch::new("auth_cli");
    // base64("alice:s3cret")
    dir.write(
        "docker/config.json",
        r#"{"auths": {"ghcr.io": {"auth": "YWxpY2U6czNjcmV0"}}}"#,
    );
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_capstan"))
            .args(args)
            .current_dir(&dir.0)
            .env("DOCKER_CONFIG", dir.0.join("docker"))
            .env("HOME", &dir.0)
            .env_remove("REGISTRY_AUTH_FILE")
            .env_remove("XDG_RUNTIME_DIR")
            .output()
            .expect("runs")
    };
    let out = run(&["auth", "ghcr.io/org/app"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let line = text(&out.stdout);
    assert!(
        line.contains("ghcr.io  basic") && line.contains("user alice"),
        "{line}"
    );
    assert!(!line.contains("s3cret"));

    let v = json(&run(&["auth", "--json", "ghcr.io/org/app"]).stdout);
    assert_eq!(v["kind"], "basic");
    assert_eq!(v["username"], "alice");
    assert!(v.get("secret").is_none());
    let v = json(&run(&["auth", "--json", "--show-secret", "ghcr.io/org/app"]).stdout);
    assert_eq!(v["secret"], "s3cret");

    let header = text(&run(&["auth", "--header", "ghcr.io/org/app"]).stdout);
    assert_eq!(
        header.trim(),
        "eyJ1c2VybmFtZSI6ImFsaWNlIiwicGFzc3dvcmQiOiJzM2NyZXQiLCJzZXJ2ZXJhZGRyZXNzIjoiZ2hjci5pbyJ9"
    );
    let v = json(&run(&["auth", "--json", "alpine"]).stdout);
    assert_eq!(
        (v["kind"].as_str(), v["source"].as_str()),
        (Some("anonymous"), Some("none"))
    );

    let out = run(&["auth", "Bad/Ref"]);
    assert_eq!(out.status.code(), Some(2));
    assert_shows(&out.stderr, "lowercase");
}

#[test]
fn auth_check_against_a_real_registry_says_ok_or_denied() {
    let reg = common::Registry::start("tester", "right-password");
    let dir = Scratch::new("auth_check");
    let host = format!("127.0.0.1:{}", reg.port);
    let check = |pass: &str| {
        let auth = base64_of(&format!("tester:{pass}"));
        dir.write(
            "config.json",
            &format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#),
        );
        Command::new(env!("CARGO_BIN_EXE_capstan"))
            .args([
                "auth",
                "--check",
                "--authfile",
                "config.json",
                &format!("{host}/team/app"),
            ])
            .current_dir(&dir.0)
            .output()
            .expect("runs")
    };
    let ok = check("right-password");
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{} {}",
        text(&ok.stdout),
        text(&ok.stderr)
    );
    assert!(text(&ok.stdout).contains(": OK"), "{}", text(&ok.stdout));
    let denied = check("wrong-password");
    assert_eq!(
        denied.status.code(),
        Some(1),
        "{} {}",
        text(&denied.stdout),
        text(&denied.stderr)
    );
    assert!(text(&denied.stdout).contains("denied"));
    assert!(!text(&denied.stdout).contains("wrong-password"));
}

fn base64_of(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// `capstan ARGS` in `dir` with the environment variables `env` set (and the colour ones
/// removed unless named).
fn capstan_env(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = command_in(dir, args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run the capstan binary")
}

#[test]
fn colour_follows_no_color_and_clicolor_force() {
    let dir = Scratch::new("scan_colour_env");
    dir.write("a.env", TOKEN_LINE);
    let coloured = |env: &[(&str, &str)]| {
        text(&capstan_env(&dir.0, &["scan", "."], env).stdout).contains('\x1b')
    };
    assert!(!coloured(&[]), "piped: no colour");
    assert!(
        coloured(&[("CLICOLOR_FORCE", "1")]),
        "forced through a pipe"
    );
    assert!(!coloured(&[("CLICOLOR_FORCE", "0")]), "0 forces nothing");
    assert!(
        !coloured(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]),
        "NO_COLOR wins"
    );
    let out = capstan_env(
        &dir.0,
        &["scan", "--color", "never", "."],
        &[("CLICOLOR_FORCE", "1")],
    );
    assert!(!text(&out.stdout).contains('\x1b'), "--color never wins");
}

#[test]
fn the_summary_counts_findings_by_category_and_the_files_they_are_in() {
    let dir = Scratch::new("scan_summary");
    dir.write("a.env", TOKEN_LINE);
    dir.write("b.env", &format!("{TOKEN_LINE}{TOKEN_LINE}"));
    dir.write("app.py", "import hashlib\nh = hashlib.md5(b'x')\n");
    dir.write("clean.txt", "nothing\n");
    let out = capstan_in(&dir.0, &["scan", "--no-cache", "."], None);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(
            "capstan: 4 findings (3 secret, 1 crypto) in 3 files; 4 files scanned, 0.0 MB in "
        ) && last.ends_with(" s"),
        "{err}"
    );
    let clean = Scratch::new("scan_summary_clean");
    clean.write("clean.txt", "nothing\n");
    let out = capstan_in(&clean.0, &["scan", "--no-cache", "."], None);
    assert_eq!(out.status.code(), Some(0));
    assert_shows(
        &out.stderr,
        "capstan: 0 findings; 1 file scanned, 0.0 MB in ",
    );
}

#[test]
fn listing_a_context_needs_no_dockerfile_but_a_named_one_must_exist() {
    let dir = Scratch::new("context_no_dockerfile");
    dir.write("app/main.go", "package main\n");
    let out = capstan_in(&dir.0, &["context", "--list", "."], None);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "app/\napp/main.go\n");
    assert_shows(
        &out.stderr,
        "capstan: warning: no Dockerfile in .: the context is listed",
    );
    let out = capstan_in(
        &dir.0,
        &["context", "--list", "-f", "Dockerfile.dev", "."],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_shows(&out.stderr, "Dockerfile.dev");
}

#[test]
fn path_patterns_in_an_ignore_file_pass_over_fixtures() {
    let dir = Scratch::new("scan_ignore_paths");
    dir.write("tests/fixtures/a.env", TOKEN_LINE);
    dir.write("src/b.env", TOKEN_LINE);
    dir.write(".capstanignore", "# test fixtures\npath:tests/fixtures/\n");
    let out = capstan_in(&dir.0, &["scan", "--no-cache", "."], None);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("src/b.env:1:14:") && !stdout.contains("tests/"),
        "{stdout}"
    );
    assert_shows(&out.stderr, "1 suppressed");
    dir.write(".capstanignore", "path:tests/[\n");
    let out = capstan_in(&dir.0, &["scan", "--no-cache", "."], None);
    assert_eq!(out.status.code(), Some(2));
    assert_shows(&out.stderr, ".capstanignore:1: not a path pattern");
}

/// The first five minutes: `capstan scan .` in this repository reports nothing — its made-up
/// credentials (rule examples, fixtures) are listed in its own `.capstanignore` — and a new
/// token anywhere else would be reported.
#[test]
fn the_repository_scans_clean_with_its_own_ignore_file() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = capstan_in(&root, &["scan", "--no-cache", "."], None);
    assert_eq!(
        out.status.code(),
        Some(0),
        "findings in the repository outside .capstanignore:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_shows(&out.stderr, "capstan: 0 findings; ");
}
