//! Scanning images (the sources are [`crate::image`]'s): each image resolved to one manifest,
//! its config scanned, its layers pulled and scanned a few at a time (each layer once per run,
//! and once ever with the cache), findings assembled layer by layer.

use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::auth::{AuthCache, Resolver};
use crate::cache::{LoadingCache, TtlLru};
use crate::exec::Limiter;
use crate::image::manifest::{self, Config, Descriptor};
use crate::image::store::{self, Plan, Store};
use crate::image::{
    ImageError, ImageErrorKind, ImageOptions, ImageSource, Verifying, decompress, removed_in,
};
use crate::scan::{
    CacheKey, CachedFile, Finding, ImageOrigin, Issue, LayerRef, ScanOutcome, Scanner, TreeScanner,
};

/// A layer's scan, shared by the images of a run that have it.
type LayerResult = Result<Arc<CachedFile>, ImageError>;

/// One image to scan: as given, and parsed.
pub(crate) type Target = (String, ImageSource);

/// Media types of layers that registries do not serve (Windows base layers): not pulled.
fn is_foreign(d: &Descriptor) -> bool {
    d.media_type.contains(".foreign.") || d.media_type.contains("nondistributable")
}

/// Counters of an image run (beyond the scan's own).
#[derive(Debug, Default)]
struct Counters {
    layers: AtomicU64,
    layers_cached: AtomicU64,
    layers_shared: AtomicU64,
}

/// A run over several images, sharing credentials, layer results and the cache.
pub(crate) struct Run<'a> {
    walker: &'a TreeScanner<'a>,
    options: &'a ImageOptions,
    auth: AuthCache,
    #[cfg(feature = "registry")]
    requests: crate::image::registry::Requests,
    /// Layers done in this run, by digest: a layer two images share is pulled once.
    layers: LoadingCache<String, Arc<CachedFile>, ImageError>,
    counters: Counters,
    /// Layer transfers in flight, across every image of the run.
    pulls: Limiter,
}

/// What one image gave.
#[derive(Default)]
struct Found {
    findings: Vec<Finding>,
    errors: Vec<Issue>,
    skipped: Vec<Issue>,
    skipped_quietly: u64,
    notes: Vec<String>,
}

impl<'a> Run<'a> {
    pub(crate) fn new(walker: &'a TreeScanner<'a>, options: &'a ImageOptions) -> Self {
        Run {
            walker,
            options,
            auth: AuthCache::new(Resolver::from_env()),
            #[cfg(feature = "registry")]
            requests: crate::image::registry::Requests::default(),
            layers: LoadingCache::new(
                TtlLru::builder()
                    .capacity(1 << 16)
                    .ttl(std::time::Duration::from_secs(86_400)),
            ),
            counters: Counters::default(),
            pulls: Limiter::new(options.pulls),
        }
    }

    /// Scans every target, several at once (one's manifest is fetched while another's layers
    /// stream; transfers stay within `pulls` through one limiter); findings come image by
    /// image in the order given, the config's first, then layer by layer from the base, in
    /// path order inside each.
    pub(crate) fn scan(&self, targets: &[Target]) -> ScanOutcome {
        let start = Instant::now();
        // A shard scans its images, each whole.
        let targets: Vec<&Target> = targets
            .iter()
            .filter(|(given, _)| self.walker.covers(given))
            .collect();
        let done: Vec<Found> = each_at_once(&targets, self.options.pulls, |(given, source)| {
            let mut found = Found::default();
            if self.walker.cancelled_now() {
                return found;
            }
            if let Err(e) = self.image(given, source, &mut found) {
                found.errors.push(Issue {
                    path: given.clone(),
                    reason: e.message().to_owned(),
                });
            }
            found
        });
        let mut all = Found::default();
        for mut found in done {
            all.findings.append(&mut found.findings);
            all.errors.append(&mut found.errors);
            all.skipped.append(&mut found.skipped);
            all.skipped_quietly += found.skipped_quietly;
            all.notes.append(&mut found.notes);
        }
        let mut outcome = self.walker.outcome(
            all.findings,
            all.errors,
            all.skipped,
            all.skipped_quietly,
            start,
        );
        outcome.warnings = all.notes;
        #[cfg(feature = "registry")]
        {
            let retried = self.requests.retries.load(Ordering::Relaxed);
            if retried > 0 {
                outcome.warnings.push(format!(
                    "{retried} registry request(s) were retried after a 429, a 5xx or a failed connection"
                ));
            }
        }
        let c = &self.counters;
        outcome.stats.layers_pulled = c.layers.load(Ordering::Relaxed);
        outcome.stats.layers_cached = c.layers_cached.load(Ordering::Relaxed);
        outcome.stats.layers_shared = c.layers_shared.load(Ordering::Relaxed);
        outcome
    }

