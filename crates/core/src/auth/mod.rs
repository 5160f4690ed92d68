//! Registry credentials: image references (docker/podman config resolution, credential
//! helpers and the auth cache follow).

mod reference;

pub use reference::{DOCKER_HUB, DOCKER_HUB_KEY, ImageRef, ReferenceError};
