//! Scanning git history (the repository is read by [`crate::git`]): each unique blob once, in
//! parallel, each from the cache when it was scanned before with the same rules; findings carry
//! the commit that introduced their blob.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::{CacheKey, CachedFile, Finding, GitOrigin, Issue, ScanOutcome, TreeScanner};
use crate::git::{self, GitError, GitOptions, Unit};

/// A unit's scan, or what went wrong reading it.
type UnitResult = Result<CachedFile, String>;

/// Scans the repository at `path` (shown as `given`) as `options` say, `threads` blobs at once.
pub(crate) fn scan(
    walker: &TreeScanner<'_>,
    given: &str,
    path: &Path,
    options: &GitOptions,
    threads: usize,
    cancel: &AtomicBool,
) -> ScanOutcome {
    let start = Instant::now();
    match scan_repo(walker, given, path, options, threads, cancel) {
        Ok((findings, errors, skipped, quietly, notes, commits)) => {
            let mut out = walker.outcome(findings, errors, skipped, quietly, start);
            out.warnings = notes;
            out.stats.commits = commits;
            out
        }
        Err(e) => {
            let errors = vec![Issue {
                path: given.to_owned(),
                reason: e.message().to_owned(),
            }];
            walker.outcome(Vec::new(), errors, Vec::new(), 0, start)
        }
    }
}

type Scanned = (Vec<Finding>, Vec<Issue>, Vec<Issue>, u64, Vec<String>, u64);

fn scan_repo(
    walker: &TreeScanner<'_>,
    given: &str,
    path: &Path,
    options: &GitOptions,
    threads: usize,
    cancel: &AtomicBool,
) -> Result<Scanned, GitError> {
    let shared = git::open(given, path)?;
    let repo = shared.to_thread_local();
    let mut units = if options.staged {
        git::staged(given, &repo)?
    } else {
        git::history(given, &repo, options, cancel)?
    };
    // A shard scans the blobs of its paths: every version of a file in one shard, so that a
    // secret kept across versions is reported once (below) by the shard that has them all.
    units.units.retain(|u| walker.covers(&u.path));
    // Blobs go to the workers in chunks: what the local cache doesn't hold is looked up in the
    // shared level in one round trip per chunk.
    let chunks: Vec<&[Unit]> = units.units.chunks(LOOKUP_CHUNK).collect();
    let results = crate::exec::each_with(
        &chunks,
        threads,
        || {
            let mut r = shared.to_thread_local();
            // Trees and blobs are read once each; what helps is the pack's delta base cache.
            r.object_cache_size_if_unset(4 << 20);
            r
        },
        |r, chunk| {
            let mut known = cached(walker, chunk).into_iter();
            chunk
                .iter()
                .map(|unit| {
                    let hit = known.next().flatten();
                    if cancel.load(Ordering::Relaxed) {
                        return Err("not scanned: interrupted".to_owned());
                    }
                    scan_unit(walker, r, unit, hit, options.staged)
                })
                .collect::<Vec<_>>()
        },
    )
    .into_iter()
    .flatten();
    let mut findings = Vec::new();
    let mut errors: Vec<Issue> = units
        .errors
        .iter()
        .map(|(what, why)| Issue {
            path: format!("{given}: {what}"),
            reason: why.clone(),
        })
        .collect();
    let mut skipped = Vec::new();
    let mut quietly = 0;
    let mut origins: HashMap<u32, GitOrigin> = HashMap::new();
    // A secret that stays while its file changes around it is in every version's blob: it is
    // reported once, at the first (units come oldest first), as `git log -p` shows it added
    // once. The fingerprint (rule, path, secret) says it is the same finding.
    let mut reported: HashSet<String> = HashSet::new();
    for (unit, result) in units.units.iter().zip(results) {
        match result {
            Ok(entry) => {
                quietly += entry.skipped_quietly;
                skipped.extend(entry.skipped);
                for mut f in entry.findings {
                    if !reported.insert(f.fingerprint.clone()) {
                        continue;
                    }
                    if let Some(c) = unit.commit {
                        let o = origins
                            .entry(c)
                            .or_insert_with(|| git::origin(&repo, units.commits[c as usize]));
                        f.git = Some(o.clone());
                    }
                    findings.push(f);
                }
            }
            Err(reason) => errors.push(Issue {
                path: format!("{} (blob {})", unit.path, unit.blob),
                reason,
            }),
        }
    }
    super::sort_findings(&mut findings);
    errors.sort_by(|a, b| a.path.cmp(&b.path));
    skipped.sort_by(|a, b| a.path.cmp(&b.path));
    Ok((
        findings,
        errors,
        skipped,
        quietly,
        units.notes,
        units.walked,
    ))
}

