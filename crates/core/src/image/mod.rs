//! Container images as a scan target: from a registry (feature `registry`), an OCI image
//! layout (`oci:DIR[:TAG]`) or a `docker save` archive (`docker-archive:FILE`).
//!
//! An image is resolved to one manifest (an index is resolved to the platform asked for, or
//! the host's), then its config and layers are read as streams: every manifest and blob is
//! checked against its digest as it arrives, each layer is decompressed (gzip, zstd or none)
//! into the tar reader and the scanner without touching disk, and layers are pulled several at
//! a time. Findings carry where they were found ([`ImageOrigin`](crate::scan::ImageOrigin)):
//! the image, its manifest digest, the layer (index from the base, and digest), and — for a
//! file an upper layer deleted — the layer that deleted it (the bytes still ship with every
//! pull). The config's `Env`, `Labels`, `Cmd`, `Entrypoint` and `history[].created_by` are
//! scanned too, under paths such as `config:Env[1]`.
//!
//! Scanning goes through [`scan::Request::images`](crate::scan::Request::images) (the scan
//! module composes this one's sources with the scanner; nothing here knows the scanner); this
//! module holds what an image *is* and where it comes from: [`ImageSource`], [`Platform`],
//! [`Digest`], [`ImageOptions`] and [`ImageError`].
//!
//! ```
//! use capstan::image::ImageSource;
//! let s: ImageSource = "oci:/tmp/layout:v1".parse()?;
//! assert!(matches!(s, ImageSource::OciLayout { ref tag, .. } if tag.as_deref() == Some("v1")));
//! let s: ImageSource = "docker-archive:app.tar".parse()?;
//! assert!(matches!(s, ImageSource::DockerArchive(_)));
//! let s: ImageSource = "ghcr.io/org/app:1.2".parse()?;
//! assert_eq!(s.to_string(), "ghcr.io/org/app:1.2");
//! # Ok::<(), capstan::image::ImageError>(())
//! ```

mod digest;
mod layer;
pub(crate) mod manifest;
#[cfg(feature = "registry")]
pub(crate) mod registry;
pub(crate) mod store;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub use digest::Digest;
pub use manifest::Platform;

pub(crate) use digest::Verifying;
pub(crate) use layer::{decompress, is_whiteout, member_path, removed_in};

use crate::auth::ImageRef;

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// A registry, by reference (`alpine`, `ghcr.io/org/app:tag`, `…@sha256:…`); needs the
    /// `registry` feature to be pulled.
    Registry(ImageRef),
    /// An OCI image layout directory (`oci:DIR[:TAG]`, as skopeo writes it); without a tag the
    /// layout must hold exactly one image.
    OciLayout {
        /// The layout's directory (holding `oci-layout` and `index.json`).
        dir: PathBuf,
        /// The `org.opencontainers.image.ref.name` to pick.
        tag: Option<String>,
    },
    /// A `docker save` archive (`docker-archive:FILE`), legacy or OCI-inside format.
    DockerArchive(PathBuf),
}

impl FromStr for ImageSource {
    type Err = ImageError;

    /// `oci:DIR[:TAG]`, `docker-archive:FILE`, `docker://REF` or a reference in docker's short
    /// form.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s.strip_prefix("oci:") {
            // `oci:DIR:TAG`: the tag is what follows the last `:` if it holds no `/` (so
            // `oci:/tmp/x` and `oci:./a:b/c` keep their colons in the directory).
            let (dir, tag) = match rest.rsplit_once(':') {
                Some((d, t)) if !t.contains('/') && !d.is_empty() => (d, Some(t)),
                _ => (rest, None),
            };
            if dir.is_empty() {
                return Err(ImageError::new(
                    s,
                    ImageErrorKind::Reference,
                    "oci: needs a directory (oci:DIR[:TAG])",
                ));
            }
            return Ok(ImageSource::OciLayout {
                dir: PathBuf::from(dir),
                tag: tag.filter(|t| !t.is_empty()).map(str::to_owned),
            });
        }
        if let Some(file) = s.strip_prefix("docker-archive:") {
            // skopeo's `docker-archive:FILE[:REF]` form is accepted (the archive must hold one
            // image; the reference is not needed to find it): the file is all of it if that
            // exists, else the shortest prefix before a `:` that is a file.
            let file = if std::path::Path::new(file).exists() {
                file
            } else {
                file.match_indices(':')
                    .map(|(i, _)| &file[..i])
                    .find(|f| !f.is_empty() && std::path::Path::new(f).is_file())
                    .unwrap_or(file)
            };
            if file.is_empty() {
                return Err(ImageError::new(
                    s,
                    ImageErrorKind::Reference,
                    "docker-archive: needs a file (docker-archive:FILE)",
                ));
            }
            return Ok(ImageSource::DockerArchive(PathBuf::from(file)));
        }
        let reference = s.strip_prefix("docker://").unwrap_or(s);
        reference
            .parse::<ImageRef>()
            .map(ImageSource::Registry)
            .map_err(|e| ImageError::new(s, ImageErrorKind::Reference, e.to_string()))
    }
}

