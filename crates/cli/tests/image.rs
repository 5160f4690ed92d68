//! `capstan image` against a real registry (Debian's `docker-registry` with htpasswd auth on a
//! loopback port) holding images pushed with skopeo, and against the same images as OCI
//! layouts and `docker save` archives.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::oci::{Compression, Image, Layer, write_layout};
use common::{Registry, Scratch, text};

const TOKEN: &[u8] = b"GITHUB_TOKEN=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\n";
const TOKEN2: &[u8] = b"token = \"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\"\n";
const USER: &str = "tester";
const PASS: &str = "pa55-w0rd-never-shown";

/// Five layers in three compressions, a whiteout and an opaque directory; secrets in the
/// config's Env and history.
fn planted() -> Image {
    let mut image = Image::new(vec![
        Layer::new(
            Compression::Gzip,
            &[("etc/app/.env", TOKEN), ("bin/tool", b"\x7fELF\0\0")],
        ),
        Layer::new(Compression::Zstd, &[("srv/cache/key.txt", TOKEN2)]),
        Layer::new(Compression::Plain, &[("etc/app/.wh..env", b"")]),
        Layer::new(
            Compression::Gzip,
            &[("srv/.wh..wh..opq", b""), ("srv/new.txt", TOKEN)],
        ),
        Layer::new(Compression::Gzip, &[("README", b"nothing here\n")]),
    ]);
    image
        .env
        .push("API_TOKEN=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".into());
    image
        .history
        .push("RUN echo 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 > /root/.token".into());
    image
}

/// `skopeo copy` from `src` to `dest`, with the registry's credentials where it is the
/// destination or the source.
fn skopeo(args: &[&str]) {
    let out = common::tool("skopeo")
        .arg("--insecure-policy")
        .arg("copy")
        .args(args)
        .output()
        .expect("skopeo runs");
    assert!(
        out.status.success(),
        "skopeo {args:?}: {}",
        text(&out.stderr)
    );
}

fn push(reg: &Registry, layout: &Path, tag: &str, repo: &str, all: bool) {
    let src = format!("oci:{}:{tag}", layout.display());
    let dest = format!("docker://{}/{repo}", reg.host());
    let creds = format!("{USER}:{PASS}");
    let mut args = vec!["--dest-tls-verify=false", "--dest-creds", &creds];
    if all {
        args.push("--all");
    }
    args.extend([src.as_str(), dest.as_str()]);
    skopeo(&args);
}

/// `capstan image ARGS` with `docker_config` as `DOCKER_CONFIG` and a cache under `dir`.
fn capstan(dir: &Scratch, docker_config: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_capstan"))
        .arg("image")
        .args(args)
        .env("DOCKER_CONFIG", docker_config)
        .env("XDG_CACHE_HOME", dir.cache())
        .env_remove("REGISTRY_AUTH_FILE")
        .current_dir(&dir.0)
        .output()
        .expect("capstan runs")
}

/// (rule, path, line, fingerprint, layer, removed in) of a finding in a JSON report.
type Row = (String, String, u64, String, Option<u64>, Option<u64>);

/// The [`Row`]s of a JSON report.
fn findings(out: &Output) -> Vec<Row> {
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {} {}", text(&out.stdout), text(&out.stderr)));
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["rule_id"].as_str().unwrap_or("").to_owned(),
                f["path"].as_str().unwrap_or("").to_owned(),
                f["line"].as_u64().unwrap_or(0),
                f["fingerprint"].as_str().unwrap_or("").to_owned(),
                f["layer"]["index"].as_u64(),
                f["removed_in_layer"].as_u64(),
            )
        })
        .collect()
}

