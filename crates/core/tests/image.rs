//! Image scans from OCI layouts and `docker save` archives: layers in every compression,
//! whiteouts, the config, platforms, digests and the cache.

mod common;

use std::path::{Path, PathBuf};

use capstan::image::{ImageOptions, Platform};
use capstan::scan::{CachePolicy, Finding, Request, ScanOutcome};
use common::oci::{Compression, Image, Layer, write_docker_archive, write_layout};

const TOKEN: &[u8] = b"GITHUB_TOKEN=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\n";
const TOKEN2: &[u8] = b"token = \"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\"\n";

type Key = (String, String, u64, String, Option<u32>, Option<u32>);

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("scratch");
    d
}

/// Five layers: a secret in the base (gzip) that layer 2 deletes, one in layer 1 (zstd) under
/// a directory layer 3 makes opaque, one in layer 3 (plain) that stays, an archive in layer 4
/// holding one; and secrets in the config's Env and history.
fn planted() -> Image {
    let mut inner = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(TOKEN2.len() as u64);
    h.set_mode(0o644);
    inner
        .append_data(&mut h, "creds.txt", TOKEN2)
        .expect("inner");
    let inner = inner.into_inner().expect("inner tar");
    let mut image = Image::new(vec![
        Layer::new(
            Compression::Gzip,
            &[("etc/app/.env", TOKEN), ("bin/tool", b"\x7fELF\0\0")],
        ),
        Layer::new(
            Compression::Zstd,
            &[("srv/cache/key.txt", TOKEN2), ("srv/ok.txt", b"hello")],
        ),
        Layer::new(Compression::Plain, &[("etc/app/.wh..env", b"")]),
        Layer::new(
            Compression::Gzip,
            &[("srv/.wh..wh..opq", b""), ("srv/new.txt", TOKEN)],
        ),
        Layer::new(Compression::Zstd, &[("opt/bundle.tar", &inner)]),
    ]);
    image
        .env
        .push("API_TOKEN=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".into());
    image
        .history
        .push("RUN echo 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 > /root/.token".into());
    image
}

fn scan(images: &[String], options: ImageOptions, cache: Option<&Path>) -> ScanOutcome {
    let mut r = Request::images(images.iter().cloned())
        .packs(["secrets"])
        .image_options(options);
    if let Some(c) = cache {
        r = r.cache(CachePolicy::Dir(c.to_owned()));
    }
    r.prepare().expect("prepares").run()
}

/// (path, layer, removed in) of each finding, in report order.
fn places(findings: &[Finding]) -> Vec<(String, Option<u32>, Option<u32>)> {
    findings
        .iter()
        .map(|f| {
            let o = f.image.as_ref().expect("image findings carry their origin");
            (
                f.path.clone(),
                o.layer.as_ref().map(|l| l.index),
                o.removed_in_layer,
            )
        })
        .collect()
}

fn expected_places() -> Vec<(String, Option<u32>, Option<u32>)> {
    vec![
        ("config:Env[1]".into(), None, None),
        ("config:history[0].created_by".into(), None, None),
        ("etc/app/.env".into(), Some(0), Some(2)),
        ("srv/cache/key.txt".into(), Some(1), Some(3)),
        ("srv/new.txt".into(), Some(3), None),
        ("opt/bundle.tar!creds.txt".into(), Some(4), None),
    ]
}

#[test]
fn every_planted_secret_is_found_in_its_layer_with_what_deleted_it() {
    let dir = scratch("image-oci-planted");
    let written = write_layout(&dir.join("layout"), &[("v1", vec![planted()])]);
    let given = format!("oci:{}:v1", dir.join("layout").display());
    let out = scan(std::slice::from_ref(&given), ImageOptions::default(), None);
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    assert_eq!(places(&out.findings), expected_places());
    let w = &written[0][0];
    for f in &out.findings {
        let o = f.image.as_ref().expect("origin");
        assert_eq!(o.image, given);
        assert_eq!(
            o.manifest_digest.as_deref(),
            Some(w.manifest_digest.as_str())
        );
        if let Some(l) = &o.layer {
            assert_eq!(l.digest, w.layer_digests[l.index as usize]);
        }
        assert!(!f.secret.contains("8kTqZ2vXw9"), "redacted: {}", f.secret);
    }
    assert_eq!(out.stats.layers_pulled, 5);
    assert!(out.stats.files >= 5, "{:?}", out.stats);
}

