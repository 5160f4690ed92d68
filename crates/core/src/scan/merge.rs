//! Joining the reports of a split scan ([`Request::shard`](super::Request::shard)) into the
//! report one unsharded scan gives: [`merge`].

use std::collections::{HashMap, HashSet};

use super::outcome::{ScanOutcome, ScanStats};
use super::{Finding, ShardInfo};

/// Joins the reports of every shard of one split scan (`1/N` … `N/N`, in any order) into the
/// outcome of the whole scan.
///
/// Findings, errors and skipped files are put together with exact duplicates dropped (what
/// every shard reports, such as an unreadable directory, appears once) and in the order an
/// unsharded scan gives: by path, line, column and rule, or for images image by image in the
/// order given. Counters are summed, except `commits` and `seconds` (each shard walks every
/// commit; the shards run side by side), which take the largest; findings, errors and skipped
/// files are counted again from what the merged outcome holds. The merged outcome is
/// interrupted when any shard was, and has no shard.
///
/// ```
/// use capstan::scan::{Request, Shard, merge};
///
/// let dir = std::env::temp_dir().join(format!("capstan-doc-merge-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// for i in 0..10 {
///     std::fs::write(dir.join(format!("{i}.env")), "GITHUB_TOKEN=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\n")?;
/// }
/// let whole = Request::new([&dir]).packs(["secrets"]).prepare()?.run();
/// let parts = (1..=3)
///     .map(|k| Ok(Request::new([&dir]).packs(["secrets"]).shard(Shard::new(k, 3)?).prepare()?.run()))
///     .collect::<Result<Vec<_>, Box<dyn std::error::Error>>>()?;
/// let merged = merge(parts)?;
/// assert_eq!(merged.findings, whole.findings);
/// assert_eq!(merged.stats.files, 10);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn merge(mut reports: Vec<ScanOutcome>) -> Result<ScanOutcome, MergeError> {
    let info = check(&reports)?;
    reports.sort_by_key(|r| r.shard.as_ref().map_or(0, |s| s.index));
    let images = info.images;

    let mut stats = ScanStats::default();
    let mut quietly = 0u64;
    let mut findings = Vec::new();
    let mut errors = Vec::new();
    let mut skipped = Vec::new();
    let mut warnings = Vec::new();
    let mut interrupted = false;
    for r in reports {
        // Destructured in full: a counter added to `ScanStats` must say here how it merges.
        let ScanStats {
            files,
            bytes,
            skipped: skipped_count,
            errors: _,
            findings: _,
            suppressed,
            below_confidence,
            secrets: _,
            crypto: _,
            threats: _,
            cache_hits,
            cache_misses,
            cache_local_hits,
            cache_shared_hits,
            cache_shared_misses,
            cache_shared_rejected,
            cache_shared_fallbacks,
            cache_shared_rtt,
            layers_pulled,
            layers_cached,
            layers_shared,
            commits,
            seconds,
        } = r.stats;
        stats.files += files;
        stats.bytes += bytes;
        stats.suppressed += suppressed;
        stats.below_confidence += below_confidence;
        stats.cache_hits += cache_hits;
        stats.cache_misses += cache_misses;
        stats.cache_local_hits += cache_local_hits;
        stats.cache_shared_hits += cache_shared_hits;
        stats.cache_shared_misses += cache_shared_misses;
        stats.cache_shared_rejected += cache_shared_rejected;
        stats.cache_shared_fallbacks += cache_shared_fallbacks;
        if let Some(rtt) = cache_shared_rtt {
            match &mut stats.cache_shared_rtt {
                Some(sum) => sum.add(&rtt),
                None => stats.cache_shared_rtt = Some(rtt),
            }
        }
        stats.layers_pulled += layers_pulled;
        stats.layers_cached += layers_cached;
        stats.layers_shared += layers_shared;
        stats.commits = stats.commits.max(commits);
        stats.seconds = stats.seconds.max(seconds);
        // Binary files are only counted: what the list does not hold.
        quietly += skipped_count.saturating_sub(r.skipped.len() as u64);
        findings.extend(r.findings);
        errors.extend(r.errors);
        skipped.extend(r.skipped);
        warnings.extend(r.warnings);
        interrupted |= r.interrupted;
    }

    let mut findings = unique_findings(findings);
    let mut errors = unique(errors, |i| (i.path.clone(), i.reason.clone()));
    let mut skipped = unique(skipped, |i| (i.path.clone(), i.reason.clone()));
    let warnings = unique(warnings, Clone::clone);
    if images.is_empty() {
        super::sort_findings(&mut findings);
        errors.sort_by(|a, b| a.path.cmp(&b.path));
        skipped.sort_by(|a, b| a.path.cmp(&b.path));
    } else {
        // Image by image in the order given; inside one image, the shard's order (config,
        // then layer by layer) is the scan's.
        findings.sort_by_key(|f| {
            f.image
                .as_ref()
                .and_then(|o| images.iter().position(|g| *g == o.image))
                .unwrap_or(usize::MAX)
        });
        errors.sort_by_key(|i| image_of(&i.path, &images));
        skipped.sort_by_key(|i| image_of(&i.path, &images));
    }
    stats.errors = errors.len() as u64;
    stats.skipped = quietly + skipped.len() as u64;
    stats.count(&findings);
    Ok(ScanOutcome {
        findings,
        errors,
        skipped,
        stats,
        interrupted,
        warnings,
        shard: None,
    })
}

