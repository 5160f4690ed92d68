//! Build contexts (`.dockerignore` matching, the deterministic context writer), safe
//! extraction of archives from anywhere, and the guarded archive reader that extraction and the
//! scanner's look into archives share.

mod archive;
mod context;
mod dockerignore;
mod extract;
mod guard;

pub(crate) use archive::ArchiveReader;
pub use context::{
    ByteObserver, Context, ContextError, ContextOptions, ContextReader, NoObserver, Skipped, Stop,
};
pub use dockerignore::{DockerIgnore, DockerIgnoreError};
pub use extract::{ExtractError, Extracted, extract, extract_limited};
pub use guard::TarLimits;
