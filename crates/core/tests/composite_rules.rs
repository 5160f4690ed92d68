//! Composite rules (gitleaks' `[[rules.required]]`): the config checks, as gitleaks 8.30 makes
//! them. gitleaks' composite config, `testdata/peers/gitleaks/config/composite.toml`, is MIT;
//! see `testdata/peers/gitleaks/LICENSE` and `testdata/peers/README.md`.

use std::path::{Path, PathBuf};

use capstan::scan::{ConfigErrorKind, RuleSet};

mod common;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
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