/// Checks that `reports` are every shard of one split, once each; their common shard info.
fn check(reports: &[ScanOutcome]) -> Result<ShardInfo, MergeError> {
    let infos = reports
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.shard
                .as_ref()
                .ok_or(MergeError::NotSharded { report: i + 1 })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let Some(&first) = infos.first() else {
        return Err(MergeError::Empty);
    };
    let count = first.count;
    let mut by_index: HashMap<u32, usize> = HashMap::new();
    for (i, s) in infos.iter().enumerate() {
        let report = i + 1;
        if s.index == 0 || s.index > s.count {
            return Err(MergeError::NoSuchShard {
                report,
                index: s.index,
                count: s.count,
            });
        }
        if s.count != count {
            return Err(MergeError::CountMismatch {
                report,
                index: s.index,
                count: s.count,
                expected: count,
            });
        }
        if s.images != first.images {
            return Err(MergeError::ImagesMismatch { report });
        }
        if let Some(earlier) = by_index.insert(s.index, report) {
            return Err(MergeError::Duplicate {
                index: s.index,
                count,
                first: earlier,
                second: report,
            });
        }
    }
    let missing: Vec<u32> = (1..=count).filter(|k| !by_index.contains_key(k)).collect();
    if !missing.is_empty() {
        return Err(MergeError::Missing { missing, count });
    }
    Ok(first.clone())
}

/// `items` without exact duplicates (by `key`), the first of each kept, in order.
fn unique<T, K: std::hash::Hash + Eq>(items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    let mut seen = HashSet::new();
    items.into_iter().filter(|t| seen.insert(key(t))).collect()
}

/// `findings` without exact duplicates (every field equal), the first of each kept, in order.
fn unique_findings(findings: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    let mut by_fingerprint: HashMap<String, Vec<usize>> = HashMap::new();
    for f in findings {
        let same = by_fingerprint.entry(f.fingerprint.clone()).or_default();
        if same.iter().any(|&i| out[i] == f) {
            continue;
        }
        same.push(out.len());
        out.push(f);
    }
    out
}

/// The position in `images` of the image an issue's path names (`IMAGE`, `IMAGE@layerN` or
/// `IMAGE@layerN:path`); the longest match wins, none sorts last.
fn image_of(path: &str, images: &[String]) -> usize {
    let mut best: Option<(usize, usize)> = None;
    for (i, given) in images.iter().enumerate() {
        let names = path == given
            || path
                .strip_prefix(given.as_str())
                .is_some_and(|rest| rest.starts_with("@layer"));
        if names && best.is_none_or(|(_, len)| given.len() > len) {
            best = Some((i, given.len()));
        }
    }
    best.map_or(usize::MAX, |(i, _)| i)
}

