//! Build contexts: `.dockerignore` matching and the deterministic context writer.

mod context;
mod dockerignore;

pub use context::{ByteObserver, Context, ContextError, ContextOptions, NoObserver, Skipped};
pub use dockerignore::{DockerIgnore, DockerIgnoreError};
