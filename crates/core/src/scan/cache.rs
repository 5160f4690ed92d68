//! The incremental scan cache: a content unit's findings (a file's, a layer's, a blob's), valid
//! for one rule set and one set of scan settings.
//!
//! Two levels. The local one is [redb](https://docs.rs/redb) (an embedded, ACID, crash-safe
//! B-tree in one file, held by one process: concurrent processes take the next of
//! [`LOCAL_SLOTS`] files beside it, folded back into the first when its holder closes). The
//! optional shared one is Redis ([`SharedCache`]), for a fleet. Writes go through a
//! [`Batcher`] so workers never wait on a commit. The cache is an optimisation and is treated
//! as untrusted: a value that doesn't decode is a miss, a file that doesn't open is deleted and
//! rebuilt, and no cache failure fails a scan.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use serde::{Deserialize, Serialize};

use super::shared::SharedCache;
use super::{Finding, Issue};
use crate::exec::Batcher;

/// `path → [blake3 content hash (32 bytes)][JSON of a CachedFile]`.
const FILES: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("files");
/// `"settings" → digest of the rule set and scan settings`.
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
/// Bumped when the value layout changes.
// 3: fingerprints became BLAKE3 (32 hex digits); entries of /2 would carry the old ones.
const LAYOUT: &[u8] = b"capstan-scan-cache/3";

/// Why the cache could not be used (the scan goes on without it).
#[derive(Debug)]
pub struct CacheError {
    path: PathBuf,
    kind: CacheErrorKind,
    cause: Cause,
}

#[derive(Debug)]
enum Cause {
    Said(&'static str),
    Error(Box<dyn std::error::Error + Send + Sync>),
}

/// What kind of thing went wrong in a [`CacheError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CacheErrorKind {
    /// Its directory could not be created, a damaged file removed, or its writer thread
    /// started (the cause is the error's `source`).
    Io,
    /// Another capstan process has it open.
    InUse,
    /// The store refused to open, reset or commit (the cause is the error's `source`).
    Database,
    /// A background write failed: entries of this run were lost.
    WritesLost,
}

impl CacheError {
    fn new(
        path: &Path,
        kind: CacheErrorKind,
        cause: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        CacheError {
            path: path.to_owned(),
            kind,
            cause: Cause::Error(cause.into()),
        }
    }