/// Why reports could not be merged: which report (by its position in the list, from 1) or
/// which shard is at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MergeError {
    /// No report at all.
    #[error("nothing to merge: no report was given")]
    Empty,
    /// A report without shard info: a whole scan's.
    #[error("report {report} is not a sharded report: run with --shard K/N")]
    NotSharded {
        /// Its position in the list, from 1.
        report: usize,
    },
    /// A report that claims a shard outside `1..=count`.
    #[error("report {report} claims shard {index}/{count}, which does not exist")]
    NoSuchShard {
        /// Its position in the list, from 1.
        report: usize,
        /// The shard it claims.
        index: u32,
        /// The number of shards it claims.
        count: u32,
    },
    /// A report of a split in another number of shards than the first report's.
    #[error(
        "report {report} is shard {index}/{count}, but report 1 is of a split in {expected}: they are not parts of one scan"
    )]
    CountMismatch {
        /// Its position in the list, from 1.
        report: usize,
        /// Its shard.
        index: u32,
        /// Its number of shards.
        count: u32,
        /// The first report's number of shards.
        expected: u32,
    },
    /// A report of a scan of other images than the first report's.
    #[error("report {report} scanned other images than report 1: they are not parts of one scan")]
    ImagesMismatch {
        /// Its position in the list, from 1.
        report: usize,
    },
    /// The same shard twice.
    #[error("shard {index}/{count} is given twice: reports {first} and {second}")]
    Duplicate {
        /// The shard.
        index: u32,
        /// The number of shards.
        count: u32,
        /// The position of its first report, from 1.
        first: usize,
        /// The position of the other, from 1.
        second: usize,
    },
    /// Shards without a report: the merged report would not cover the whole scan.
    #[error("{}", missing_message(missing, *count))]
    Missing {
        /// The shards missing, from 1.
        missing: Vec<u32>,
        /// The number of shards.
        count: u32,
    },
}

impl MergeError {
    /// The positions (from 1) of the reports at fault, for a caller to name their files.
    pub fn reports(&self) -> Vec<usize> {
        match self {
            MergeError::NotSharded { report }
            | MergeError::NoSuchShard { report, .. }
            | MergeError::CountMismatch { report, .. }
            | MergeError::ImagesMismatch { report } => vec![*report],
            MergeError::Duplicate { first, second, .. } => vec![*first, *second],
            MergeError::Empty | MergeError::Missing { .. } => Vec::new(),
        }
    }
}

