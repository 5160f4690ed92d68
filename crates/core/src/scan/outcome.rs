//! What a scan gives back: findings, the files it could not read or skipped, its counters
//! ([`ScanStats`]), and the live counters a progress line reads ([`Progress`]).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::{Category, Finding, ScanCache};
use crate::metrics::HistogramSnapshot;
use crate::pool::BufPool;

/// A file that was not scanned, or not completely, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Issue {
    /// The file (`archive.tar!member` inside archives).
    pub path: String,
    /// What happened.
    pub reason: String,
}

/// Counters of one scan.
///
/// A counter missing from a report (one written by an older capstan) reads as 0.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScanStats {
    /// Files (and archive members) scanned or answered from the cache.
    pub files: u64,
    /// Bytes of input read: files (archives counted once, as stored) and standard input.
    pub bytes: u64,
    /// Files passed over: binary, too large, not regular files, excluded by a path allowlist.
    pub skipped: u64,
    /// Files that could not be read.
    pub errors: u64,
    /// Findings after every filter, suppression included.
    pub findings: u64,
    /// Findings left out by a baseline or an ignore file (not in `findings`).
    pub suppressed: u64,
    /// Findings left out because their confidence is below the scan's minimum (not in
    /// `findings`; see [`Confidence`](super::Confidence)).
    #[serde(skip_serializing_if = "is_zero")]
    pub below_confidence: u64,
    /// Findings per category.
    pub secrets: u64,
    /// Crypto findings.
    pub crypto: u64,
    /// Threat findings.
    pub threats: u64,
    /// Files answered from the incremental cache.
    pub cache_hits: u64,
    /// Files looked up in the cache and scanned.
    pub cache_misses: u64,
    /// Of the cache hits, those the local store answered (the rest came from the shared level).
    #[serde(skip_serializing_if = "is_zero")]
    pub cache_local_hits: u64,
    /// Lookups the shared level (Redis) answered.
    #[serde(skip_serializing_if = "is_zero")]
    pub cache_shared_hits: u64,
    /// Lookups the shared level had no usable answer for.
    #[serde(skip_serializing_if = "is_zero")]
    pub cache_shared_misses: u64,
    /// Shared values that failed their checksum or did not decode: ignored, scanned again.
    #[serde(skip_serializing_if = "is_zero")]
    pub cache_shared_rejected: u64,
    /// Lookups not sent to the shared level because it had failed (down, refusing, slow).
    #[serde(skip_serializing_if = "is_zero")]
    pub cache_shared_fallbacks: u64,
    /// Round trips to the shared level, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_shared_rtt: Option<HistogramSnapshot>,
    /// Image scans: layers pulled and scanned.
    pub layers_pulled: u64,
    /// Image scans: layers answered from the cache (not pulled).
    pub layers_cached: u64,
    /// Image scans: layers another image of the same run had already scanned.
    pub layers_shared: u64,
    /// History scans: commits walked.
    pub commits: u64,
    /// Wall time of the scan, in seconds.
    pub seconds: f64,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ScanStats {
    /// Sets the cache counters, per level, from `cache`.
    pub(crate) fn cache_levels(&mut self, cache: &ScanCache) {
        self.cache_hits = cache.hits();
        self.cache_misses = cache.misses();
        self.cache_local_hits = cache.local_hits();
        if let Some(s) = cache.shared() {
            let c = s.counters();
            self.cache_shared_hits = c.hits;
            self.cache_shared_misses = c.misses;
            self.cache_shared_rejected = c.rejected;
            self.cache_shared_fallbacks = c.fallbacks;
            self.cache_shared_rtt = Some(c.rtt);
        }
    }

    /// Sets `findings` and the per-category counts from `findings`.
    pub(crate) fn count(&mut self, findings: &[Finding]) {
        let count = |c: Category| findings.iter().filter(|f| f.category == c).count() as u64;
        self.findings = findings.len() as u64;
        self.secrets = count(Category::Secret);
        self.crypto = count(Category::Crypto);
        self.threats = count(Category::Threat);
    }

    /// Scan throughput in MB/s (10^6 bytes).
    pub fn mb_per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.bytes as f64 / 1e6 / self.seconds
        } else {
            0.0
        }
    }

    /// The plain counters, as `(name, help, value)`.
    fn counters(&self) -> [(&'static str, &'static str, u64); 8] {
        [
            (
                "capstan_scan_files_total",
                "Files and archive members scanned.",
                self.files,
            ),
            (
                "capstan_scan_bytes_total",
                "Bytes read by scans.",
                self.bytes,
            ),
            (
                "capstan_scan_skipped_total",
                "Files passed over (binary, too large, special).",
                self.skipped,
            ),
            (
                "capstan_scan_errors_total",
                "Files that could not be read.",
                self.errors,
            ),
            (
                "capstan_scan_suppressed_total",
                "Findings left out by a baseline or an ignore file.",
                self.suppressed,
            ),
            (
                "capstan_scan_below_confidence_total",
                "Findings left out for a confidence below the minimum.",
                self.below_confidence,
            ),
            (
                "capstan_scan_cache_hits_total",
                "Files answered from the scan cache.",
                self.cache_hits,
            ),
            (
                "capstan_scan_cache_misses_total",
                "Files looked up in the scan cache and scanned.",
                self.cache_misses,
            ),
        ]
    }

    /// Adds these counters to `registry` as `capstan_scan_*` metrics.
    pub fn record(
        &self,
        registry: &crate::metrics::Registry,
    ) -> Result<(), crate::metrics::MetricsError> {
        for (name, help, v) in self.counters() {
            registry.counter(name, help)?.add(v);
        }
        if self.layers_pulled + self.layers_cached + self.layers_shared > 0 {
            let layers = registry.counter_vec(
                "capstan_image_layers_total",
                "Image layers by how they were answered: pulled and scanned, from the cache, or shared with an image scanned before in the same run.",
                &["source"],
            )?;
            for (source, v) in [
                ("pulled", self.layers_pulled),
                ("cache", self.layers_cached),
                ("shared", self.layers_shared),
            ] {
                layers.with(&[source])?.add(v);
            }
        }
        if let Some(rtt) = &self.cache_shared_rtt {
            let lookups = registry.counter_vec(
                "capstan_scan_cache_lookups_total",
                "Scan cache lookups by level (local store, shared Redis) and result.",
                &["level", "result"],
            )?;
            let local_lookups = self.cache_hits + self.cache_misses;
            for (level, result, v) in [
                ("local", "hit", self.cache_local_hits),
                (
                    "local",
                    "miss",
                    local_lookups - self.cache_local_hits.min(local_lookups),
                ),
                ("shared", "hit", self.cache_shared_hits),
                ("shared", "miss", self.cache_shared_misses),
            ] {
                lookups.with(&[level, result])?.add(v);
            }
            registry
                .counter(
                    "capstan_scan_cache_shared_rejected_total",
                    "Shared cache values that failed their checksum or did not decode.",
                )?
                .add(self.cache_shared_rejected);
            registry
                .counter(
                    "capstan_scan_cache_shared_fallbacks_total",
                    "Lookups answered without the shared cache because it had failed.",
                )?
                .add(self.cache_shared_fallbacks);
            registry.register(RttCollector(rtt.clone()));
        }
        let by = registry.counter_vec(
            "capstan_scan_findings_total",
            "Findings by category.",
            &["category"],
        )?;
        for (cat, v) in [
            ("secret", self.secrets),
            ("crypto", self.crypto),
            ("threat", self.threats),
        ] {
            by.with(&[cat])?.add(v);
        }
        Ok(())
    }
}