    fn image(
        &self,
        given: &str,
        source: &ImageSource,
        found: &mut Found,
    ) -> Result<(), ImageError> {
        match source {
            ImageSource::OciLayout { dir, tag } => {
                let layout = store::Layout::new(given, dir, tag.as_deref());
                self.with_store(given, &layout, found)
            }
            ImageSource::DockerArchive(path) => {
                let (archive, legacy) = store::Archive::open(given, path)?.into_store()?;
                let s = store::ArchiveStore { archive, legacy };
                self.with_store(given, &s, found)
            }
            #[cfg(feature = "registry")]
            ImageSource::Registry(r) => {
                let reg = crate::image::registry::Registry::new(
                    given,
                    r,
                    self.options.insecure,
                    &self.auth,
                    &self.requests,
                );
                self.with_store(given, &reg, found)
            }
            #[cfg(not(feature = "registry"))]
            ImageSource::Registry(_) => {
                let _ = &self.auth;
                Err(ImageError::new(
                    given,
                    ImageErrorKind::Unsupported,
                    "this build has no registry client (capstan-core's `registry` feature); use oci: or docker-archive:",
                ))
            }
        }
    }

    fn with_store(
        &self,
        given: &str,
        store: &dyn Store,
        found: &mut Found,
    ) -> Result<(), ImageError> {
        let plan = store::plan(store, self.options.platform.as_ref())?;
        if let (Some(p), None) = (&plan.picked, &self.options.platform) {
            found.notes.push(format!(
                "{given}: a multi-platform image; scanned {p}, this host's platform (--platform picks another)"
            ));
        }
        let origin = |layer: Option<LayerRef>, removed: Option<u32>| ImageOrigin {
            image: given.to_owned(),
            manifest_digest: plan.manifest_digest.as_ref().map(ToString::to_string),
            platform: plan.picked.as_ref().map(ToString::to_string),
            layer,
            removed_in_layer: removed,
        };
        let config = Self::config(given, store, &plan)?;
        if let (Some(want), Some(is)) = (&self.options.platform, config.platform())
            && plan.picked.is_none()
            && !want.matches(&manifest::PlatformSpec {
                os: is.os.clone(),
                architecture: is.architecture.clone(),
                variant: is.variant.clone(),
            })
        {
            found.notes.push(format!(
                "{given}: the image is for {is}, not {want} (it is not a multi-platform image); scanned it anyway"
            ));
        }
        for mut f in self.scan_config(&config) {
            f.image = Some(origin(None, None));
            found.findings.push(f);
        }
        let layers = self.layers(given, store, &plan);
        let whiteouts: Vec<&[String]> = layers
            .iter()
            .map(|r| r.as_ref().map_or(&[][..], |e| e.whiteouts.as_slice()))
            .collect();
        for (i, (result, d)) in layers.iter().zip(&plan.layers).enumerate() {
            match result {
                Ok(entry) => {
                    let mut fs = entry.findings.clone();
                    super::sort_findings(&mut fs);
                    for mut f in fs {
                        let removed = removed_in(&f.path, i, &whiteouts).map(|j| j as u32);
                        f.image = Some(origin(
                            Some(LayerRef {
                                index: i as u32,
                                digest: d.digest.clone(),
                            }),
                            removed,
                        ));
                        found.findings.push(f);
                    }
                    found.skipped_quietly += entry.skipped_quietly;
                    found.skipped.extend(entry.skipped.iter().map(|s| Issue {
                        path: format!("{given}@layer{i}:{}", s.path),
                        reason: s.reason.clone(),
                    }));
                }
                Err(e) => found.errors.push(Issue {
                    path: format!("{given}@layer{i}"),
                    reason: e.message().to_owned(),
                }),
            }
        }
        Ok(())
    }