#[test]
fn a_docker_save_archive_gives_the_same_findings_as_the_layout() {
    let dir = scratch("image-docker-archive");
    write_layout(&dir.join("layout"), &[("v1", vec![planted()])]);
    write_docker_archive(&dir.join("image.tar"), &planted(), "app:v1");
    let from_layout = scan(
        &[format!("oci:{}", dir.join("layout").display())],
        ImageOptions::default(),
        None,
    );
    let from_archive = scan(
        &[format!(
            "docker-archive:{}",
            dir.join("image.tar").display()
        )],
        ImageOptions::default(),
        None,
    );
    assert!(from_archive.errors.is_empty(), "{:?}", from_archive.errors);
    let key = |fs: &[Finding]| -> Vec<Key> {
        fs.iter()
            .map(|f| {
                let o = f.image.as_ref().expect("origin");
                (
                    f.rule_id.clone(),
                    f.path.clone(),
                    f.line,
                    f.fingerprint.clone(),
                    o.layer.as_ref().map(|l| l.index),
                    o.removed_in_layer,
                )
            })
            .collect()
    };
    assert_eq!(key(&from_archive.findings), key(&from_layout.findings));
    assert!(
        from_archive.findings.iter().all(|f| f
            .image
            .as_ref()
            .is_some_and(|o| o.manifest_digest.is_none())),
        "a legacy archive has no manifest digest"
    );
}

#[test]
fn a_multi_platform_index_is_resolved_to_the_host_or_the_platform_asked_for() {
    let dir = scratch("image-multi-arch");
    let host = Image::new(vec![Layer::new(Compression::Gzip, &[("host.env", TOKEN)])]);
    let other_arch = if common::oci::host_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let other = Image::new(vec![Layer::new(Compression::Gzip, &[("other.env", TOKEN)])])
        .platform(other_arch, None);
    write_layout(&dir.join("layout"), &[("multi", vec![other, host])]);
    let given = format!("oci:{}:multi", dir.join("layout").display());
    let out = scan(std::slice::from_ref(&given), ImageOptions::default(), None);
    let layer_paths: Vec<&str> = out
        .findings
        .iter()
        .filter(|f| !f.path.starts_with("config:"))
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(layer_paths, ["host.env"]);
    let host_platform = Platform::host().to_string();
    assert!(
        out.warnings
            .iter()
            .any(|w| w.contains("multi-platform") && w.contains(&host_platform)),
        "{:?}",
        out.warnings
    );

    let want: Platform = format!("linux/{other_arch}").parse().expect("platform");
    let out = scan(
        std::slice::from_ref(&given),
        ImageOptions {
            platform: Some(want.clone()),
            ..ImageOptions::default()
        },
        None,
    );
    let layer_paths: Vec<&str> = out
        .findings
        .iter()
        .filter(|f| !f.path.starts_with("config:"))
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(layer_paths, ["other.env"]);
    assert!(out.findings.iter().all(|f| {
        f.image
            .as_ref()
            .and_then(|o| o.platform.as_deref())
            .is_some_and(|p| p.starts_with(&want.to_string()))
    }));

    let out = scan(
        std::slice::from_ref(&given),
        ImageOptions {
            platform: Some("linux/s390x".parse().expect("platform")),
            ..ImageOptions::default()
        },
        None,
    );
    assert!(out.findings.is_empty());
    assert_eq!(out.errors.len(), 1);
    assert!(
        out.errors[0].reason.contains("no image for linux/s390x")
            && out.errors[0].reason.contains("linux/"),
        "{:?}",
        out.errors
    );
}