/// Publishes the shared level's round-trip histogram.
struct RttCollector(HistogramSnapshot);

impl crate::metrics::Collector for RttCollector {
    fn collect(&self, out: &mut crate::metrics::Collect) {
        out.histogram(
            "capstan_scan_cache_shared_rtt_seconds",
            "Round trips to the shared scan cache (lookups and pipelined writes).",
            &[],
            &self.0,
        );
    }
}

/// What a scan found.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ScanOutcome {
    /// Sorted by path, line, column, rule.
    pub findings: Vec<Finding>,
    /// Files that could not be read (or not completely), sorted by path.
    pub errors: Vec<Issue>,
    /// Files skipped for size or type, sorted by path (binary files are only counted).
    pub skipped: Vec<Issue>,
    /// Counters.
    pub stats: ScanStats,
    /// The scan was cancelled before it covered every input.
    pub interrupted: bool,
    /// What did not go as it should but changed no result (a damaged cache rebuilt, a cache
    /// that could not be opened).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The part of a split scan this is ([`Request::shard`](super::Request::shard)); none for
    /// a whole scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
}

/// Which part of a split scan a report holds: what [`merge`](super::merge()) needs to check
/// that every part is there and to put the findings back in a whole scan's order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// K, from 1.
    pub index: u32,
    /// N, the number of shards.
    pub count: u32,
    /// Every image of the scan (not only this shard's), as given, in the order given; empty
    /// for tree and history scans.
    #[serde(default)]
    pub images: Vec<String>,
}

impl ScanOutcome {
    /// The scan's counters (`capstan_scan_*`) and the shared buffer pool's
    /// (`capstan_bufpool_*`: hits, misses, returns and idle buffers per size class), ready for
    /// [`Snapshot::to_prometheus`](crate::metrics::Snapshot::to_prometheus) — what
    /// `capstan scan --metrics-file` writes.
    pub fn metrics(&self) -> Result<crate::metrics::Registry, crate::metrics::MetricsError> {
        let registry = crate::metrics::Registry::new();
        self.stats.record(&registry)?;
        registry.register(BufPool::global().metrics("capstan_bufpool")?);
        Ok(registry)
    }
}

/// Live counters, readable from another thread while a scan runs (for a progress line).
#[derive(Debug, Default)]
pub struct Progress {
    pub(crate) files: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) findings: AtomicU64,
}

impl Progress {
    /// Files done so far.
    pub fn files(&self) -> u64 {
        self.files.load(Ordering::Relaxed)
    }
    /// Bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }
    /// Findings so far (before baselines and ignore files are applied).
    pub fn findings(&self) -> u64 {
        self.findings.load(Ordering::Relaxed)
    }
}