fn missing_message(missing: &[u32], count: u32) -> String {
    let list = missing
        .iter()
        .map(|k| format!("{k}/{count}"))
        .collect::<Vec<_>>()
        .join(", ");
    if missing.len() == 1 {
        format!("shard {list} is missing: every shard's report is needed")
    } else {
        format!("shards {list} are missing: every shard's report is needed")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::{Category, ImageOrigin, Issue, Severity};

    fn finding(path: &str, line: u64, rule: &str) -> Finding {
        Finding {
            rule_id: rule.to_owned(),
            description: String::new(),
            category: if rule.starts_with("crypto") {
                Category::Crypto
            } else {
                Category::Secret
            },
            severity: Severity::High,
            confidence: crate::scan::Confidence::High,
            path: path.to_owned(),
            line,
            column: 1,
            end_line: line,
            end_column: 10,
            secret: "ghp_…".to_owned(),
            entropy: 4.5,
            fingerprint: format!("{rule}:{path}"),
            verified: None,
            tags: Vec::new(),
            crypto: None,
            image: None,
            git: None,
        }
    }

    fn issue(path: &str, reason: &str) -> Issue {
        Issue {
            path: path.to_owned(),
            reason: reason.to_owned(),
        }
    }

    fn shard(index: u32, count: u32, images: &[&str]) -> ScanOutcome {
        ScanOutcome {
            shard: Some(ShardInfo {
                index,
                count,
                images: images.iter().map(|s| (*s).to_owned()).collect(),
            }),
            ..ScanOutcome::default()
        }
    }

    #[test]
    fn tree_shards_merge_into_the_whole_scans_order_and_counts() {
        let mut a = shard(1, 2, &[]);
        a.findings = vec![finding("a.env", 3, "github"), finding("c.env", 1, "aws")];
        a.errors = vec![issue("dir", "permission denied"), issue("x", "gone")];
        a.skipped = vec![issue("big.bin", "larger than the limit")];
        a.warnings = vec!["cache rebuilt".into()];
        a.stats = ScanStats {
            files: 5,
            bytes: 100,
            skipped: 3, // 2 binary files, only counted
            errors: 2,
            findings: 2,
            suppressed: 1,
            cache_hits: 1,
            commits: 7,
            seconds: 0.5,
            ..ScanStats::default()
        };
        let mut b = shard(2, 2, &[]);
        b.findings = vec![
            finding("a.env", 1, "github"),
            finding("b.env", 1, "crypto-md5"),
        ];
        b.errors = vec![issue("dir", "permission denied")];
        b.skipped = vec![issue("a.iso", "larger than the limit")];
        b.warnings = vec!["cache rebuilt".into(), "another".into()];
        b.interrupted = true;
        b.stats = ScanStats {
            files: 4,
            bytes: 50,
            skipped: 1,
            errors: 1,
            findings: 2,
            cache_misses: 2,
            commits: 7,
            seconds: 0.75,
            ..ScanStats::default()
        };
        // Argument order does not matter.
        let m = merge(vec![b, a]).expect("merges");
        let places: Vec<(&str, u64)> = m
            .findings
            .iter()
            .map(|f| (f.path.as_str(), f.line))
            .collect();
        assert_eq!(
            places,
            [("a.env", 1), ("a.env", 3), ("b.env", 1), ("c.env", 1)]
        );
        assert_eq!(
            m.errors,
            [issue("dir", "permission denied"), issue("x", "gone")]
        );
        let skipped: Vec<&str> = m.skipped.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(skipped, ["a.iso", "big.bin"]);
        assert_eq!(m.warnings, ["cache rebuilt", "another"]);
        assert!(m.interrupted);
        assert_eq!(m.shard, None);
        let s = &m.stats;
        assert_eq!((s.files, s.bytes, s.suppressed), (9, 150, 1));
        assert_eq!(
            (s.errors, s.skipped),
            (2, 4),
            "the directory's error once; 2 binaries"
        );
        assert_eq!((s.findings, s.secrets, s.crypto, s.threats), (4, 3, 1, 0));
        assert_eq!((s.cache_hits, s.cache_misses), (1, 2));
        assert_eq!(s.commits, 7, "every shard walks every commit");
        assert!((s.seconds - 0.75).abs() < f64::EPSILON);
    }

    #[test]
    fn exact_duplicates_are_dropped_and_near_ones_kept() {
        let mut a = shard(1, 2, &[]);
        a.findings = vec![finding("a", 1, "r"), finding("a", 1, "r")];
        let mut b = shard(2, 2, &[]);
        let mut other = finding("a", 1, "r");
        other.entropy = 3.0;
        b.findings = vec![finding("a", 1, "r"), other.clone()];
        let m = merge(vec![a, b]).expect("merges");
        assert_eq!(m.findings, [finding("a", 1, "r"), other]);
        assert_eq!(m.stats.findings, 2);
    }

    #[test]
    fn image_reports_keep_the_order_the_images_were_given_in() {
        let images = ["z:1", "a:1", "oci:x@y"];
        let on = |image: &str, path: &str, line: u64| {
            let mut f = finding(path, line, "github");
            f.image = Some(ImageOrigin {
                image: image.to_owned(),
                manifest_digest: None,
                platform: None,
                layer: None,
                removed_in_layer: None,
            });
            f
        };
        // Inside an image, the shard's order (config first, then layers), not path order.
        let mut a = shard(1, 2, &images);
        a.findings = vec![
            on("a:1", "config:Env[0]", 1),
            on("a:1", "b.txt", 2),
            on("a:1", "a.txt", 9),
        ];
        a.errors = vec![issue("a:1@layer2", "bad gzip")];
        let mut b = shard(2, 2, &images);
        b.findings = vec![on("oci:x@y", "k", 1), on("z:1", "y", 1), on("z:1", "x", 1)];
        b.errors = vec![
            issue("oci:x@y", "no such layout"),
            issue("z:1@layer0", "digest"),
        ];
        b.skipped = vec![
            issue("z:1@layer1:big", "too large"),
            issue("elsewhere", "?"),
        ];
        let m = merge(vec![a, b]).expect("merges");
        let order: Vec<String> = m
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{}:{}",
                    f.image.as_ref().map_or("", |o| o.image.as_str()),
                    f.path
                )
            })
            .collect();
        assert_eq!(
            order,
            [
                "z:1:y",
                "z:1:x",
                "a:1:config:Env[0]",
                "a:1:b.txt",
                "a:1:a.txt",
                "oci:x@y:k"
            ]
        );
        let errors: Vec<&str> = m.errors.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(errors, ["z:1@layer0", "a:1@layer2", "oci:x@y"]);
        let skipped: Vec<&str> = m.skipped.iter().map(|i| i.path.as_str()).collect();
        assert_eq!(skipped, ["z:1@layer1:big", "elsewhere"]);
    }

    #[test]
    fn every_shard_once_or_an_error_saying_which() {
        assert_eq!(merge(Vec::new()).err(), Some(MergeError::Empty));
        let whole = ScanOutcome::default();
        let e = merge(vec![shard(1, 2, &[]), whole]).err();
        assert_eq!(e, Some(MergeError::NotSharded { report: 2 }));
        assert!(e.is_some_and(|e| {
            e.to_string()
                .contains("not a sharded report: run with --shard")
        }));

        let e = merge(vec![shard(1, 3, &[]), shard(3, 3, &[])]).err();
        assert_eq!(
            e.as_ref().map(ToString::to_string).as_deref(),
            Some("shard 2/3 is missing: every shard's report is needed")
        );
        assert_eq!(e.map(|e| e.reports()), Some(Vec::new()));
        let e = merge(vec![shard(2, 4, &[]), shard(3, 4, &[])]).err();
        assert!(e.is_some_and(|e| e.to_string().starts_with("shards 1/4, 4/4 are missing")));

        let e = merge(vec![shard(1, 2, &[]), shard(2, 2, &[]), shard(1, 2, &[])]).err();
        assert_eq!(
            e.as_ref().map(ToString::to_string).as_deref(),
            Some("shard 1/2 is given twice: reports 1 and 3")
        );
        assert_eq!(e.map(|e| e.reports()), Some(vec![1, 3]));

        let e = merge(vec![shard(1, 2, &[]), shard(2, 3, &[])]).err();
        assert_eq!(
            e,
            Some(MergeError::CountMismatch {
                report: 2,
                index: 2,
                count: 3,
                expected: 2
            })
        );
        let e = merge(vec![shard(1, 2, &["a"]), shard(2, 2, &["b"])]).err();
        assert_eq!(e, Some(MergeError::ImagesMismatch { report: 2 }));
        let e = merge(vec![shard(0, 2, &[]), shard(2, 2, &[])]).err();
        assert!(matches!(e, Some(MergeError::NoSuchShard { report: 1, .. })));
        // One shard of one is a whole scan, and merges as such.
        assert!(merge(vec![shard(1, 1, &[])]).is_ok());
    }

    #[test]
    fn reports_written_before_sharding_or_new_counters_still_load() {
        let old = r#"{"findings": [], "errors": [], "skipped": [],
            "stats": {"files": 3, "bytes": 10, "seconds": 0.1}, "interrupted": false}"#;
        let o: ScanOutcome = serde_json::from_str(old).expect("an old report loads");
        assert_eq!((o.stats.files, o.stats.commits, o.shard), (3, 0, None));
        let mut s = shard(2, 3, &["a"]);
        s.stats.files = 4;
        let text = serde_json::to_string(&s).expect("serializes");
        assert!(
            text.contains(r#""shard":{"index":2,"count":3,"images":["a"]}"#),
            "{text}"
        );
        let back: ScanOutcome = serde_json::from_str(&text).expect("round trip");
        assert_eq!((back.shard, back.stats), (s.shard, s.stats));
        let whole = serde_json::to_string(&ScanOutcome::default()).expect("serializes");
        assert!(!whole.contains("shard"), "{whole}");
    }
}
