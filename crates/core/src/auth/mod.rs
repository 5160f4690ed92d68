//! Registry credentials: image references, docker/podman config files and credential helpers
//! resolved in docker's order, the `X-Registry-Auth` header, a per-registry single-flight cache
//! ([`AuthCache`]) and, with the `registry` feature, the bearer-token flow behind `check`.

mod cache;
pub(crate) mod creds;
mod reference;
#[cfg(feature = "registry")]
pub(crate) mod registry;

pub use cache::AuthCache;
pub use creds::{
    AuthError, AuthErrorKind, AuthHeader, Credentials, Resolved, Resolver, Secret, Source,
};
pub use reference::{DOCKER_HUB, DOCKER_HUB_KEY, ImageRef, ReferenceError, ReferenceErrorKind};
#[cfg(feature = "registry")]
pub use registry::{BearerChallenge, Check, CheckError, CheckErrorKind, check};
