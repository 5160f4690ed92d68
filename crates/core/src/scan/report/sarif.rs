//! SARIF 2.1.0: one log with one run, one rule per distinct rule id, one result per finding.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;

use serde_json::{Value, json};

use super::ReportMeta;
use crate::scan::{Finding, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFORMATION_URI: &str = "https://example.invalid/capstan";

/// Writes `findings` as a SARIF 2.1.0 log (pretty-printed JSON and a newline).
///
/// `tool.driver.rules` lists each rule that fired once, in order of first appearance, and every
/// result points at its rule by `ruleIndex`. Regions use capstan's 1-based byte columns;
/// `endColumn` is exclusive as SARIF requires (the finding's `end_column + 1`). Artifact URIs are
/// relative URI references (`./` stripped, `\` turned into `/`, other bytes percent-encoded);
/// absolute paths become `file://` URIs. A result's `properties` name the commit (history
/// scans) or the image and layer (image scans), the finding's `confidence`, and say
/// `"verified": "checksum"` when the secret's checksum was verified.
pub fn write_sarif<W: io::Write>(
    mut out: W,
    findings: &[Finding],
    meta: &ReportMeta,
) -> io::Result<()> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    let mut rules = Vec::new();
    let results: Vec<Value> = findings
        .iter()
        .map(|f| {
            let rule_index = *index.entry(f.rule_id.as_str()).or_insert_with(|| {
                rules.push(rule(f));
                rules.len() - 1
            });
            result(f, rule_index, meta)
        })
        .collect();
    let invocation = match &meta.timestamp {
        Some(ts) => json!({ "executionSuccessful": true, "endTimeUtc": ts }),
        None => json!({ "executionSuccessful": true }),
    };
    let mut log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": { "driver": {
                "name": "capstan",
                "version": meta.version(),
                "informationUri": INFORMATION_URI,
                "rules": rules,
            }},
            "invocations": [invocation],
            "results": results,
        }],
    });
    if let Some(vc) = &meta.version_control {
        let mut details = json!({ "repositoryUri": vc.repository_uri });
        if let Some(r) = &vc.revision_id {
            details["revisionId"] = Value::from(r.as_str());
        }
        if let Some(b) = &vc.branch {
            details["branch"] = Value::from(b.as_str());
        }
        log["runs"][0]["versionControlProvenance"] = json!([details]);
    }
    serde_json::to_writer_pretty(&mut out, &log)?;
    out.write_all(b"\n")
}

/// SARIF's level for a severity.
fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

fn description(f: &Finding) -> &str {
    if f.description.is_empty() {
        &f.rule_id
    } else {
        &f.description
    }
}

/// The `reportingDescriptor` for the rule of `f`.
fn rule(f: &Finding) -> Value {
    let mut tags: Vec<&str> = Vec::with_capacity(f.tags.len());
    for t in &f.tags {
        if !tags.contains(&t.as_str()) {
            tags.push(t); // SARIF wants unique tags
        }
    }
    json!({
        "id": f.rule_id,
        "name": f.rule_id,
        "shortDescription": { "text": description(f) },
        "defaultConfiguration": { "level": level(f.severity) },
        "properties": {
            "category": f.category.as_str(),
            "severity": f.severity.as_str(),
            "tags": tags,
        },
    })
}

fn result(f: &Finding, rule_index: usize, meta: &ReportMeta) -> Value {
    let text = if f.secret.is_empty() {
        description(f).to_owned()
    } else {
        format!("{}: {}", description(f), f.secret)
    };
    let start_line = f.line.max(1);
    let start_column = f.column.max(1);
    let end_line = f.end_line.max(start_line);
    let mut end_column = f.end_column.saturating_add(1);
    if end_line == start_line {
        end_column = end_column.max(start_column);
    }
    let mut result = json!({
        "ruleId": f.rule_id,
        "ruleIndex": rule_index,
        "level": level(f.severity),
        "message": { "text": text },
        "locations": [{ "physicalLocation": {
            "artifactLocation": { "uri": uri_reference(meta.shown(&f.path)) },
            "region": {
                "startLine": start_line,
                "startColumn": start_column,
                "endLine": end_line,
                "endColumn": end_column,
            },
        }}],
        "partialFingerprints": { "capstan/v2": f.fingerprint },
    });
    if let Some(g) = &f.git {
        // The location is the path in the commit that introduced the blob, named here.
        result["properties"] = json!({
            "commit": g.commit,
            "author": g.author,
            "email": g.email,
            "date": g.date,
        });
    }
    if let Some(o) = &f.image {
        // The location is the path inside the image; which image and layer go alongside.
        let mut props = json!({ "image": o.image });
        for (key, value) in [
            (
                "manifestDigest",
                o.manifest_digest.as_deref().map(Value::from),
            ),
            ("platform", o.platform.as_deref().map(Value::from)),
            ("layer", o.layer.as_ref().map(|l| Value::from(l.index))),
            (
                "layerDigest",
                o.layer.as_ref().map(|l| Value::from(l.digest.as_str())),
            ),
            ("removedInLayer", o.removed_in_layer.map(Value::from)),
        ] {
            if let Some(v) = value {
                props[key] = v;
            }
        }
        result["properties"] = props;
    }
    // How likely the finding is real, and how the secret was confirmed (offline): beside the
    // git or image properties, if any.
    if result.get("properties").is_none() {
        result["properties"] = json!({});
    }
    if let Some(props) = result.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert("confidence".into(), Value::from(f.confidence.as_str()));
        if let Some(v) = f.verified {
            props.insert("verified".into(), Value::from(v.as_str()));
        }
    }
    result
}

/// `path` with `\` turned into `/` and leading `./` removed: how reports name a file.
pub(super) fn relative_path(path: &str) -> String {
    let path = path.replace('\\', "/");
    let mut rest = path.as_str();
    while let Some(r) = rest.strip_prefix("./") {
        rest = r.trim_start_matches('/');
    }
    rest.to_owned()
}

/// `path` as a URI reference: relative unless the path is absolute (`/x`, `C:\x`), which
/// becomes a `file://` URI.
fn uri_reference(path: &str) -> String {
    let path = relative_path(path);
    let b = path.as_bytes();
    if b.len() >= 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'/' {
        return format!(
            "file:///{}:{}",
            char::from(b[0]),
            percent_encode(&path[2..])
        );
    }
    if path.starts_with('/') {
        return format!("file://{}", percent_encode(&path));
    }
    percent_encode(&path)
}

/// Percent-encodes every byte but ASCII alphanumerics and `/ ! - . _ ~` (so `:` too: a
/// relative reference must not look like it has a scheme).
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"/!-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_are_relative_references_and_encoded() {
        assert_eq!(uri_reference("./src/a b.py"), "src/a%20b.py");
        assert_eq!(uri_reference(".\\src\\x#1?.py"), "src/x%231%3F.py");
        assert_eq!(uri_reference("././é%.txt"), "%C3%A9%25.txt");
        assert_eq!(uri_reference("a:b/~c!"), "a%3Ab/~c!");
        assert_eq!(uri_reference("-"), "-");
        assert_eq!(uri_reference("/etc/my file"), "file:///etc/my%20file");
        assert_eq!(uri_reference("C:\\src\\a.py"), "file:///C:/src/a.py");
    }

    #[test]
    fn levels_follow_severity() {
        assert_eq!(level(Severity::Critical), "error");
        assert_eq!(level(Severity::High), "error");
        assert_eq!(level(Severity::Medium), "warning");
        assert_eq!(level(Severity::Low), "note");
        assert_eq!(level(Severity::Info), "note");
    }
}
