//! Git history as a scan source (feature `git`): every blob reachable from the refs asked for,
//! each unique blob once, with the commit that first brought it (oldest in history order) and
//! its path there; and the staged changes a `git commit` would record. Read in-process with
//! gitoxide (`gix`): packs and loose objects, no `git` subprocess.
//!
//! Scanning goes through [`scan::Request::git`](crate::scan::Request::git); this module says
//! what a repository holds: [`GitOptions`] and [`GitError`], and the units a scan reads.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use gix::ObjectId;

/// Which part of a repository is scanned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GitOptions {
    /// Only what is not reachable from this revision (`--since v1.2`: commits after it; with
    /// `branch`, `since..branch`).
    pub since: Option<String>,
    /// Only what this revision reaches (default: every ref — branches, tags, remotes, the
    /// stash and its older entries).
    pub branch: Option<String>,
    /// What `git commit` would record: the staged blobs that differ from `HEAD`, at their index
    /// paths, only their added lines reported.
    pub staged: bool,
}

/// Why a repository could not be read (or one of its objects). Names the repository and the
/// object or revision at fault.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{repo}: {message}")]
pub struct GitError {
    repo: String,
    kind: GitErrorKind,
    message: String,
}

/// What kind of thing went wrong in a [`GitError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GitErrorKind {
    /// Not a git repository, or one that cannot be opened.
    Open,
    /// A revision (`--since`, `--branch`) that does not resolve.
    Revision,
    /// An object that is missing (a partial or shallow clone) or corrupt.
    Object,
    /// The index (`--staged`) cannot be read.
    Index,
}