impl fmt::Display for ImageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImageSource::Registry(r) => {
                // As the user would write it: `alpine` rather than docker.io/library/alpine:latest.
                write!(f, "{}/{}", r.registry(), r.path())?;
                if let Some(t) = r.tag() {
                    write!(f, ":{t}")?;
                }
                if let Some(d) = r.digest() {
                    write!(f, "@{d}")?;
                }
                Ok(())
            }
            ImageSource::OciLayout { dir, tag } => {
                write!(f, "oci:{}", dir.display())?;
                if let Some(t) = tag {
                    write!(f, ":{t}")?;
                }
                Ok(())
            }
            ImageSource::DockerArchive(p) => write!(f, "docker-archive:{}", p.display()),
        }
    }
}

/// How images are pulled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageOptions {
    /// The platform to pick from a multi-platform index; `None` is the host's
    /// ([`Platform::host`]), as docker pulls.
    pub platform: Option<Platform>,
    /// Layers pulled (and scanned) at once, per image; `0` is refused.
    pub pulls: usize,
    /// Plain HTTP to any registry and its token server, not only loopback ones.
    pub insecure: bool,
}

impl Default for ImageOptions {
    fn default() -> Self {
        ImageOptions {
            platform: None,
            pulls: 3,
            insecure: false,
        }
    }
}

/// Why an image (or one of its blobs) could not be read. Names the image as given, and the
/// registry, repository or blob at fault; never holds a secret.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{image}: {message}")]
pub struct ImageError {
    image: String,
    kind: ImageErrorKind,
    message: String,
}

/// What kind of thing went wrong in an [`ImageError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageErrorKind {
    /// Not an image reference or source (`oci:` without a directory, a bad tag).
    Reference,
    /// A local layout or archive that cannot be read.
    Io,
    /// The registry could not be reached, or the connection failed mid-transfer.
    Network,
    /// The registry refused the credentials (401, 403), or wanted some and none were found.
    Denied,
    /// No such repository, tag, manifest or blob (404, or missing from a layout).
    NotFound,
    /// Any other status, or retries ran out on 429 / 5xx.
    Status,
    /// A manifest or blob that does not match its digest or size.
    Digest,
    /// A manifest, index or config that is malformed or of a kind not supported.
    Manifest,
    /// The index has no image for the platform asked for.
    Platform,
    /// A layer that is not a readable tar stream (or not in a supported compression).
    Layer,
    /// Credentials could not be resolved (a config file or helper at fault).
    Auth,
    /// Plain HTTP or a token server that is not https, without `--insecure`.
    Insecure,
    /// This build has no registry client (the `registry` feature).
    Unsupported,
}

impl ImageError {
    pub(crate) fn new(image: &str, kind: ImageErrorKind, message: impl Into<String>) -> Self {
        ImageError {
            image: image.to_owned(),
            kind,
            message: message.into(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ImageErrorKind {
        self.kind
    }

    /// The image as given.
    pub fn image(&self) -> &str {
        &self.image
    }

    /// What went wrong, without the image's name.
    pub fn message(&self) -> &str {
        &self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_parse_as_skopeo_and_docker_write_them() {
        let oci = |s: &str| match s.parse::<ImageSource>() {
            Ok(ImageSource::OciLayout { dir, tag }) => Some((dir.display().to_string(), tag)),
            _ => None,
        };
        assert_eq!(oci("oci:/tmp/x"), Some(("/tmp/x".into(), None)));
        assert_eq!(
            oci("oci:/tmp/x:v2"),
            Some(("/tmp/x".into(), Some("v2".into())))
        );
        assert_eq!(oci("oci:a:b/c"), Some(("a:b/c".into(), None)));
        assert!("oci:".parse::<ImageSource>().is_err());
        assert!(matches!(
            "docker-archive:/tmp/a.tar".parse::<ImageSource>(),
            Ok(ImageSource::DockerArchive(p)) if p == std::path::Path::new("/tmp/a.tar")
        ));
        let r = "docker://localhost:5000/a/b:c"
            .parse::<ImageSource>()
            .expect("parses");
        assert_eq!(r.to_string(), "localhost:5000/a/b:c");
        let e = "Alpine".parse::<ImageSource>().expect_err("uppercase");
        assert_eq!(e.kind(), ImageErrorKind::Reference);
        assert!(e.to_string().starts_with("Alpine: "), "{e}");
    }
}
