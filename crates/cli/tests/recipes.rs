//! The CI recipes in `docs/ci/` do what `docs/ci.md` says. Each YAML recipe parses (`PyYAML`,
//! as the CI services' own parsers would) and has the structure its service needs; the shell
//! commands in it that run capstan are taken out of the YAML and run as they are, with
//! `bash -euo pipefail`, in a git repository with a committed token and the test's `capstan`
//! first on `PATH`: they write the files their upload or artifact steps name, and those files
//! hold the findings. `ci.sh` runs under `sh` (dash: POSIX only) the same way.
//!
//! Steps that install things (`uses:` actions, `cargo install`) are not run.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::{Scratch, TOKEN_LINE, git, isolate, text, tool};
use serde_json::Value;

/// The token in [`TOKEN_LINE`]: committed in the tree.
const TOKEN: &str = "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";
/// A second token, committed and then deleted: only the history has it.
const OLD_TOKEN: &str = "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";
/// A crypto finding (MD5): in every report but GitLab's.
const MD5_LINE: &str = "import hashlib\ndigest = hashlib.md5(data).hexdigest()\n";

/// YAML to JSON with `PyYAML`'s safe loader.
const YAML_TO_JSON: &str = "\
import json, sys
try:
    import yaml
except ImportError:
    sys.exit(\"PyYAML is missing: install Debian's python3-yaml package\")
json.dump(yaml.safe_load(open(sys.argv[1], encoding='utf-8')), sys.stdout)
";

fn recipe(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/ci")
        .join(name)
}

/// A YAML recipe, parsed.
fn yaml(name: &str) -> Value {
    let out = tool("python3")
        .args(["-c", YAML_TO_JSON])
        .arg(recipe(name))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{name} does not parse: {}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the helper prints JSON")
}

/// The `repository` URL of the workspace's Cargo.toml: where the recipes install capstan from.
fn repository() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let manifest = std::fs::read_to_string(&path).expect("Cargo.toml");
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("repository = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .expect("repository = \"…\" in the workspace's Cargo.toml")
        .to_owned()
}

/// A repository in `dir/repo`: `old/deploy.sh` with [`OLD_TOKEN`] committed and then deleted,
/// then `config/app.env` with [`TOKEN`] and `src/hash.py` with MD5 committed.
fn fixture(name: &str) -> Scratch {
    let dir = Scratch::new(name);
    dir.write(
        "home/.gitconfig",
        "[user]\n\tname = Capstan Test\n\temail = test@example.com\n\
         [commit]\n\tgpgSign = false\n[gc]\n\tauto = 0\n[core]\n\tautocrlf = false\n",
    );
    let repo = dir.path("repo");
    std::fs::create_dir_all(&repo).expect("mkdir repo");
    git(&dir, &repo, 1_790_000_000, &["init", "-q", "-b", "main"]);
    let commit = |when: i64, message: &str| {
        git(&dir, &repo, when, &["add", "-A"]);
        git(&dir, &repo, when, &["commit", "-q", "-m", message]);
    };
    dir.write(
        "repo/old/deploy.sh",
        &format!("#!/bin/sh\nexport GITHUB_TOKEN={OLD_TOKEN}\n"),
    );
    commit(1_790_000_060, "deploy");
    std::fs::remove_file(dir.path("repo/old/deploy.sh")).expect("rm");
    dir.write("repo/config/app.env", TOKEN_LINE);
    dir.write("repo/src/hash.py", MD5_LINE);
    commit(1_790_000_120, "config");
    dir
}

/// `PATH` with the test's `capstan` first.
fn path_with_capstan() -> std::ffi::OsString {
    let bin = Path::new(env!("CARGO_BIN_EXE_capstan"))
        .parent()
        .expect("the binary's directory")
        .to_path_buf();
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&rest)))
        .expect("PATH joins")
}

/// `program ARGS` in the fixture's repository, isolated, with `env` and capstan on `PATH`.
fn run_in_repo(
    dir: &Scratch,
    program: &str,
    args: &[&str],
    env: &BTreeMap<String, String>,
) -> Output {
    let mut cmd = tool(program);
    isolate(&mut cmd, dir);
    cmd.current_dir(dir.path("repo"))
        .env("PATH", path_with_capstan())
        .args(args)
        .envs(env);
    cmd.output().expect("the shell runs")
}

