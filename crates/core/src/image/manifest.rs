//! OCI and Docker v2 manifests, indexes (manifest lists) and image configs: the parts a scan
//! reads, and the platform an index is resolved to.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

use super::Digest;

pub(crate) const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub(crate) const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// What a manifest request accepts, most specific first.
#[cfg(feature = "registry")]
pub(crate) const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// The most bytes a manifest or config may have (containerd's limit for manifests is 4 MiB).
pub(crate) const MAX_MANIFEST: u64 = 4 << 20;
/// The most bytes an image config may have.
pub(crate) const MAX_CONFIG: u64 = 8 << 20;

/// A content descriptor: what a manifest says about a blob.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Descriptor {
    #[serde(default)]
    pub(crate) media_type: String,
    pub(crate) digest: String,
    #[serde(default)]
    pub(crate) size: Option<u64>,
    #[serde(default)]
    pub(crate) platform: Option<PlatformSpec>,
    #[serde(default)]
    pub(crate) annotations: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    pub(crate) urls: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct PlatformSpec {
    #[serde(default)]
    pub(crate) os: String,
    #[serde(default)]
    pub(crate) architecture: String,
    #[serde(default)]
    pub(crate) variant: Option<String>,
}

/// A manifest or an index, told apart by media type (or, when the server gives none, by
/// shape: an index has `manifests`, a manifest `layers`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Parsed {
    #[serde(default)]
    pub(crate) schema_version: Option<u32>,
    #[serde(default)]
    pub(crate) media_type: Option<String>,
    #[serde(default)]
    pub(crate) manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub(crate) config: Option<Descriptor>,
    #[serde(default)]
    pub(crate) layers: Option<Vec<Descriptor>>,
}

impl Parsed {
    pub(crate) fn is_index(&self, served_as: &str) -> bool {
        let declared = self.media_type.as_deref().unwrap_or(served_as);
        declared == OCI_INDEX
            || declared == DOCKER_LIST
            || (self.manifests.is_some() && self.layers.is_none())
    }
}

/// An operating system, architecture and optional variant: `linux/amd64`, `linux/arm64/v8`.
///
/// ```
/// use capstan::image::Platform;
/// let p: Platform = "linux/arm/v7".parse()?;
/// assert_eq!((p.os.as_str(), p.architecture.as_str(), p.variant.as_deref()), ("linux", "arm", Some("v7")));
/// assert_eq!(p.to_string(), "linux/arm/v7");
/// assert!("linux".parse::<Platform>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Platform {
    /// `linux`, `windows`.
    pub os: String,
    /// Go's names: `amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`, `riscv64`.
    pub architecture: String,
    /// `v7`, `v8`, …
    pub variant: Option<String>,
}

impl Platform {
    /// The platform docker pulls by default on this machine: `linux` and this CPU in Go's
    /// names (docker runs Linux images on every host, in a VM where it must).
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "x86" => ("386", None),
            "aarch64" => ("arm64", Some("v8")),
            "arm" => ("arm", Some("v7")),
            "powerpc64" => ("ppc64le", None),
            "riscv64" => ("riscv64", None),
            "s390x" => ("s390x", None),
            other => (other, None),
        };
        Platform {
            os: "linux".to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
        }
    }

    /// Whether an index entry for `spec` is this platform. A variant given on one side only
    /// matches (`linux/arm64` is `linux/arm64/v8`), as containerd's matcher does for the
    /// architectures with a default variant.
    pub(crate) fn matches(&self, spec: &PlatformSpec) -> bool {
        self.os == spec.os
            && self.architecture == spec.architecture
            && match (&self.variant, &spec.variant) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        };
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Platform {
                os: os.to_ascii_lowercase(),
                architecture: arch.to_ascii_lowercase(),
                variant: None,
            }),
            [os, arch, variant] if ok(os) && ok(arch) && ok(variant) => Ok(Platform {
                os: os.to_ascii_lowercase(),
                architecture: arch.to_ascii_lowercase(),
                variant: Some(variant.to_ascii_lowercase()),
            }),
            _ => Err(format!(
                "not a platform: {s:?} (expected os/arch or os/arch/variant, e.g. linux/amd64, linux/arm64/v8)"
            )),
        }
    }
}

impl PlatformSpec {
    pub(crate) fn to_platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
        }
    }
}

/// Picks the entry of an index for `platform`: the first exact match, else the first whose
/// variant is unspecified on one side. Attestation manifests (`unknown/unknown`) never match.
pub(crate) fn pick<'a>(entries: &'a [Descriptor], platform: &Platform) -> Option<&'a Descriptor> {
    let exact = entries.iter().find(|d| {
        d.platform
            .as_ref()
            .is_some_and(|p| p.to_platform() == *platform)
    });
    exact.or_else(|| {
        entries
            .iter()
            .find(|d| d.platform.as_ref().is_some_and(|p| platform.matches(p)))
    })
}

