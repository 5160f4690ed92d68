//! GitLab's Secret Detection report (`gl-secret-detection-report.json`, schema 15.0.7): one
//! vulnerability per secret finding, for a CI job's `artifacts: reports: secret_detection:`.
//!
//! Checked against the published schema's rules by hand (the tests below): the required
//! `scan` (`analyzer`, `scanner`, `type`, `start_time`, `end_time`, `status`), `version`,
//! `vulnerabilities[]` with `id`, `identifiers` (at least one) and `location.commit.sha`; times
//! without a zone (`yyyy-mm-ddThh:mm:ss`, UTC); severities in GitLab's spelling. The fields
//! GitLab's older readers use (`category`, `cve`, the vulnerability's `scanner`) are written
//! too: the schema allows more properties than it names.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;

use serde_json::{Value, json};

use super::ReportMeta;
use super::cbom::uuid;
use super::sarif::relative_path;
use crate::scan::{Category, Finding, Severity};

/// The schema version the report follows.
pub const GITLAB_SCHEMA_VERSION: &str = "15.0.7";
const SCHEMA_URL: &str = "https://gitlab.com/gitlab-org/security-products/security-report-schemas/-/raw/v15.0.7/dist/secret-detection-report-format.json";
/// What `location.commit.sha` says of a finding that is not in a commit (a tree or an image):
/// the value GitLab's own analyzer writes then.
const NO_COMMIT: &str = "0000000";
/// The scan time when [`ReportMeta::timestamp`] is not set (the schema requires one).
const EPOCH: &str = "1970-01-01T00:00:00";
/// The most characters the schema allows in a vulnerability's `name`.
const NAME_MAX: usize = 255;
const SOLUTION: &str = "Revoke or rotate the secret, then remove it from the file (and from the \
history: every clone keeps it). Suppress a false positive with a .capstanignore entry.";

/// Writes the secret findings ([`Category::Secret`]) as GitLab's Secret Detection report
/// (pretty-printed JSON and a newline); crypto and threat findings are left out: they are not
/// secret detection, and GitLab would list them as leaked secrets.
///
/// - `id` is a UUID hashed from the finding's fingerprint (and, for the second and later
///   findings with one fingerprint, such as a token twice in a file, their rank), so a finding
///   keeps its id from run to run and GitLab tracks it.
/// - `location.file` is the path relative to [`ReportMeta::base_dir`], as in SARIF;
///   `location.commit` is the commit that introduced the blob for a history finding, else
///   [`ReportMeta::version_control`]'s revision, else `0000000` as GitLab's analyzer writes.
/// - No part of the secret is written, redacted or not (`raw_source_code_extract` is left
///   out): GitLab keeps reports in its vulnerability database, readable by more people than
///   the code. The fingerprint identifies the finding.
/// - `scan.start_time` and `scan.end_time` (required) are both [`ReportMeta::timestamp`]
///   without its zone (`2026-11-23T12:00:00`: GitLab's format, UTC), or `1970-01-01T00:00:00`
///   when it is not set: the bytes then depend on nothing but the findings. `capstan` sets it
///   to the time the report is written (or `$SOURCE_DATE_EPOCH`).
pub fn write_gitlab<W: io::Write>(
    mut out: W,
    findings: &[Finding],
    meta: &ReportMeta,
) -> io::Result<()> {
    let mut seen: HashMap<&str, u64> = HashMap::new();
    let vulnerabilities: Vec<Value> = findings
        .iter()
        .filter(|f| f.category == Category::Secret)
        .map(|f| {
            let rank = seen.entry(f.fingerprint.as_str()).or_insert(0);
            *rank += 1;
            vulnerability(f, *rank, meta)
        })
        .collect();
    let time = gitlab_time(meta.timestamp.as_deref());
    let tool = json!({
        "id": "capstan",
        "name": "capstan",
        "version": meta.version(),
        "vendor": { "name": "capstan" },
    });
    let report = json!({
        "version": GITLAB_SCHEMA_VERSION,
        "schema": SCHEMA_URL,
        "scan": {
            "analyzer": tool,
            "scanner": tool,
            "type": "secret_detection",
            "start_time": time,
            "end_time": time,
            "status": "success",
        },
        "vulnerabilities": vulnerabilities,
    });
    serde_json::to_writer_pretty(&mut out, &report)?;
    out.write_all(b"\n")
}

