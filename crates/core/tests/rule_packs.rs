//! The built-in packs, as data: every rule's `examples` must fire that rule and its
//! `counterexamples` must not, scanned with all packs compiled together (as users run them).

use capstan::scan::{Category, PACKS, RuleSet, Rules};

/// The packs as written, examples included (the form built into the library leaves them out).
const SOURCES: [(&str, &str); 4] = [
    ("secrets", include_str!("../rules/secrets.toml")),
    ("crypto", include_str!("../rules/crypto.toml")),
    ("threats", include_str!("../rules/threats.toml")),
    ("dockerfile", include_str!("../rules/dockerfile.toml")),
];

/// One pack as written, or all of them (`None`), in [`PACKS`] order.
fn written(only: Option<&str>) -> RuleSet {
    let mut set = RuleSet::default();
    for (name, text) in SOURCES {
        if only.is_none_or(|o| o == name) {
            set.append(RuleSet::from_toml(text).unwrap_or_else(|e| panic!("{name}: {e}")));
        }
    }
    set
}

#[test]
fn the_written_packs_are_the_built_in_ones() {
    assert_eq!(SOURCES.map(|(n, _)| n), PACKS);
    let ids = |set: &RuleSet| set.ids().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(
        ids(&written(None)),
        ids(&RuleSet::builtin_all().expect("packs load"))
    );
}

fn fired(rules: &Rules, id: &str, path: &str, text: &str) -> bool {
    rules
        .scan_bytes(path, text.as_bytes())
        .iter()
        .any(|f| f.rule_id == id)
}

#[test]
fn every_example_fires_and_no_counterexample_does() {
    let set = written(None);
    let rules = Rules::compile(&set).expect("packs compile");
    let mut failures = Vec::new();
    for rule in &set.rules {
        let path = rule.example_path.as_deref().unwrap_or("example.txt");
        for ex in &rule.examples {
            if !fired(&rules, &rule.id, path, ex) {
                failures.push(format!("{}: example did not fire: {ex:?}", rule.id));
            }
        }
        for ex in &rule.counterexamples {
            if fired(&rules, &rule.id, path, ex) {
                failures.push(format!("{}: counterexample fired: {ex:?}", rule.id));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn packs_are_complete_and_well_formed() {
    let mut seen = std::collections::HashSet::new();
    for pack in PACKS {
        let set = written(Some(pack));
        assert!(!set.rules.is_empty(), "{pack} is empty");
        for r in &set.rules {
            assert!(seen.insert(r.id.clone()), "duplicate rule id {}", r.id);
            assert!(
                !r.keywords.is_empty(),
                "{}: built-in rules need keywords",
                r.id
            );
            assert!(
                !r.examples.is_empty() && !r.counterexamples.is_empty(),
                "{}: examples",
                r.id
            );
            assert!(!r.description.is_empty(), "{}: description", r.id);
            if r.category == Category::Crypto {
                let c = r
                    .crypto
                    .as_ref()
                    .unwrap_or_else(|| panic!("{}: crypto fields", r.id));
                assert!(
                    ["vulnerable", "weak"].contains(&c.quantum_class.as_str()),
                    "{}",
                    r.id
                );
                assert!(
                    !c.algorithm.is_empty() && !c.replacement.is_empty(),
                    "{}",
                    r.id
                );
            }
        }
    }
    let secrets = RuleSet::builtin(&["secrets"]).expect("loads").rules.len();
    assert!(secrets >= 600, "the secrets pack has {secrets} rules");
}

#[test]
fn use_default_extends_the_builtin_packs() {
    let set = RuleSet::from_toml(
        "[extend]\nuseDefault = true\ndisabledRules = [\"generic-api-key\"]\n\
         [[rules]]\nid = \"corp-token\"\nregex = '''corp_[a-z0-9]{20}'''\nkeywords = [\"corp_\"]\n",
    )
    .expect("loads");
    let all = RuleSet::builtin_all().expect("loads").rules.len();
    assert_eq!(set.rules.len(), all, "one disabled, one added");
    assert!(set.ids().any(|id| id == "corp-token"));
    assert!(!set.ids().any(|id| id == "generic-api-key"));
}

#[test]
fn compile_of_all_packs_is_shared_across_threads() {
    let rules = Rules::compile(&RuleSet::builtin_all().expect("loads")).expect("compiles");
    let text = "aws_secret_access_key = \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYzq8Vx3Lk2N\"\n";
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|_| s.spawn(|| rules.scan_bytes("a.env", text.as_bytes()).len()))
            .collect();
        let counts: Vec<usize> = handles.into_iter().map(|h| h.join().unwrap_or(0)).collect();
        assert_eq!(counts[0], counts[1]);
    });
}
