//! The SARIF and `CycloneDX` CBOM reports, checked against the official schemas (copied into
//! `testdata/peers/`, validated offline with format checks on) and for what the schemas cannot
//! say: rule indexes, exclusive end columns, relative URIs, crypto-only components, determinism.
//!
//! The findings come from the real scanner and built-in packs, so a pack change that stops the
//! fixture from firing fails `fixture_fires_secret_and_crypto_rules` first.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use capstan::scan::report::{ReportMeta, VersionControl, write_cbom, write_sarif};
use capstan::scan::{Category, Finding, GitOrigin, ImageOrigin, LayerRef, RuleSet, Rules};
use jsonschema::{Registry, Validator};
use serde_json::{Value, json};

const APP: &str = r#"import hashlib, ssl
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

aws_access_key_id = AKIAQ3EGUQ7TZMHXKW4D
GITHUB_TOKEN = "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"

def digest(data):
    return hashlib.md5(data).hexdigest()

def other_digest(data):
    return hashlib.md5(data + b"salt").hexdigest()

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
cipher = Cipher(algorithms.AES(key), modes.ECB())
stream = Cipher(algorithms.ARC4(key), mode=None)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLSv1)
"#;

/// The second file's path: a leading `./`, a space, a `#` and a non-ASCII character.
const ODD_PATH: &str = "./src/my dir/façade #1.py";
const ODD_URI: &str = "src/my%20dir/fa%C3%A7ade%20%231.py";

fn findings() -> Vec<Finding> {
    let set = RuleSet::builtin(&["secrets", "crypto"]).expect("packs load");
    let rules = Rules::compile(&set).expect("packs compile");
    let mut all = rules.scan_bytes("src/app.py", APP.as_bytes());
    all.extend(rules.scan_bytes(ODD_PATH, APP.as_bytes()));
    all
}

fn meta(timestamp: Option<&str>) -> ReportMeta {
    ReportMeta {
        tool_version: "9.9.9-test".into(),
        timestamp: timestamp.map(str::to_owned),
        base_dir: None,
        version_control: None,
    }
}

fn sarif(findings: &[Finding], meta: &ReportMeta) -> (Vec<u8>, Value) {
    let mut out = Vec::new();
    write_sarif(&mut out, findings, meta).expect("sarif written");
    let doc = serde_json::from_slice(&out).expect("sarif is JSON");
    (out, doc)
}

fn cbom(findings: &[Finding], meta: &ReportMeta) -> (Vec<u8>, Value) {
    let mut out = Vec::new();
    write_cbom(&mut out, findings, meta).expect("cbom written");
    let doc = serde_json::from_slice(&out).expect("cbom is JSON");
    (out, doc)
}

