//! Where reports go: standard output or a file replaced atomically; terminal colours.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file written under a temporary name beside its target and renamed over it by
/// [`commit`](Self::commit): an interrupted run never leaves half a report. Dropped without
/// `commit`, the temporary file is removed. Created 0600: reports may hold secrets.
pub struct AtomicFile {
    file: Option<BufWriter<File>>,
    tmp: PathBuf,
    target: PathBuf,
    /// Removes `tmp` if a Ctrl-C ends the process before `commit` or drop can.
    _on_exit: crate::signal::TempGuard,
}

impl AtomicFile {
    pub fn create(target: &Path) -> io::Result<AtomicFile> {
        Self::create_with_mode(target, 0o600)
    }

    /// [`create`](Self::create) with another mode for the file.
    pub fn create_with_mode(target: &Path, mode: u32) -> io::Result<AtomicFile> {
        let name = target.file_name().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a file name", target.display()),
            )
        })?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = target.with_file_name(tmp_name);
        // Registered before it exists: a Ctrl-C from here on removes it.
        let on_exit = crate::signal::remove_on_exit(&tmp);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let file = opts
            .open(&tmp)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", target.display())))?;
        Ok(AtomicFile {
            file: Some(BufWriter::new(file)),
            _on_exit: on_exit,
            tmp,
            target: target.to_owned(),
        })
    }

    /// Flushes, syncs and renames the file into place.
    pub fn commit(mut self) -> io::Result<()> {
        let Some(w) = self.file.take() else {
            return Ok(());
        };
        let named =
            |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", self.target.display()));
        let file = w.into_inner().map_err(|e| named(e.into_error()))?;
        file.sync_all().map_err(named)?;
        std::fs::rename(&self.tmp, &self.target).map_err(named)
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("already committed")),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
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
    fn paint(self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
    /// A file name for a line of text output: control characters escaped (a name with a
    /// newline or an escape sequence must not forge lines or colours).
    pub fn path(self, s: &str) -> String {
        self.paint("1;35", &printable(s))
    }
    pub fn red(self, s: &str) -> String {
        self.paint("1;31", s)
    }
    pub fn yellow(self, s: &str) -> String {
        self.paint("33", s)
    }
    pub fn cyan(self, s: &str) -> String {
        self.paint("36", s)
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