/// A recipe's shell commands, run as a CI service runs them.
fn bash(dir: &Scratch, script: &str, env: &BTreeMap<String, String>) -> Output {
    run_in_repo(dir, "bash", &["-euo", "pipefail", "-c", script], env)
}

/// `capstan ARGS` in the fixture's repository: its JSON report.
fn capstan_json(dir: &Scratch, args: &[&str]) -> Value {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_capstan"));
    isolate(&mut cmd, dir);
    let out = cmd
        .current_dir(dir.path("repo"))
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("capstan runs");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("a JSON report")
}

/// Whether a shell script runs capstan (not merely installs or names it).
fn runs_capstan(script: &str) -> bool {
    ["scan", "git", "image", "merge"]
        .iter()
        .any(|sub| script.contains(&format!("capstan {sub} ")))
}

/// Whether a shell script installs capstan, and does nothing else.
fn installs(script: &str) -> bool {
    let script = script.trim();
    script.starts_with("cargo install ") && !script.contains('\n') && script.contains("capstan-cli")
}

/// The files a script's capstan commands write (`--output FILE`, `-o FILE`).
fn outputs(script: &str) -> Vec<String> {
    let words: Vec<&str> = script.split_whitespace().collect();
    words
        .windows(2)
        .filter(|w| w[0] == "--output" || w[0] == "-o")
        .map(|w| w[1].to_owned())
        .collect()
}

/// `value`'s string entries (a YAML mapping of variables).
fn strings(value: &Value) -> BTreeMap<String, String> {
    value
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_owned())))
        .collect()
}

fn read_json(path: &Path) -> Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()))
}

/// The paths of a JSON report's findings of `category` (all when `None`).
fn finding_paths(report: &Value, category: Option<&str>) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| category.is_none_or(|c| f["category"] == c))
        .map(|f| {
            f["path"]
                .as_str()
                .expect("path")
                .trim_start_matches("./")
                .to_owned()
        })
        .collect()
}

fn assert_no_secret(name: &str, bytes: &[u8]) {
    let s = text(bytes);
    for t in [TOKEN, OLD_TOKEN] {
        assert!(!s.contains(t), "{name} holds a secret: {s}");
    }
}

/// The outputs of a GitHub job's steps so far, by step id.
type StepOutputs = BTreeMap<String, BTreeMap<String, String>>;

/// Runs a GitHub step's `run:` as the runner does, with `env` and the step's own `env:` (where
/// `${{ steps.ID.outputs.KEY }}` is taken from `outputs`), and records what it writes to
/// `$GITHUB_OUTPUT` under its id.
fn run_step(
    dir: &Scratch,
    job: &str,
    step: &Value,
    env: &BTreeMap<String, String>,
    outputs: &mut StepOutputs,
) -> Output {
    let script = step["run"].as_str().expect("run");
    assert!(
        !script.contains("${{"),
        "{job}: expressions go in env:, not run: (they are not shell)\n{script}"
    );
    let mut env = env.clone();
    for (k, v) in strings(&step["env"]) {
        let v = match v
            .strip_prefix("${{ steps.")
            .and_then(|r| r.strip_suffix(" }}"))
            .and_then(|r| r.split_once(".outputs."))
        {
            Some((id, key)) => outputs
                .get(id)
                .and_then(|o| o.get(key))
                .unwrap_or_else(|| panic!("{job}: no output {key} of step {id}"))
                .clone(),
            None => v,
        };
        env.insert(k, v);
    }
    let github_output = dir.path(&format!("{job}-github-output"));
    std::fs::write(&github_output, "").expect("GITHUB_OUTPUT");
    env.insert(
        "GITHUB_OUTPUT".into(),
        github_output.to_string_lossy().into_owned(),
    );
    let out = bash(dir, script, &env);
    if let Some(id) = step["id"].as_str() {
        let written = std::fs::read_to_string(&github_output).expect("outputs");
        let map = written
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        outputs.insert(id.to_owned(), map);
    }
    out
}

