//! Deterministic build contexts: the selection `.dockerignore` leaves, written as PAX tar.
//!
//! This file holds the types: errors, the byte observer, options, and the [`Context`] itself
//! with its accessors. The selection (walking the directory, `.dockerignore`, hardlinks) is in
//! `select`, the tar writer in `write`, the streaming reader in `reader`.

mod reader;
mod select;
mod write;

use std::io;
use std::path::{Path, PathBuf};

use super::DockerIgnoreError;
pub use reader::ContextReader;
use select::clean;

/// Why a context could not be built or written.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ContextError(Repr);

#[derive(Debug, thiserror::Error)]
enum Repr {
    #[error("{path}: {source}")]
    Ignore {
        path: PathBuf,
        source: DockerIgnoreError,
    },
    #[error("{path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("{path}: changed while being read ({expected} bytes expected, {actual} found)")]
    Changed {
        path: PathBuf,
        expected: u64,
        actual: u64,
    },
    #[error("{}: cannot locate the Dockerfile (name it with -f)", path.display())]
    NoDockerfile { path: PathBuf },
    #[error("writing the context: {0}")]
    Write(#[source] io::Error),
    #[error("{name}: {reason}; the context was not finished")]
    Stopped { name: String, reason: Stop },
}

/// What kind of thing went wrong in a [`ContextError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextErrorKind {
    /// The `.dockerignore` has a bad pattern (the [`DockerIgnoreError`] is the error's
    /// `source`).
    Ignore,
    /// A file or directory could not be read (the cause is the error's `source`).
    Read,
    /// A file changed size while it was being copied: the tar would be corrupt.
    Changed,
    /// The Dockerfile named (or the default one) does not exist or is not a file.
    NoDockerfile,
    /// The output could not be written (the cause is the error's `source`).
    Write,
    /// The observer stopped the context after a file (e.g. a secret was found in it); the
    /// tar ends in an invalid block so that every consumer fails on it instead of taking it for
    /// a whole context.
    Stopped,
}

impl ContextError {
    /// The output could not be written: for a caller that finishes the output itself (a
    /// compressor's trailer, a final flush) and reports it as the context's own write error.
    pub fn write(source: io::Error) -> Self {
        ContextError(Repr::Write(source))
    }

    pub(super) fn read(path: impl Into<PathBuf>, source: io::Error) -> Self {
        ContextError(Repr::Read {
            path: path.into(),
            source,
        })
    }

    pub(super) fn ignore(path: PathBuf, source: DockerIgnoreError) -> Self {
        ContextError(Repr::Ignore { path, source })
    }

    pub(super) fn changed(path: &Path, expected: u64, actual: u64) -> Self {
        ContextError(Repr::Changed {
            path: path.to_owned(),
            expected,
            actual,
        })
    }

    pub(super) fn stopped(name: impl Into<String>, reason: Stop) -> Self {
        ContextError(Repr::Stopped {
            name: name.into(),
            reason,
        })
    }

    /// What went wrong.
    pub fn kind(&self) -> ContextErrorKind {
        match self.0 {
            Repr::Ignore { .. } => ContextErrorKind::Ignore,
            Repr::Read { .. } => ContextErrorKind::Read,
            Repr::Changed { .. } => ContextErrorKind::Changed,
            Repr::NoDockerfile { .. } => ContextErrorKind::NoDockerfile,
            Repr::Write(_) => ContextErrorKind::Write,
            Repr::Stopped { .. } => ContextErrorKind::Stopped,
        }
    }

    /// The file at fault: the `.dockerignore`, the file that could not be read or changed,
    /// where the Dockerfile was looked for.
    pub fn path(&self) -> Option<&Path> {
        match &self.0 {
            Repr::Ignore { path, .. }
            | Repr::Read { path, .. }
            | Repr::Changed { path, .. }
            | Repr::NoDockerfile { path } => Some(path),
            Repr::Write(_) | Repr::Stopped { .. } => None,
        }
    }

    /// For a stopped context, the member after which the observer stopped (`the context`
    /// when it stopped once every file was written).
    pub fn member(&self) -> Option<&str> {
        match &self.0 {
            Repr::Stopped { name, .. } => Some(name),
            _ => None,
        }
    }

    /// For a stopped context, the observer's reason.
    pub fn stop(&self) -> Option<&Stop> {
        match &self.0 {
            Repr::Stopped { reason, .. } => Some(reason),
            _ => None,
        }
    }
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
                .map_err(|source| ContextError::read(p, source))
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
            return Err(ContextError(Repr::NoDockerfile { path: file }));
        }
        match file.strip_prefix(&dir) {
            Ok(rel) => {
                // Tar names here are UTF-8; a lossy name would send a file that isn't there.
                let name = rel.to_str().ok_or_else(|| {
                    ContextError::read(
                        &file,
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            "the Dockerfile's name is not UTF-8",
                        ),
                    )
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
}
