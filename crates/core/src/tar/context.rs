//! Deterministic build contexts: the selection `.dockerignore` leaves, written as PAX tar.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::{DockerIgnore, DockerIgnoreError};
use crate::pool::BufPool;

/// Copy buffer size.
const COPY: usize = 32 << 10;
/// The largest size a ustar header's 11 octal digits hold; larger files get a PAX `size`.
const USTAR_MAX_SIZE: u64 = 0o777_7777_7777;

/// Why a context could not be built or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// The `.dockerignore` has a bad pattern.
    #[error("{path}: {source}")]
    Ignore {
        /// The `.dockerignore` file.
        path: PathBuf,
        /// The bad line.
        source: DockerIgnoreError,
    },
    /// A file or directory could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// A file changed size while it was being copied: the tar would be corrupt.
    #[error("{path}: changed while being read ({expected} bytes expected, {actual} found)")]
    Changed {
        /// The file.
        path: PathBuf,
        /// Its size when the entry's header was written.
        expected: u64,
        /// What could be read.
        actual: u64,
    },
    /// The Dockerfile named (or the default one) does not exist or is not a file.
    #[error("{}: cannot locate the Dockerfile (name it with -f)", path.display())]
    NoDockerfile {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The output could not be written.
    #[error("writing the context: {0}")]
    Write(#[source] io::Error),
    /// The observer stopped the context after a file (e.g. a secret was found in it); the
    /// tar ends in an invalid block so that every consumer fails on it instead of taking it for
    /// a whole context.
    #[error("{name}: {reason}; the context was not finished")]
    Stopped {
        /// The member after which the observer stopped.
        name: String,
        /// The observer's reason.
        reason: Stop,
    },
}

/// Why a [`ByteObserver`] stopped the context (e.g. "found github-classic-pat at line 3").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct Stop {
    reason: String,
}

impl Stop {
    /// A stop for `reason`.
    pub fn new(reason: impl Into<String>) -> Self {
        Stop {
            reason: reason.into(),
        }
    }

    /// The observer's reason.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// Sees every regular file's bytes as they stream into the tar (the single-pass scan plugs in
/// here; the writer knows nothing of scanning).
pub trait ByteObserver {
    /// A file begins: its member name.
    fn start(&mut self, name: &str);
    /// The next bytes of the current file, exactly as written to the tar.
    fn bytes(&mut self, chunk: &[u8]);
    /// The current file is complete. An `Err` stops the context before anything more is
    /// written.
    fn end(&mut self) -> Result<(), Stop>;
    /// Every file has been written; the tar's end-of-archive blocks come next. An `Err`
    /// leaves them out, so the tar stays unfinished (for observers that work in the
    /// background and only know at the end).
    fn finish(&mut self) -> Result<(), Stop> {
        Ok(())
    }
}

/// An observer that does nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl ByteObserver for NoObserver {
    fn start(&mut self, _: &str) {}
    fn bytes(&mut self, _: &[u8]) {}
    fn end(&mut self) -> Result<(), Stop> {
        Ok(())
    }
}

/// How a context is built.
#[derive(Debug, Clone, Default)]
pub struct ContextOptions {
    /// The modification time stored for every entry (seconds since the epoch): `0`, or
    /// `SOURCE_DATE_EPOCH` for reproducible builds (see [`ContextOptions::from_env`]).
    pub mtime: u64,
    /// The Dockerfile's path relative to the context (always sent, whatever
    /// `.dockerignore` says); `None` means `Dockerfile`.
    pub dockerfile: Option<String>,
    /// A Dockerfile outside the context directory: sent as well, as the docker CLI does,
    /// under the name [`Context::dockerfile_name`] returns (`.dockerfile.` and 20 hex digits
    /// of its content's hash, where docker uses random ones, so the tar stays reproducible).
    pub external_dockerfile: Option<PathBuf>,
}