/// The SARIF a GitHub job uploads: its findings, the deleted file's only in the history.
fn check_sarif(dir: &Scratch, job: &str, file: &str) {
    let path = dir.path(&format!("repo/{file}"));
    let sarif = read_json(&path);
    assert_eq!(sarif["version"], "2.1.0");
    let results = sarif["runs"][0]["results"].as_array().expect("results");
    let uris: Vec<&str> = results
        .iter()
        .filter_map(|r| r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].as_str())
        .collect();
    assert!(uris.contains(&"config/app.env"), "{job}: {uris:?}");
    assert_eq!(
        uris.contains(&"old/deploy.sh"),
        job == "history",
        "{job}: only the history has the deleted file: {uris:?}"
    );
    assert_no_secret(file, &std::fs::read(&path).expect("sarif"));
}

#[test]
fn the_github_workflow_uploads_the_sarif_its_scans_write_and_fails_after() {
    let wf = yaml("github-actions.yml");
    let workflow_env = strings(&wf["env"]);
    assert_eq!(
        workflow_env.get("CAPSTAN_GIT"),
        Some(&repository()),
        "the workflow installs capstan from the workspace's repository"
    );
    assert_eq!(
        wf["permissions"]["security-events"], "write",
        "upload-sarif needs it"
    );
    let jobs = wf["jobs"].as_object().expect("jobs");
    assert!(
        jobs.contains_key("tree") && jobs.contains_key("history"),
        "{jobs:?}"
    );

    for (name, job) in jobs {
        // Each job in a checkout of its own, as on GitHub.
        let dir = fixture(&format!("recipes-github-{name}"));
        let steps = job["steps"].as_array().expect("steps");
        let checkout = &steps[0];
        assert!(
            checkout["uses"]
                .as_str()
                .is_some_and(|u| u.starts_with("actions/checkout@")),
            "{name}: checks out first"
        );
        if name == "history" {
            assert_eq!(
                checkout["with"]["fetch-depth"], 0,
                "the history job fetches every commit"
            );
        }
        let mut env = workflow_env.clone();
        env.extend(strings(&job["env"]));
        let (mut installed, mut scanned, mut judged) = (false, false, false);
        let mut written = Vec::new();
        let mut uploaded = Vec::new();
        let mut step_outputs = StepOutputs::new();
        for step in steps {
            if let Some(uses) = step["uses"].as_str() {
                if uses.starts_with("github/codeql-action/upload-sarif@") {
                    assert!(
                        step["if"].as_str().is_some_and(|c| c.contains("always()")),
                        "{name}: the upload runs whatever the scan found"
                    );
                    uploaded.push(step["with"]["sarif_file"].as_str().expect("sarif_file"));
                }
                continue;
            }
            let script = step["run"].as_str().expect("a step either uses or runs");
            if installs(script) {
                assert!(script.contains("cargo install --locked --git \"$CAPSTAN_GIT\""));
                installed = true;
                continue;
            }
            let out = run_step(&dir, name, step, &env, &mut step_outputs);
            let said = text(&out.stderr);
            if runs_capstan(script) {
                assert_eq!(
                    out.status.code(),
                    Some(0),
                    "{name}: the scan step keeps going: {said}"
                );
                let id = step["id"].as_str().expect("the scan step has an id");
                assert_eq!(
                    step_outputs[id].get("status").map(String::as_str),
                    Some("1"),
                    "{name}: capstan's status (findings) is the step's output: {said}"
                );
                written.extend(outputs(script));
                scanned = true;
            } else {
                // The verdict, after the upload: capstan's status, findings here.
                assert_eq!(out.status.code(), Some(1), "{name}: {script}: {said}");
                judged = true;
            }
        }
        assert!(
            installed && scanned && judged,
            "{name}: install, scan, upload, verdict"
        );
        assert_eq!(uploaded, written, "{name}: every SARIF written is uploaded");

        for file in &uploaded {
            check_sarif(&dir, name, file);
        }
    }
}

