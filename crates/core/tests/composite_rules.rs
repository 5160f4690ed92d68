//! Composite rules (gitleaks' `[[rules.required]]`), enforced as gitleaks 8.30 does: the suite
//! `testdata/scan/composite.toml` at several chunk sizes, gitleaks' own composite test case, and
//! the config checks.
//!
//! `fragment_level_composite_as_gitleaks_tests_it` is ported from gitleaks' `detect_test.go`
//! (test "fragment level composite", with its config `testdata/config/composite.toml`, copied
//! to `testdata/peers/gitleaks/config/`): gitleaks is MIT-licensed, see
//! `testdata/peers/gitleaks/LICENSE` and `testdata/peers/README.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use capstan::scan::{ConfigErrorKind, Finding, RuleSet, Rules, Scanner};
use serde::Deserialize;

mod common;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

#[derive(Debug, Deserialize)]
struct Suite {
    config: BTreeMap<String, Config>,
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Config {
    toml: Option<String>,
    file: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    config: String,
    #[serde(default = "default_path")]
    path: String,
    input: String,
    expect: Vec<String>,
}

fn default_path() -> String {
    "app.txt".to_owned()
}

fn suite() -> Suite {
    let path = testdata().join("scan/composite.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn compile(config: &Config) -> Rules {
    let set = match (&config.toml, &config.file) {
        (Some(text), None) => RuleSet::from_toml(text).unwrap_or_else(|e| panic!("{e}")),
        (None, Some(file)) => {
            RuleSet::load(testdata().join(file)).unwrap_or_else(|e| panic!("{e}"))
        }
        _ => panic!("a config has `toml` or `file`: {config:?}"),
    };
    Rules::compile(&set).unwrap_or_else(|e| panic!("{e}"))
}

/// Scans `input` fed in chunks of `chunk` bytes (0: all at once).
fn scan(rules: &Rules, path: &str, input: &[u8], chunk: usize) -> Vec<Finding> {
    let mut s = Scanner::new(rules).path(path).redact(false);
    if chunk == 0 {
        s.feed(input);
    } else {
        for piece in input.chunks(chunk) {
            s.feed(piece);
        }
    }
    s.finish()
}

fn brief(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .map(|f| format!("{} {}:{}", f.rule_id, f.line, f.column))
        .collect()
}

/// Every case of the suite, whole and in chunks of 1, 2, 5 and 64 bytes.
#[test]
fn the_composite_suite_at_every_chunk_size() {
    let suite = suite();
    assert!(suite.case.len() >= 30, "the suite is missing cases");
    let compiled: BTreeMap<&str, Rules> = suite
        .config
        .iter()
        .map(|(name, c)| (name.as_str(), compile(c)))
        .collect();
    let mut failures = Vec::new();
    for case in &suite.case {
        let rules = compiled
            .get(case.config.as_str())
            .unwrap_or_else(|| panic!("{}: no config {:?}", case.name, case.config));
        for chunk in [0, 1, 2, 5, 64] {
            let got = brief(&scan(rules, &case.path, case.input.as_bytes(), chunk));
            if got != case.expect {
                failures.push(format!(
                    "{} (chunks of {chunk}): expected {:?}, got {got:?}",
                    case.name, case.expect
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// gitleaks' `detect_test.go`, "fragment level composite": the same config and fragment.
///
/// gitleaks numbers the fragment's lines from 0 and this one starts with a newline, so its
/// primary finding at line 5, column 5 (its columns count from the newline before the line)
/// to column 26 is capstan's line 6, columns 4 to 25; its required finding
/// `username-rule:1:admin` is line 2 here. gitleaks keeps required findings out of its JSON
/// report (they only show in its verbose output), and so does capstan.
#[test]
fn fragment_level_composite_as_gitleaks_tests_it() {
    let rules = compile(&Config {
        toml: None,
        file: Some("peers/gitleaks/config/composite.toml".to_owned()),
    });
    let multili = "\nusername = \"admin\"\n\n\n\n\t\t\tpassword = \"secret123\"\n";
    for chunk in [0, 1, 3] {
        let found = scan(&rules, "-", multili.as_bytes(), chunk);
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(f.rule_id, "primary-rule");
        assert_eq!(f.description, "Primary rule");
        assert_eq!((f.line, f.column, f.end_line, f.end_column), (6, 4, 6, 25));
        assert_eq!(f.secret, "secret123");
        assert!(
            (f.entropy - 2.947_702_884_674_072_3).abs() < 0.001,
            "{}",
            f.entropy
        );
        assert!(f.tags.is_empty());
    }
    // Without the required rule's match, nothing (and the skipReport rule never reports).
    let alone = "\n\n\n\n\n\t\t\tpassword = \"secret123\"\n";
    assert!(scan(&rules, "-", alone.as_bytes(), 0).is_empty());
    assert!(scan(&rules, "-", b"username = \"admin\"\n", 0).is_empty());
}

/// A composite finding is exactly the finding its rule makes without requirements: gitleaks
/// keeps the required findings out of its JSON report, and capstan's report is unchanged.
#[test]
fn a_composite_finding_is_the_plain_finding() {
    let path = testdata().join("peers/gitleaks/config/composite.toml");
    let text = std::fs::read_to_string(&path).expect("reads");
    let plain = text.replace("[[rules.required]]\nid = \"username-rule\"\n", "");
    assert_ne!(plain, text, "the requirement was not removed");
    let input = b"username = \"admin\"\npassword = \"secret123\"\n";
    let composite = scan(
        &compile(&Config {
            toml: Some(text),
            file: None,
        }),
        "a",
        input,
        0,
    );
    let alone = scan(
        &compile(&Config {
            toml: Some(plain),
            file: None,
        }),
        "a",
        input,
        0,
    );
    assert_eq!(composite.len(), 1);
    assert_eq!(
        serde_json::to_string(&composite).expect("json"),
        serde_json::to_string(&alone).expect("json")
    );
}

/// Memory: a huge file of partner matches holds one position per line, not the input.
#[test]
fn partner_matches_are_kept_as_positions_not_input() {
    let rules = Rules::compile(
        &RuleSet::from_toml(
            r#"
[[rules]]
id = "pass"
regex = 'pass=(\w+)'
keywords = ["pass="]
[[rules.required]]
id = "user"
withinLines = 1

[[rules]]
id = "user"
regex = 'user=(\w+)'
keywords = ["user="]
skipReport = true
"#,
        )
        .expect("loads"),
    )
    .expect("compiles");
    let mut s = Scanner::new(&rules).path("big.txt");
    let line = b"user=admin user=root user=guest lorem ipsum dolor sit amet\n";
    let mut max = 0;
    // 2.4 MB, over two of the scanner's 1 MiB input steps.
    for _ in 0..40_000 {
        s.feed(line);
        max = max.max(s.buffered());
    }
    s.feed(b"pass=hunter2\n");
    assert!(max < 2 << 20, "buffered {max} bytes");
    let found = s.finish();
    assert_eq!(brief(&found), ["pass 40001:1"]);
}

fn load_err(toml: &str) -> capstan::scan::ConfigError {
    RuleSet::from_toml(toml).expect_err("refused")
}

#[test]
fn a_required_entry_without_an_id_is_refused_naming_the_rule() {
    let err =
        load_err("[[rules]]\nid = \"primary\"\nregex = 'x'\n[[rules.required]]\nwithinLines = 2\n");
    assert_eq!(err.kind(), ConfigErrorKind::MissingRequiredId);
    assert_eq!(err.rule_id(), Some("primary"));
    assert_eq!(
        err.to_string(),
        "rule primary: [[rules.required]] rule ID is empty"
    );
}

#[test]
fn a_required_id_that_names_no_rule_is_refused_with_the_file_line() {
    let dir = common::Scratch::new("unknown-required");
    // An earlier rule's `[[rules.required]] id = "primary"` is not where `primary` is declared.
    let file = dir.write(
        "rules.toml",
        "[[rules]]\nid = \"other\"\nregex = 'y'\n[[rules.required]]\nid = \"primary\"\n\n\
         [[rules]]\nid = \"primary\"\nregex = 'x'\n[[rules.required]]\nid = \"nope\"\n",
    );
    let err = RuleSet::load(&file).expect_err("refused");
    assert_eq!(err.kind(), ConfigErrorKind::UnknownRequiredRule);
    assert_eq!(err.rule_id(), Some("primary"));
    assert_eq!(err.line(), Some(8));
    assert_eq!(
        err.to_string(),
        format!(
            "{}: line 8: rule primary: [[rules.required]] rule ID 'nope' does not exist",
            file.display()
        )
    );
}

/// gitleaks checks required ids against the rules of the file that names them, before
/// `[extend]`: a rule defined only in the base does not count.
#[test]
fn a_required_id_defined_only_in_the_base_is_refused() {
    let dir = common::Scratch::new("required-in-base");
    let base = dir.write(
        "base.toml",
        "[[rules]]\nid = \"user\"\nregex = 'user=(\\w+)'\nskipReport = true\n",
    );
    let toml = format!(
        "[extend]\npath = {:?}\n\n[[rules]]\nid = \"pass\"\nregex = 'pass=(\\w+)'\n\
         [[rules.required]]\nid = \"user\"\n",
        base.display().to_string()
    );
    let err = RuleSet::from_toml(&toml).expect_err("refused");
    assert_eq!(err.kind(), ConfigErrorKind::UnknownRequiredRule, "{err}");
    assert!(err.to_string().contains("'user' does not exist"), "{err}");
}

/// `[extend]`: a base's composite rule keeps its requirements when a file overrides it (and the
/// override's own `required` is dropped, as gitleaks' merge does); a base rule that the
/// composite requires can be disabled, and then the composite never reports.
#[test]
fn extend_keeps_the_bases_requirements() {
    let dir = common::Scratch::new("extend-required");
    let base = dir.write(
        "base.toml",
        "[[rules]]\nid = \"pass\"\nregex = 'pass=(\\w+)'\nkeywords = [\"pass=\"]\n\
         [[rules.required]]\nid = \"user\"\nwithinLines = 1\n\n\
         [[rules]]\nid = \"user\"\nregex = 'user=(\\w+)'\nskipReport = true\n\n\
         [[rules]]\nid = \"host\"\nregex = 'host=(\\w+)'\nskipReport = true\n",
    );
    let path = format!("{:?}", base.display().to_string());

    let set = RuleSet::load(&base).expect("the base loads");
    let pass = set.rules.iter().find(|r| r.id == "pass").expect("pass");
    assert_eq!(pass.required.len(), 1);
    assert_eq!(pass.required[0].id, "user");
    assert_eq!(pass.required[0].within_lines, Some(1));
    assert_eq!(pass.required[0].within_columns, None);

    // An override with its own requirement: the base's stays, the override's is ignored.
    let over = format!(
        "[extend]\npath = {path}\n\n[[rules]]\nid = \"pass\"\ndescription = \"mine\"\n\
         [[rules.required]]\nid = \"pass\"\n"
    );
    let set = RuleSet::from_toml(&over).expect("loads");
    let pass = set.rules.iter().find(|r| r.id == "pass").expect("pass");
    assert_eq!(pass.description, "mine");
    assert_eq!(
        pass.required
            .iter()
            .map(|r| r.id.as_str())
            .collect::<Vec<_>>(),
        ["user"]
    );
    let rules = Rules::compile(&set).expect("compiles");
    let text = b"pass=hunter2\nuser=admin\n";
    assert_eq!(brief(&rules.scan_bytes("a.txt", text)), ["pass 1:1"]);
    assert!(rules.scan_bytes("a.txt", b"pass=hunter2\n").is_empty());

    // The required rule disabled: the primary can never be satisfied.
    let disabled = format!("[extend]\npath = {path}\ndisabledRules = [\"user\"]\n");
    let rules = Rules::compile(&RuleSet::from_toml(&disabled).expect("loads")).expect("compiles");
    assert!(rules.scan_bytes("a.txt", text).is_empty());
}

/// gitleaks' composite config loads and keeps what it says.
#[test]
fn gitleaks_composite_config_loads() {
    let set = RuleSet::load(testdata().join("peers/gitleaks/config/composite.toml"))
        .expect("composite.toml loads");
    let primary = set
        .rules
        .iter()
        .find(|r| r.id == "primary-rule")
        .expect("primary-rule");
    assert_eq!(primary.required.len(), 1);
    assert_eq!(primary.required[0].id, "username-rule");
    assert_eq!(
        (
            primary.required[0].within_lines,
            primary.required[0].within_columns
        ),
        (None, None)
    );
    let user = set
        .rules
        .iter()
        .find(|r| r.id == "username-rule")
        .expect("username-rule");
    assert!(user.skip_report && user.required.is_empty());
}