impl GitError {
    pub(crate) fn new(repo: &str, kind: GitErrorKind, message: impl Into<String>) -> Self {
        GitError {
            repo: repo.to_owned(),
            kind,
            message: message.into(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> GitErrorKind {
        self.kind
    }

    /// The repository as given.
    pub fn repo(&self) -> &str {
        &self.repo
    }

    /// What went wrong, without the repository's name.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// One blob to scan: its id, the path it had where it first appeared, and that commit (an
/// index into [`Units::commits`]; `None` for a blob a tag points at directly, or a staged one).
#[derive(Debug, Clone)]
pub(crate) struct Unit {
    pub(crate) blob: ObjectId,
    pub(crate) path: String,
    pub(crate) commit: Option<u32>,
    /// Staged: the blob at this path in `HEAD`, whose lines are not new.
    pub(crate) before: Option<ObjectId>,
}

/// What a history walk found: the blobs to scan, the commits they point into, and the
/// objects that could not be read (the walk goes on without them).
#[derive(Debug, Default)]
pub(crate) struct Units {
    pub(crate) units: Vec<Unit>,
    pub(crate) commits: Vec<ObjectId>,
    pub(crate) errors: Vec<(String, String)>,
    pub(crate) notes: Vec<String>,
    /// Commits walked.
    pub(crate) walked: u64,
}

/// Opens the repository at `path` (a work tree or a bare repository; not its parents).
pub(crate) fn open(name: &str, path: &Path) -> Result<gix::ThreadSafeRepository, GitError> {
    gix::open(path)
        .map(gix::Repository::into_sync)
        .map_err(|e| {
            GitError::new(
                name,
                GitErrorKind::Open,
                format!("not a git repository: {e}"),
            )
        })
}

/// The commit `spec` names (`main`, `v1.2`, `HEAD~3`, an id).
fn resolve(name: &str, repo: &gix::Repository, spec: &str) -> Result<ObjectId, GitError> {
    let id = repo
        .rev_parse_single(spec)
        .map_err(|e| GitError::new(name, GitErrorKind::Revision, format!("{spec}: {e}")))?;
    let object = id
        .object()
        .map_err(|e| GitError::new(name, GitErrorKind::Object, format!("{spec}: {e}")))?;
    object.peel_to_commit().map(|c| c.id).map_err(|e| {
        GitError::new(
            name,
            GitErrorKind::Revision,
            format!("{spec} is not a commit: {e}"),
        )
    })
}

/// The commits refs point at, and the blobs tags point at (with the tag's name).
type Tips = (Vec<ObjectId>, Vec<(ObjectId, String)>);

/// Every ref's target (tags peeled), and the stash's older entries from its reflog: commits,
/// and blobs tags point at directly (with the tag's name as their path).
fn tips(name: &str, repo: &gix::Repository, out: &mut Units) -> Result<Tips, GitError> {
    let err = |m: String| GitError::new(name, GitErrorKind::Open, m);
    let mut commits = Vec::new();
    let mut blobs = Vec::new();
    // HEAD too: a detached HEAD's commits are on no branch.
    if let Ok(head) = repo.head_id() {
        commits.push(head.detach());
    }
    let platform = repo
        .references()
        .map_err(|e| err(format!("reading refs: {e}")))?;
    let all = platform
        .all()
        .map_err(|e| err(format!("reading refs: {e}")))?;
    for reference in all {
        let mut reference = match reference {
            Ok(r) => r,
            Err(e) => {
                out.errors
                    .push(("refs".into(), format!("an unreadable ref: {e}")));
                continue;
            }
        };
        let ref_name = reference.name().as_bstr().to_string();
        match reference.peel_to_id() {
            Ok(id) => match id.object().map(|o| o.kind) {
                Ok(gix::object::Kind::Commit) => commits.push(id.detach()),
                Ok(gix::object::Kind::Blob) => blobs.push((id.detach(), ref_name.clone())),
                Ok(_) => {}
                Err(e) => out.errors.push((ref_name.clone(), format!("{id}: {e}"))),
            },
            Err(e) => out.errors.push((ref_name.clone(), e.to_string())),
        }
        if ref_name == "refs/stash" {
            // Older stash entries live only in the stash's reflog.
            let mut log = reference.log_iter();
            if let Ok(Some(entries)) = log.all() {
                commits.extend(entries.flatten().map(|line| line.new_oid()));
            }
        }
    }
    Ok((commits, blobs))
}

/// A commit's parents and tree, and its time for ordering.
struct Node {
    parents: Vec<ObjectId>,
    tree: ObjectId,
    time: i64,
}

/// Every commit reachable from `tips` and not in `hidden`, with its parents and tree. A parent
/// that is not in the repository (a shallow clone's boundary) ends the walk there.
fn walk(
    repo: &gix::Repository,
    tips: &[ObjectId],
    hidden: &HashSet<ObjectId>,
    cancel: &AtomicBool,
    out: &mut Units,
) -> HashMap<ObjectId, Node> {
    let mut nodes: HashMap<ObjectId, Node> = HashMap::new();
    let mut stack: Vec<ObjectId> = tips
        .iter()
        .copied()
        .filter(|t| !hidden.contains(t))
        .collect();
    let mut missing = 0u64;
    // A shallow clone's boundary commits name parents the repository does not have: their
    // history ends there, it is not missing.
    let boundary: HashSet<ObjectId> = repo
        .shallow_commits()
        .ok()
        .flatten()
        .map(|c| c.iter().copied().collect())
        .unwrap_or_default();
    while let Some(id) = stack.pop() {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        if nodes.contains_key(&id) {
            continue;
        }
        let commit = match repo.find_commit(id) {
            Ok(c) => c,
            Err(e) => {
                missing += 1;
                if missing <= 10 {
                    out.errors.push((format!("commit {id}"), e.to_string()));
                }
                continue;
            }
        };
        let Ok(tree) = commit.tree_id() else {
            out.errors
                .push((format!("commit {id}"), "no readable tree".into()));
            continue;
        };
        let parents: Vec<ObjectId> = if boundary.contains(&id) {
            Vec::new()
        } else {
            commit.parent_ids().map(gix::Id::detach).collect()
        };
        let time = commit.time().map_or(0, |t| t.seconds);
        for p in &parents {
            if !hidden.contains(p) && !nodes.contains_key(p) {
                stack.push(*p);
            }
        }
        nodes.insert(
            id,
            Node {
                parents,
                tree: tree.detach(),
                time,
            },
        );
    }
    if missing > 10 {
        out.errors.push((
            "commits".into(),
            format!("{} more commits could not be read", missing - 10),
        ));
    }
    nodes
}

/// The commits oldest first: every parent before its children (ties by commit time, then id),
/// so "the first commit that has a blob" is the one that introduced it.
fn topological(nodes: &HashMap<ObjectId, Node>) -> Vec<ObjectId> {
    let mut waiting: HashMap<ObjectId, usize> = HashMap::new();
    let mut children: HashMap<ObjectId, Vec<ObjectId>> = HashMap::new();
    for (id, n) in nodes {
        let inside = n.parents.iter().filter(|p| nodes.contains_key(*p)).count();
        waiting.insert(*id, inside);
        for p in n.parents.iter().filter(|p| nodes.contains_key(*p)) {
            children.entry(*p).or_default().push(*id);
        }
    }
    let key = |id: &ObjectId| std::cmp::Reverse((nodes.get(id).map_or(0, |n| n.time), *id));
    let mut ready: BinaryHeap<std::cmp::Reverse<(i64, ObjectId)>> = waiting
        .iter()
        .filter(|(_, w)| **w == 0)
        .map(|(id, _)| key(id))
        .collect();
    let mut order = Vec::with_capacity(nodes.len());
    while let Some(std::cmp::Reverse((_, id))) = ready.pop() {
        order.push(id);
        for c in children.get(&id).into_iter().flatten() {
            if let Some(w) = waiting.get_mut(c) {
                *w -= 1;
                if *w == 0 {
                    ready.push(key(c));
                }
            }
        }
    }
    order
}

/// Records the blobs of `tree` (under `prefix`) not seen before as units of `commit`; trees
/// seen before are skipped whole (a tree seen means all its blobs were).
fn collect_tree(
    repo: &gix::Repository,
    root: ObjectId,
    commit: Option<u32>,
    seen: &mut Seen,
    out: &mut Units,
) {
    let mut stack = vec![(root, String::new())];
    while let Some((id, prefix)) = stack.pop() {
        if !seen.trees.insert(id) {
            continue;
        }
        let tree = match repo.find_tree(id) {
            Ok(t) => t,
            Err(e) => {
                let at = if prefix.is_empty() {
                    "/".to_owned()
                } else {
                    prefix.clone()
                };
                out.errors
                    .push((format!("tree {id} ({at})"), e.to_string()));
                continue;
            }
        };
        for entry in tree.iter() {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    out.errors
                        .push((format!("tree {id}"), format!("corrupt: {e}")));
                    break;
                }
            };
            let mode = entry.mode();
            let name = String::from_utf8_lossy(entry.filename());
            let path = if prefix.is_empty() {
                name.into_owned()
            } else {
                format!("{prefix}/{name}")
            };
            let oid = entry.oid().to_owned();
            if mode.is_tree() {
                if !seen.trees.contains(&oid) {
                    stack.push((oid, path));
                }
            } else if mode.is_blob() && seen.blobs.insert(oid) {
                // Symlinks (their target) and submodules (a commit of another repository) are
                // not content of this one.
                out.units.push(Unit {
                    blob: oid,
                    path,
                    commit,
                    before: None,
                });
            }
        }
    }
}

#[derive(Default)]
struct Seen {
    trees: HashSet<ObjectId>,
    blobs: HashSet<ObjectId>,
}

/// Every blob reachable from the refs `options` names, each once, with the commit that first
/// had it (oldest first) and its path there.
pub(crate) fn history(
    name: &str,
    repo: &gix::Repository,
    options: &GitOptions,
    cancel: &AtomicBool,
) -> Result<Units, GitError> {
    let mut out = Units::default();
    let (tips, tagged_blobs) = match &options.branch {
        Some(spec) => (vec![resolve(name, repo, spec)?], Vec::new()),
        None => tips(name, repo, &mut out)?,
    };
    let mut seen = Seen::default();
    let mut hidden = HashSet::new();
    if let Some(spec) = &options.since {
        // What `since` reaches is history already scanned: its commits are not walked, and
        // their trees and blobs count as seen (a blob it has is not new after it).
        let base = resolve(name, repo, spec)?;
        let mut before = Units::default();
        let nodes = walk(repo, &[base], &HashSet::new(), cancel, &mut before);
        for id in topological(&nodes) {
            if let Some(n) = nodes.get(&id) {
                collect_tree(repo, n.tree, None, &mut seen, &mut before);
            }
        }
        hidden = nodes.into_keys().collect();
    }
    let nodes = walk(repo, &tips, &hidden, cancel, &mut out);
    if repo.is_shallow().unwrap_or(false) {
        out.notes.push(format!(
            "{name}: a shallow clone: history before its shallow boundary is not in the repository and was not scanned"
        ));
    }
    let order = topological(&nodes);
    out.walked = order.len() as u64;
    for id in order {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        let index = out.commits.len() as u32;
        out.commits.push(id);
        if let Some(n) = nodes.get(&id) {
            collect_tree(repo, n.tree, Some(index), &mut seen, &mut out);
        }
    }
    for (blob, tag) in tagged_blobs {
        if seen.blobs.insert(blob) {
            out.units.push(Unit {
                blob,
                path: tag,
                commit: None,
                before: None,
            });
        }
    }
    Ok(out)
}

/// The staged blobs that differ from `HEAD` (stage 0 entries; no `HEAD` yet: all of them), each
/// with the blob `HEAD` has at that path.
pub(crate) fn staged(name: &str, repo: &gix::Repository) -> Result<Units, GitError> {
    let index = repo
        .index_or_empty()
        .map_err(|e| GitError::new(name, GitErrorKind::Index, format!("reading the index: {e}")))?;
    let mut head: HashMap<Vec<u8>, ObjectId> = HashMap::new();
    if let Ok(tree) = repo.head_tree() {
        let mut recorder = gix::traverse::tree::Recorder::default();
        tree.traverse().breadthfirst(&mut recorder).map_err(|e| {
            GitError::new(
                name,
                GitErrorKind::Object,
                format!("reading HEAD's tree: {e}"),
            )
        })?;
        for e in recorder.records {
            if e.mode.is_blob() {
                head.insert(e.filepath.to_vec(), e.oid);
            }
        }
    }
    let mut out = Units::default();
    for entry in index.entries() {
        // Conflicted entries (stages 1-3), symlinks and submodules are not staged content.
        let file = entry.mode == gix::index::entry::Mode::FILE
            || entry.mode == gix::index::entry::Mode::FILE_EXECUTABLE;
        if entry.stage_raw() != 0 || !file {
            continue;
        }
        let path = entry.path(&index);
        let before = head.get(path.as_ref() as &[u8]).copied();
        if before == Some(entry.id) {
            continue;
        }
        out.units.push(Unit {
            blob: entry.id,
            path: String::from_utf8_lossy(path).into_owned(),
            commit: None,
            before,
        });
    }
    Ok(out)
}

/// Which repository `path` is and where its `HEAD` stands, for a report's provenance: the
/// remote `origin`'s URL (any credentials in it removed), else the repository as a `file://`
/// URI; `None` when it is not a repository.
pub fn version_control(path: &Path) -> Option<crate::scan::report::VersionControl> {
    let repo = gix::open(path).ok()?;
    let config = repo.config_snapshot();
    let remote = config
        .string("remote.origin.url")
        .map(|u| without_credentials(&u.to_string()));
    let uri = remote.unwrap_or_else(|| {
        let dir = std::path::absolute(repo.workdir().unwrap_or_else(|| repo.git_dir()))
            .unwrap_or_else(|_| path.to_owned());
        format!("file://{}", dir.display())
    });
    Some(crate::scan::report::VersionControl {
        repository_uri: uri,
        revision_id: repo.head_id().ok().map(|id| id.to_string()),
        branch: repo
            .head_name()
            .ok()
            .flatten()
            .map(|n| n.shorten().to_string()),
    })
}

/// `https://user:token@host/x` as `https://host/x`: a URL in a report never carries a secret.
fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if path.is_empty() && !rest.contains('/') {
                format!("{scheme}://{host}")
            } else {
                format!("{scheme}://{host}/{path}")
            }
        }
        None => url.to_owned(),
    }
}

