//! Where manifests and blobs come from ([`Store`]): an OCI layout directory, a `docker save`
//! archive, or a registry; and how a source is resolved to one image ([`plan`]).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::manifest::{self, Descriptor, Parsed, Platform};
use super::{Digest, ImageError, ImageErrorKind};

/// The first manifest a source names.
pub(crate) enum Root {
    /// Its bytes, the media type it was served as, and its digest when the source vouches for
    /// one (a registry's manifest by digest, or its `Docker-Content-Digest`).
    #[cfg_attr(not(feature = "registry"), allow(dead_code))]
    Bytes(Vec<u8>, String, Option<Digest>),
    /// A descriptor to fetch it by.
    Descriptor(Descriptor),
    /// No manifest at all: a legacy `docker save` archive, already resolved.
    Plan(Plan),
}

/// A source of manifests and blobs for one image.
pub(crate) trait Store: Sync {
    /// The image as given, for errors.
    fn name(&self) -> &str;
    /// The manifest (or index) the source names.
    fn root(&self) -> Result<Root, ImageError>;
    /// A manifest by descriptor, at most [`manifest::MAX_MANIFEST`] bytes (checked by the
    /// caller against the digest).
    fn manifest(&self, d: &Descriptor) -> Result<Vec<u8>, ImageError>;
    /// A blob's bytes as stored (checked by the caller against the digest as they stream).
    fn blob(&self, d: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ImageError>;
}

/// One image, resolved: what to read.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) manifest_digest: Option<Digest>,
    /// The platform picked from an index (`None`: the source was a single manifest).
    pub(crate) picked: Option<Platform>,
    pub(crate) config: Descriptor,
    pub(crate) layers: Vec<Descriptor>,
}

/// Resolves `store`'s image to one manifest: an index is followed to `platform`'s entry (the
/// host's when `None`).
pub(crate) fn plan(store: &dyn Store, platform: Option<&Platform>) -> Result<Plan, ImageError> {
    let err = |kind, m: String| ImageError::new(store.name(), kind, m);
    let (mut bytes, mut served, mut digest) = match store.root()? {
        Root::Plan(p) => return Ok(p),
        Root::Bytes(b, t, d) => (b, t, d),
        Root::Descriptor(d) => {
            let b = fetch_manifest(store, &d)?;
            (
                b,
                d.media_type.clone(),
                Some(manifest::digest_of(&d).map_err(|m| err(ImageErrorKind::Manifest, m))?),
            )
        }
    };
    let mut picked = None;
    // An index may point at an index (skopeo's `--all` copies into a layout do): a few levels.
    for _ in 0..4 {
        let parsed: Parsed = serde_json::from_slice(&bytes).map_err(|e| {
            err(
                ImageErrorKind::Manifest,
                format!("the manifest is not valid JSON: {e}"),
            )
        })?;
        if parsed.schema_version == Some(1) {
            return Err(err(
                ImageErrorKind::Manifest,
                "a schema 1 manifest (deprecated by docker since 2019) is not supported".into(),
            ));
        }
        if parsed.is_index(&served) {
            let entries = parsed.manifests.unwrap_or_default();
            let want = platform.cloned().unwrap_or_else(Platform::host);
            let d = match manifest::pick(&entries, &want) {
                Some(d) => d,
                // An index without platforms (an OCI layout's `index.json` of one image).
                None if entries.len() == 1 && entries[0].platform.is_none() => &entries[0],
                None => {
                    return Err(err(
                        ImageErrorKind::Platform,
                        format!(
                            "no image for {want} in this multi-platform index (it has: {}); choose one with --platform",
                            manifest::offered(&entries)
                        ),
                    ));
                }
            };
            if let Some(p) = &d.platform {
                picked = Some(p.to_platform());
            }
            bytes = fetch_manifest(store, d)?;
            served.clone_from(&d.media_type);
            digest = Some(manifest::digest_of(d).map_err(|m| err(ImageErrorKind::Manifest, m))?);
            continue;
        }
        let config = parsed.config.ok_or_else(|| {
            err(
                ImageErrorKind::Manifest,
                "the manifest names no config".into(),
            )
        })?;
        let digest = match digest {
            Some(d) => Some(d),
            None => Some(Digest::sha256_of(&bytes)),
        };
        return Ok(Plan {
            manifest_digest: digest,
            picked,
            config,
            layers: parsed.layers.unwrap_or_default(),
        });
    }
    Err(err(
        ImageErrorKind::Manifest,
        "indexes nested more than four deep".into(),
    ))
}

