//! Build contexts: `.dockerignore` matching and the deterministic context writer.

mod context;
mod dockerignore;

pub use context::{Context, ContextError, ContextOptions, Skipped};
pub use dockerignore::{DockerIgnore, DockerIgnoreError};