#[test]
fn the_gitlab_jobs_write_the_secret_detection_reports_they_declare() {
    let ci = yaml("gitlab-ci.yml");
    let variables = strings(&ci["variables"]);
    assert_eq!(variables.get("CAPSTAN_GIT"), Some(&repository()));
    let jobs: Vec<(&String, &Value)> = ci
        .as_object()
        .expect("a mapping")
        .iter()
        .filter(|(_, v)| v.get("script").is_some())
        .collect();
    let names: Vec<&str> = jobs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"capstan-secrets") && names.contains(&"capstan-history"));

    for (name, job) in jobs {
        // Each job in a clone of its own, as on GitLab.
        let dir = fixture(&format!("recipes-gitlab-{name}"));
        for line in job["before_script"].as_array().into_iter().flatten() {
            let line = line.as_str().expect("a command");
            assert!(
                installs(line),
                "{name}: before_script only installs: {line}"
            );
        }
        let script: Vec<&str> = job["script"]
            .as_array()
            .expect("script")
            .iter()
            .map(|l| l.as_str().expect("a command"))
            .collect();
        let script = script.join("\n");
        assert!(runs_capstan(&script), "{name}: {script}");
        let report = job["artifacts"]["reports"]["secret_detection"]
            .as_str()
            .expect("artifacts.reports.secret_detection");
        assert_eq!(
            outputs(&script),
            [report],
            "{name}: the report declared is the one written"
        );
        assert_eq!(
            job["artifacts"]["when"], "always",
            "{name}: uploaded on findings too"
        );
        if name == "capstan-history" {
            assert_eq!(job["variables"]["GIT_DEPTH"], "0", "a full clone");
        }

        let mut env = variables.clone();
        env.extend(strings(&job["variables"]));
        let out = bash(&dir, &script, &env);
        let code = out.status.code().expect("an exit status");
        assert_eq!(code, 1, "{name}: findings: {}", text(&out.stderr));
        let allowed = job["allow_failure"]["exit_codes"]
            .as_array()
            .expect("allow_failure.exit_codes");
        assert!(
            allowed.contains(&Value::from(code)),
            "{name}: findings are a warning"
        );

        let path = dir.path(&format!("repo/{report}"));
        let bytes = std::fs::read(&path).expect("report written");
        assert_no_secret(report, &bytes);
        let doc: Value = serde_json::from_slice(&bytes).expect("JSON");
        assert!(
            doc["version"]
                .as_str()
                .is_some_and(|v| v.starts_with("15."))
        );
        assert_eq!(doc["scan"]["type"], "secret_detection");
        assert_eq!(doc["scan"]["status"], "success");
        let start = doc["scan"]["start_time"].as_str().expect("start_time");
        assert_eq!(start.len(), 19, "yyyy-mm-ddThh:mm:ss: {start}");

        // One vulnerability per secret finding of the same scan: crypto left out.
        let subcommand = if script.contains("capstan git ") {
            "git"
        } else {
            "scan"
        };
        let json = capstan_json(&dir, &[subcommand, "."]);
        let mut secrets = finding_paths(&json, Some("secret"));
        assert!(
            finding_paths(&json, None).len() > secrets.len(),
            "the fixture has a crypto finding to leave out"
        );
        let mut files: Vec<String> = doc["vulnerabilities"]
            .as_array()
            .expect("vulnerabilities")
            .iter()
            .map(|v| {
                assert_eq!(v["category"], "secret_detection");
                v["location"]["file"].as_str().expect("file").to_owned()
            })
            .collect();
        secrets.sort();
        files.sort();
        assert_eq!(files, secrets, "{name}");
        let expected: &[&str] = if subcommand == "git" {
            &["config/app.env", "old/deploy.sh"]
        } else {
            &["config/app.env"]
        };
        assert_eq!(files, expected, "{name}");
    }
}

/// `sh ci.sh ARGS` in the fixture's repository with `env`.
fn ci_sh(dir: &Scratch, args: &[&str], env: &[(&str, &str)]) -> Output {
    let script = recipe("ci.sh");
    let mut all = vec![script.to_str().expect("UTF-8 path")];
    all.extend_from_slice(args);
    let env = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    run_in_repo(dir, "sh", &all, &env)
}

