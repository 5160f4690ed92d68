//! The incremental scan cache: a file's findings, keyed by its path and content hash, valid for
//! one rule set and one set of scan settings.
//!
//! Stored in [redb](https://docs.rs/redb) (an embedded, ACID, crash-safe B-tree in one file).
//! Writes go through a [`Batcher`] so workers never wait on a commit. The cache is an
//! optimisation and is treated as untrusted: a value that doesn't decode is a miss, a file that
//! doesn't open is deleted and rebuilt, and no cache failure fails a scan.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};

use serde::{Deserialize, Serialize};

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

/// An open scan cache; share it between the walker's threads by reference.
///
/// ```
/// use capstan::scan::{CachedFile, ScanCache};
/// let dir = std::env::temp_dir().join(format!("capstan-doc-cache-{}", std::process::id()));
/// let cache = ScanCache::open(&dir.join("scan.redb"), "rules-and-settings-digest")?;
/// let hash = [7u8; 32];
/// assert!(cache.get("/src/a.rs", &hash).is_none());
/// cache.put("/src/a.rs", &hash, &CachedFile { files: 1, ..CachedFile::default() });
/// cache.close()?;
/// let cache = ScanCache::open(&dir.join("scan.redb"), "rules-and-settings-digest")?;
/// assert_eq!(cache.get("/src/a.rs", &hash).map(|c| c.files), Some(1));
/// # cache.close()?; std::fs::remove_dir_all(&dir).ok();
/// # Ok::<(), capstan::scan::CacheError>(())
/// ```
#[derive(Debug)]
pub struct ScanCache {
    db: Arc<Database>,
    path: PathBuf,
    writer: Option<Batcher<Entry>>,
    failed: Arc<AtomicBool>,
    rebuilt: bool,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ScanCache {
    /// Opens (or creates) the cache at `path` for results computed under `settings` (a digest
    /// of the rule set and every option that changes findings). A different `settings` than
    /// the stored one empties the cache; a file that isn't a valid cache is replaced.
    pub fn open(path: &Path, settings: &str) -> Result<ScanCache, CacheError> {
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
        let mut stamp = LAYOUT.to_vec();
        stamp.push(0);
        stamp.extend_from_slice(settings.as_bytes());
        reset_unless(&db, &stamp)
            .map_err(|e| CacheError::new(path, CacheErrorKind::Database, e))?;
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
        Ok(ScanCache {
            db,
            path: path.to_owned(),
            writer: Some(writer),
            failed,
            rebuilt,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
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

    /// What is stored for `key` if its content hash is `hash`.
    pub fn get(&self, key: &str, hash: &[u8; 32]) -> Option<CachedFile> {
        let found = self.lookup(key, hash);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn lookup(&self, key: &str, hash: &[u8; 32]) -> Option<CachedFile> {
        let txn = self.db.begin_read().ok()?;
        let table = txn.open_table(FILES).ok()?;
        let value = table.get(key).ok()??;
        let bytes = value.value();
        let (stored, json) = bytes.split_at_checked(32)?;
        if stored != hash {
            return None;
        }
        serde_json::from_slice(json).ok()
    }

    /// Records `entry` for `key` at content hash `hash` (written in the background).
    pub fn put(&self, key: &str, hash: &[u8; 32], entry: &CachedFile) {
        let Some(writer) = &self.writer else { return };
        let mut value = hash.to_vec();
        if serde_json::to_writer(&mut value, entry).is_ok() {
            // Never wait on the writer: a full queue only costs a future rescan.
            let _ = writer.try_push((key.to_owned(), value));
        }
    }

    /// Lookups that found a valid entry.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Lookups that did not.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// Whether the file on disk was unusable and has been replaced by an empty cache.
    pub fn rebuilt(&self) -> bool {
        self.rebuilt
    }

    /// Where the cache lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes what is queued and makes it durable.
    pub fn close(mut self) -> Result<(), CacheError> {
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
            .map_err(|e| CacheError::new(&self.path, CacheErrorKind::Database, e))
    }
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

    #[test]
    fn another_settings_digest_empties_it() {
        let p = temp("settings");
        let c = ScanCache::open(&p, "a").expect("opens");
        c.put("k", &[1; 32], &CachedFile::default());
        c.close().expect("closes");
        let c = ScanCache::open(&p, "a").expect("opens");
        assert!(c.get("k", &[1; 32]).is_some());
        assert!(
            c.get("k", &[2; 32]).is_none(),
            "another content hash misses"
        );
        assert_eq!((c.hits(), c.misses()), (1, 1));
        c.close().expect("closes");
        let c = ScanCache::open(&p, "b").expect("opens");
        assert!(c.get("k", &[1; 32]).is_none());
        c.close().expect("closes");
        let _ = std::fs::remove_dir_all(p.parent().expect("dir"));
    }

    #[test]
    fn a_corrupt_or_half_written_file_is_replaced_not_trusted() {
        for damage in ["truncated", "garbage"] {
            let p = temp(damage);
            let c = ScanCache::open(&p, "a").expect("opens");
            c.put("k", &[1; 32], &CachedFile::default());
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
            assert!(
                c.get("k", &[1; 32]).is_none(),
                "{damage}: trusted a damaged cache"
            );
            c.put("k", &[1; 32], &CachedFile::default());
            c.close().expect("closes");
            let c = ScanCache::open(&p, "a").expect("opens");
            assert!(
                c.get("k", &[1; 32]).is_some(),
                "{damage}: not usable after the rebuild"
            );
            c.close().expect("closes");
            let _ = std::fs::remove_dir_all(p.parent().expect("dir"));
        }
    }

    #[test]
    fn errors_have_a_kind_the_path_and_their_cause() {
        let p = temp("kinds");
        let c = ScanCache::open(&p, "a").expect("opens");
        let e = ScanCache::open(&p, "a").err();
        assert_eq!(
            e.as_ref().map(CacheError::kind),
            Some(CacheErrorKind::InUse)
        );
        assert_eq!(
            e.map(|e| e.to_string()),
            Some(format!(
                "scan cache {}: in use by another capstan process",
                p.display()
            ))
        );
        c.close().expect("closes");
        // A file where the directory should be: the cause is the io::Error.
        let dir = p.parent().expect("dir");
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
