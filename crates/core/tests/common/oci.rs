//! Builds container images for the tests: OCI image layouts (gzip, zstd or plain layers,
//! whiteouts, multi-platform indexes, secrets in the config) and `docker save` archives.
//! Shared by the CLI's tests too (`crates/cli/tests/common`).

use std::io::Write;
use std::path::Path;

use sha2::{Digest as _, Sha256};

/// How a layer is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Zstd,
    Plain,
}

/// One layer: files by path (a name ending in `.wh.X` or `.wh..wh..opq` is a whiteout).
#[derive(Debug, Clone)]
pub struct Layer {
    pub files: Vec<(String, Vec<u8>)>,
    pub compression: Compression,
}

impl Layer {
    pub fn new(compression: Compression, files: &[(&str, &[u8])]) -> Layer {
        Layer {
            files: files
                .iter()
                .map(|(p, d)| ((*p).to_owned(), d.to_vec()))
                .collect(),
            compression,
        }
    }

    /// The uncompressed tar.
    pub fn tar(&self) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in &self.files {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            b.append_data(&mut h, path, data.as_slice())
                .expect("append");
        }
        b.into_inner().expect("tar")
    }

    /// The blob as stored, and its media type.
    pub fn blob(&self) -> (Vec<u8>, &'static str) {
        let tar = self.tar();
        match self.compression {
            Compression::Plain => (tar, "application/vnd.oci.image.layer.v1.tar"),
            Compression::Gzip => {
                let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                gz.write_all(&tar).expect("gzip");
                (
                    gz.finish().expect("gzip"),
                    "application/vnd.oci.image.layer.v1.tar+gzip",
                )
            }
            Compression::Zstd => (
                ruzstd::encoding::compress_to_vec(
                    tar.as_slice(),
                    ruzstd::encoding::CompressionLevel::Fastest,
                ),
                "application/vnd.oci.image.layer.v1.tar+zstd",
            ),
        }
    }
}

/// An image: layers, and what its config says.
#[derive(Debug, Clone)]
pub struct Image {
    pub layers: Vec<Layer>,
    pub env: Vec<String>,
    pub history: Vec<String>,
    pub labels: Vec<(String, String)>,
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Image {
    pub fn new(layers: Vec<Layer>) -> Image {
        Image {
            layers,
            env: vec!["PATH=/usr/local/bin:/usr/bin:/bin".into()],
            history: Vec::new(),
            labels: Vec::new(),
            os: "linux".into(),
            arch: host_arch().into(),
            variant: None,
        }
    }

    pub fn platform(mut self, arch: &str, variant: Option<&str>) -> Image {
        arch.clone_into(&mut self.arch);
        self.variant = variant.map(str::to_owned);
        self
    }

    fn config(&self) -> Vec<u8> {
        let diff_ids: Vec<String> = self.layers.iter().map(|l| sha256(&l.tar())).collect();
        let mut history: Vec<serde_json::Value> = self
            .history
            .iter()
            .map(|h| serde_json::json!({"created_by": h, "empty_layer": true}))
            .collect();
        history.extend(
            self.layers
                .iter()
                .enumerate()
                .map(|(i, _)| serde_json::json!({"created_by": format!("COPY layer{i} /")})),
        );
        let labels: serde_json::Map<String, serde_json::Value> = self
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        let mut c = serde_json::json!({
            "architecture": self.arch,
            "os": self.os,
            "config": {"Env": self.env, "Cmd": ["/bin/sh"], "Labels": labels},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": history,
        });
        if let Some(v) = &self.variant {
            c["variant"] = serde_json::Value::String(v.clone());
        }
        serde_json::to_vec(&c).expect("json")
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().fold(String::from("sha256:"), |mut s, b| {
        use std::fmt::Write as _;
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Go's name for this machine's architecture.
pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// What was written for one image.
#[derive(Debug, Clone)]
pub struct Written {
    pub manifest_digest: String,
    pub layer_digests: Vec<String>,
    pub config_digest: String,
    /// The manifest descriptor (for indexes).
    pub descriptor: serde_json::Value,
}

fn put_blob(dir: &Path, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("blobs dir");
    std::fs::write(blobs.join(&digest["sha256:".len()..]), bytes).expect("write blob");
    digest
}

/// Writes `image`'s blobs (config, layers, manifest) into the layout at `dir`.
pub fn write_image(dir: &Path, image: &Image) -> Written {
    let config = image.config();
    let config_digest = put_blob(dir, &config);
    let mut layers = Vec::new();
    let mut layer_digests = Vec::new();
    for l in &image.layers {
        let (blob, media) = l.blob();
        let d = put_blob(dir, &blob);
        layers.push(serde_json::json!({"mediaType": media, "digest": d, "size": blob.len()}));
        layer_digests.push(d);
    }
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
        "layers": layers,
    }))
    .expect("json");
    let manifest_digest = put_blob(dir, &manifest);
    let mut platform = serde_json::json!({"os": image.os, "architecture": image.arch});
    if let Some(v) = &image.variant {
        platform["variant"] = serde_json::Value::String(v.clone());
    }
    Written {
        descriptor: serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest.len(),
            "platform": platform,
        }),
        manifest_digest,
        layer_digests,
        config_digest,
    }
}

/// Writes an OCI layout at `dir` holding `images` by tag (a tag with several images is a
/// multi-platform index).
pub fn write_layout(dir: &Path, tagged: &[(&str, Vec<Image>)]) -> Vec<Vec<Written>> {
    std::fs::create_dir_all(dir).expect("layout dir");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    let mut entries = Vec::new();
    let mut all = Vec::new();
    for (tag, images) in tagged {
        let written: Vec<Written> = images.iter().map(|i| write_image(dir, i)).collect();
        let mut entry = if written.len() == 1 {
            let mut d = written[0].descriptor.clone();
            d.as_object_mut().expect("object").remove("platform");
            d
        } else {
            let index = serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": written.iter().map(|w| w.descriptor.clone()).collect::<Vec<_>>(),
            }))
            .expect("json");
            let d = put_blob(dir, &index);
            serde_json::json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": index.len()})
        };
        entry["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": tag});
        entries.push(entry);
        all.push(written);
    }
    let index = serde_json::json!({"schemaVersion": 2, "manifests": entries});
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&index).expect("json"),
    )
    .expect("index.json");
    all
}

/// Writes `image` as a legacy `docker save` archive (`manifest.json`, `<id>/layer.tar`,
/// `<config digest>.json`), layers uncompressed as docker writes them.
pub fn write_docker_archive(path: &Path, image: &Image, tag: &str) {
    let config = image.config();
    let config_name = format!("{}.json", &sha256(&config)["sha256:".len()..]);
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, name, data).expect("append");
    };
    add(&config_name, &config);
    let mut layer_names = Vec::new();
    for l in &image.layers {
        let tar = l.tar();
        let name = format!("{}/layer.tar", &sha256(&tar)["sha256:".len()..]);
        add(&name, &tar);
        layer_names.push(name);
    }
    let manifest =
        serde_json::json!([{"Config": config_name, "RepoTags": [tag], "Layers": layer_names}]);
    add(
        "manifest.json",
        &serde_json::to_vec(&manifest).expect("json"),
    );
    std::fs::write(path, b.into_inner().expect("tar")).expect("write archive");
}