/// Where a finding came from in history: the commit that introduced its blob.
pub(crate) fn origin(repo: &gix::Repository, id: ObjectId) -> crate::scan::GitOrigin {
    let text = |b: &gix::bstr::BStr| String::from_utf8_lossy(b).trim().to_owned();
    let mut o = crate::scan::GitOrigin {
        commit: id.to_string(),
        ..crate::scan::GitOrigin::default()
    };
    if let Ok(c) = repo.find_commit(id) {
        if let Ok(a) = c.author() {
            o = crate::scan::GitOrigin {
                author: text(a.name),
                email: text(a.email),
                date: a
                    .time()
                    .map(|t| rfc3339(t.seconds, t.offset))
                    .unwrap_or_default(),
                ..o
            };
        }
        o.message = text(c.message_raw_sloppy());
    }
    o
}

/// `seconds` since the epoch at UTC offset `offset` (seconds) as `2026-12-06T08:00:00+01:00`.
pub(crate) fn rfc3339(seconds: i64, offset: i32) -> String {
    let (year, month, day, secs) = crate::scan::report::civil(seconds + i64::from(offset));
    let sign = if offset < 0 { '-' } else { '+' };
    let off = offset.unsigned_abs();
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        off / 3600,
        off / 60 % 60
    )
}

