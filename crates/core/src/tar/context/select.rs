//! Selecting a context: the walk of the directory that `.dockerignore` filters, the Dockerfile
//! and `.dockerignore` always added, entries sorted into tar order and hardlinks re-linked.

use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use super::{Context, ContextError, ContextOptions, Entry, Kind, Skipped};
use crate::tar::DockerIgnore;

impl Context {
    /// Walks `dir` (symlinks are stored, never followed) and keeps what its `.dockerignore`
    /// allows, plus the Dockerfile and `.dockerignore` themselves.
    pub fn select(dir: &Path, opts: &ContextOptions) -> Result<Context, ContextError> {
        let ignore_path = dir.join(".dockerignore");
        let ignore = match std::fs::read(&ignore_path) {
            Ok(bytes) => DockerIgnore::parse(&String::from_utf8_lossy(&bytes))
                .map_err(|source| ContextError::ignore(ignore_path.clone(), source))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => DockerIgnore::default(),
            Err(source) => {
                return Err(ContextError::read(ignore_path, source));
            }
        };
        let dockerfile = opts.dockerfile.as_deref().unwrap_or("Dockerfile");
        let always = [dockerfile, ".dockerignore"];
        let mut walk = Walk {
            ignore: &ignore,
            always: &always,
            entries: Vec::new(),
            skipped: Vec::new(),
            links: std::collections::HashMap::new(),
        };
        walk.tree(dir)?;
        let mut entries = walk.entries;
        // Always sent even when the walk never entered their directory (`*` with `!src`,
        // say, and `-f docker/Dockerfile`).
        for name in always {
            if entries.iter().any(|e| e.name == name) {
                continue;
            }
            let path = dir.join(name);
            if let Ok(meta) = std::fs::symlink_metadata(&path)
                && meta.is_file()
            {
                entries.push(Entry {
                    raw: None,
                    name: name.to_owned(),
                    path,
                    mode: mode(&meta),
                    kind: Kind::File { size: meta.len() },
                });
            }
        }
        // Lossy names can tie for different bytes: the stored bytes decide then.
        entries.sort_by(|a, b| {
            a.name
                .as_bytes()
                .cmp(b.name.as_bytes())
                .then_with(|| a.raw.cmp(&b.raw))
        });
        // Hardlinks point at the first name in tar order: re-link after sorting.
        relink(&mut entries);
        let mut dockerfile_name = dockerfile.to_owned();
        if let Some(path) = &opts.external_dockerfile {
            let read = |source| ContextError::read(path, source);
            let bytes = std::fs::read(path).map_err(read)?;
            let meta = std::fs::metadata(path).map_err(read)?;
            let hash = blake3::hash(&bytes).to_hex();
            dockerfile_name = format!(".dockerfile.{}", &hash.as_str()[..20]);
            let entry = Entry {
                raw: None,
                name: dockerfile_name.clone(),
                path: path.clone(),
                mode: mode(&meta),
                kind: Kind::File {
                    size: bytes.len() as u64,
                },
            };
            let at = entries.partition_point(|e| e.name.as_bytes() < entry.name.as_bytes());
            entries.insert(at, entry);
        }
        Ok(Context {
            entries,
            skipped: walk.skipped,
            mtime: opts.mtime,
            dockerfile_name,
        })
    }
}

/// Resolves `.` and `..` lexically, as Go's `filepath.Clean` does for the docker CLI.
pub(super) fn clean(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

struct Walk<'a> {
    ignore: &'a DockerIgnore,
    always: &'a [&'a str],
    entries: Vec<Entry>,
    skipped: Vec<Skipped>,
    /// (device, inode) → the name first seen, for hardlinks.
    links: std::collections::HashMap<(u64, u64), Vec<u8>>,
}

