//! Build contexts (`.dockerignore` matching, the deterministic context writer) and safe
//! extraction of archives from anywhere.

mod context;
mod dockerignore;
mod extract;
mod guard;

pub use context::{
    ByteObserver, Context, ContextError, ContextOptions, ContextReader, NoObserver, Skipped, Stop,
};
pub use dockerignore::{DockerIgnore, DockerIgnoreError};
pub use extract::{ExtractError, Extracted, extract, extract_limited};
pub(crate) use guard::Guard;
pub use guard::TarLimits;