#[test]
fn a_tampered_blob_is_a_digest_error_naming_it_and_the_other_layers_still_count() {
    let dir = scratch("image-tampered");
    let layout = dir.join("layout");
    let written = write_layout(&layout, &[("v1", vec![planted()])]);
    let victim = &written[0][0].layer_digests[3];
    let path = layout.join("blobs/sha256").join(&victim["sha256:".len()..]);
    // Same size, one byte different: only the digest can tell.
    let mut bytes = std::fs::read(&path).expect("blob");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&path, bytes).expect("tamper");
    let out = scan(
        &[format!("oci:{}", layout.display())],
        ImageOptions::default(),
        None,
    );
    assert_eq!(out.errors.len(), 1, "{:?}", out.errors);
    assert!(out.errors[0].path.ends_with("@layer3"), "{:?}", out.errors);
    assert!(
        out.errors[0].reason.contains(victim.as_str()) && out.errors[0].reason.contains("digest"),
        "{:?}",
        out.errors
    );
    assert!(out.findings.iter().all(|f| {
        f.image
            .as_ref()
            .and_then(|o| o.layer.as_ref())
            .is_none_or(|l| l.index != 3)
    }));
    assert!(
        out.findings.iter().any(|f| f.path == "etc/app/.env"),
        "the other layers are reported"
    );
}

#[test]
fn layers_are_scanned_once_across_runs_and_images() {
    let dir = scratch("image-cache");
    let cache = dir.join("cache");
    let base = planted();
    let mut derived = planted();
    derived.layers.truncate(3);
    derived
        .layers
        .push(Layer::new(Compression::Gzip, &[("app/new.env", TOKEN)]));
    write_layout(&dir.join("a"), &[("v1", vec![base])]);
    write_layout(&dir.join("b"), &[("v1", vec![derived])]);
    let a = format!("oci:{}", dir.join("a").display());
    let b = format!("oci:{}", dir.join("b").display());
    let first = scan(
        std::slice::from_ref(&a),
        ImageOptions::default(),
        Some(&cache),
    );
    assert_eq!(
        (first.stats.layers_pulled, first.stats.layers_cached),
        (5, 0)
    );
    let again = scan(
        std::slice::from_ref(&a),
        ImageOptions::default(),
        Some(&cache),
    );
    assert_eq!(
        (again.stats.layers_pulled, again.stats.layers_cached),
        (0, 5)
    );
    assert_eq!(
        places(&again.findings),
        places(&first.findings),
        "the cache answers what a scan would"
    );
    let second = scan(
        std::slice::from_ref(&b),
        ImageOptions::default(),
        Some(&cache),
    );
    assert_eq!(
        (second.stats.layers_pulled, second.stats.layers_cached),
        (1, 3),
        "only its own layer is read"
    );
    assert!(second.findings.iter().any(|f| f.path == "app/new.env"));
    // Without the cache, two images in one run still read a shared layer once.
    let both = scan(&[a, b], ImageOptions::default(), None);
    assert_eq!((both.stats.layers_pulled, both.stats.layers_shared), (6, 3));
}

#[test]
fn bad_sources_are_errors_naming_them() {
    let dir = scratch("image-bad");
    let missing = format!("oci:{}", dir.join("nope").display());
    let out = scan(
        std::slice::from_ref(&missing),
        ImageOptions::default(),
        None,
    );
    assert_eq!(out.errors.len(), 1);
    assert_eq!(out.errors[0].path, missing);
    assert!(
        out.errors[0].reason.contains("index.json"),
        "{:?}",
        out.errors
    );
    write_layout(
        &dir.join("two"),
        &[("a", vec![planted()]), ("b", vec![planted()])],
    );
    let out = scan(
        &[format!("oci:{}", dir.join("two").display())],
        ImageOptions::default(),
        None,
    );
    assert!(
        out.errors[0].reason.contains("holds 2 images") && out.errors[0].reason.contains("a, b"),
        "{:?}",
        out.errors
    );
    let out = scan(
        &[format!("oci:{}:c", dir.join("two").display())],
        ImageOptions::default(),
        None,
    );
    assert!(
        out.errors[0].reason.contains("no image tagged \"c\""),
        "{:?}",
        out.errors
    );
    let e = Request::images(["oci:"])
        .prepare()
        .expect_err("no directory");
    assert!(e.to_string().contains("oci: needs a directory"), "{e}");
    let e = Request::images(["a"])
        .image_options(ImageOptions {
            pulls: 0,
            ..ImageOptions::default()
        })
        .prepare()
        .expect_err("0 pulls");
    assert!(e.to_string().contains("concurrent pulls"), "{e}");
}
