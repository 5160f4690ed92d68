//! The binary as a user runs it: exit codes and the text on each stream.

use std::process::{Command, Output};

fn capstan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .output()
        .expect("run the capstan binary")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
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

fn capstan_in(dir: &std::path::Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_capstan"))
        .args(args)
        .current_dir(dir)
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

/// A scratch directory under the target dir, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }
    fn write(&self, rel: &str, text: &str) {
        let p = self.0.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(p, text).expect("write fixture");
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const TOKEN_LINE: &str = "GITHUB_TOKEN=ghp_8kTqZ2vXw9LmN4bR7cYd1FhJ3sPaE6gUo0Ki\n";

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
    assert!(text(&out.stdout).contains("ghp_8kTqZ2vXw9LmN4bR7cYd1FhJ3sPaE6gUo0Ki"));
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
    assert_eq!(f["fingerprint"].as_str().map(str::len), Some(16));
    assert!(f["entropy"].as_f64().is_some_and(|e| e > 3.0));
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