impl Walk<'_> {
    /// Walks the tree below `root` with a work list, not recursion: a context 1,000 (or
    /// 100,000) directories deep must not overflow the stack. The order does not matter: the
    /// entries are sorted afterwards, hardlinks re-linked in tar order.
    fn tree(&mut self, root: &Path) -> Result<(), ContextError> {
        let mut pending = vec![(root.to_owned(), String::new(), Vec::new())];
        while let Some((dir, rel, rel_raw)) = pending.pop() {
            self.dir(&dir, &rel, &rel_raw, &mut pending)?;
        }
        Ok(())
    }

    /// Lists `dir`, whose name in the tar is `rel` (`rel_raw` its bytes); subdirectories to
    /// enter go to `pending`.
    fn dir(
        &mut self,
        dir: &Path,
        rel: &str,
        rel_raw: &[u8],
        pending: &mut Vec<(PathBuf, String, Vec<u8>)>,
    ) -> Result<(), ContextError> {
        let read = |source| ContextError::read(dir, source);
        let mut children: Vec<(Vec<u8>, PathBuf)> = std::fs::read_dir(dir)
            .map_err(read)?
            .map(|e| e.map(|e| (os_bytes(&e.file_name()), e.path())))
            .collect::<Result<_, _>>()
            .map_err(read)?;
        children.sort();
        for (raw_name, path) in children {
            let name = String::from_utf8_lossy(&raw_name);
            let (child, child_raw) = if rel.is_empty() {
                (name.into_owned(), raw_name)
            } else {
                (format!("{rel}/{name}"), [rel_raw, b"/", &raw_name].concat())
            };
            let meta = std::fs::symlink_metadata(&path)
                .map_err(|source| ContextError::read(&path, source))?;
            let always = self.always.contains(&child.as_str());
            let excluded = !always && self.ignore.is_excluded(&child, meta.is_dir());
            if meta.is_dir() {
                if !excluded {
                    self.push(&child, &child_raw, path.clone(), &meta, Kind::Dir, "/");
                }
                if !excluded || self.ignore.may_include_below(&child) {
                    pending.push((path.clone(), child.clone(), child_raw.clone()));
                }
                continue;
            }
            if excluded {
                continue;
            }
            let kind = if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path)
                    .map_err(|source| ContextError::read(&path, source))?;
                Kind::Symlink {
                    target: os_bytes(target.as_os_str()),
                }
            } else if meta.is_file() {
                match self.hardlink(&meta, &child_raw) {
                    Some(first) => Kind::Hardlink { target: first },
                    None => Kind::File { size: meta.len() },
                }
            } else {
                self.skipped.push(Skipped {
                    name: child,
                    reason: "not a regular file, directory or symlink (socket, FIFO or device)",
                });
                continue;
            };
            self.push(&child, &child_raw, path, &meta, kind, "");
        }
        Ok(())
    }

    fn push(
        &mut self,
        name: &str,
        raw: &[u8],
        path: PathBuf,
        meta: &std::fs::Metadata,
        kind: Kind,
        suffix: &str,
    ) {
        let raw = (raw != name.as_bytes()).then(|| [raw, suffix.as_bytes()].concat());
        self.entries.push(Entry {
            raw,
            name: format!("{name}{suffix}"),
            path,
            mode: mode(meta),
            kind,
        });
    }

    #[cfg(unix)]
    fn hardlink(&mut self, meta: &std::fs::Metadata, name: &[u8]) -> Option<Vec<u8>> {
        use std::os::unix::fs::MetadataExt;
        if meta.nlink() < 2 {
            return None;
        }
        match self.links.entry((meta.dev(), meta.ino())) {
            std::collections::hash_map::Entry::Occupied(o) => Some(o.get().clone()),
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(name.to_vec());
                None
            }
        }
    }

    #[cfg(not(unix))]
    fn hardlink(&mut self, _: &std::fs::Metadata, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

/// After sorting, the first of a hardlinked group in tar order must be the file and the
/// others links to it.
fn relink(entries: &mut [Entry]) {
    use std::collections::HashMap;
    // Group by the name (as stored: bytes) recorded first during the walk.
    let mut first_in_order: HashMap<Vec<u8>, usize> = HashMap::new();
    for i in 0..entries.len() {
        let group = match &entries[i].kind {
            Kind::Hardlink { target } => target.clone(),
            Kind::File { .. } => entries[i].tar_name().to_vec(),
            _ => continue,
        };
        match first_in_order.get(&group) {
            None => {
                first_in_order.insert(group.clone(), i);
                if let Kind::Hardlink { .. } = entries[i].kind {
                    // A link sorted before its original: make it the file.
                    let size = std::fs::symlink_metadata(&entries[i].path).map_or(0, |m| m.len());
                    entries[i].kind = Kind::File { size };
                }
            }
            Some(&first) => {
                let target = entries[first].tar_name().to_vec();
                entries[i].kind = Kind::Hardlink { target };
            }
        }
    }
}

#[cfg(unix)]
fn mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn mode(meta: &std::fs::Metadata) -> u32 {
    if meta.is_dir() { 0o755 } else { 0o644 }
}

#[cfg(unix)]
fn os_bytes(s: &OsStr) -> Vec<u8> {
    use std::os::unix::ffi::OsStrExt;
    s.as_bytes().to_vec()
}

#[cfg(not(unix))]
fn os_bytes(s: &OsStr) -> Vec<u8> {
    s.to_string_lossy().into_owned().into_bytes()
}