#[test]
fn ci_sh_writes_both_reports_and_exits_by_policy() {
    let dir = fixture("recipes-ci-sh");
    let whole = capstan_json(&dir, &["scan", "."]);
    let out_dir = dir.path("repo/capstan-out");

    let out = ci_sh(&dir, &[], &[]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "findings: {}",
        text(&out.stderr)
    );
    let json = read_json(&out_dir.join("capstan.json"));
    assert_eq!(json["findings"], whole["findings"]);
    let sarif = read_json(&out_dir.join("capstan.sarif"));
    assert_eq!(
        sarif["runs"][0]["results"].as_array().map(Vec::len),
        whole["findings"].as_array().map(Vec::len)
    );
    assert_no_secret(
        "capstan.sarif",
        &std::fs::read(out_dir.join("capstan.sarif")).expect("sarif"),
    );

    // The reports of the last run are not scanned by the next.
    let out = ci_sh(&dir, &[], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        read_json(&out_dir.join("capstan.json"))["findings"],
        whole["findings"]
    );

    for (policy, code) in [
        ("errors", 0),
        ("never", 0),
        ("findings", 1),
        ("sometimes", 2),
    ] {
        let out = ci_sh(&dir, &[], &[("CAPSTAN_FAIL_ON", policy)]);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{policy}: {}",
            text(&out.stderr)
        );
    }

    // An error (a baseline that is not a report) fails under `errors` too, not under `never`.
    dir.write("repo/bad-baseline.json", "not json\n");
    for (policy, code) in [("findings", 2), ("errors", 2), ("never", 0)] {
        let env = [
            ("CAPSTAN_FAIL_ON", policy),
            ("CAPSTAN_BASELINE", "bad-baseline.json"),
        ];
        let out = ci_sh(&dir, &[], &env);
        assert_eq!(
            out.status.code(),
            Some(code),
            "{policy}: {}",
            text(&out.stderr)
        );
    }
    std::fs::remove_file(dir.path("repo/bad-baseline.json")).expect("rm");

    // A baseline at the default place accepts what it lists.
    std::fs::copy(
        out_dir.join("capstan.json"),
        dir.path("repo/.capstan-baseline.json"),
    )
    .expect("baseline");
    let out = ci_sh(&dir, &[], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("suppressed"),
        "{}",
        text(&out.stderr)
    );
    std::fs::remove_file(dir.path("repo/.capstan-baseline.json")).expect("rm");
}

#[test]
fn ci_sh_splits_a_scan_across_jobs_and_merges_their_parts() {
    let dir = fixture("recipes-ci-sh-split");
    let whole = capstan_json(&dir, &["scan", "."]);
    let out_dir = dir.path("repo/capstan-out");

    // Split in two: each part passes on findings, the merge judges the whole.
    for k in ["1", "2"] {
        let out = ci_sh(&dir, &[], &[("CI_NODE_INDEX", k), ("CI_NODE_TOTAL", "2")]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "part {k}: {}",
            text(&out.stderr)
        );
        assert!(out_dir.join(format!("capstan-{k}-of-2.json")).is_file());
    }
    assert!(
        !out_dir.join("capstan.json").exists(),
        "a part writes its part only"
    );
    let out = ci_sh(&dir, &["merge"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(
        read_json(&out_dir.join("capstan.json"))["findings"],
        whole["findings"]
    );
    assert!(out_dir.join("capstan.sarif").is_file());

    // A part missing: the merge says so and fails.
    std::fs::remove_file(out_dir.join("capstan-2-of-2.json")).expect("rm");
    let out = ci_sh(&dir, &["merge"], &[("CAPSTAN_FAIL_ON", "never")]);
    assert_eq!(out.status.code(), Some(0), "never means never");
    let out = ci_sh(&dir, &["merge"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&out_dir).expect("rm");
    let out = ci_sh(&dir, &["merge"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no parts"),
        "{}",
        text(&out.stderr)
    );
}