impl ContextOptions {
    /// Defaults, with `mtime` from `SOURCE_DATE_EPOCH` when it is set to a number.
    pub fn from_env() -> Self {
        ContextOptions {
            mtime: std::env::var("SOURCE_DATE_EPOCH")
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0),
            dockerfile: None,
            external_dockerfile: None,
        }
    }

    /// Sets the Dockerfile as the docker CLI resolves `-f`: `file` relative to the current
    /// directory; by default `dir/Dockerfile`, or `dir/dockerfile` when only that exists. A
    /// file inside `dir` becomes [`dockerfile`](Self::dockerfile), one outside it
    /// [`external_dockerfile`](Self::external_dockerfile).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("capstan-doc-df-{}", std::process::id()));
    /// # std::fs::create_dir_all(dir.join("build"))?;
    /// # std::fs::write(dir.join("build/app.Dockerfile"), "FROM scratch\n")?;
    /// use capstan::tar::ContextOptions;
    /// let opts = ContextOptions::default()
    ///     .locate_dockerfile(&dir, Some(&dir.join("build/app.Dockerfile")))?;
    /// assert_eq!(opts.dockerfile.as_deref(), Some("build/app.Dockerfile"));
    /// assert!(ContextOptions::default().locate_dockerfile(&dir.join("build"), None).is_err());
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn locate_dockerfile(
        mut self,
        dir: &Path,
        file: Option<&Path>,
    ) -> Result<Self, ContextError> {
        let absolute = |p: &Path| {
            std::path::absolute(p)
                .map(|a| clean(&a))
                .map_err(|source| ContextError::Read {
                    path: p.to_owned(),
                    source,
                })
        };
        let dir = absolute(dir)?;
        let file = match file {
            Some(f) => absolute(f)?,
            None if !dir.join("Dockerfile").exists() && dir.join("dockerfile").exists() => {
                dir.join("dockerfile")
            }
            None => dir.join("Dockerfile"),
        };
        if !file.is_file() {
            return Err(ContextError::NoDockerfile { path: file });
        }
        match file.strip_prefix(&dir) {
            Ok(rel) => {
                // Tar names here are UTF-8; a lossy name would send a file that isn't there.
                let name = rel.to_str().ok_or_else(|| ContextError::Read {
                    path: file.clone(),
                    source: io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the Dockerfile's name is not UTF-8",
                    ),
                })?;
                self.dockerfile = Some(name.replace('\\', "/"));
                self.external_dockerfile = None;
            }
            Err(_) => {
                self.dockerfile = None;
                self.external_dockerfile = Some(file);
            }
        }
        Ok(self)
    }
}

/// Resolves `.` and `..` lexically, as Go's `filepath.Clean` does for the docker CLI.
fn clean(p: &Path) -> PathBuf {
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

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Dir,
    File {
        size: u64,
    },
    Symlink {
        target: Vec<u8>,
    },
    /// The tar name (bytes) of the member it links to.
    Hardlink {
        target: Vec<u8>,
    },
}

#[derive(Debug, Clone)]
struct Entry {
    /// The name: `/`-separated, relative, directories with a trailing `/` (lossy UTF-8, for
    /// matching, ordering and messages).
    name: String,
    /// The name's bytes as they go into the tar, when they are not UTF-8 (docker sends the
    /// file system's bytes).
    raw: Option<Vec<u8>>,
    path: PathBuf,
    mode: u32,
    kind: Kind,
}

impl Entry {
    /// The name's bytes as they go into the tar.
    fn tar_name(&self) -> &[u8] {
        self.raw.as_deref().unwrap_or(self.name.as_bytes())
    }
}

/// What a context leaves out and why (for warnings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The path relative to the context.
    pub name: String,
    /// Why: a socket, FIFO or device.
    pub reason: &'static str,
}