    /// The image config, checked against its digest.
    fn config(given: &str, store: &dyn Store, plan: &Plan) -> Result<Config, ImageError> {
        let d = &plan.config;
        let digest = manifest::digest_of(d)
            .map_err(|m| ImageError::new(given, ImageErrorKind::Manifest, m))?;
        let raw = store.blob(d)?;
        let mut v = Verifying::new(raw, &digest, d.size);
        let bytes =
            store::read_capped(&mut v, manifest::MAX_CONFIG, "the image config").map_err(|e| {
                ImageError::new(
                    given,
                    ImageErrorKind::Network,
                    format!("config {digest}: {e}"),
                )
            })?;
        match v.finish() {
            Ok(Ok(())) => {}
            Ok(Err(m)) => {
                return Err(ImageError::new(
                    given,
                    ImageErrorKind::Digest,
                    format!("config {digest}: {m}"),
                ));
            }
            Err(e) => {
                return Err(ImageError::new(
                    given,
                    ImageErrorKind::Network,
                    format!("config {digest}: {e}"),
                ));
            }
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            ImageError::new(
                given,
                ImageErrorKind::Manifest,
                format!("config {digest}: not an image config: {e}"),
            )
        })
    }

    /// Findings in the config's environment, labels, command and build history.
    fn scan_config(&self, config: &Config) -> Vec<Finding> {
        let opts = self.walker.options();
        let mut out = Vec::new();
        for (path, text) in config.texts() {
            let mut s = Scanner::new(self.walker.rules())
                .path(&path)
                .redact(opts.redact);
            s.feed(text.as_bytes());
            out.extend(s.finish());
        }
        out
    }

    /// Every layer of `plan`, `pulls` at a time; results in layer order.
    fn layers(&self, given: &str, store: &dyn Store, plan: &Plan) -> Vec<LayerResult> {
        each_at_once(&plan.layers, self.options.pulls, |d| {
            if self.walker.cancelled_now() {
                Err(ImageError::new(
                    given,
                    ImageErrorKind::Layer,
                    "not scanned: interrupted",
                ))
            } else {
                self.layer(given, store, d)
            }
        })
    }

    /// One layer: from this run, the cache, or pulled and scanned as it streams.
    fn layer(
        &self,
        given: &str,
        store: &dyn Store,
        d: &Descriptor,
    ) -> Result<Arc<CachedFile>, ImageError> {
        let mut loaded_here = false;
        let got = self.layers.get_or_load(&d.digest, || {
            loaded_here = true;
            self.pull_layer(given, store, d).map(Arc::new)
        });
        if !loaded_here && got.is_ok() {
            self.counters.layers_shared.fetch_add(1, Ordering::Relaxed);
        }
        got
    }

    fn pull_layer(
        &self,
        given: &str,
        store: &dyn Store,
        d: &Descriptor,
    ) -> Result<CachedFile, ImageError> {
        let err = |kind, m: String| ImageError::new(given, kind, m);
        let digest = manifest::digest_of(d).map_err(|m| err(ImageErrorKind::Manifest, m))?;
        if is_foreign(d) {
            return Ok(CachedFile {
                skipped: vec![Issue {
                    path: digest.to_string(),
                    reason: format!(
                        "a foreign layer ({}): registries do not serve it",
                        d.media_type
                    ),
                }],
                ..CachedFile::default()
            });
        }
        let cache = self.walker.cache_in_use();
        let key = CacheKey::layer(&digest.to_string());
        if let Some(hit) = cache.and_then(|c| c.get(&key)) {
            self.counters.layers_cached.fetch_add(1, Ordering::Relaxed);
            // Counted as a cached file is: its files, and its bytes as stored.
            let progress = self.walker.progress();
            progress.files.fetch_add(hit.files, Ordering::Relaxed);
            progress
                .bytes
                .fetch_add(d.size.unwrap_or(0), Ordering::Relaxed);
            return Ok(hit);
        }
        self.counters.layers.fetch_add(1, Ordering::Relaxed);
        // Held while the layer streams: at most `pulls` transfers at once across every image.
        let _permit = self.pulls.acquire();
        let raw = store.blob(d)?;
        let counted = Counted {
            inner: raw,
            bytes: &self.walker.progress().bytes,
        };
        let mut verifying = Verifying::new(counted, &digest, d.size);
        let scanned = decompress(&mut verifying).and_then(|mut plain| {
            let entry = self.walker.scan_layer(&mut *plain)?;
            // What the tar reader left (its end-of-archive padding) still belongs to the stream.
            io::copy(&mut plain, &mut io::sink())?;
            Ok(entry)
        });
        let verified = |v: Verifying<_>| match v.finish() {
            Ok(Ok(())) => Ok(()),
            Ok(Err(m)) => Err(err(ImageErrorKind::Digest, format!("layer {digest}: {m}"))),
            Err(e) => Err(err(ImageErrorKind::Network, format!("layer {digest}: {e}"))),
        };
        let entry = match scanned {
            Ok(entry) => entry,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                return Err(err(
                    ImageErrorKind::Layer,
                    format!("layer {digest}: interrupted"),
                ));
            }
            Err(e) if is_transfer(&e) => {
                return Err(err(ImageErrorKind::Network, format!("layer {digest}: {e}")));
            }
            Err(e) => {
                // Bad content (a corrupt gzip stream, a broken tar): a blob that isn't the one
                // the manifest names says so first.
                verified(verifying)?;
                return Err(err(ImageErrorKind::Layer, format!("layer {digest}: {e}")));
            }
        };
        verified(verifying)?;
        if let Some(c) = cache
            && !self.walker.cancelled_now()
        {
            c.put(&key, &entry);
        }
        Ok(entry)
    }
}

/// `f` over `items`, `workers` at a time (the work is mostly waiting on transfers).
fn each_at_once<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    crate::exec::each_with(items, workers, || (), |(), t| f(t))
}

/// Whether an error came from the transfer rather than the layer's content.
fn is_transfer(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Counts what passes through into the scan's byte counter (blob bytes as stored).
struct Counted<'c, R> {
    inner: R,
    bytes: &'c AtomicU64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}
