//! Image scans: a tree packed into a 5-layer OCI image (gzip layers), scanned through
//! `Request::images` — beside the same files scanned as a tree, and the decompression floor.
//! Trivy and skopeo against a loopback registry are in `benches/image.sh` (they need a
//! registry and are processes; BENCHMARKS.md has both).
//!
//! - `capstan_image_no_cache`: `Request::images(["oci:DIR:bench"])`, built-in packs, 3 pulls;
//! - `capstan_image_rescan`: the same with a warm cache (manifest and config read, no layer);
//! - `capstan_tree_same_files`: the unpacked files as a tree scan, 2 threads, no cache;
//! - `gunzip_floor`: the 5 layers decompressed on 2 threads, nothing else.
//!
//! Corpus: `$CAPSTAN_BENCH_IMAGE_TREE` when set (e.g. the moby tree `benches/image.sh` uses),
//! else the vendored-dependency tree (`capstan_benches::corpus_dir`); one crate of it in test
//! mode. A planted token in the top layer must be found by every capstan run.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use capstan::image::ImageOptions;
use capstan::scan::{CachePolicy, Request, RuleSet, Rules, TreeScanner, WalkOptions};
use capstan_benches::{corpus_dir, measuring};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Digest as _, Sha256};

const TOKEN: &[u8] = b"GITHUB_TOKEN=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\n";

fn tree() -> PathBuf {
    if let Some(t) = std::env::var_os("CAPSTAN_BENCH_IMAGE_TREE") {
        return PathBuf::from(t);
    }
    let corpus = corpus_dir();
    if measuring() {
        return corpus;
    }
    corpus.join(
        std::fs::read_dir(&corpus)
            .expect("corpus")
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().starts_with("memchr-"))
            .min()
            .expect("memchr is vendored"),
    )
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        match e.file_type() {
            Ok(t) if t.is_dir() && e.file_name() != ".git" => files(&e.path(), out),
            Ok(t) if t.is_file() => out.push(e.path()),
            _ => {}
        }
    }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::from("sha256:"), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Packs `tree` into a 5-layer gzip OCI layout at `out` (files in path order, split by bytes,
/// a token in the top layer); returns the compressed layers and the unpacked bytes.
fn pack(tree: &Path, out: &Path) -> (Vec<Vec<u8>>, u64) {
    let mut all = Vec::new();
    files(tree, &mut all);
    all.sort();
    let sizes: Vec<u64> = all
        .iter()
        .map(|p| p.metadata().map_or(0, |m| m.len()))
        .collect();
    let total: u64 = sizes.iter().sum();
    let mut layers: Vec<tar::Builder<Vec<u8>>> =
        (0..5).map(|_| tar::Builder::new(Vec::new())).collect();
    let mut acc = 0;
    for (p, size) in all.iter().zip(&sizes) {
        let i = ((acc * 5) / total.max(1)).min(4) as usize;
        acc += size;
        let rel = p.strip_prefix(tree).expect("under the tree");
        let mut f = std::fs::File::open(p).expect("open");
        let mut h = tar::Header::new_gnu();
        h.set_size(*size);
        h.set_mode(0o644);
        h.set_mtime(0);
        layers[i]
            .append_data(&mut h, Path::new("src").join(rel), &mut f)
            .expect("append");
    }
    let mut h = tar::Header::new_gnu();
    h.set_size(TOKEN.len() as u64);
    h.set_mode(0o600);
    layers[4]
        .append_data(&mut h, "root/.env", TOKEN)
        .expect("append");
    let blobs = out.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).expect("blobs");
    let put = |bytes: &[u8]| {
        let d = sha256(bytes);
        std::fs::write(blobs.join(&d[7..]), bytes).expect("blob");
        d
    };
    let (mut gz_layers, mut descs, mut diff_ids) = (Vec::new(), Vec::new(), Vec::new());
    for l in layers {
        let tar = l.into_inner().expect("tar");
        diff_ids.push(sha256(&tar));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
        gz.write_all(&tar).expect("gzip");
        let gz = gz.finish().expect("gzip");
        descs.push(format!(
            r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}"#,
            put(&gz),
            gz.len()
        ));
        gz_layers.push(gz);
    }
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["PATH=/bin"]}},"rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#,
        diff_ids.join(r#"",""#)
    );
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"layers":[{}]}}"#,
        put(config.as_bytes()),
        config.len(),
        descs.join(",")
    );
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"bench"}}}}]}}"#,
        put(manifest.as_bytes()),
        manifest.len()
    );
    std::fs::write(out.join("index.json"), index).expect("index");
    std::fs::write(out.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).expect("layout");
    (gz_layers, total)
}

fn image(c: &mut Criterion) {
    let tree = tree();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("image-bench-layout");
    let _ = std::fs::remove_dir_all(&out);
    let (gz_layers, unpacked) = pack(&tree, &out);
    let given = format!("oci:{}:bench", out.display());
    let rules = std::sync::Arc::new(
        Rules::compile(&RuleSet::builtin_all().expect("packs")).expect("compiles"),
    );
    let request = |cache: CachePolicy| {
        Request::images([given.clone()])
            .rules(std::sync::Arc::clone(&rules))
            .image_options(ImageOptions::default())
            .cache(cache)
    };
    let found = |r: &Request| {
        let out = r.prepare().expect("prepares").run();
        assert!(out.errors.is_empty(), "{:?}", out.errors);
        assert!(
            out.findings.iter().any(|f| f.path == "root/.env"),
            "the planted token"
        );
        out.findings.len()
    };
    let cold = request(CachePolicy::Off);
    let expected = found(&cold);

    let mut group = c.benchmark_group(format!("image_5_layers_{}_mb", unpacked >> 20));
    group.sample_size(10);
    group.throughput(Throughput::Bytes(unpacked));
    group.bench_function("capstan_image_no_cache", |b| b.iter(|| found(&cold)));
    let cache_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("image-bench-cache");
    let _ = std::fs::remove_dir_all(&cache_dir);
    let warm = request(CachePolicy::Dir(cache_dir));
    assert_eq!(found(&warm), expected, "the cache changes nothing");
    group.bench_function("capstan_image_rescan", |b| {
        b.iter(|| {
            let out = warm.prepare().expect("prepares").run();
            assert_eq!((out.stats.layers_pulled, out.stats.layers_cached), (0, 5));
            out.findings.len()
        });
    });
    let opts = WalkOptions {
        threads: 2,
        respect_ignore: false,
        ..WalkOptions::default()
    };
    group.bench_function("capstan_tree_same_files", |b| {
        b.iter(|| {
            TreeScanner::new(&rules, opts.clone())
                .scan(std::slice::from_ref(&tree))
                .findings
                .len()
        });
    });
    group.bench_function("gunzip_floor", |b| {
        b.iter(|| {
            std::thread::scope(|scope| {
                let halves = gz_layers.split_at(gz_layers.len() / 2);
                let work = move |part: &[Vec<u8>]| {
                    let mut n = 0u64;
                    let mut buf = vec![0u8; 64 << 10];
                    for l in part {
                        let mut d = flate2::read::MultiGzDecoder::new(l.as_slice());
                        loop {
                            let m = d.read(&mut buf).expect("gunzip");
                            if m == 0 {
                                break;
                            }
                            n += m as u64;
                        }
                    }
                    n
                };
                let first = scope.spawn(move || work(halves.0));
                let rest = work(halves.1);
                first.join().expect("thread") + rest
            })
        });
    });
    group.finish();
}

criterion_group!(benches, image);
criterion_main!(benches);
