//! Every finding's confidence: the rule's own, `high` for a verified checksum, lowered (not
//! dropped) by an allowlist with a `confidence`; what a request reports above its minimum.

use capstan::scan::{Confidence, ConfigErrorKind, RuleSet, Rules};

const CONFIG: &str = r#"
[[rules]]
id = "acme-key"
description = "Acme key"
regex = '''acme_key=([a-z0-9]{16})'''
keywords = ["acme_key"]
confidence = "high"

[[rules.allowlists]]
description = "examples in documentation are worth a look, not an alarm"
paths = ['''^docs/''']
confidence = "low"

[[rules.allowlists]]
description = "a placeholder is dropped"
stopwords = ["aaaa"]

[[rules]]
id = "plain-rule"
description = "A rule that says nothing of its confidence"
regex = '''plain=([a-z0-9]{16})'''
keywords = ["plain="]
"#;

fn rules(toml: &str) -> Rules {
    Rules::compile(&RuleSet::from_toml(toml).expect("config loads")).expect("config compiles")
}

fn confidences(rules: &Rules, path: &str, text: &str) -> Vec<(String, Confidence)> {
    rules
        .scan_bytes(path, text.as_bytes())
        .into_iter()
        .map(|f| (f.rule_id, f.confidence))
        .collect()
}

#[test]
fn a_finding_has_its_rule_confidence_and_an_allowlist_with_one_lowers_it() {
    let rules = rules(CONFIG);
    let line = "acme_key=k3j9x0q8w7e6r5t4\nplain=k3j9x0q8w7e6r5t4\n";
    assert_eq!(
        confidences(&rules, "src/app.env", line),
        [
            ("acme-key".to_owned(), Confidence::High),
            ("plain-rule".to_owned(), Confidence::Medium)
        ]
    );
    assert_eq!(
        confidences(&rules, "docs/setup.md", line),
        [
            ("acme-key".to_owned(), Confidence::Low),
            ("plain-rule".to_owned(), Confidence::Medium)
        ],
        "the path allowlist lowers, it does not drop"
    );
    assert!(
        confidences(&rules, "docs/setup.md", "acme_key=aaaak3j9x0q8w7e6\n").is_empty(),
        "an allowlist without a confidence still drops"
    );
}

#[test]
fn a_verified_checksum_is_high_confidence() {
    let rules = Rules::compile(&RuleSet::builtin(&["secrets"]).expect("loads")).expect("compiles");
    let found = rules.scan_bytes(
        "a.env",
        b"GITHUB_TOKEN=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\n",
    );
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].confidence, Confidence::High);
}

#[test]
fn an_unknown_confidence_is_an_error_naming_the_rule() {
    for (toml, what) in [
        (
            CONFIG.replace(r#"confidence = "high""#, r#"confidence = "sure""#),
            "a rule's",
        ),
        (
            CONFIG.replace(r#"confidence = "low""#, r#"confidence = "maybe""#),
            "an allowlist's",
        ),
    ] {
        let err = RuleSet::from_toml(&toml).expect_err(what);
        assert_eq!(err.kind(), ConfigErrorKind::UnknownValue, "{what}: {err}");
        let msg = err.to_string();
        assert!(
            msg.contains("acme-key") && msg.contains("confidence"),
            "{what}: {msg}"
        );
    }
}

#[test]
fn an_extending_config_may_change_a_rule_confidence_and_keeps_it_otherwise() {
    let dir = std::env::temp_dir().join(format!("capstan-confidence-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let base = dir.join("base.toml");
    std::fs::write(&base, CONFIG).expect("base");
    let extend = |body: &str| {
        let path = dir.join("child.toml");
        std::fs::write(
            &path,
            format!("[extend]\npath = {:?}\n{body}", base.display().to_string()),
        )
        .expect("child");
        rules_from(&path)
    };
    let lowered = extend("[[rules]]\nid = \"acme-key\"\nconfidence = \"medium\"\n");
    let kept = extend("[[rules]]\nid = \"acme-key\"\ndescription = \"Acme key, renamed\"\n");
    let line = "acme_key=k3j9x0q8w7e6r5t4\n";
    assert_eq!(
        confidences(&lowered, "a.env", line),
        [("acme-key".to_owned(), Confidence::Medium)]
    );
    assert_eq!(
        confidences(&kept, "a.env", line),
        [("acme-key".to_owned(), Confidence::High)]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn rules_from(path: &std::path::Path) -> Rules {
    Rules::compile(&RuleSet::load(path).expect("config loads")).expect("compiles")
}
