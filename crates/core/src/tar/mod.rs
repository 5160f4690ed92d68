//! Build contexts: `.dockerignore` matching (the context writer and the safe reader follow).

mod dockerignore;

pub use dockerignore::{DockerIgnore, DockerIgnoreError};