#[test]
fn a_registry_image_gives_the_findings_of_its_layout_and_its_docker_archive() {
    let reg = Registry::start(USER, PASS);
    let dir = Scratch::new("image-registry-same");
    let config = reg.docker_config(&dir, USER, PASS);
    // The same files with no zstd layer, for the docker archive (docker's formats have no
    // zstd; skopeo refuses to convert it): findings do not depend on compression.
    let mut gzip_only = planted();
    gzip_only.layers[1].compression = Compression::Gzip;
    write_layout(
        &dir.path("layout"),
        &[("v1", vec![planted()]), ("gz", vec![gzip_only])],
    );
    push(&reg, &dir.path("layout"), "v1", "team/app:v1", false);
    let archive = dir.path("app.tar");
    skopeo(&[
        &format!("oci:{}:gz", dir.path("layout").display()),
        &format!("docker-archive:{}:team/app:v1", archive.display()),
    ]);

    let image = format!("{}/team/app:v1", reg.host());
    let from_registry = capstan(
        &dir,
        &config,
        &["--no-cache", "--rules", "secrets", "-f", "json", &image],
    );
    assert_eq!(
        from_registry.status.code(),
        Some(1),
        "{}",
        text(&from_registry.stderr)
    );
    let got = findings(&from_registry);
    let places: Vec<(&str, Option<u64>, Option<u64>)> =
        got.iter().map(|f| (f.1.as_str(), f.4, f.5)).collect();
    assert_eq!(
        places,
        [
            ("config:Env[1]", None, None),
            ("config:history[0].created_by", None, None),
            ("etc/app/.env", Some(0), Some(2)),
            ("srv/cache/key.txt", Some(1), Some(3)),
            ("srv/new.txt", Some(3), None),
        ]
    );
    let v: serde_json::Value = serde_json::from_slice(&from_registry.stdout).expect("json");
    let f0 = &v["findings"][2];
    assert_eq!(f0["image"].as_str(), Some(image.as_str()));
    assert!(
        f0["manifest_digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );
    assert!(
        f0["layer"]["digest"]
            .as_str()
            .is_some_and(|d| d.starts_with("sha256:"))
    );

    let layout = format!("oci:{}:v1", dir.path("layout").display());
    let from_layout = capstan(
        &dir,
        &config,
        &["--no-cache", "--rules", "secrets", "-f", "json", &layout],
    );
    assert_eq!(
        findings(&from_layout),
        got,
        "oci: gives what the registry gives"
    );
    // skopeo's form, with the reference after the file, is accepted too.
    let saved = format!("docker-archive:{}:team/app:v1", archive.display());
    let from_archive = capstan(
        &dir,
        &config,
        &["--no-cache", "--rules", "secrets", "-f", "json", &saved],
    );
    assert_eq!(
        findings(&from_archive),
        got,
        "skopeo's docker-archive gives the same"
    );

    text_and_sarif_name_the_layer(&dir, &config, &image);
}

/// Text output names image, layer and path, and says what deleted the file; SARIF carries the
/// image and layer beside the path.
fn text_and_sarif_name_the_layer(dir: &Scratch, config: &Path, image: &str) {
    let plain = capstan(
        dir,
        config,
        &[
            "--no-cache",
            "--rules",
            "secrets",
            "--color",
            "never",
            image,
        ],
    );
    let shown = text(&plain.stdout);
    assert!(
        shown.contains(&format!(
            "{image}@layer0:etc/app/.env:1:14: high github-classic-pat"
        )) && shown.contains("(deleted in layer 2, still in the image)"),
        "{shown}"
    );
    // SARIF carries the image and layer beside the path.
    let sarif = capstan(
        dir,
        config,
        &["--no-cache", "--rules", "secrets", "-f", "sarif", image],
    );
    let s: serde_json::Value = serde_json::from_slice(&sarif.stdout).expect("sarif");
    let r = &s["runs"][0]["results"][2];
    assert_eq!(
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "etc/app/.env"
    );
    assert_eq!(r["properties"]["layer"], 0);
    assert_eq!(r["properties"]["removedInLayer"], 2);
    assert_eq!(r["properties"]["image"].as_str(), Some(image));
}

#[test]
fn a_wrong_password_is_exit_2_naming_the_registry_and_never_the_password() {
    let reg = Registry::start(USER, PASS);
    let dir = Scratch::new("image-registry-denied");
    write_layout(&dir.path("layout"), &[("v1", vec![planted()])]);
    push(&reg, &dir.path("layout"), "v1", "team/app:v1", false);
    let wrong = reg.docker_config(&dir, USER, "not-the-password");
    let out = capstan(
        &dir,
        &wrong,
        &["--no-cache", &format!("{}/team/app:v1", reg.host())],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains(&reg.host()) && err.contains("team/app") && err.contains("401"),
        "{err}"
    );
    assert!(
        !err.contains("not-the-password") && !err.contains(PASS),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "no findings: {}", text(&out.stdout));

    let missing = reg.docker_config(&dir, USER, PASS);
    let out = capstan(
        &dir,
        &missing,
        &["--no-cache", &format!("{}/team/nope:v1", reg.host())],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_second_image_sharing_layers_pulls_only_its_own_and_a_rescan_pulls_none() {
    let reg = Registry::start(USER, PASS);
    let dir = Scratch::new("image-registry-cache");
    let config = reg.docker_config(&dir, USER, PASS);
    let base = planted();
    let mut derived = planted();
    derived.layers.truncate(4);
    derived
        .layers
        .push(Layer::new(Compression::Gzip, &[("app/new.env", TOKEN)]));
    write_layout(
        &dir.path("layout"),
        &[("base", vec![base]), ("derived", vec![derived])],
    );
    push(&reg, &dir.path("layout"), "base", "team/base:v1", false);
    push(
        &reg,
        &dir.path("layout"),
        "derived",
        "team/derived:v1",
        false,
    );
    let cache = dir.path("cache");
    let cache = cache.to_str().expect("utf-8");
    let scan = |image: &str| {
        capstan(
            &dir,
            &config,
            &[
                "--cache-dir",
                cache,
                "--rules",
                "secrets",
                "-f",
                "json",
                &format!("{}/{image}", reg.host()),
            ],
        )
    };

    let first = scan("team/base:v1");
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));
    assert_eq!(reg.blob_gets("team/base"), 6, "5 layers and the config");
    let again = scan("team/base:v1");
    assert_eq!(findings(&again), findings(&first));
    assert_eq!(
        reg.blob_gets("team/base"),
        7,
        "a re-scan reads only the config"
    );
    assert!(
        text(&again.stderr).contains("5 layer(s): 0 pulled, 5 from the cache"),
        "{}",
        text(&again.stderr)
    );

    let second = scan("team/derived:v1");
    assert_eq!(
        reg.blob_gets("team/derived"),
        2,
        "its own layer and its config"
    );
    assert!(
        findings(&second)
            .iter()
            .any(|f| f.1 == "app/new.env" && f.4 == Some(4))
    );
}

#[test]
fn a_multi_platform_image_is_scanned_for_this_host_and_says_so() {
    let reg = Registry::start(USER, PASS);
    let dir = Scratch::new("image-registry-multi");
    let config = reg.docker_config(&dir, USER, PASS);
    let other_arch = if common::oci::host_arch() == "arm64" {
        "amd64"
    } else {
        "arm64"
    };
    let host = Image::new(vec![Layer::new(Compression::Gzip, &[("host.env", TOKEN)])]);
    let other = Image::new(vec![Layer::new(Compression::Gzip, &[("other.env", TOKEN)])])
        .platform(other_arch, Some("v8"));
    write_layout(&dir.path("layout"), &[("multi", vec![other, host])]);
    push(&reg, &dir.path("layout"), "multi", "team/multi:v1", true);
    let image = format!("{}/team/multi:v1", reg.host());
    let out = capstan(
        &dir,
        &config,
        &["--no-cache", "--rules", "secrets", "-f", "json", &image],
    );
    let paths: Vec<String> = findings(&out)
        .into_iter()
        .map(|f| f.1)
        .filter(|p| !p.starts_with("config:"))
        .collect();
    assert_eq!(paths, ["host.env"]);
    assert!(
        text(&out.stderr).contains("a multi-platform image; scanned linux/"),
        "{}",
        text(&out.stderr)
    );
    let out = capstan(
        &dir,
        &config,
        &[
            "--no-cache",
            "--rules",
            "secrets",
            "-f",
            "json",
            "--platform",
            &format!("linux/{other_arch}"),
            &image,
        ],
    );
    let paths: Vec<String> = findings(&out)
        .into_iter()
        .map(|f| f.1)
        .filter(|p| !p.starts_with("config:"))
        .collect();
    assert_eq!(paths, ["other.env"]);
    let out = capstan(
        &dir,
        &config,
        &["--no-cache", "--platform", "linux/s390x", &image],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no image for linux/s390x"),
        "{}",
        text(&out.stderr)
    );
}