fn schema(rel: &str) -> Value {
    let path = format!("{}/../../testdata/peers/{rel}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).expect("schema is JSON")
}

/// `format: uri-reference` as draft 7 defines it. The SARIF schema is draft 4, which has no such
/// format, so the SARIF validator borrows this check for it.
static URI_REFERENCE: LazyLock<Validator> = LazyLock::new(|| {
    let s =
        json!({"$schema": "http://json-schema.org/draft-07/schema#", "format": "uri-reference"});
    jsonschema::options()
        .should_validate_formats(true)
        .build(&s)
        .expect("uri-reference")
});

static SARIF: LazyLock<Validator> = LazyLock::new(|| {
    jsonschema::options()
        .offline()
        .should_validate_formats(true)
        .with_format("uri-reference", |s: &str| URI_REFERENCE.is_valid(&json!(s)))
        .build(&schema("sarif/sarif-schema-2.1.0.json"))
        .expect("SARIF schema compiles")
});

static CBOM: LazyLock<Validator> = LazyLock::new(|| {
    let registry = Registry::new()
        .add(
            "http://cyclonedx.org/schema/spdx.schema.json",
            schema("cyclonedx/spdx.schema.json"),
        )
        .expect("spdx")
        .add(
            "http://cyclonedx.org/schema/jsf-0.82.schema.json",
            schema("cyclonedx/jsf-0.82.schema.json"),
        )
        .expect("jsf")
        .prepare()
        .expect("registry");
    jsonschema::options()
        .offline()
        .should_validate_formats(true)
        .with_registry(&registry)
        .build(&schema("cyclonedx/bom-1.6.schema.json"))
        .expect("CycloneDX schema compiles")
});

fn errors(validator: &Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn assert_valid(validator: &Validator, doc: &Value) {
    let errs = errors(validator, doc);
    assert!(
        errs.is_empty(),
        "schema violations:\n{}\n{doc:#}",
        errs.join("\n")
    );
}

/// The validator is live: `doc`, broken at `path` only, is rejected there.
fn assert_rejected_at(validator: &Validator, doc: &Value, path: &str) {
    let at: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| e.instance_path().to_string())
        .collect();
    assert!(
        at.iter().any(|p| p == path),
        "{path} not rejected; errors at {at:?}"
    );
}

fn rule_ids(findings: &[Finding]) -> Vec<&str> {
    let mut ids: Vec<&str> = Vec::new();
    for f in findings {
        if !ids.contains(&f.rule_id.as_str()) {
            ids.push(&f.rule_id);
        }
    }
    ids
}

#[test]
fn fixture_fires_secret_and_crypto_rules() {
    let fs = findings();
    let count = |id: &str| fs.iter().filter(|f| f.rule_id == id).count();
    for (id, n) in [
        ("aws-access-key-id", 2),
        ("github-classic-pat", 2),
        ("crypto-python-md5", 4),
        ("crypto-python-rsa", 2),
        ("crypto-python-ecb", 2),
        ("crypto-python-rc4", 2),
        ("crypto-python-tls-version", 2),
    ] {
        assert_eq!(count(id), n, "{id} in {fs:#?}");
    }
    assert!(fs.iter().any(|f| f.crypto.is_none()), "secret findings too");
    assert!(fs.iter().any(|f| f.path == ODD_PATH));
}

#[test]
fn sarif_validates_against_the_schema() {
    let fs = findings();
    assert_valid(&SARIF, &sarif(&fs, &meta(None)).1);
    let (_, doc) = sarif(&fs, &meta(Some("2026-11-23T12:00:00Z")));
    assert_valid(&SARIF, &doc);
    let run = &doc["runs"][0];
    assert_eq!(run["invocations"][0]["endTimeUtc"], "2026-11-23T12:00:00Z");
    assert_eq!(run["tool"]["driver"]["version"], "9.9.9-test");
    assert_eq!(
        doc["$schema"],
        "https://json.schemastore.org/sarif-2.1.0.json"
    );
}

#[test]
fn sarif_lists_each_fired_rule_once_and_results_point_at_it() {
    let fs = findings();
    let (_, doc) = sarif(&fs, &meta(None));
    let rules = doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules");
    let ids: Vec<&str> = rules
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    assert_eq!(
        ids,
        rule_ids(&fs),
        "one rule per distinct id, in order of first appearance"
    );
    let results = doc["runs"][0]["results"].as_array().expect("results");
    assert_eq!(results.len(), fs.len());
    for (r, f) in results.iter().zip(&fs) {
        let index = usize::try_from(r["ruleIndex"].as_u64().expect("ruleIndex")).expect("usize");
        assert_eq!(r["ruleId"], f.rule_id.as_str());
        assert_eq!(rules[index]["id"], f.rule_id.as_str());
        assert_eq!(rules[index]["properties"]["severity"], f.severity.as_str());
        assert_eq!(
            r["message"]["text"],
            format!("{}: {}", f.description, f.secret)
        );
    }
    let level = |id: &str| &rules[ids.iter().position(|i| *i == id).expect(id)];
    assert_eq!(
        level("aws-access-key-id")["defaultConfiguration"]["level"],
        "error"
    );
    assert_eq!(
        level("crypto-python-md5")["defaultConfiguration"]["level"],
        "warning"
    );
    assert_eq!(
        level("crypto-python-md5")["properties"]["category"],
        "crypto"
    );
}

#[test]
fn sarif_regions_are_exclusive_and_fingerprinted() {
    let fs = findings();
    let (_, doc) = sarif(&fs, &meta(None));
    for (r, f) in doc["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .zip(&fs)
    {
        let region = &r["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["startLine"], f.line);
        assert_eq!(region["startColumn"], f.column);
        assert_eq!(region["endLine"], f.end_line);
        assert_eq!(
            region["endColumn"],
            f.end_column + 1,
            "SARIF endColumn is exclusive"
        );
        assert!(region["endColumn"].as_u64() > region["startColumn"].as_u64());
        assert_eq!(
            r["partialFingerprints"]["capstan/v2"],
            f.fingerprint.as_str()
        );
    }
}

#[test]
fn sarif_uris_are_encoded_relative_references() {
    let fs = findings();
    let (_, doc) = sarif(&fs, &meta(None));
    let uris: BTreeSet<&str> = doc["runs"][0]["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .expect("uri")
        })
        .collect();
    assert_eq!(uris, BTreeSet::from(["src/app.py", ODD_URI]));
    for uri in uris {
        assert!(
            !uri.starts_with('/') && !uri.split('/').next().unwrap_or("").contains(':'),
            "{uri}"
        );
        assert!(URI_REFERENCE.is_valid(&json!(uri)));
    }
}

#[test]
fn validators_reject_broken_documents() {
    let fs = findings();
    let (_, good) = sarif(&fs, &meta(Some("2026-11-23T12:00:00Z")));
    let broken = |path: &str, value: Value| {
        let mut doc = good.clone();
        *doc.pointer_mut(path).expect(path) = value;
        (path.to_owned(), doc)
    };
    let region = "/runs/0/results/0/locations/0/physicalLocation/region";
    let uri = "/runs/0/results/0/locations/0/physicalLocation/artifactLocation/uri";
    for (path, doc) in [
        broken(&format!("{region}/endColumn"), json!(0)),
        broken(uri, json!("src/my dir/façade.py")), // unencoded: uri-reference format is checked
        broken("/runs/0/invocations/0/endTimeUtc", json!("yesterday")),
        broken("/runs/0/results/0/level", json!("critical")),
    ] {
        assert_rejected_at(&SARIF, &doc, &path);
    }

    let (_, good) = cbom(&fs, &meta(Some("2026-11-23T12:00:00Z")));
    let broken = |path: &str, value: Value| {
        let mut doc = good.clone();
        *doc.pointer_mut(path).expect(path) = value;
        (path.to_owned(), doc)
    };
    let alg = "/components/0/cryptoProperties/algorithmProperties";
    for (path, doc) in [
        broken(&format!("{alg}/primitive"), json!("cipher")),
        broken(&format!("{alg}/nistQuantumSecurityLevel"), json!(7)),
        broken("/serialNumber", json!("urn:uuid:not-a-uuid")),
        broken("/metadata/timestamp", json!("yesterday")),
        broken("/components/0/evidence/occurrences/0/offset", json!(-1)),
    ] {
        assert_rejected_at(&CBOM, &doc, &path);
    }
}

#[test]
fn empty_reports_are_valid() {
    let (_, doc) = sarif(&[], &meta(None));
    assert_valid(&SARIF, &doc);
    assert_eq!(doc["runs"][0]["tool"]["driver"]["rules"], json!([]));
    assert_eq!(doc["runs"][0]["results"], json!([]));
    assert_eq!(
        doc["runs"][0]["invocations"],
        json!([{"executionSuccessful": true}])
    );
    let (_, doc) = cbom(&[], &meta(None));
    assert_valid(&CBOM, &doc);
    assert_eq!(doc["components"], json!([]));
    assert!(doc["metadata"].get("timestamp").is_none());
}

#[test]
fn cbom_validates_and_inventories_only_crypto() {
    let fs = findings();
    let (_, doc) = cbom(&fs, &meta(Some("2026-11-23T12:00:00Z")));
    assert_valid(&CBOM, &doc);
    assert_eq!(doc["metadata"]["timestamp"], "2026-11-23T12:00:00Z");
    let (_, doc) = cbom(&fs, &meta(None));
    assert_valid(&CBOM, &doc);
    assert!(doc["metadata"].get("timestamp").is_none());

    let crypto: Vec<&Finding> = fs.iter().filter(|f| f.crypto.is_some()).collect();
    assert!(crypto.len() < fs.len() && crypto.iter().all(|f| f.category == Category::Crypto));
    let assets: BTreeSet<(&str, &str)> = crypto
        .iter()
        .filter_map(|f| f.crypto.as_ref())
        .map(|c| (c.algorithm.as_str(), c.primitive.as_str()))
        .collect();
    let components = doc["components"].as_array().expect("components");
    assert_eq!(
        components.len(),
        assets.len(),
        "one component per (algorithm, primitive)"
    );
    let refs: BTreeSet<&str> = components
        .iter()
        .map(|c| c["bom-ref"].as_str().expect("ref"))
        .collect();
    assert_eq!(refs.len(), components.len(), "bom-refs are unique");

    let occurrences: Vec<&Value> = components
        .iter()
        .flat_map(|c| {
            c["evidence"]["occurrences"]
                .as_array()
                .expect("occurrences")
        })
        .collect();
    assert_eq!(occurrences.len(), crypto.len());
    for o in &occurrences {
        let rule = o["additionalContext"].as_str().expect("rule");
        assert!(rule.starts_with("crypto-"), "{rule}");
        let loc = o["location"].as_str().expect("location");
        assert!(
            loc == "src/app.py" || loc == "src/my dir/façade #1.py",
            "{loc}"
        );
    }

    let by_name = |name: &str| components.iter().find(|c| c["name"] == name).expect(name);
    let props = |name: &str| &by_name(name)["cryptoProperties"];
    assert_eq!(
        props("RC4")["algorithmProperties"]["primitive"],
        "stream-cipher"
    );
    assert_eq!(
        props("ECB")["algorithmProperties"]["primitive"],
        "block-cipher"
    );
    assert_eq!(props("ECB")["algorithmProperties"]["mode"], "ecb");
    assert_eq!(props("MD5")["algorithmProperties"]["primitive"], "hash");
    assert_eq!(
        props("RSA")["algorithmProperties"]["nistQuantumSecurityLevel"],
        0
    );
    assert_eq!(by_name("RSA")["bom-ref"], "crypto/algorithm/rsa@signature");
    assert_eq!(
        by_name("MD5")["evidence"]["occurrences"]
            .as_array()
            .map(Vec::len),
        Some(4)
    );
    let tls = props("TLS1.0/1.1/SSL");
    assert_eq!(tls["assetType"], "protocol");
    assert_eq!(tls["protocolProperties"]["type"], "tls");
    let rsa_props = by_name("RSA")["properties"].as_array().expect("properties");
    assert!(rsa_props.contains(&json!({"name": "capstan:quantum-class", "value": "vulnerable"})));
    assert!(rsa_props.contains(&json!({"name": "capstan:rule", "value": "crypto-python-rsa"})));
    assert!(rsa_props.iter().any(|p| p["name"] == "capstan:replacement"));
}

#[test]
fn reports_are_deterministic() {
    let fs = findings();
    let m = meta(None);
    assert_eq!(sarif(&fs, &m).0, sarif(&fs, &m).0);
    let (first, doc) = cbom(&fs, &m);
    assert_eq!(first, cbom(&fs, &m).0, "CBOM bytes differ across calls");
    let serial = doc["serialNumber"].as_str().expect("serial");
    let fewer: Vec<Finding> = fs
        .iter()
        .filter(|f| f.path == "src/app.py")
        .cloned()
        .collect();
    assert_ne!(
        cbom(&fewer, &m).1["serialNumber"],
        serial,
        "serial depends on the findings"
    );
    assert_eq!(
        cbom(&[], &m).1["serialNumber"],
        cbom(&[], &m).1["serialNumber"]
    );
}

/// History and image findings: the location stays the path; the commit (and the repository's
/// provenance) or the image and layer go where SARIF puts such things, and the log validates.
#[test]
fn sarif_carries_commit_and_image_provenance_and_validates() {
    let mut all = findings();
    all.truncate(2);
    all[0].git = Some(GitOrigin {
        commit: "0123456789abcdef0123456789abcdef01234567".into(),
        author: "A U Thor".into(),
        email: "a@example.com".into(),
        date: "2026-12-06T09:00:00+01:00".into(),
        message: "add config".into(),
    });
    all[1].image = Some(ImageOrigin {
        image: "registry.example/app:1".into(),
        manifest_digest: Some(format!("sha256:{}", "ab".repeat(32))),
        platform: Some("linux/amd64".into()),
        layer: Some(LayerRef {
            index: 2,
            digest: format!("sha256:{}", "cd".repeat(32)),
        }),
        removed_in_layer: Some(3),
    });
    let meta = ReportMeta {
        version_control: Some(VersionControl {
            repository_uri: "https://git.example/org/repo.git".into(),
            revision_id: Some("0123456789abcdef0123456789abcdef01234567".into()),
            branch: Some("main".into()),
        }),
        ..meta(None)
    };
    let (_, doc) = sarif(&all, &meta);
    assert_eq!(errors(&SARIF, &doc), Vec::<String>::new());
    let run = &doc["runs"][0];
    assert_eq!(
        run["versionControlProvenance"][0]["repositoryUri"],
        "https://git.example/org/repo.git"
    );
    assert_eq!(run["versionControlProvenance"][0]["branch"], "main");
    let r0 = &run["results"][0];
    assert_eq!(
        r0["properties"]["commit"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(
        r0["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "src/app.py"
    );
    assert!(r0["partialFingerprints"]["capstan/v2"].is_string());
    let r1 = &run["results"][1];
    assert_eq!(r1["properties"]["layer"], 2);
    assert_eq!(r1["properties"]["removedInLayer"], 3);
    assert_eq!(r1["properties"]["image"], "registry.example/app:1");
}
