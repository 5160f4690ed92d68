//! The built-in packs stay quiet on clean code: `testdata/precision/clean/` is documentation
//! and code shaped like real trees (API references with example credentials, SDK models whose
//! fields are named `*_token`, scripts that read secrets from the environment) with no secret
//! in it, and the packs may report at most `BUDGET` secret findings there. The made-up
//! credentials in real formats under `testdata/precision/planted/` must still be reported, one
//! finding per token.

use std::path::{Path, PathBuf};

use capstan::scan::{Category, Finding, RuleSet, Rules};

/// Secret findings the built-in packs may report on the clean corpus. Lower it when a change
/// makes the packs quieter; raising it needs a reason in the commit.
const BUDGET: usize = 0;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/precision")
}

/// Scans every file under `dir`, each under its path relative to the corpus root (the
/// corpus's own location, `testdata/`, must not decide what is reported).
fn scan_dir(rules: &Rules, dir: &str) -> Vec<Finding> {
    let root = corpus();
    let mut entries: Vec<_> = std::fs::read_dir(root.join(dir))
        .expect("corpus directory")
        .map(|e| e.expect("entry").path())
        .collect();
    entries.sort();
    assert!(!entries.is_empty(), "{dir} is empty");
    let mut found = Vec::new();
    for path in entries {
        let bytes = std::fs::read(&path).expect("readable");
        let name = path.file_name().expect("file name").to_string_lossy();
        found.extend(rules.scan_bytes(&format!("{dir}/{name}"), &bytes));
    }
    found
}

fn rules() -> Rules {
    Rules::compile(&RuleSet::builtin_all().expect("packs load")).expect("packs compile")
}

fn describe(found: &[&Finding]) -> String {
    found
        .iter()
        .map(|f| format!("{}:{} {}", f.path, f.line, f.rule_id))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
#[allow(clippy::absurd_extreme_comparisons)] // the budget is 0 today; the check stays as written
fn the_clean_corpus_stays_within_its_budget() {
    let found = scan_dir(&rules(), "clean");
    let secrets: Vec<&Finding> = found
        .iter()
        .filter(|f| f.category == Category::Secret)
        .collect();
    assert!(
        secrets.len() <= BUDGET,
        "{} secret findings on clean code (budget {BUDGET}):\n{}",
        secrets.len(),
        describe(&secrets)
    );
}

#[test]
fn planted_credentials_are_still_found_once_each() {
    let found = scan_dir(&rules(), "planted");
    let secrets: Vec<&Finding> = found
        .iter()
        .filter(|f| f.category == Category::Secret)
        .collect();
    let got: Vec<(&str, u64, &str)> = secrets
        .iter()
        .map(|f| (f.path.as_str(), f.line, f.rule_id.as_str()))
        .collect();
    let want = [
        ("planted/.env", 2, "generic-api-key"),
        // The GitHub rule and the generic rule match the same token: only the specific one.
        ("planted/.env", 3, "github-classic-pat"),
        ("planted/.env", 4, "generic-api-key"),
        ("planted/.npmrc", 1, "npmrc-auth"),
    ];
    assert_eq!(got, want, "\n{}", describe(&secrets));
}

#[test]
fn a_file_name_rule_fires_only_in_files_of_that_kind() {
    let rules = rules();
    let line = b"//artifactory.acme.io/api/npm/npm/:_password=RXJNTnNhS29RZWl2N1Zmb29S\n";
    for path in [".npmrc", "home/ci/.yarnrc", "web/.yarnrc.yml"] {
        let found = rules.scan_bytes(path, line);
        assert!(found.iter().any(|f| f.rule_id == "npmrc-auth"), "{path}");
    }
    for path in ["npmrc.py", "docs/npmrc.md", "src/registry.js"] {
        let found = rules.scan_bytes(path, line);
        assert!(!found.iter().any(|f| f.rule_id == "npmrc-auth"), "{path}");
    }
}

#[test]
fn a_generic_rule_yields_to_a_specific_one_on_the_same_secret_only() {
    let set = RuleSet::from_toml(
        r#"
        [[rules]]
        id = "my-generic-assignment"
        regex = '''(?i)key\s*=\s*"([a-z0-9_]{12,})"'''
        keywords = ["key"]

        [[rules]]
        id = "acme-token"
        regex = '''\b(acme_[a-z0-9]{12})\b'''
        keywords = ["acme_"]

        [[rules]]
        id = "acme-crypto"
        category = "crypto"
        regex = '''\b(acme_[a-z0-9]{12})\b'''
        keywords = ["acme_"]
    "#,
    )
    .expect("loads");
    let rules = Rules::compile(&set).expect("compiles");
    let ids = |text: &str| -> Vec<String> {
        let mut ids: Vec<String> = rules
            .scan_bytes("app.env", text.as_bytes())
            .into_iter()
            .map(|f| format!("{}@{}", f.rule_id, f.column))
            .collect();
        ids.sort();
        ids
    };
    // One token, two rules: the specific finding only (a crypto rule doesn't count).
    assert_eq!(
        ids("key = \"acme_0a1b2c3d4e5f\"\n"),
        ["acme-crypto@8", "acme-token@8"]
    );
    // Another secret on the same line, and the same token on the next line: both stay.
    assert_eq!(
        ids("key = \"zq81mx03kd72p4\" acme_0a1b2c3d4e5f\n"),
        ["acme-crypto@24", "acme-token@24", "my-generic-assignment@1"]
    );
    assert_eq!(
        ids("key = \"zq81mx03kd72p4\"\nacme_0a1b2c3d4e5f\n"),
        ["acme-crypto@1", "acme-token@1", "my-generic-assignment@1"]
    );
}

#[test]
fn skip_placeholders_is_a_rule_field_that_configs_opt_into() {
    let toml = |skip: bool| {
        format!(
            r#"
            [[rules]]
            id = "internal-secret"
            regex = '''internal_secret\s*=\s*"([^"]{{8,}})"'''
            keywords = ["internal_secret"]
            skipPlaceholders = {skip}
        "#
        )
    };
    let input = b"internal_secret = \"${INTERNAL_SECRET}\"\n\
        internal_secret = \"list[V1LocalObjectReference]\"\n\
        internal_secret = \"Zk93mQp2Lr8vXw4T\"\n";
    for (skip, want) in [(false, vec![1, 2, 3]), (true, vec![3])] {
        let set = RuleSet::from_toml(&toml(skip)).expect("loads");
        let rules = Rules::compile(&set).expect("compiles");
        let lines: Vec<u64> = rules
            .scan_bytes("app.cfg", input)
            .iter()
            .map(|f| f.line)
            .collect();
        assert_eq!(lines, want, "skipPlaceholders = {skip}");
    }
    // The field changes what a scan reports, so it changes the rule set's digest.
    let digest = |skip| {
        Rules::compile(&RuleSet::from_toml(&toml(skip)).expect("loads"))
            .expect("compiles")
            .digest()
    };
    assert_ne!(digest(false), digest(true));
}