    fn said(path: &Path, kind: CacheErrorKind, message: &'static str) -> Self {
        CacheError {
            path: path.to_owned(),
            kind,
            cause: Cause::Said(message),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> CacheErrorKind {
        self.kind
    }

    /// The cache file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl std::fmt::Display for CacheError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "scan cache {}: ", self.path.display())?;
        match &self.cause {
            Cause::Said(m) => f.write_str(m),
            Cause::Error(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CacheError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.cause {
            Cause::Said(_) => None,
            Cause::Error(e) => Some(&**e),
        }
    }
}

type Entry = (String, Vec<u8>);

/// How many processes can hold a local store of their own at once: the first opens
/// `scan.redb`, the next ones `scan-2.redb` … `scan-8.redb`, and whoever holds `scan.redb`
/// folds the others into it when it closes.
pub const LOCAL_SLOTS: usize = 8;

/// What a cache entry is for: a content unit, under the key the local store files it by and
/// the name the shared level shares it under.
///
/// The findings of a file carry the path they were found under (fingerprints and path rules
/// depend on it), so a file's key holds both its bytes' hash and that path; a layer is its
/// digest; a blob its object id and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheKey {
    local: String,
    stamp: [u8; 32],
    unit: String,
}

impl CacheKey {
    /// A file at `path` (absolute: the local key), shown as `name`, whose bytes hash (BLAKE3)
    /// to `hash`.
    pub fn file(path: &str, name: &str, hash: [u8; 32]) -> Self {
        CacheKey {
            local: format!("{path}\0{name}"),
            stamp: hash,
            unit: format!("file:{}:{name}", blake3::Hash::from_bytes(hash).to_hex()),
        }
    }

    /// An image layer, by its digest (`sha256:…`).
    pub fn layer(digest: &str) -> Self {
        let local = format!("layer:{digest}");
        CacheKey {
            stamp: *blake3::hash(local.as_bytes()).as_bytes(),
            unit: local.clone(),
            local,
        }
    }

    /// A git blob, by its object id, at `path` in the tree.
    pub fn blob(oid: &str, path: &str) -> Self {
        let local = format!("blob:{oid}\0{path}");
        CacheKey {
            stamp: *blake3::hash(local.as_bytes()).as_bytes(),
            unit: format!("blob:{oid}:{path}"),
            local,
        }
    }

    /// The content unit as the shared level names it: `file:<blake3>:<path>`,
    /// `layer:<digest>`, `blob:<oid>:<path>`.
    pub fn unit(&self) -> &str {
        &self.unit
    }
}

/// What the cache keeps for one file: its findings and what its scan counted (an archive
/// counts its members), so a run answered from the cache reports what a scan would.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CachedFile {
    /// The findings, in the scanner's order.
    #[serde(rename = "f")]
    pub findings: Vec<Finding>,
    /// Files (or archive members) scanned.
    #[serde(rename = "n")]
    pub files: u64,
    /// Files passed over without a listed reason (binary, compressed non-archives).
    #[serde(rename = "q")]
    pub skipped_quietly: u64,
    /// Members passed over with a reason (too large).
    #[serde(rename = "s", default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<Issue>,
    /// An image layer's whiteouts (`dir/.wh.name`, `dir/.wh..wh..opq`): what it deletes from
    /// the layers below, so a cached layer still says which lower files it removed.
    #[serde(rename = "w", default, skip_serializing_if = "Vec::is_empty")]
    pub whiteouts: Vec<String>,
}

/// An open scan cache — a local store, a shared one, or both — shared between the walker's
/// threads by reference. Lookups go local → shared → scan; what the shared level answers is
/// copied into the local store; new entries go to both.
///
/// ```
/// use capstan::scan::{CacheKey, CachedFile, ScanCache};
/// let dir = std::env::temp_dir().join(format!("capstan-doc-cache-{}", std::process::id()));
/// let cache = ScanCache::open(&dir.join("scan.redb"), "rules-and-settings-digest")?;
/// let key = CacheKey::file("/src/a.rs", "src/a.rs", [7u8; 32]);
/// assert!(cache.get(&key).is_none());
/// cache.put(&key, &CachedFile { files: 1, ..CachedFile::default() });
/// cache.close()?;
/// let cache = ScanCache::open(&dir.join("scan.redb"), "rules-and-settings-digest")?;
/// assert_eq!(cache.get(&key).map(|c| c.files), Some(1));
/// # cache.close()?; std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), capstan::scan::CacheError>(())
/// ```
#[derive(Debug)]
pub struct ScanCache {
    local: Option<Local>,
    shared: Option<SharedCache>,
    hits: AtomicU64,
    local_hits: AtomicU64,
    misses: AtomicU64,
}

/// The local level: one redb file, held by this process.
#[derive(Debug)]
struct Local {
    db: Arc<Database>,
    path: PathBuf,
    /// The first slot's path: the others are named after it.
    base: PathBuf,
    slot: usize,
    stamp: Vec<u8>,
    writer: Option<Batcher<Entry>>,
    failed: Arc<AtomicBool>,
    rebuilt: bool,
}

impl ScanCache {
    /// Opens (or creates) the local store at `path` for results computed under `settings` (a
    /// digest of the rule set and every option that changes findings). A different `settings`
    /// than the stored one empties it; a file that isn't a valid store is replaced. When
    /// another process holds it, the next free slot beside it is used
    /// ([`LOCAL_SLOTS`]); only when every slot is taken is it [`InUse`](CacheErrorKind::InUse).
    pub fn open(path: &Path, settings: &str) -> Result<ScanCache, CacheError> {
        let mut stamp = LAYOUT.to_vec();
        stamp.push(0);
        stamp.extend_from_slice(settings.as_bytes());
        for slot in 0..LOCAL_SLOTS {
            match Local::open(path, slot, &stamp) {
                Ok(local) => return Ok(ScanCache::with_levels(Some(local), None)),
                Err(e) if e.kind() == CacheErrorKind::InUse => {}
                Err(e) => return Err(e),
            }
        }
        Err(CacheError::said(
            path,
            CacheErrorKind::InUse,
            "in use by other capstan processes (every slot beside it too)",
        ))
    }

