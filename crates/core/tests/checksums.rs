//! Rules with a `checksum`: a secret whose checksum fails is not reported by the rule, one whose
//! checksum holds is marked `verified: checksum` — in the finding, its JSON, SARIF, the scan
//! cache and merged shard reports. The tokens are made up (signed by the scheme, never issued).

use capstan::scan::report::{ReportMeta, write_sarif};
use capstan::scan::{
    CacheKey, CachedFile, Checksum, ConfigErrorKind, Finding, Request, RuleSet, Rules, ScanCache,
    Scanner, Shard, Verified, merge,
};

/// A made-up classic PAT whose CRC-32 suffix is right.
const VALID: &str = "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";
/// The same with one character of the random part changed: the checksum fails.
const MUTATED: &str = "ghp_8kTqZ2vXw9LmN4bR7cYd1FhJ3sPaE70wIU1g";

fn builtin() -> Rules {
    Rules::compile(&RuleSet::builtin(&["secrets"]).expect("pack loads")).expect("compiles")
}

fn line(token: &str) -> Vec<u8> {
    format!("GITHUB_TOKEN={token}\n").into_bytes()
}

#[test]
fn a_valid_checksum_is_reported_and_marked_a_failing_one_is_not_reported() {
    assert!(Checksum::GithubCrc32.verify(VALID.as_bytes()));
    assert!(!Checksum::GithubCrc32.verify(MUTATED.as_bytes()));
    let rules = builtin();

    let found = rules.scan_bytes(".env", &line(VALID));
    let gh: Vec<&Finding> = found
        .iter()
        .filter(|f| f.rule_id == "github-classic-pat")
        .collect();
    assert_eq!(gh.len(), 1, "{found:?}");
    assert_eq!(gh[0].verified, Some(Verified::Checksum));

    let found = rules.scan_bytes(".env", &line(MUTATED));
    assert!(
        found.iter().all(|f| f.rule_id != "github-classic-pat"),
        "a failing checksum is not reported by the rule: {found:?}"
    );
}

#[test]
fn rules_without_a_checksum_leave_findings_unmarked() {
    let found = builtin().scan_bytes(
        "a.env",
        b"aws_access_key_id = AKIAQ3EGUQ7TZMHXKW4D\nGITLAB_TOKEN=glpat-TZdgcaPXFqPcsijYLArT\n",
    );
    assert!(found.len() >= 2, "{found:?}");
    for f in &found {
        assert_eq!(f.verified, None, "{}", f.rule_id);
        let json = serde_json::to_string(f).expect("JSON");
        assert!(!json.contains("verified"), "{json}");
    }
}

#[test]
fn every_checksum_rule_of_the_pack_verifies_across_chunk_boundaries() {
    let rules = builtin();
    let cases = [
        (
            "github-oauth-token",
            "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",
        ),
        (
            "npm-access-token",
            "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",
        ),
        (
            "grafana-service-account-token",
            "glsa_YrCE5EyruxRieI0U5xe0JZbWD7RYxVzg_3da4e3f2",
        ),
        (
            "gitlab-pat-routable",
            "glpat-nzphwuhLB9Wh5vDDsp1OeG86MQM.01.0r0v3k6i4",
        ),
        (
            "gitlab-runner-auth-token-routable",
            "glrt-t2_PZHwpsLoe1ShDW6fPCe4Smc6N2YKbzoxCA.0y18g1tg3",
        ),
    ];
    for (id, token) in cases {
        let text = format!("# config\nTOKEN={token}\n");
        for chunk in [1, 7, 4096] {
            let mut s = Scanner::new(&rules).path("app.env");
            for piece in text.as_bytes().chunks(chunk) {
                s.feed(piece);
            }
            let found = s.finish();
            let hit = found.iter().find(|f| f.rule_id == id);
            assert_eq!(
                hit.and_then(|f| f.verified),
                Some(Verified::Checksum),
                "{id} in chunks of {chunk}: {found:?}"
            );
        }
        // The last character changed: the checksum fails, the rule stays quiet.
        let mut bad = token.to_owned();
        let last = bad.pop().expect("non-empty");
        bad.push(if last == '2' { '3' } else { '2' });
        let found = rules.scan_bytes("app.env", format!("TOKEN={bad}\n").as_bytes());
        assert!(found.iter().all(|f| f.rule_id != id), "{id}: {found:?}");
    }
}

