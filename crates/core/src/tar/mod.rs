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
    ByteObserver, Context, ContextError, ContextErrorKind, ContextOptions, ContextReader,
    NoObserver, Skipped, Stop,
};
pub use dockerignore::{DockerIgnore, DockerIgnoreError, DockerIgnoreErrorKind};
pub use extract::{ExtractError, ExtractErrorKind, Extracted, extract_limited};
pub use guard::TarLimits;
