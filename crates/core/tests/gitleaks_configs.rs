//! gitleaks' own config suites, from `testdata/peers/gitleaks/` (MIT; see
//! `testdata/peers/README.md`): its default config and every valid config must load and compile;
//! every invalid one must be refused, naming the problem.

use std::path::{Path, PathBuf};

use capstan::scan::{ConfigError, ConfigErrorKind, RuleSet, Rules};

fn peers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/peers/gitleaks")
}

/// Files gitleaks only loads through another file's `[extend]` (see the suite's README).
const BASES: [&str; 6] = [
    "extend_base_1.toml",
    "extend_base_2.toml",
    "extend_base_3.toml",
    "extend_disabled_base.toml",
    "extend_rule_allowlist_base.toml",
    "extend_rule_keywords_base.toml",
];

/// gitleaks' suite names `[extend] path`s relative to its `config/` directory, the working
/// directory its own tests run in. Every test in this file uses absolute paths otherwise, so
/// setting it (always to the same directory) cannot disturb a concurrent test.
fn in_config_dir() {
    std::env::set_current_dir(peers().join("config")).expect("the gitleaks suite is present");
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_default_gitleaks_config_loads_and_compiles_all_222_rules() {
    let set = RuleSet::load(peers().join("gitleaks.toml")).expect("gitleaks.toml loads");
    assert_eq!(set.rules.len(), 222);
    let rules = Rules::compile(&set).expect("gitleaks.toml compiles");
    assert_eq!(rules.len(), 222);
}

#[test]
fn the_default_gitleaks_rules_fire_where_gitleaks_does() {
    let rules = Rules::compile(&RuleSet::load(peers().join("gitleaks.toml")).expect("loads"))
        .expect("compiles");
    let cases: [(&str, &str); 4] = [
        ("aws-access-token", "aws_key = AKIAZ4LNQW7TXVB3KP2M\n"),
        (
            "github-pat",
            "token: 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\n",
        ),
        (
            "slack-bot-token",
            "SLACK=xoxb-2718281828-3141592653589-ZuVq8rT3mKp4LxW9nYb2HsDf\n",
        ),
        (
            "private-key",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx8Tq3kPz9vWm2LrN5bY7cQdF1hJ4sGaE6gUo0KiXyZ2aBcDeFgHiJkLmNoPqRsTuVwXq83Jd9fKw2mZ\n-----END RSA PRIVATE KEY-----\n",
        ),
    ];
    for (id, text) in cases {
        let found = rules.scan_bytes("config.txt", text.as_bytes());
        assert!(
            found.iter().any(|f| f.rule_id == id),
            "{id} did not fire on {text:?}; got {:?}",
            found.iter().map(|f| &f.rule_id).collect::<Vec<_>>()
        );
    }
}

#[test]
fn every_valid_config_loads_and_compiles() {
    in_config_dir();
    let dir = peers().join("config");
    let mut files = vec![dir.join("generic.toml")];
    files.extend(
        toml_files(&dir.join("valid"))
            .into_iter()
            .filter(|p| !BASES.iter().any(|b| p.ends_with(b))),
    );
    assert!(files.len() > 20, "the suite is missing: {}", dir.display());
    for file in files {
        let set = RuleSet::load(&file).unwrap_or_else(|e| panic!("{e}"));
        Rules::compile(&set).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}

#[test]
fn extend_follows_two_levels_and_overrides_field_by_field() {
    in_config_dir();
    let dir = peers().join("config/valid");
    let set = RuleSet::load(dir.join("extend.toml")).expect("loads");
    let ids: Vec<&str> = set.ids().collect();
    assert!(ids.contains(&"aws-secret-key"), "{ids:?}");
    assert!(ids.contains(&"aws-secret-key-again"), "{ids:?}");
    assert!(
        !ids.contains(&"aws-secret-key-again-again"),
        "a third level was followed: {ids:?}"
    );

    let set = RuleSet::load(dir.join("extend_disabled.toml")).expect("loads");
    assert!(
        !set.ids().any(|id| id == "custom-rule1"),
        "a disabled rule survived"
    );

    let set = RuleSet::load(dir.join("extend_rule_override_entropy.toml")).expect("loads");
    let base =
        RuleSet::load(dir.join("extend_rule_override_entropy.toml")).expect("loads twice the same");
    assert_eq!(set, base);
}

#[test]
fn every_invalid_config_is_refused_with_the_reason() {
    use ConfigErrorKind as K;
    let expected: [(&str, &str, ConfigErrorKind); 12] = [
        (
            "allowlist_global_empty.toml",
            "at least one check",
            K::EmptyAllowlist,
        ),
        (
            "allowlist_global_old_and_new.toml",
            "cannot be used alongside",
            K::OldAndNewAllowlist,
        ),
        (
            "allowlist_global_regextarget.toml",
            "regexTarget",
            K::UnknownRegexTarget,
        ),
        (
            "allowlist_global_target_rule_id.toml",
            "target rule ID",
            K::UnknownTargetRule,
        ),
        (
            "allowlist_rule_empty.toml",
            "at least one check",
            K::EmptyAllowlist,
        ),
        (
            "allowlist_rule_old_and_new.toml",
            "cannot be used alongside",
            K::OldAndNewAllowlist,
        ),
        (
            "allowlist_rule_regextarget.toml",
            "regexTarget",
            K::UnknownRegexTarget,
        ),
        (
            "extend_invalid_base.toml",
            "failed to load extended config",
            K::Extend,
        ),
        (
            "extend_invalid_ruleid.toml",
            "|id| is missing",
            K::MissingId,
        ),
        (
            "rule_bad_entropy_group.toml",
            "invalid regex secret group",
            K::SecretGroup,
        ),
        ("rule_missing_id.toml", "|id| is missing", K::MissingId),
        (
            "rule_no_regex_or_path.toml",
            "both |regex| and |path| are empty",
            K::NoRegexOrPath,
        ),
    ];
    let dir = peers().join("config/invalid");
    assert_eq!(toml_files(&dir).len(), expected.len(), "the suite changed");
    for (file, reason, kind) in expected {
        let path = dir.join(file);
        let err = RuleSet::load(&path).expect_err(file);
        assert_eq!(err.kind(), kind, "{file}: {err}");
        assert_eq!(err.path(), Some(path.as_path()), "{file}");
        let err = err.to_string();
        assert!(err.contains(reason), "{file}: {err}");
        assert!(
            err.contains(file),
            "{file}: the error does not name the file: {err}"
        );
    }
}

#[test]
fn a_bad_rule_regex_names_the_rule() {
    let err = RuleSet::from_toml("[[rules]]\nid = \"broken\"\nregex = '''a(b'''\n")
        .expect_err("unclosed group");
    assert_eq!(err.rule_id(), Some("broken"));
    assert!(
        err.to_string().contains("rule broken: invalid regex"),
        "{err}"
    );
    // From a file: the line that declares the rule too.
    let dir = std::env::temp_dir().join(format!("capstan-bad-rule-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("rules.toml");
    std::fs::write(
        &file,
        "# mine\n[[rules]]\nid = \"fine\"\nregex = 'x'\n\n[[rules]]\n  id = 'broken'\nregex = 'a(b'\n",
    )
    .expect("write");
    let err = RuleSet::load(&file).expect_err("unclosed group");
    assert_eq!(err.line(), Some(7));
    assert!(
        err.to_string().starts_with(&format!(
            "{}: line 7: rule broken: invalid regex",
            file.display()
        )),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_unreadable_config_or_base_keeps_the_io_error() {
    let missing = peers().join("config/no-such-config.toml");
    let err = RuleSet::load(&missing).expect_err("no such file");
    assert_eq!(err.kind(), ConfigErrorKind::Io);
    assert!(err.is_io());
    assert_eq!(err.path(), Some(missing.as_path()));
    assert!(err.to_string().contains("cannot read config: "), "{err}");
    let cause = std::error::Error::source(&err).and_then(|s| s.downcast_ref::<std::io::Error>());
    assert_eq!(
        cause.map(std::io::Error::kind),
        Some(std::io::ErrorKind::NotFound)
    );

    // A base that is not a valid config: its own error is the cause.
    let dir = std::env::temp_dir().join(format!("capstan-extend-invalid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let base = dir.join("base.toml");
    std::fs::write(&base, "[[rules]\n").expect("writes");
    let toml = format!("[extend]\npath = {:?}\n", base.display().to_string());
    let err = RuleSet::from_toml(&toml).expect_err("invalid base");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(err.kind(), ConfigErrorKind::Extend, "{err}");
    assert!(!err.is_io());
    let cause = std::error::Error::source(&err).and_then(|s| s.downcast_ref::<ConfigError>());
    assert_eq!(
        cause.map(ConfigError::kind),
        Some(ConfigErrorKind::Toml),
        "{err:?}"
    );
    assert_eq!(
        Some(err.to_string()),
        cause.map(|c| format!("failed to load extended config: {}: {c}", base.display()))
    );
}