/// A manifest by descriptor, checked against its digest.
fn fetch_manifest(store: &dyn Store, d: &Descriptor) -> Result<Vec<u8>, ImageError> {
    let err = |kind, m: String| ImageError::new(store.name(), kind, m);
    let digest = manifest::digest_of(d).map_err(|m| err(ImageErrorKind::Manifest, m))?;
    let bytes = store.manifest(d)?;
    if !digest.matches(&bytes) {
        return Err(err(
            ImageErrorKind::Digest,
            format!("manifest {digest}: content does not match its digest"),
        ));
    }
    Ok(bytes)
}

/// Reads at most `max` bytes of `r`; more is an error naming `what`.
pub(crate) fn read_capped(r: &mut dyn Read, max: u64, what: &str) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    r.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(io::Error::other(format!(
            "{what} is larger than {max} bytes"
        )));
    }
    Ok(out)
}

// ---- OCI image layout ----------------------------------------------------------------------

/// An OCI image layout directory.
pub(crate) struct Layout {
    name: String,
    dir: PathBuf,
    tag: Option<String>,
}

impl Layout {
    pub(crate) fn new(name: &str, dir: &Path, tag: Option<&str>) -> Self {
        Layout {
            name: name.to_owned(),
            dir: dir.to_owned(),
            tag: tag.map(str::to_owned),
        }
    }

    fn io(&self, what: &Path, e: &io::Error) -> ImageError {
        let kind = if e.kind() == io::ErrorKind::NotFound {
            ImageErrorKind::NotFound
        } else {
            ImageErrorKind::Io
        };
        ImageError::new(&self.name, kind, format!("{}: {e}", what.display()))
    }

    fn blob_path(&self, d: &Descriptor) -> Result<PathBuf, ImageError> {
        let digest = manifest::digest_of(d)
            .map_err(|m| ImageError::new(&self.name, ImageErrorKind::Manifest, m))?;
        // The digest is checked (`algorithm:hex`), so the path stays inside `blobs/`.
        Ok(self
            .dir
            .join("blobs")
            .join(digest.algorithm())
            .join(digest.hex()))
    }
}

impl Store for Layout {
    fn name(&self) -> &str {
        &self.name
    }

    fn root(&self) -> Result<Root, ImageError> {
        let path = self.dir.join("index.json");
        let mut f = File::open(&path).map_err(|e| self.io(&path, &e))?;
        let bytes = read_capped(&mut f, manifest::MAX_MANIFEST, "index.json")
            .map_err(|e| self.io(&path, &e))?;
        let index: Parsed = serde_json::from_slice(&bytes).map_err(|e| {
            ImageError::new(
                &self.name,
                ImageErrorKind::Manifest,
                format!("{}: {e}", path.display()),
            )
        })?;
        let entries = index.manifests.unwrap_or_default();
        select_by_name(&self.name, &entries, self.tag.as_deref(), &path)
    }

    fn manifest(&self, d: &Descriptor) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(d)?;
        let mut f = File::open(&path).map_err(|e| self.io(&path, &e))?;
        read_capped(&mut f, manifest::MAX_MANIFEST, "a manifest").map_err(|e| self.io(&path, &e))
    }

    fn blob(&self, d: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let path = self.blob_path(d)?;
        let f = File::open(&path).map_err(|e| self.io(&path, &e))?;
        Ok(Box::new(f))
    }
}

/// The entry of a layout's `index.json` named `tag` (its `org.opencontainers.image.ref.name`),
/// or its only entry when no tag is asked for; an index of several images keeps them all
/// (the platform picks).
fn select_by_name(
    name: &str,
    entries: &[Descriptor],
    tag: Option<&str>,
    path: &Path,
) -> Result<Root, ImageError> {
    const REF_NAME: &str = "org.opencontainers.image.ref.name";
    let ref_name = |d: &Descriptor| {
        d.annotations
            .as_ref()
            .and_then(|a| a.get(REF_NAME))
            .cloned()
    };
    let chosen = match tag {
        Some(t) => entries
            .iter()
            .find(|d| ref_name(d).as_deref() == Some(t))
            .cloned(),
        None if entries.len() == 1 => entries.first().cloned(),
        None => None,
    };
    if let Some(d) = chosen {
        return Ok(Root::Descriptor(d));
    }
    let names: Vec<String> = entries.iter().filter_map(ref_name).collect();
    let listed = if names.is_empty() {
        "none is named".to_owned()
    } else {
        format!("it has: {}", names.join(", "))
    };
    Err(ImageError::new(
        name,
        ImageErrorKind::NotFound,
        match tag {
            Some(t) => format!("{}: no image tagged {t:?} ({listed})", path.display()),
            None if entries.is_empty() => format!("{}: holds no image", path.display()),
            None => format!(
                "{}: holds {} images; name one as oci:DIR:TAG ({listed})",
                path.display(),
                entries.len()
            ),
        },
    ))
}