    /// A cache with only the shared level (when no local store could be opened).
    pub fn shared_only(shared: SharedCache) -> ScanCache {
        ScanCache::with_levels(None, Some(shared))
    }

    /// Adds `shared` as the second level.
    pub fn with_shared(mut self, shared: SharedCache) -> ScanCache {
        self.shared = Some(shared);
        self
    }

    fn with_levels(local: Option<Local>, shared: Option<SharedCache>) -> ScanCache {
        ScanCache {
            local,
            shared,
            hits: AtomicU64::new(0),
            local_hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The default location: `$XDG_CACHE_HOME/capstan/scan.redb`, else
    /// `~/.cache/capstan/scan.redb`; `None` when neither variable is set.
    pub fn default_path() -> Option<PathBuf> {
        let base = std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|h| PathBuf::from(h).join(".cache"))
            })?;
        Some(base.join("capstan").join("scan.redb"))
    }

    /// What is stored for `key`: from the local store, else from the shared level (and then
    /// copied into the local store).
    pub fn get(&self, key: &CacheKey) -> Option<CachedFile> {
        self.get_local(key).or_else(|| {
            let mut found = self.get_shared(std::slice::from_ref(key));
            found.pop().flatten()
        })
    }

    /// What the local store holds for `key` (a hit is counted; a miss is counted by the
    /// shared lookup that follows, [`get_shared`](Self::get_shared)).
    pub(crate) fn get_local(&self, key: &CacheKey) -> Option<CachedFile> {
        let hit = self.local.as_ref().and_then(|l| l.lookup(key))?;
        self.local_hits.fetch_add(1, Ordering::Relaxed);
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(hit)
    }

    /// What the shared level holds for each of `keys` — not in the local store — in one round
    /// trip; what it answers is copied into the local store.
    pub(crate) fn get_shared(&self, keys: &[CacheKey]) -> Vec<Option<CachedFile>> {
        let found = match &self.shared {
            Some(s) => s.get_many(&keys.iter().map(CacheKey::unit).collect::<Vec<_>>()),
            None => keys.iter().map(|_| None).collect(),
        };
        keys.iter()
            .zip(found)
            .map(|(key, hit)| match hit {
                Some(hit) => {
                    if let Some(l) = &self.local {
                        l.put(key, hit.json());
                    }
                    self.hits.fetch_add(1, Ordering::Relaxed);
                    Some(hit.entry)
                }
                None => {
                    self.misses.fetch_add(1, Ordering::Relaxed);
                    None
                }
            })
            .collect()
    }

    /// Whether lookups that miss the local store are worth gathering into batches for one
    /// round trip to the shared level (it exists and has not failed).
    pub(crate) fn batches_lookups(&self) -> bool {
        self.shared.as_ref().is_some_and(SharedCache::up)
    }

    /// Records `entry` for `key` in both levels (written in the background).
    pub fn put(&self, key: &CacheKey, entry: &CachedFile) {
        // Encoded once for both levels.
        let Ok(json) = serde_json::to_vec(entry) else {
            return;
        };
        if let Some(l) = &self.local {
            l.put(key, &json);
        }
        if let Some(s) = &self.shared {
            s.put(&key.unit, &json);
        }
    }

    /// Lookups that found a valid entry, in either level.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups answered by the local store.
    pub fn local_hits(&self) -> u64 {
        self.local_hits.load(Ordering::Relaxed)
    }

    /// Lookups that found nothing in any level.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// The shared level, when there is one.
    pub fn shared(&self) -> Option<&SharedCache> {
        self.shared.as_ref()
    }

    /// Whether the local store on disk was unusable and has been replaced by an empty one.
    pub fn rebuilt(&self) -> bool {
        self.local.as_ref().is_some_and(|l| l.rebuilt)
    }

    /// Where the local store lives (the slot this process holds), when there is one.
    pub fn path(&self) -> Option<&Path> {
        self.local.as_ref().map(|l| l.path.as_path())
    }

    /// Which slot of the local store this process holds (0: the first, `scan.redb`).
    pub fn slot(&self) -> Option<usize> {
        self.local.as_ref().map(|l| l.slot)
    }