/// GitLab's spelling of a severity.
fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Info",
    }
}

/// A stable id for the `rank`-th finding (from 1) with `fingerprint`.
fn id(fingerprint: &str, rank: u64) -> String {
    let mut h = blake3::Hasher::new();
    h.update(b"capstan-gitlab\0");
    h.update(fingerprint.as_bytes());
    if rank > 1 {
        h.update(format!("\0{rank}").as_bytes());
    }
    uuid(h.finalize().as_bytes())
}

fn vulnerability(f: &Finding, rank: u64, meta: &ReportMeta) -> Value {
    let file = relative_path(meta.shown(&f.path));
    let name = if f.description.is_empty() {
        &f.rule_id
    } else {
        &f.description
    };
    let name: String = name.chars().take(NAME_MAX).collect();
    let start_line = f.line.max(1);
    let end_line = f.end_line.max(start_line);

    let mut description = format!("{name} (rule {}) in {file} at line {start_line}", f.rule_id);
    let commit = match &f.git {
        Some(g) => {
            let _ = write!(
                description,
                ", commit {}",
                &g.commit[..g.commit.len().min(12)]
            );
            json!({ "sha": g.commit, "author": g.author, "date": g.date })
        }
        None => {
            let sha = meta
                .version_control
                .as_ref()
                .and_then(|vc| vc.revision_id.as_deref())
                .filter(|r| !r.is_empty())
                .unwrap_or(NO_COMMIT);
            json!({ "sha": sha })
        }
    };
    if let Some(o) = &f.image {
        let _ = write!(description, ", image {}", o.image);
        if let Some(l) = &o.layer {
            let _ = write!(description, " layer {} ({})", l.index, l.digest);
        }
        if let Some(n) = o.removed_in_layer {
            let _ = write!(description, ", deleted in layer {n} but still in the image");
        }
    }
    description.push('.');

    json!({
        "id": id(&f.fingerprint, rank),
        "category": "secret_detection",
        "name": name,
        "description": description,
        "cve": format!("{file}:{}:{}", f.fingerprint, f.rule_id),
        "severity": severity(f.severity),
        "solution": SOLUTION,
        "scanner": { "id": "capstan", "name": "capstan" },
        "location": {
            "file": file,
            "start_line": start_line,
            "end_line": end_line,
            "commit": commit,
        },
        "identifiers": [{
            "type": "capstan_rule_id",
            "name": format!("capstan rule ID {}", f.rule_id),
            "value": f.rule_id,
        }],
    })
}