/// Blobs looked up in the shared cache level in one round trip.
const LOOKUP_CHUNK: usize = 64;

/// What the cache holds for each unit of `chunk` (in order): the local store first, then one
/// batched lookup in the shared level for the rest.
fn cached(walker: &TreeScanner<'_>, chunk: &[Unit]) -> Vec<Option<CachedFile>> {
    let Some(cache) = walker.cache_in_use() else {
        return Vec::new();
    };
    let keys: Vec<CacheKey> = chunk
        .iter()
        .map(|u| CacheKey::blob(&u.blob.to_string(), &u.path))
        .collect();
    let mut found: Vec<Option<CachedFile>> = keys.iter().map(|k| cache.get_local(k)).collect();
    let missing: Vec<usize> = (0..found.len()).filter(|&i| found[i].is_none()).collect();
    let wanted: Vec<CacheKey> = missing.iter().map(|&i| keys[i].clone()).collect();
    for (i, hit) in missing.into_iter().zip(cache.get_shared(&wanted)) {
        found[i] = hit;
    }
    found
}

/// One blob: from the cache (`hit`, looked up by [`cached`]), or read and scanned; staged blobs
/// keep only the findings on lines the commit would add.
fn scan_unit(
    walker: &TreeScanner<'_>,
    repo: &gix::Repository,
    unit: &Unit,
    hit: Option<CachedFile>,
    staged: bool,
) -> UnitResult {
    let max = walker.options().max_file_size;
    let cache = walker.cache_in_use();
    let key = CacheKey::blob(&unit.blob.to_string(), &unit.path);
    let mut entry = match hit {
        Some(hit) => {
            walker
                .progress()
                .files
                .fetch_add(hit.files, Ordering::Relaxed);
            hit
        }
        None => {
            let size = repo
                .find_header(unit.blob)
                .map_err(|e| format!("missing or unreadable (a partial clone?): {e}"))?
                .size();
            let entry = if size > max {
                CachedFile {
                    skipped: vec![Issue {
                        path: unit.path.clone(),
                        reason: format!(
                            "larger than the {max}-byte limit (--max-blob-size): {size} bytes"
                        ),
                    }],
                    ..CachedFile::default()
                }
            } else {
                let blob = repo
                    .find_blob(unit.blob)
                    .map_err(|e| format!("corrupt or unreadable: {e}"))?;
                walker
                    .scan_blob(&unit.path, &blob.data)
                    .map_err(|e| e.to_string())?
            };
            if let Some(c) = cache
                && !walker.cancelled_now()
            {
                c.put(&key, &entry);
            }
            entry
        }
    };
    if staged && !entry.findings.is_empty() {
        let before = match unit.before {
            Some(id) => repo
                .find_blob(id)
                .map(|b| b.data.clone())
                .map_err(|e| format!("HEAD's version is unreadable: {e}"))?,
            None => Vec::new(),
        };
        let after = repo
            .find_blob(unit.blob)
            .map_err(|e| format!("corrupt or unreadable: {e}"))?;
        let added = git::added_lines(&before, &after.data);
        entry.findings.retain(|f| {
            added
                .iter()
                .any(|r| r.start <= f.end_line && f.line < r.end)
        });
    }
    Ok(entry)
}