/// The platforms an index offers, for the error when none is wanted.
pub(crate) fn offered(entries: &[Descriptor]) -> String {
    let list: Vec<String> = entries
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .filter(|p| p.os != "unknown")
        .map(|p| p.to_platform().to_string())
        .collect();
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

/// The parts of an image config a scan reads.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Config {
    #[serde(default)]
    pub(crate) architecture: Option<String>,
    #[serde(default)]
    pub(crate) os: Option<String>,
    #[serde(default)]
    pub(crate) variant: Option<String>,
    #[serde(default)]
    pub(crate) config: Option<RunConfig>,
    #[serde(default)]
    pub(crate) rootfs: Option<RootFs>,
    #[serde(default)]
    pub(crate) history: Vec<History>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RunConfig {
    #[serde(default)]
    pub(crate) env: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) labels: Option<std::collections::BTreeMap<String, String>>,
    #[serde(default)]
    pub(crate) cmd: Option<Vec<String>>,
    #[serde(default)]
    pub(crate) entrypoint: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RootFs {
    #[serde(default)]
    pub(crate) diff_ids: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct History {
    #[serde(default)]
    pub(crate) created_by: Option<String>,
}

impl Config {
    /// The platform the config declares, when it declares one.
    pub(crate) fn platform(&self) -> Option<Platform> {
        Some(Platform {
            os: self.os.clone()?,
            architecture: self.architecture.clone()?,
            variant: self.variant.clone(),
        })
    }

    /// Every text a scan looks at, with the path it is reported under: `config:Env[1]`,
    /// `config:Labels.<key>`, `config:Cmd[0]`, `config:Entrypoint[0]`,
    /// `config:history[2].created_by`.
    pub(crate) fn texts(&self) -> Vec<(String, std::borrow::Cow<'_, str>)> {
        use std::borrow::Cow;
        let mut out = Vec::new();
        if let Some(c) = &self.config {
            for (i, e) in c.env.iter().flatten().enumerate() {
                out.push((format!("config:Env[{i}]"), Cow::Borrowed(e.as_str())));
            }
            for (k, v) in c.labels.iter().flatten() {
                // `key=value`, so rules keyed on the label's name (`…_TOKEN=`) see it.
                out.push((format!("config:Labels.{k}"), Cow::Owned(format!("{k}={v}"))));
            }
            for (i, e) in c.cmd.iter().flatten().enumerate() {
                out.push((format!("config:Cmd[{i}]"), Cow::Borrowed(e.as_str())));
            }
            for (i, e) in c.entrypoint.iter().flatten().enumerate() {
                out.push((format!("config:Entrypoint[{i}]"), Cow::Borrowed(e.as_str())));
            }
        }
        for (i, h) in self.history.iter().enumerate() {
            if let Some(by) = &h.created_by {
                out.push((
                    format!("config:history[{i}].created_by"),
                    Cow::Borrowed(by.as_str()),
                ));
            }
        }
        out
    }
}

/// A descriptor's digest, checked.
pub(crate) fn digest_of(d: &Descriptor) -> Result<Digest, String> {
    Digest::parse(&d.digest)
        .ok_or_else(|| format!("unsupported or malformed digest {:?}", d.digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(os: &str, arch: &str, variant: Option<&str>) -> Descriptor {
        Descriptor {
            media_type: "application/vnd.oci.image.manifest.v1+json".to_owned(),
            digest: format!("sha256:{}", "0".repeat(64)),
            size: Some(1),
            platform: Some(PlatformSpec {
                os: os.into(),
                architecture: arch.into(),
                variant: variant.map(Into::into),
            }),
            annotations: None,
            urls: None,
        }
    }

    #[test]
    fn platforms_are_picked_as_docker_does() {
        let idx = [
            entry("linux", "amd64", None),
            entry("linux", "arm", Some("v6")),
            entry("linux", "arm", Some("v7")),
            entry("linux", "arm64", Some("v8")),
            entry("unknown", "unknown", None),
        ];
        let pick_of = |s: &str| {
            pick(&idx, &s.parse().expect("platform"))
                .and_then(|d| d.platform.as_ref())
                .map(|p| p.to_platform().to_string())
        };
        assert_eq!(pick_of("linux/amd64").as_deref(), Some("linux/amd64"));
        assert_eq!(pick_of("linux/arm/v7").as_deref(), Some("linux/arm/v7"));
        assert_eq!(pick_of("linux/arm64").as_deref(), Some("linux/arm64/v8"));
        assert_eq!(pick_of("linux/s390x"), None);
        assert_eq!(
            offered(&idx),
            "linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8"
        );
    }

    #[test]
    fn config_texts_have_paths() {
        let c: Config = serde_json::from_str(
            r#"{"config":{"Env":["PATH=/bin","TOKEN=x"],"Labels":{"k":"v"},"Cmd":["sh"]},
                "history":[{"created_by":"RUN a"},{"empty_layer":true}]}"#,
        )
        .expect("parses");
        let paths: Vec<String> = c.texts().into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            paths,
            [
                "config:Env[0]",
                "config:Env[1]",
                "config:Labels.k",
                "config:Cmd[0]",
                "config:history[0].created_by"
            ]
        );
    }
}