    /// Sends the shared level's queued writes (within its timeout). [`close`](Self::close)
    /// does it too; call it first to read the shared level's final counters and fault.
    pub fn flush_shared(&mut self) {
        if let Some(s) = &mut self.shared {
            s.flush();
        }
    }

    /// Writes what is queued and makes it durable; the first slot's holder then folds the
    /// other slots, those no process holds any more, into its store.
    pub fn close(mut self) -> Result<(), CacheError> {
        self.flush_shared();
        match self.local.take() {
            Some(l) => l.close(),
            None => Ok(()),
        }
    }
}

impl Local {
    fn open(base: &Path, slot: usize, stamp: &[u8]) -> Result<Local, CacheError> {
        let path = slot_path(base, slot);
        let path = path.as_path();
        if let Some(dir) = path.parent() {
            create_private_dir(dir).map_err(|e| CacheError::new(path, CacheErrorKind::Io, e))?;
        }
        let (db, rebuilt) = match open_db(path) {
            Ok(db) => (db, false),
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                return Err(CacheError::said(
                    path,
                    CacheErrorKind::InUse,
                    "in use by another capstan process",
                ));
            }
            Err(_) => {
                // Corrupt, truncated or not a redb file at all: start over.
                std::fs::remove_file(path)
                    .map_err(|e| CacheError::new(path, CacheErrorKind::Io, e))?;
                (
                    open_db(path)
                        .map_err(|e| CacheError::new(path, CacheErrorKind::Database, e))?,
                    true,
                )
            }
        };
        reset_unless(&db, stamp).map_err(|e| CacheError::new(path, CacheErrorKind::Database, e))?;
        let db = Arc::new(db);
        let failed = Arc::new(AtomicBool::new(false));
        let (sink_db, sink_failed) = (Arc::clone(&db), Arc::clone(&failed));
        let writer = Batcher::builder()
            .name("capstan-cache-writer")
            .max_items(512)
            .build(move |batch: Vec<Entry>| {
                if !sink_failed.load(Ordering::Relaxed) && write(&sink_db, &batch).is_err() {
                    sink_failed.store(true, Ordering::Relaxed);
                }
            })
            .map_err(|e| CacheError::new(path, CacheErrorKind::Io, e))?;
        Ok(Local {
            db,
            path: path.to_owned(),
            base: base.to_owned(),
            slot,
            stamp: stamp.to_vec(),
            writer: Some(writer),
            failed,
            rebuilt,
        })
    }

    fn lookup(&self, key: &CacheKey) -> Option<CachedFile> {
        let txn = self.db.begin_read().ok()?;
        let table = txn.open_table(FILES).ok()?;
        let value = table.get(key.local.as_str()).ok()??;
        let bytes = value.value();
        let (stored, json) = bytes.split_at_checked(32)?;
        if stored != key.stamp {
            return None;
        }
        serde_json::from_slice(json).ok()
    }

    /// Queues the entry whose JSON is `json` for `key`.
    fn put(&self, key: &CacheKey, json: &[u8]) {
        let Some(writer) = &self.writer else { return };
        let mut value = Vec::with_capacity(key.stamp.len() + json.len());
        value.extend_from_slice(&key.stamp);
        value.extend_from_slice(json);
        // Never wait on the writer: a full queue only costs a future rescan.
        let _ = writer.try_push((key.local.clone(), value));
    }

    fn close(mut self) -> Result<(), CacheError> {
        if let Some(writer) = self.writer.take() {
            writer.shutdown();
        }
        if self.failed.load(Ordering::Relaxed) {
            return Err(CacheError::said(
                &self.path,
                CacheErrorKind::WritesLost,
                "a write failed; entries were lost",
            ));
        }
        let txn = self
            .db
            .begin_write()
            .map_err(|e| CacheError::new(&self.path, CacheErrorKind::Database, e))?;
        txn.commit()
            .map_err(|e| CacheError::new(&self.path, CacheErrorKind::Database, e))?;
        if self.slot == 0 {
            for slot in 1..LOCAL_SLOTS {
                self.fold(&slot_path(&self.base, slot))?;
            }
        }
        Ok(())
    }

    /// Copies the entries of the slot at `other` (when no process holds it and it was written
    /// under the same settings) into this store, then removes it.
    fn fold(&self, other: &Path) -> Result<(), CacheError> {
        if !other.exists() {
            return Ok(());
        }
        let theirs = match Database::builder().create(other) {
            Ok(db) => db,
            // Held by a running process: folded by a later close.
            Err(redb::DatabaseError::DatabaseAlreadyOpen) => return Ok(()),
            Err(_) => {
                let _ = std::fs::remove_file(other);
                return Ok(());
            }
        };
        let copied = (|| -> Result<(), redb::Error> {
            let read = theirs.begin_read()?;
            let same = read.open_table(META).ok().and_then(|m| {
                m.get("settings")
                    .ok()
                    .flatten()
                    .map(|v| v.value() == self.stamp)
            }) == Some(true);
            if !same {
                return Ok(());
            }
            let Ok(entries) = read.open_table(FILES) else {
                return Ok(());
            };
            let txn = self.db.begin_write()?;
            {
                let mut ours = txn.open_table(FILES)?;
                for row in entries.iter()? {
                    let (k, v) = row?;
                    ours.insert(k.value(), v.value())?;
                }
            }
            txn.commit()?;
            Ok(())
        })();
        // Removed while still held, so no process can open this copy in between; one that
        // opens the path afterwards gets a new, empty file.
        let _ = std::fs::remove_file(other);
        drop(theirs);
        copied.map_err(|e| CacheError::new(&self.path, CacheErrorKind::Database, e))
    }
}