/// `timestamp` as GitLab's scan times are written: its first 19 characters when they are a
/// `yyyy-mm-ddThh:mm:ss` date and time (the zone dropped: [`ReportMeta::timestamp`] is UTC),
/// else the Unix epoch.
fn gitlab_time(timestamp: Option<&str>) -> &str {
    const SHAPE: &[u8; 19] = b"0000-00-00T00:00:00";
    timestamp
        .and_then(|t| t.get(..19))
        .filter(|t| {
            t.bytes().zip(SHAPE).all(|(b, &s)| {
                if s == b'0' {
                    b.is_ascii_digit()
                } else {
                    b == s
                }
            })
        })
        .unwrap_or(EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::GitOrigin;
    use crate::scan::report::VersionControl;

    const TOKEN: &str = "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";

    fn finding(path: &str, line: u64, category: Category, secret: &str) -> Finding {
        let fingerprint =
            blake3::hash(format!("{path}\0{secret}").as_bytes()).to_hex()[..32].to_owned();
        Finding {
            rule_id: "github-classic-pat".into(),
            description: "GitHub personal access token".into(),
            category,
            severity: Severity::High,
            confidence: crate::scan::Confidence::High,
            path: path.into(),
            line,
            column: 14,
            end_line: line,
            end_column: 53,
            secret: secret.into(),
            entropy: 4.5,
            fingerprint,
            verified: None,
            tags: vec![],
            crypto: None,
            image: None,
            git: None,
        }
    }

    fn report(findings: &[Finding], meta: &ReportMeta) -> (String, Value) {
        let mut out = Vec::new();
        write_gitlab(&mut out, findings, meta).expect("written");
        let text = String::from_utf8(out).expect("UTF-8");
        let doc = serde_json::from_str(&text).expect("JSON");
        (text, doc)
    }

    fn vulns(doc: &Value) -> &Vec<Value> {
        doc["vulnerabilities"].as_array().expect("an array")
    }

    #[test]
    fn secrets_only_with_stable_ids_relative_paths_and_no_secret() {
        let base = std::env::temp_dir().join("capstan-gitlab-test");
        let abs = base.join("app/.env").to_string_lossy().into_owned();
        let all = [
            finding(&abs, 1, Category::Secret, TOKEN),
            finding(&abs, 7, Category::Secret, TOKEN),
            finding("./src/a.py", 3, Category::Crypto, ""),
            finding("./src/b.py", 2, Category::Secret, TOKEN),
        ];
        let meta = ReportMeta {
            base_dir: Some(base),
            ..ReportMeta::default()
        };
        let (text, doc) = report(&all, &meta);
        assert!(!text.contains(TOKEN), "the secret leaked: {text}");
        assert!(!text.contains("ghp_"), "not even redacted: {text}");
        let v = vulns(&doc);
        assert_eq!(v.len(), 3, "secrets only");
        let files: Vec<&str> = v
            .iter()
            .map(|x| x["location"]["file"].as_str().expect("file"))
            .collect();
        assert_eq!(files, ["app/.env", "app/.env", "src/b.py"]);
        // One fingerprint twice (the same token twice in a file): two ids all the same.
        let ids: Vec<&str> = v.iter().map(|x| x["id"].as_str().expect("id")).collect();
        assert_eq!(ids[0], id(&all[0].fingerprint, 1));
        assert_eq!(ids[1], id(&all[0].fingerprint, 2));
        assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2]);
        assert_eq!(ids[0].len(), 36);
        // Stable: the same input gives the same bytes; another line keeps the id.
        assert_eq!(report(&all, &meta).0, text);
        let mut moved = all.clone();
        moved[3].line = 40;
        let (_, again) = report(&moved, &meta);
        assert_eq!(vulns(&again)[2]["id"], v[2]["id"]);
        assert_eq!(vulns(&again)[2]["location"]["start_line"], 40);

        let x = &v[2];
        assert_eq!(x["category"], "secret_detection");
        assert_eq!(x["severity"], "High");
        assert_eq!(x["name"], "GitHub personal access token");
        assert_eq!(
            x["cve"],
            format!("src/b.py:{}:github-classic-pat", all[3].fingerprint)
        );
        assert_eq!(x["location"]["commit"]["sha"], NO_COMMIT);
        assert_eq!(x["location"]["end_line"], 2);
        assert_eq!(
            x["identifiers"],
            json!([{
                "type": "capstan_rule_id",
                "name": "capstan rule ID github-classic-pat",
                "value": "github-classic-pat",
            }])
        );
        assert!(x.get("raw_source_code_extract").is_none());
        assert!(x.get("confidence").is_none());
    }

    /// What the 15.0.7 schema requires of the document, checked field by field.
    #[test]
    fn the_schemas_required_fields_are_there() {
        let (_, doc) = report(
            &[finding("a.env", 1, Category::Secret, TOKEN)],
            &ReportMeta {
                tool_version: "9.9.9".into(),
                timestamp: Some("2026-11-23T12:34:56Z".into()),
                ..ReportMeta::default()
            },
        );
        assert_eq!(doc["version"], GITLAB_SCHEMA_VERSION);
        let scan = &doc["scan"];
        for key in ["analyzer", "scanner"] {
            for field in ["id", "name", "version"] {
                assert!(scan[key][field].as_str().is_some_and(|s| !s.is_empty()));
            }
            assert_eq!(scan[key]["vendor"]["name"], "capstan");
            assert_eq!(scan[key]["version"], "9.9.9");
        }
        assert_eq!(scan["type"], "secret_detection");
        assert_eq!(scan["status"], "success");
        assert_eq!(scan["start_time"], "2026-11-23T12:34:56");
        assert_eq!(scan["end_time"], "2026-11-23T12:34:56");
        let v = &vulns(&doc)[0];
        assert!(v["id"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(v["identifiers"].as_array().is_some_and(|i| !i.is_empty()));
        assert!(
            v["location"]["commit"]["sha"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
        );
        let sev = v["severity"].as_str().expect("severity");
        assert!(["Info", "Unknown", "Low", "Medium", "High", "Critical"].contains(&sev));
    }

    #[test]
    fn history_findings_name_their_commit_and_tree_findings_the_revision() {
        let mut f = finding("a.env", 1, Category::Secret, TOKEN);
        f.git = Some(GitOrigin {
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            author: "A U Thor".into(),
            email: "a@example.com".into(),
            date: "2026-12-06T09:00:00+01:00".into(),
            message: "add config".into(),
        });
        let tree = finding("b.env", 2, Category::Secret, TOKEN);
        let meta = ReportMeta {
            version_control: Some(VersionControl {
                repository_uri: "https://git.example/r.git".into(),
                revision_id: Some("fedcba9876543210fedcba9876543210fedcba98".into()),
                branch: None,
            }),
            ..ReportMeta::default()
        };
        let (_, doc) = report(&[f, tree], &meta);
        let v = vulns(&doc);
        assert_eq!(
            v[0]["location"]["commit"],
            json!({
                "sha": "0123456789abcdef0123456789abcdef01234567",
                "author": "A U Thor",
                "date": "2026-12-06T09:00:00+01:00",
            })
        );
        assert!(
            v[0]["description"]
                .as_str()
                .is_some_and(|d| d.contains("commit 0123456789ab"))
        );
        assert_eq!(
            v[1]["location"]["commit"]["sha"],
            "fedcba9876543210fedcba9876543210fedcba98"
        );
    }

    #[test]
    fn scan_times_follow_gitlabs_format() {
        assert_eq!(
            gitlab_time(Some("2026-11-23T12:00:00Z")),
            "2026-11-23T12:00:00"
        );
        assert_eq!(
            gitlab_time(Some("2026-11-23T12:00:00.123+00:00")),
            "2026-11-23T12:00:00"
        );
        assert_eq!(gitlab_time(None), EPOCH);
        assert_eq!(gitlab_time(Some("yesterday")), EPOCH);
        assert_eq!(gitlab_time(Some("2026-11-23 12:00:00Z")), EPOCH);
        let (_, doc) = report(&[], &ReportMeta::default());
        assert_eq!(doc["scan"]["start_time"], EPOCH);
        assert_eq!(doc["vulnerabilities"], json!([]));
    }

    #[test]
    fn severities_in_gitlabs_spelling() {
        assert_eq!(severity(Severity::Critical), "Critical");
        assert_eq!(severity(Severity::High), "High");
        assert_eq!(severity(Severity::Medium), "Medium");
        assert_eq!(severity(Severity::Low), "Low");
        assert_eq!(severity(Severity::Info), "Info");
    }
}
