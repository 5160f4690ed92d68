//! Where reports go: standard output or a file (replaced atomically, or written in place when it
//! is a device, a FIFO or a socket); terminal colours.

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use capstan::scan::Severity;
use tempfile::NamedTempFile;

/// Where a file output goes. A regular file (or none yet) is written under a temporary name
/// beside it and renamed over it by [`commit`](Self::commit): an interrupted run never leaves
/// half a report, and dropped without `commit` the temporary file is removed. It is created
/// with the mode asked for, 0600 by default: reports may hold secrets. A symlink is followed
/// and its final target replaced so; the link stays. A character or block device, a FIFO or a
/// socket is written in place (`-o /dev/stdout`, `-o pipe.fifo`): never replaced by a file.
pub struct AtomicFile {
    /// The path as given, for messages.
    target: PathBuf,
    sink: Sink,
}

enum Sink {
    Replace {
        /// Dropped first: the temporary file is removed before it leaves the SIGINT list.
        file: BufWriter<NamedTempFile>,
        dest: PathBuf,
        /// Removes the temporary file if a Ctrl-C ends the process before `commit` or drop can.
        _on_exit: crate::signal::TempGuard,
    },
    InPlace(BufWriter<File>),
}

/// How many symlinks are followed, as Linux does (ELOOP past that).
const MAX_LINKS: usize = 40;

enum Resolved {
    /// A regular file or nothing yet: replaced.
    Replace(PathBuf),
    /// A device, FIFO or socket, or an open file named by a link in /proc: written in place.
    InPlace(PathBuf),
}

/// Follows `target` through its symlinks to what is to be written.
fn resolve(target: &Path) -> io::Result<Resolved> {
    let mut path = target.to_owned();
    for _ in 0..=MAX_LINKS {
        let meta = match std::fs::symlink_metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Resolved::Replace(path)),
            Err(e) => return Err(e),
        };
        let kind = meta.file_type();
        if kind.is_symlink() {
            // /dev/stdout, /dev/fd/N: /proc/self/fd/N names an open file (a pipe, a deleted
            // file…), not a path to follow by its text; the kernel opens what it refers to.
            if in_proc(&path) {
                return Ok(Resolved::InPlace(path));
            }
            let to = std::fs::read_link(&path)?;
            // Relative to the link's directory; `..` is left to the kernel, which resolves it
            // as it would through the link.
            path = match path.parent() {
                Some(dir) if to.is_relative() => dir.join(to),
                _ => to,
            };
        } else if kind.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "is a directory",
            ));
        } else if kind.is_file() {
            return Ok(Resolved::Replace(path));
        } else {
            return Ok(Resolved::InPlace(path));
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

/// Whether the directory holding `link` is in /proc, whose links refer to open files.
fn in_proc(link: &Path) -> bool {
    link.parent()
        .map(|d| {
            if d.as_os_str().is_empty() {
                Path::new(".")
            } else {
                d
            }
        })
        .and_then(|d| std::fs::canonicalize(d).ok())
        .is_some_and(|d| d.starts_with("/proc"))
}

/// Opens a device, FIFO or socket for writing, as a shell's `>` does (a FIFO waits for its
/// reader). A link in /proc is opened appending: a regular file behind /dev/stdout is the
/// shell's, maybe opened with `>>`.
fn open_in_place(path: &Path) -> io::Result<File> {
    let meta = std::fs::metadata(path)?;
    if meta.file_type().is_socket() {
        let stream = std::os::unix::net::UnixStream::connect(path)?;
        return Ok(File::from(std::os::fd::OwnedFd::from(stream)));
    }
    std::fs::OpenOptions::new()
        .write(true)
        .append(meta.is_file())
        // A terminal opened here must not become the process's controlling terminal.
        .custom_flags(libc::O_NOCTTY)
        .open(path)
}

/// `e` with the path it is about in front, and without the name of the temporary file that
/// tempfile adds to its errors (" at path …"): the target's name is what the user knows.
fn named(path: &Path, e: &io::Error) -> io::Error {
    let text = e.to_string();
    let cause = text
        .split_once(" at path ")
        .map_or(&*text, |(cause, _)| cause);
    io::Error::new(e.kind(), format!("{}: {cause}", path.display()))
}

impl AtomicFile {
    pub fn create(target: &Path) -> io::Result<AtomicFile> {
        Self::create_with_mode(target, 0o600)
    }

    /// [`create`](Self::create) with another mode for a file it creates.
    pub fn create_with_mode(target: &Path, mode: u32) -> io::Result<AtomicFile> {
        let named = |e: io::Error| named(target, &e);
        let sink = match resolve(target).map_err(named)? {
            Resolved::InPlace(path) => {
                Sink::InPlace(BufWriter::new(open_in_place(&path).map_err(named)?))
            }
            Resolved::Replace(dest) => {
                let Some(name) = dest.file_name() else {
                    return Err(named(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "not a file name",
                    )));
                };
                let dir = match dest.parent() {
                    Some(d) if !d.as_os_str().is_empty() => d,
                    _ => Path::new("."),
                };
                let mut prefix = std::ffi::OsString::from(".");
                prefix.push(name);
                prefix.push(".");
                let mut builder = tempfile::Builder::new();
                builder
                    .prefix(&prefix)
                    .suffix(".tmp")
                    .permissions(std::fs::Permissions::from_mode(mode));
                let (file, on_exit) =
                    crate::signal::create_temp(|| builder.tempfile_in(dir)).map_err(named)?;
                Sink::Replace {
                    file: BufWriter::new(file),
                    dest,
                    _on_exit: on_exit,
                }
            }
        };
        Ok(AtomicFile {
            target: target.to_owned(),
            sink,
        })
    }

    /// Flushes, syncs and renames the file into place (or flushes what is written in place).
    pub fn commit(self) -> io::Result<()> {
        let named = |e: io::Error| named(&self.target, &e);
        match self.sink {
            Sink::InPlace(mut w) => w.flush().map_err(named),
            Sink::Replace {
                file,
                dest,
                _on_exit,
            } => {
                let file = file.into_inner().map_err(|e| named(e.into_error()))?;
                file.as_file().sync_all().map_err(named)?;
                // On failure the temporary file is dropped, so removed.
                file.persist(&dest).map_err(|e| named(e.error))?;
                Ok(())
            }
        }
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Replace { file, .. } => file.write(buf),
            Sink::InPlace(w) => w.write(buf),
        }
        .map_err(|e| named(&self.target, &e))
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Replace { file, .. } => file.flush(),
            Sink::InPlace(w) => w.flush(),
        }
        .map_err(|e| named(&self.target, &e))
    }
}

