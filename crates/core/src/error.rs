//! The crate's error type.
//!
//! Each subsystem has its own error with a kind the caller can match
//! ([`ExecError`](crate::exec::ExecError), [`MetricsError`](crate::metrics::MetricsError)); this
//! type gathers them at the crate boundary, so a front end needs one `match` and one `?`.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong in capstan, by subsystem.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed; the message names the file.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The worker pool, limiter or batcher refused or lost work.
    #[error(transparent)]
    Exec(#[from] crate::exec::ExecError),
    /// A metric name, label or registration was invalid.
    #[error(transparent)]
    Metrics(#[from] crate::metrics::MetricsError),
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// The file this error concerns, when there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Io { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// `Result` with capstan's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_names_the_file_and_cause() {
        let e = Error::io(
            "/etc/capstan.toml",
            io::Error::from(io::ErrorKind::NotFound),
        );
        let msg = e.to_string();
        assert!(msg.starts_with("/etc/capstan.toml: "), "{msg}");
        assert!(msg.contains("not found"), "{msg}");
        assert_eq!(e.path(), Some(Path::new("/etc/capstan.toml")));
    }
}