// ---- docker save archives -------------------------------------------------------------------

/// A `docker save` archive: its members indexed once, then read in place (several at a time,
/// each through its own file handle).
pub(crate) struct Archive {
    name: String,
    path: PathBuf,
    /// Member name → (data offset, size).
    members: HashMap<String, (u64, u64)>,
    /// Legacy archives: blob digest → member name.
    by_digest: HashMap<String, String>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LegacyManifest {
    config: String,
    #[serde(default)]
    layers: Vec<String>,
}

impl Archive {
    pub(crate) fn open(name: &str, path: &Path) -> Result<Archive, ImageError> {
        let io = |e: &io::Error| {
            let kind = if e.kind() == io::ErrorKind::NotFound {
                ImageErrorKind::NotFound
            } else {
                ImageErrorKind::Io
            };
            ImageError::new(name, kind, format!("{}: {e}", path.display()))
        };
        let f = File::open(path).map_err(|e| io(&e))?;
        let mut members = HashMap::new();
        let mut archive = ::tar::Archive::new(io::BufReader::new(f));
        let mut links = Vec::new();
        for entry in archive.entries_with_seek().map_err(|e| io(&e))? {
            let entry = entry.map_err(|e| io(&e))?;
            let member = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let member = member.trim_start_matches("./").to_owned();
            let kind = entry.header().entry_type();
            if kind.is_file() {
                members.insert(member, (entry.raw_file_position(), entry.size()));
            } else if kind.is_symlink() || kind.is_hard_link() {
                // skopeo writes `<id>/layer.tar` as a link to `<diff id>.tar`.
                if let Some(target) = entry.link_name_bytes() {
                    let target = String::from_utf8_lossy(&target).into_owned();
                    links.push((member, kind.is_symlink(), target));
                }
            }
        }
        for (member, symbolic, target) in links {
            // A symlink's target is relative to its directory; a hard link's to the root.
            let dir = member.rsplit_once('/').map_or("", |(d, _)| d);
            let resolved = if symbolic && !dir.is_empty() && !target.starts_with('/') {
                normalize(&format!("{dir}/{target}"))
            } else {
                normalize(&target)
            };
            if let Some(&found) = resolved.as_deref().and_then(|t| members.get(t)) {
                members.insert(member, found);
            }
        }
        Ok(Archive {
            name: name.to_owned(),
            path: path.to_owned(),
            members,
            by_digest: HashMap::new(),
        })
    }

    fn member(&self, member: &str) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let Some(&(offset, size)) = self.members.get(member) else {
            return Err(ImageError::new(
                &self.name,
                ImageErrorKind::NotFound,
                format!("{}: no member {member}", self.path.display()),
            ));
        };
        let io = |e: io::Error| {
            ImageError::new(
                &self.name,
                ImageErrorKind::Io,
                format!("{}: {e}", self.path.display()),
            )
        };
        let mut f = File::open(&self.path).map_err(io)?;
        f.seek(SeekFrom::Start(offset)).map_err(io)?;
        Ok(Box::new(io::BufReader::with_capacity(
            64 << 10,
            f.take(size),
        )))
    }

    fn read_member(&self, member: &str, max: u64) -> Result<Vec<u8>, ImageError> {
        let mut r = self.member(member)?;
        read_capped(&mut r, max, member).map_err(|e| {
            ImageError::new(
                &self.name,
                ImageErrorKind::Io,
                format!("{}: {e}", self.path.display()),
            )
        })
    }

    fn member_for(&self, d: &Descriptor) -> Result<String, ImageError> {
        if let Some(m) = self.by_digest.get(&d.digest) {
            return Ok(m.clone());
        }
        let digest = manifest::digest_of(d)
            .map_err(|m| ImageError::new(&self.name, ImageErrorKind::Manifest, m))?;
        Ok(format!("blobs/{}/{}", digest.algorithm(), digest.hex()))
    }