/// Standard output or an [`AtomicFile`].
pub enum Output {
    Stdout(BufWriter<io::Stdout>),
    File(AtomicFile),
}

impl Output {
    pub fn open(path: Option<&Path>) -> io::Result<Output> {
        Ok(match path {
            Some(p) => Output::File(AtomicFile::create(p)?),
            None => Output::Stdout(BufWriter::new(io::stdout())),
        })
    }

    /// Flushes standard output, or commits the file.
    pub fn finish(self) -> io::Result<()> {
        match self {
            Output::Stdout(mut w) => w.flush(),
            Output::File(f) => f.commit(),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(w) => w.write(buf),
            Output::File(f) => f.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(w) => w.flush(),
            Output::File(f) => f.flush(),
        }
    }
}

/// ANSI colours, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    on: bool,
}

impl Style {
    pub fn new(on: bool) -> Self {
        Style { on }
    }

    /// Writes `s` to `out`, in colour `code` when colours are on.
    fn paint(self, out: &mut impl fmt::Write, code: &str, s: impl fmt::Display) -> fmt::Result {
        if self.on {
            write!(out, "\x1b[{code}m{s}\x1b[0m")
        } else {
            write!(out, "{s}")
        }
    }

    /// A file name for a line of text output: control characters escaped (a name with a
    /// newline or an escape sequence must not forge lines or colours).
    pub fn path(self, out: &mut impl fmt::Write, s: &str) -> fmt::Result {
        self.paint(out, "1;35", printable(s))
    }

    /// A severity in its colour (red for critical and high, yellow for medium, cyan below),
    /// padded to `width`.
    pub fn severity(
        self,
        out: &mut impl fmt::Write,
        severity: Severity,
        width: usize,
    ) -> fmt::Result {
        let code = match severity {
            Severity::Critical | Severity::High => "1;31",
            Severity::Medium => "33",
            Severity::Low | Severity::Info => "36",
        };
        self.paint(out, code, format_args!("{:<width$}", severity.as_str()))
    }
}

/// `s` with control characters shown as escapes (`\n`, `\t`, `\x1b`, …) and backslashes
/// doubled only when something was escaped, so ordinary names print unchanged.
pub fn printable(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                use std::fmt::Write as _;
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}