/// The path of local slot `slot` (0: `path` itself; then `scan-2.redb`, …).
fn slot_path(path: &Path, slot: usize) -> PathBuf {
    if slot == 0 {
        return path.to_owned();
    }
    let stem = path
        .file_stem()
        .map_or_else(|| "scan".into(), |s| s.to_string_lossy());
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{}.{}", slot + 1, ext.to_string_lossy()),
        None => format!("{stem}-{}", slot + 1),
    };
    path.with_file_name(name)
}

fn open_db(path: &Path) -> Result<Database, redb::DatabaseError> {
    let db = Database::builder().set_cache_size(8 << 20).create(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(db)
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
}

/// Empties the cache unless it was written under `stamp`.
fn reset_unless(db: &Database, stamp: &[u8]) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        let current = meta.get("settings")?.map(|v| v.value() == stamp);
        if current != Some(true) {
            txn.delete_table(FILES)?;
            meta.insert("settings", stamp)?;
        }
    }
    txn.commit()?;
    Ok(())
}

fn write(db: &Database, batch: &[Entry]) -> Result<(), redb::Error> {
    let mut txn = db.begin_write()?;
    // Durable at `close`; a crash before then loses only this run's additions.
    txn.set_durability(Durability::None)?;
    {
        let mut table = txn.open_table(FILES)?;
        for (k, v) in batch {
            table.insert(k.as_str(), v.as_slice())?;
        }
    }
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("capstan-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d.join("scan.redb")
    }

    /// File `/k<n>` with content hash `[n; 32]`.
    fn k(n: u8) -> CacheKey {
        CacheKey::file(&format!("/k{n}"), "k", [n; 32])
    }

    #[test]
    fn another_settings_digest_empties_it() {
        let p = temp("settings");
        let c = ScanCache::open(&p, "a").expect("opens");
        c.put(&k(1), &CachedFile::default());
        c.close().expect("closes");
        let c = ScanCache::open(&p, "a").expect("opens");
        assert!(c.get(&k(1)).is_some());
        assert!(
            c.get(&CacheKey::file("/k1", "k", [2; 32])).is_none(),
            "another content hash misses"
        );
        assert_eq!((c.hits(), c.misses()), (1, 1));
        c.close().expect("closes");
        let c = ScanCache::open(&p, "b").expect("opens");
        assert!(c.get(&k(1)).is_none());
        c.close().expect("closes");
        let _ = std::fs::remove_dir_all(p.parent().expect("dir"));
    }

    #[test]
    fn a_corrupt_or_half_written_file_is_replaced_not_trusted() {
        for damage in ["truncated", "garbage"] {
            let p = temp(damage);
            let c = ScanCache::open(&p, "a").expect("opens");
            c.put(&k(1), &CachedFile::default());
            c.close().expect("closes");
            let len = std::fs::metadata(&p).expect("exists").len();
            if damage == "truncated" {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&p)
                    .expect("opens");
                f.set_len(len / 2).expect("truncates");
            } else {
                std::fs::write(&p, b"definitely not a database").expect("writes");
            }
            let c = ScanCache::open(&p, "a").expect("rebuilt, not fatal");
            assert!(c.get(&k(1)).is_none(), "{damage}: trusted a damaged cache");
            c.put(&k(1), &CachedFile::default());
            c.close().expect("closes");
            let c = ScanCache::open(&p, "a").expect("opens");
            assert!(
                c.get(&k(1)).is_some(),
                "{damage}: not usable after the rebuild"
            );
            c.close().expect("closes");
            let _ = std::fs::remove_dir_all(p.parent().expect("dir"));
        }
    }

    #[test]
    fn processes_that_find_it_held_take_the_next_slot_and_are_folded_back() {
        let p = temp("slots");
        // Each `open` stands for a process: redb holds its file for the process that opened it.
        let first = ScanCache::open(&p, "a").expect("opens");
        assert_eq!(first.slot(), Some(0));
        let mut others = Vec::new();
        for slot in 1..LOCAL_SLOTS {
            let c = ScanCache::open(&p, "a").expect("a free slot");
            assert_eq!(c.slot(), Some(slot));
            c.put(&k(slot as u8), &CachedFile::default());
            others.push(c);
        }
        assert_eq!(
            others[0].path(),
            Some(p.with_file_name("scan-2.redb").as_path())
        );
        let e = ScanCache::open(&p, "a").err();
        assert_eq!(
            e.as_ref().map(CacheError::kind),
            Some(CacheErrorKind::InUse)
        );
        assert_eq!(
            e.map(|e| e.to_string()),
            Some(format!(
                "scan cache {}: in use by other capstan processes (every slot beside it too)",
                p.display()
            ))
        );
        // The second slot's process ends first; the rest still run when the first one closes.
        others.remove(0).close().expect("closes");
        first.close().expect("closes, folding slot 2 in");
        assert!(
            !p.with_file_name("scan-2.redb").exists(),
            "folded and removed"
        );
        assert!(
            p.with_file_name("scan-3.redb").exists(),
            "still held: left alone"
        );
        for c in others {
            c.close().expect("closes");
        }
        let c = ScanCache::open(&p, "a").expect("opens");
        assert!(
            c.get(&k(1)).is_some(),
            "slot 2's entry is in the first store"
        );
        assert!(c.get(&k(2)).is_none(), "slot 3 was held at the time");
        c.close().expect("closes, folding the rest");
        let c = ScanCache::open(&p, "a").expect("opens");
        assert_eq!(c.slot(), Some(0));
        let missing: Vec<u8> = (1..LOCAL_SLOTS as u8)
            .filter(|&h| c.get(&k(h)).is_none())
            .collect();
        assert!(missing.is_empty(), "{missing:?}");
        c.close().expect("closes");
        // A slot written under other settings is dropped, not folded.
        let first = ScanCache::open(&p, "a").expect("opens");
        let other = ScanCache::open(&p, "b").expect("slot 2");
        other.put(&k(99), &CachedFile::default());
        other.close().expect("closes");
        first.close().expect("closes");
        let c = ScanCache::open(&p, "a").expect("opens");
        assert!(c.get(&k(99)).is_none());
        c.close().expect("closes");
        let _ = std::fs::remove_dir_all(p.parent().expect("dir"));
    }

    #[test]
    fn errors_have_a_kind_the_path_and_their_cause() {
        let p = temp("kinds");
        // A file where the directory should be: the cause is the io::Error.
        let dir = p.parent().expect("dir");
        std::fs::create_dir_all(dir).expect("creates");
        let blocker = dir.join("file");
        std::fs::write(&blocker, b"").expect("writes");
        let inner = blocker.join("scan.redb");
        let e = ScanCache::open(&inner, "a").err();
        assert_eq!(e.as_ref().map(CacheError::kind), Some(CacheErrorKind::Io));
        assert_eq!(e.as_ref().map(CacheError::path), Some(inner.as_path()));
        let cause = e
            .as_ref()
            .and_then(|e| std::error::Error::source(e))
            .and_then(|s| s.downcast_ref::<std::io::Error>());
        assert!(cause.is_some(), "{e:?}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