/// The 1-based line numbers of `after` that are not in `before` (a line diff).
pub(crate) fn added_lines(before: &[u8], after: &[u8]) -> Vec<std::ops::Range<u64>> {
    use imara_diff::{Algorithm, Diff, InternedInput};
    let input = InternedInput::new(before, after);
    let diff = Diff::compute(Algorithm::Histogram, &input);
    diff.hunks()
        .filter(|h| !h.after.is_empty())
        .map(|h| u64::from(h.after.start) + 1..u64::from(h.after.end) + 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_added_lines() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00+00:00");
        assert_eq!(rfc3339(1_796_544_000, 3600), "2026-12-06T09:00:00+01:00");
        assert_eq!(
            rfc3339(951_782_400 - 1, -18_000),
            "2000-02-28T18:59:59-05:00"
        );
        assert_eq!(added_lines(b"a\nb\nc\n", b"a\nX\nb\nc\nY\n"), [2..3, 5..6]);
        assert_eq!(added_lines(b"", b"a\nb\n"), vec![1..3]);
        assert!(added_lines(b"a\nb\n", b"a\n").is_empty());
        assert_eq!(
            without_credentials("https://user:ghp_x@github.com/org/repo.git"),
            "https://github.com/org/repo.git"
        );
        assert_eq!(
            without_credentials("https://github.com"),
            "https://github.com"
        );
        assert_eq!(
            without_credentials("git@github.com:org/repo.git"),
            "git@github.com:org/repo.git"
        );
    }
}