#[test]
fn json_says_verified_checksum() {
    let found = builtin().scan_bytes(".env", &line(VALID));
    let json = serde_json::to_string(&found).expect("JSON");
    assert!(json.contains(r#""verified":"checksum""#), "{json}");
    let back: Vec<Finding> = serde_json::from_str(&json).expect("parses back");
    assert_eq!(back, found);
}

#[test]
fn sarif_results_carry_verified_in_their_properties() {
    let found = builtin().scan_bytes(".env", &line(VALID));
    let mut out = Vec::new();
    write_sarif(&mut out, &found, &ReportMeta::default()).expect("written");
    let doc: serde_json::Value = serde_json::from_slice(&out).expect("JSON");
    let results = doc["runs"][0]["results"].as_array().expect("results");
    let gh = results
        .iter()
        .find(|r| r["ruleId"] == "github-classic-pat")
        .expect("the GitHub result");
    assert_eq!(gh["properties"]["verified"], "checksum", "{gh}");
}

#[test]
fn the_cache_keeps_verified() {
    let found = builtin().scan_bytes(".env", &line(VALID));
    assert!(found.iter().any(|f| f.verified.is_some()));
    let dir = std::env::temp_dir().join(format!("capstan-checksum-cache-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("scan.redb");
    let key = CacheKey::file("/src/.env", ".env", [3u8; 32]);
    let entry = CachedFile {
        findings: found,
        files: 1,
        ..CachedFile::default()
    };
    let cache = ScanCache::open(&path, "checksum-test").expect("opens");
    cache.put(&key, &entry);
    cache.close().expect("closes");
    let cache = ScanCache::open(&path, "checksum-test").expect("reopens");
    assert_eq!(cache.get(&key), Some(entry));
    cache.close().expect("closes");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn merged_shard_reports_keep_verified() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("capstan-checksum-merge-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    for i in 0..6 {
        std::fs::write(dir.join(format!("{i}.env")), line(VALID))?;
    }
    let whole = Request::new([&dir]).packs(["secrets"]).prepare()?.run();
    let mut parts = Vec::new();
    for k in 1..=3 {
        let part = Request::new([&dir])
            .packs(["secrets"])
            .shard(Shard::new(k, 3)?)
            .prepare()?
            .run();
        // Through JSON, as `capstan merge` reads the shards' reports.
        parts.push(serde_json::from_str(&serde_json::to_string(&part)?)?);
    }
    let merged = merge(parts)?;
    assert_eq!(merged.findings, whole.findings);
    let verified = merged
        .findings
        .iter()
        .filter(|f| f.verified == Some(Verified::Checksum))
        .count();
    assert_eq!(verified, 6);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

const CUSTOM: &str = r#"
[[rules]]
id = "corp-gh"
regex = '''\b(ghp_[A-Za-z0-9]{36})\b'''
keywords = ["ghp_"]
checksum = "github-crc32"
"#;

#[test]
fn configs_name_a_scheme_and_an_unknown_one_is_an_error_naming_the_rule() {
    let set = RuleSet::from_toml(CUSTOM).expect("loads");
    assert_eq!(set.rules[0].checksum, Some(Checksum::GithubCrc32));
    let rules = Rules::compile(&set).expect("compiles");
    assert_eq!(rules.scan_bytes("a", &line(VALID)).len(), 1);
    assert_eq!(rules.scan_bytes("a", &line(MUTATED)).len(), 0);

    let err =
        RuleSet::from_toml(&CUSTOM.replace("github-crc32", "crc64")).expect_err("unknown scheme");
    assert_eq!(err.kind(), ConfigErrorKind::Checksum);
    assert_eq!(err.rule_id(), Some("corp-gh"));
    let msg = err.to_string();
    assert!(
        msg.contains("corp-gh") && msg.contains("crc64") && msg.contains("github-crc32"),
        "{msg}"
    );

    let err = RuleSet::from_toml(
        "[[rules]]\nid = \"path-only\"\npath = '''\\.pem$'''\nchecksum = \"github-crc32\"\n",
    )
    .expect_err("nothing to verify");
    assert_eq!(err.kind(), ConfigErrorKind::Checksum);
    assert_eq!(err.rule_id(), Some("path-only"));
}

#[test]
fn an_extending_config_can_add_a_checksum_to_a_base_rule() {
    let set = RuleSet::from_toml(
        "[extend]\nuseDefault = true\n\
         [[rules]]\nid = \"generic-api-key\"\nchecksum = \"github-crc32\"\n",
    )
    .expect("loads");
    let rule = set
        .rules
        .iter()
        .find(|r| r.id == "generic-api-key")
        .expect("the base rule");
    assert_eq!(rule.checksum, Some(Checksum::GithubCrc32));
    assert!(rule.regex.is_some(), "the base's regex is kept");
}

#[test]
fn the_checksum_is_part_of_the_rule_set_digest() {
    let with = Rules::compile(&RuleSet::from_toml(CUSTOM).expect("loads")).expect("compiles");
    let without = Rules::compile(
        &RuleSet::from_toml(&CUSTOM.replace("checksum = \"github-crc32\"\n", "")).expect("loads"),
    )
    .expect("compiles");
    assert_ne!(with.digest(), without.digest());
}