    /// The legacy layout (`manifest.json` naming `<id>/layer.tar` files): a plan built from
    /// it, each layer's digest being its `diff_id` (the digest of the uncompressed tar, which
    /// is what the archive holds).
    fn legacy_plan(&mut self) -> Result<Plan, ImageError> {
        let bad = |m: String| ImageError::new(&self.name, ImageErrorKind::Manifest, m);
        let bytes = self.read_member("manifest.json", manifest::MAX_MANIFEST)?;
        let list: Vec<LegacyManifest> =
            serde_json::from_slice(&bytes).map_err(|e| bad(format!("manifest.json: {e}")))?;
        let m = match list.as_slice() {
            [one] => one,
            [] => return Err(bad("manifest.json lists no image".into())),
            _ => {
                return Err(bad(format!(
                    "the archive holds {} images; save one image per archive",
                    list.len()
                )));
            }
        };
        let config_bytes = self.read_member(&m.config, manifest::MAX_CONFIG)?;
        let config: manifest::Config =
            serde_json::from_slice(&config_bytes).map_err(|e| bad(format!("{}: {e}", m.config)))?;
        let diff_ids = config.rootfs.map(|r| r.diff_ids).unwrap_or_default();
        if diff_ids.len() != m.layers.len() {
            return Err(bad(format!(
                "the config lists {} layers, manifest.json {}",
                diff_ids.len(),
                m.layers.len()
            )));
        }
        let config_digest = Digest::sha256_of(&config_bytes);
        self.by_digest
            .insert(config_digest.to_string(), m.config.clone());
        let mut layers = Vec::new();
        for (member, diff_id) in m.layers.iter().zip(diff_ids) {
            let size = self.members.get(member).map(|&(_, s)| s);
            self.by_digest.insert(diff_id.clone(), member.clone());
            layers.push(Descriptor {
                media_type: "application/vnd.docker.image.rootfs.diff.tar".into(),
                digest: diff_id,
                size,
                platform: None,
                annotations: None,
                urls: None,
            });
        }
        Ok(Plan {
            manifest_digest: None,
            picked: None,
            config: Descriptor {
                media_type: "application/vnd.docker.container.image.v1+json".into(),
                digest: config_digest.to_string(),
                size: Some(config_bytes.len() as u64),
                platform: None,
                annotations: None,
                urls: None,
            },
            layers,
        })
    }

    /// Resolves the archive: its OCI layout when it has one (docker 25 and later), else the
    /// legacy `manifest.json`.
    pub(crate) fn into_store(mut self) -> Result<(Archive, Option<Plan>), ImageError> {
        if self.members.contains_key("index.json") {
            return Ok((self, None));
        }
        let plan = self.legacy_plan()?;
        Ok((self, Some(plan)))
    }
}

/// `a/./b/../c` as `a/c`; `None` if it climbs out of the archive.
fn normalize(path: &str) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// An [`Archive`] with its legacy plan, if it has one.
pub(crate) struct ArchiveStore {
    pub(crate) archive: Archive,
    pub(crate) legacy: Option<Plan>,
}

impl Store for ArchiveStore {
    fn name(&self) -> &str {
        &self.archive.name
    }

    fn root(&self) -> Result<Root, ImageError> {
        if let Some(p) = &self.legacy {
            return Ok(Root::Plan(p.clone()));
        }
        let bytes = self
            .archive
            .read_member("index.json", manifest::MAX_MANIFEST)?;
        let index: Parsed = serde_json::from_slice(&bytes).map_err(|e| {
            ImageError::new(
                &self.archive.name,
                ImageErrorKind::Manifest,
                format!("index.json: {e}"),
            )
        })?;
        select_by_name(
            &self.archive.name,
            &index.manifests.unwrap_or_default(),
            None,
            Path::new("index.json"),
        )
    }

    fn manifest(&self, d: &Descriptor) -> Result<Vec<u8>, ImageError> {
        let member = self.archive.member_for(d)?;
        self.archive.read_member(&member, manifest::MAX_MANIFEST)
    }

    fn blob(&self, d: &Descriptor) -> Result<Box<dyn Read + Send + '_>, ImageError> {
        let member = self.archive.member_for(d)?;
        self.archive.member(&member)
    }
}