/// A build context: the files of a directory that `.dockerignore` leaves, in tar order.
///
/// ```
/// use capstan::tar::{Context, ContextOptions};
///
/// let dir = std::env::temp_dir().join(format!("capstan-doc-context-{}", std::process::id()));
/// std::fs::create_dir_all(dir.join("src"))?;
/// std::fs::write(dir.join("Dockerfile"), "FROM scratch\nCOPY src /src\n")?;
/// std::fs::write(dir.join("src/main.c"), "int main(void) { return 0; }\n")?;
/// std::fs::write(dir.join("debug.log"), "noise\n")?;
/// std::fs::write(dir.join(".dockerignore"), "*.log\n")?;
/// let ctx = Context::select(&dir, &ContextOptions::default())?;
/// assert_eq!(ctx.names().collect::<Vec<_>>(), [".dockerignore", "Dockerfile", "src/", "src/main.c"]);
/// let mut tar = Vec::new();
/// ctx.write_to(&mut tar)?;
/// assert_eq!(tar.len() % 512, 0);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct Context {
    entries: Vec<Entry>,
    skipped: Vec<Skipped>,
    mtime: u64,
    dockerfile_name: String,
}

impl Context {
    /// Walks `dir` (symlinks are stored, never followed) and keeps what its `.dockerignore`
    /// allows, plus the Dockerfile and `.dockerignore` themselves.
    pub fn select(dir: &Path, opts: &ContextOptions) -> Result<Context, ContextError> {
        let ignore_path = dir.join(".dockerignore");
        let ignore = match std::fs::read(&ignore_path) {
            Ok(bytes) => {
                DockerIgnore::parse(&String::from_utf8_lossy(&bytes)).map_err(|source| {
                    ContextError::Ignore {
                        path: ignore_path.clone(),
                        source,
                    }
                })?
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => DockerIgnore::default(),
            Err(source) => {
                return Err(ContextError::Read {
                    path: ignore_path,
                    source,
                });
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
            let read = |source| ContextError::Read {
                path: path.clone(),
                source,
            };
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

    /// The Dockerfile's name in the tar: what to pass to the builder as the Dockerfile.
    pub fn dockerfile_name(&self) -> &str {
        &self.dockerfile_name
    }

    /// The member names, in tar order (directories end with `/`).
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|e| e.name.as_str())
    }

    /// Sockets, FIFOs and devices left out.
    pub fn skipped(&self) -> &[Skipped] {
        &self.skipped
    }

    /// Writes the context as a PAX tar: entries in name order, mtime fixed, uid/gid 0, no user
    /// or group names, modes kept. Returns the bytes written.
    pub fn write_to<W: Write>(&self, out: W) -> Result<u64, ContextError> {
        self.write_observed(out, &mut NoObserver)
    }

    /// [`write_to`](Self::write_to), handing every regular file's bytes to `observer` as they
    /// are copied: each file is read once.
    pub fn write_observed<W: Write>(
        &self,
        mut out: W,
        observer: &mut dyn ByteObserver,
    ) -> Result<u64, ContextError> {
        let mut written = 0u64;
        let mut buf = BufPool::global().get(COPY);
        buf.resize(COPY, 0);
        for e in &self.entries {
            written += self.header(e, &mut out)?;
            if let Kind::File { size } = e.kind {
                observer.start(&e.name);
                written += copy_exact(&e.path, size, &mut out, &mut buf, observer)?;
                let pad = padding(size);
                out.write_all(&[0u8; 512][..pad])
                    .map_err(ContextError::Write)?;
                written += pad as u64;
                if let Err(reason) = observer.end() {
                    poison(&mut out);
                    return Err(ContextError::Stopped {
                        name: e.name.clone(),
                        reason,
                    });
                }
            }
        }
        if let Err(reason) = observer.finish() {
            poison(&mut out);
            return Err(ContextError::Stopped {
                name: "the context".to_owned(),
                reason,
            });
        }
        out.write_all(&[0u8; 1024]).map_err(ContextError::Write)?;
        out.flush().map_err(ContextError::Write)?;
        Ok(written + 1024)
    }

    fn header<W: Write>(&self, e: &Entry, out: &mut W) -> Result<u64, ContextError> {
        let mut h = ::tar::Header::new_ustar();
        let mut pax: Vec<(&str, Vec<u8>)> = Vec::new();
        let (ty, size) = match &e.kind {
            Kind::Dir => (::tar::EntryType::Directory, 0),
            Kind::File { size } => (::tar::EntryType::Regular, *size),
            Kind::Symlink { .. } => (::tar::EntryType::Symlink, 0),
            Kind::Hardlink { .. } => (::tar::EntryType::Link, 0),
        };
        h.set_entry_type(ty);
        h.set_mode(e.mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(self.mtime);
        if size > USTAR_MAX_SIZE {
            pax.push(("size", size.to_string().into_bytes()));
            h.set_size(0);
        } else {
            h.set_size(size);
        }
        let name = e.tar_name();
        if !fits_ustar_path(&mut h, name) {
            pax.push(("path", name.to_vec()));
            set_truncated_name(&mut h, name);
        }
        let link: Option<&[u8]> = match &e.kind {
            Kind::Symlink { target } => Some(target),
            Kind::Hardlink { target } => Some(target.as_slice()),
            _ => None,
        };
        if let Some(target) = link {
            if target.len() <= 100 {
                h.set_link_name_literal(target)
                    .map_err(|source| ContextError::Read {
                        path: e.path.clone(),
                        source,
                    })?;
            } else {
                pax.push(("linkpath", target.to_vec()));
            }
        }
        h.set_cksum();
        let mut written = 0;
        if !pax.is_empty() {
            written += write_pax(out, &e.name, &pax, self.mtime)?;
        }
        out.write_all(h.as_bytes()).map_err(ContextError::Write)?;
        Ok(written + 512)
    }
}

/// Sets a ustar name (with the 155-byte prefix split) when the name fits.
fn fits_ustar_path(h: &mut ::tar::Header, name: &[u8]) -> bool {
    use std::os::unix::ffi::OsStrExt;
    name.len() <= 255
        && h.set_path(Path::new(OsStr::from_bytes(name))).is_ok()
        && h.path_bytes().as_ref() == name
}

fn set_truncated_name(h: &mut ::tar::Header, name: &[u8]) {
    if let Some(u) = h.as_ustar_mut() {
        let n = name.len().min(100);
        u.name = [0; 100];
        u.name[..n].copy_from_slice(&name[..n]);
        u.prefix = [0; 155];
    }
}

/// A PAX extended header (`x`) carrying `records` for the entry `name` that follows.
fn write_pax<W: Write>(
    out: &mut W,
    name: &str,
    records: &[(&str, Vec<u8>)],
    mtime: u64,
) -> Result<u64, ContextError> {
    let mut body = Vec::new();
    for (key, value) in records {
        // "LEN key=value\n", LEN counting its own digits.
        let rest = key.len() + value.len() + 3;
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        body.extend_from_slice(format!("{len} {key}=").as_bytes());
        body.extend_from_slice(value);
        body.push(b'\n');
    }
    let mut h = ::tar::Header::new_ustar();
    h.set_entry_type(::tar::EntryType::XHeader);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h.set_size(body.len() as u64);
    let short: String = name.chars().filter(|&c| c != '/').take(80).collect();
    set_truncated_name(&mut h, format!("PaxHeaders/{short}").as_bytes());
    h.set_cksum();
    out.write_all(h.as_bytes()).map_err(ContextError::Write)?;
    out.write_all(&body).map_err(ContextError::Write)?;
    let pad = padding(body.len() as u64);
    out.write_all(&[0u8; 512][..pad])
        .map_err(ContextError::Write)?;
    Ok(512 + body.len() as u64 + pad as u64)
}

/// Ends a stopped context with a block no tar reader accepts as a header (its checksum field
/// is not octal): readers treat a tar that merely stops at a header boundary as complete, and a
/// gzip stream gets a valid trailer when its encoder is dropped, so only a bad block makes the
/// consumer fail.
fn poison<W: Write>(out: &mut W) {
    let _ = out.write_all(&[0xff; 512]);
    let _ = out.flush();
}

fn padding(size: u64) -> usize {
    ((512 - size % 512) % 512) as usize
}

/// Copies exactly `size` bytes of `path`; a file that grew or shrank is an error.
fn copy_exact<W: Write>(
    path: &Path,
    size: u64,
    out: &mut W,
    buf: &mut [u8],
    observer: &mut dyn ByteObserver,
) -> Result<u64, ContextError> {
    let read_err = |source| ContextError::Read {
        path: path.to_owned(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(read_err)?;
    let mut left = size;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match f.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(ContextError::Changed {
                    path: path.to_owned(),
                    expected: size,
                    actual: size - left,
                });
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e)),
        };
        observer.bytes(&buf[..n]);
        out.write_all(&buf[..n]).map_err(ContextError::Write)?;
        left -= n as u64;
    }
    // One more byte would mean the file grew.
    let mut probe = [0u8; 1];
    match f.read(&mut probe) {
        Ok(0) => Ok(size),
        Ok(_) => Err(ContextError::Changed {
            path: path.to_owned(),
            expected: size,
            actual: size + 1,
        }),
        Err(e) => Err(read_err(e)),
    }
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
        let read = |source| ContextError::Read {
            path: dir.to_owned(),
            source,
        };
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
            let meta = std::fs::symlink_metadata(&path).map_err(|source| ContextError::Read {
                path: path.clone(),
                source,
            })?;
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
                let target = std::fs::read_link(&path).map_err(|source| ContextError::Read {
                    path: path.clone(),
                    source,
                })?;
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

/// A context as an [`io::Read`] (an HTTP request body, say): a background thread writes the
/// tar into a bounded queue of 64 KiB chunks, so at most a few chunks are ever held, whatever
/// the context's size. Dropping the reader stops the writer.
///
/// ```
/// use std::io::Read;
/// use capstan::tar::{Context, ContextOptions};
///
/// let dir = std::env::temp_dir().join(format!("capstan-doc-ctxread-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("Dockerfile"), "FROM scratch\n")?;
/// let ctx = Context::select(&dir, &ContextOptions::default())?;
/// let mut whole = Vec::new();
/// ctx.write_to(&mut whole)?;
/// let mut streamed = Vec::new();
/// ctx.into_reader().read_to_end(&mut streamed)?;
/// assert_eq!(whole, streamed);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ContextReader {
    rx: crossbeam_channel::Receiver<Result<Vec<u8>, ContextError>>,
    current: Vec<u8>,
    pos: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Chunks in flight between the writer thread and the reader.
const READER_QUEUE: usize = 4;
const READER_CHUNK: usize = 64 << 10;

impl Context {
    /// The context as a reader; see [`ContextReader`].
    pub fn into_reader(self) -> ContextReader {
        let (tx, rx) = crossbeam_channel::bounded(READER_QUEUE);
        let on_failure = tx.clone();
        let spawned = std::thread::Builder::new()
            .name("capstan-context".to_owned())
            .spawn(move || {
                let mut w = ChunkWriter {
                    tx: tx.clone(),
                    buf: Vec::with_capacity(READER_CHUNK),
                };
                let result = self
                    .write_to(&mut w)
                    .and_then(|_| w.send().map_err(ContextError::Write));
                if let Err(e) = result {
                    let _ = tx.send(Err(e));
                }
            });
        let thread = match spawned {
            Ok(t) => Some(t),
            Err(e) => {
                // The queue is empty: this never blocks.
                let _ = on_failure.send(Err(ContextError::Write(e)));
                None
            }
        };
        drop(on_failure);
        ContextReader {
            rx,
            current: Vec::new(),
            pos: 0,
            thread,
        }
    }
}

struct ChunkWriter {
    tx: crossbeam_channel::Sender<Result<Vec<u8>, ContextError>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(READER_CHUNK));
        self.tx
            .send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader was dropped"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(READER_CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == READER_CHUNK {
            self.send()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for ContextReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(io::Error::other(e)),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for ContextReader {
    fn drop(&mut self) {
        // Unblock the writer (its next send fails), then wait for it.
        let (_, dead) = crossbeam_channel::bounded(0);
        self.rx = dead;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
