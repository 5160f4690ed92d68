//! Counters and gauges with a snapshot API and the Prometheus text format.
//!
//! A [`Registry`] holds named counter families. A [`Counter`] handle is a cheap clone of an
//! atomic, so the hot path pays one relaxed add. Components that already keep their own
//! counters (the buffer pool) publish through a [`Collector`], read at snapshot time; gauges
//! are reported that way ([`Collect::gauge`]), and so are distributions: a [`Histogram`] of
//! latencies is read into a [`HistogramSnapshot`] and reported with [`Collect::histogram`].
//!
//! ```
//! use capstan::metrics::Registry;
//!
//! let registry = Registry::new();
//! let scanned = registry.counter("capstan_bytes_scanned_total", "Bytes scanned.")?;
//! let findings = registry.counter_vec(
//!     "capstan_findings_total", "Findings by category.", &["category"])?;
//! scanned.add(4096);
//! findings.with(&["secret"])?.inc();
//!
//! let text = registry.snapshot().to_prometheus();
//! assert!(text.contains("# TYPE capstan_bytes_scanned_total counter\ncapstan_bytes_scanned_total 4096\n"));
//! assert!(text.contains("capstan_findings_total{category=\"secret\"} 1\n"));
//! # Ok::<(), capstan::metrics::MetricsError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use parking_lot::Mutex;

/// Why a metric could not be registered or labelled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct MetricsError(Repr);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Repr {
    #[error(
        "invalid metric name {0:?}: use letters, digits, '_' and ':', not starting with a digit"
    )]
    InvalidName(String),
    #[error(
        "invalid label name {0:?}: use letters, digits and '_', not starting with a digit or '__'"
    )]
    InvalidLabel(String),
    #[error("metric {0:?} is already registered with different labels")]
    Conflict(String),
    #[error("metric {name:?} takes {expected} label values, got {got}")]
    LabelCount {
        name: String,
        expected: usize,
        got: usize,
    },
}

/// What kind of thing went wrong in a [`MetricsError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricsErrorKind {
    /// Not a valid Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
    InvalidName,
    /// Not a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__`).
    InvalidLabel,
    /// The name is already registered with other label names.
    Conflict,
    /// A labelled metric was given the wrong number of label values.
    LabelCount,
}

impl MetricsError {
    fn conflict(name: &str) -> Self {
        MetricsError(Repr::Conflict(name.to_owned()))
    }

    /// What went wrong.
    pub fn kind(&self) -> MetricsErrorKind {
        match self.0 {
            Repr::InvalidName(_) => MetricsErrorKind::InvalidName,
            Repr::InvalidLabel(_) => MetricsErrorKind::InvalidLabel,
            Repr::Conflict(_) => MetricsErrorKind::Conflict,
            Repr::LabelCount { .. } => MetricsErrorKind::LabelCount,
        }
    }

    /// The name at fault: the metric's, or the label's for
    /// [`InvalidLabel`](MetricsErrorKind::InvalidLabel).
    pub fn name(&self) -> &str {
        match &self.0 {
            Repr::InvalidName(n)
            | Repr::InvalidLabel(n)
            | Repr::Conflict(n)
            | Repr::LabelCount { name: n, .. } => n,
        }
    }
}

/// Checks a metric name against Prometheus' rules.
pub fn validate_name(name: &str) -> Result<(), MetricsError> {
    let ok = name.bytes().enumerate().all(|(i, b)| {
        b.is_ascii_alphabetic() || b == b'_' || b == b':' || (i > 0 && b.is_ascii_digit())
    });
    if ok && !name.is_empty() {
        Ok(())
    } else {
        Err(MetricsError(Repr::InvalidName(name.to_owned())))
    }
}

fn validate_label(name: &str) -> Result<(), MetricsError> {
    let ok = name
        .bytes()
        .enumerate()
        .all(|(i, b)| b.is_ascii_alphabetic() || b == b'_' || (i > 0 && b.is_ascii_digit()));
    if ok && !name.is_empty() && !name.starts_with("__") {
        Ok(())
    } else {
        Err(MetricsError(Repr::InvalidLabel(name.to_owned())))
    }
}

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// Observations counted in buckets, with their sum and count.
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A monotonically increasing count. Cloning gives another handle to the same count.
#[derive(Debug, Clone, Default)]
pub struct Counter(Arc<AtomicU64>);

impl Counter {
    /// Adds one.
    #[inline]
    pub fn inc(&self) {
        self.0.fetch_add(1, Relaxed);
    }
    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Relaxed);
    }
    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A distribution of observations (latencies, sizes) in fixed buckets: one relaxed add per
/// observation. Cloning gives another handle to the same histogram.
///
/// ```
/// use capstan::metrics::{Collect, Histogram, Registry, Collector};
///
/// let rtt = Histogram::new(&[0.001, 0.01, 0.1]);
/// rtt.observe(0.0004);
/// rtt.observe(0.05);
/// let snap = rtt.snapshot();
/// assert_eq!((snap.count(), snap.counts.clone()), (2, vec![1, 0, 1, 0]));
///
/// struct Rtt(capstan::metrics::HistogramSnapshot);
/// impl Collector for Rtt {
///     fn collect(&self, out: &mut Collect) {
///         out.histogram("rtt_seconds", "Round trips.", &[], &self.0);
///     }
/// }
/// let registry = Registry::new();
/// registry.register(Rtt(snap));
/// let text = registry.snapshot().to_prometheus();
/// assert!(text.contains("rtt_seconds_bucket{le=\"0.01\"} 1\nrtt_seconds_bucket{le=\"0.1\"} 2\n"));
/// assert!(text.contains("rtt_seconds_bucket{le=\"+Inf\"} 2\nrtt_seconds_sum 0.0504\nrtt_seconds_count 2\n"));
/// ```
#[derive(Debug, Clone)]
pub struct Histogram(Arc<HistogramCells>);

#[derive(Debug)]
struct HistogramCells {
    bounds: Vec<f64>,
    /// One per bound, then the overflow bucket (`+Inf`).
    counts: Vec<AtomicU64>,
    /// The sum's `f64` bits.
    sum: AtomicU64,
}

impl Histogram {
    /// A histogram whose buckets end at `bounds` (ascending upper bounds; `+Inf` is added).
    /// Bounds out of order or not finite are dropped.
    pub fn new(bounds: &[f64]) -> Self {
        let mut kept: Vec<f64> = Vec::with_capacity(bounds.len());
        for &b in bounds {
            if b.is_finite() && kept.last().is_none_or(|&last| b > last) {
                kept.push(b);
            }
        }
        let counts = (0..=kept.len()).map(|_| AtomicU64::new(0)).collect();
        Histogram(Arc::new(HistogramCells {
            bounds: kept,
            counts,
            sum: AtomicU64::new(0f64.to_bits()),
        }))
    }

    /// Counts `value` in the first bucket whose bound is at least `value`.
    pub fn observe(&self, value: f64) {
        let c = &self.0;
        let i = c.bounds.partition_point(|&b| b < value);
        if let Some(n) = c.counts.get(i) {
            n.fetch_add(1, Relaxed);
        }
        let _ = c.sum.fetch_update(Relaxed, Relaxed, |bits| {
            Some((f64::from_bits(bits) + value).to_bits())
        });
    }

    /// The counts so far.
    pub fn snapshot(&self) -> HistogramSnapshot {
        HistogramSnapshot {
            bounds: self.0.bounds.clone(),
            counts: self.0.counts.iter().map(|n| n.load(Relaxed)).collect(),
            sum: f64::from_bits(self.0.sum.load(Relaxed)),
        }
    }
}

/// A [`Histogram`]'s counts at one moment.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HistogramSnapshot {
    /// The buckets' upper bounds (`+Inf` implied after the last).
    pub bounds: Vec<f64>,
    /// Observations per bucket (not cumulative), one more than `bounds`.
    pub counts: Vec<u64>,
    /// The sum of the observations.
    pub sum: f64,
}

impl HistogramSnapshot {
    /// How many observations.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Adds `other`'s observations (several runs' histograms into one). Buckets are matched by
    /// position: histograms with other bounds add only their sum and count to the last
    /// bucket's, so no observation is lost.
    pub fn add(&mut self, other: &HistogramSnapshot) {
        self.sum += other.sum;
        if self.bounds == other.bounds && self.counts.len() == other.counts.len() {
            for (a, b) in self.counts.iter_mut().zip(&other.counts) {
                *a += b;
            }
        } else if let Some(last) = self.counts.last_mut() {
            *last += other.count();
        }
    }
}

/// A registered counter family: its label names and a counter per set of label values.
#[derive(Debug)]
struct Family {
    help: String,
    label_names: Vec<String>,
    series: BTreeMap<Vec<String>, Counter>,
}

/// Something that reports metrics it keeps itself, read at every [`Registry::snapshot`].
pub trait Collector: Send + Sync {
    /// Adds the current values to `out`.
    fn collect(&self, out: &mut Collect);
}

/// The sink a [`Collector`] writes into. Invalid names and labels are skipped, never panicked on.
#[derive(Debug, Default)]
pub struct Collect {
    families: BTreeMap<String, FamilySnapshot>,
}

impl Collect {
    /// Reports a counter sample.
    pub fn counter(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: u64) {
        self.sample(name, help, Kind::Counter, labels, Value::Counter(value));
    }

    /// Reports a gauge sample.
    pub fn gauge(&mut self, name: &str, help: &str, labels: &[(&str, &str)], value: i64) {
        self.sample(name, help, Kind::Gauge, labels, Value::Gauge(value));
    }

    /// Reports a histogram: its cumulative buckets (`name_bucket{le=…}`), `name_sum` and
    /// `name_count`.
    pub fn histogram(
        &mut self,
        name: &str,
        help: &str,
        labels: &[(&str, &str)],
        h: &HistogramSnapshot,
    ) {
        let mut cumulative = 0;
        for (i, n) in h.counts.iter().enumerate() {
            cumulative += n;
            let le = h
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| format!("{b}"));
            let mut with_le = labels.to_vec();
            with_le.push(("le", &le));
            self.sample_as(
                name,
                help,
                "_bucket",
                Kind::Histogram,
                &with_le,
                Value::Counter(cumulative),
            );
        }
        self.sample_as(
            name,
            help,
            "_sum",
            Kind::Histogram,
            labels,
            Value::Float(h.sum),
        );
        self.sample_as(
            name,
            help,
            "_count",
            Kind::Histogram,
            labels,
            Value::Counter(cumulative),
        );
    }

    fn sample(
        &mut self,
        name: &str,
        help: &str,
        kind: Kind,
        labels: &[(&str, &str)],
        value: Value,
    ) {
        self.sample_as(name, help, "", kind, labels, value);
    }

    fn sample_as(
        &mut self,
        name: &str,
        help: &str,
        suffix: &'static str,
        kind: Kind,
        labels: &[(&str, &str)],
        value: Value,
    ) {
        if validate_name(name).is_err() || labels.iter().any(|(k, _)| validate_label(k).is_err()) {
            return;
        }
        let family = self
            .families
            .entry(name.to_owned())
            .or_insert_with(|| FamilySnapshot {
                name: name.to_owned(),
                help: help.to_owned(),
                kind,
                samples: Vec::new(),
            });
        if family.kind != kind {
            return;
        }
        family.samples.push(Sample {
            suffix,
            labels: labels
                .iter()
                .map(|&(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            value,
        });
    }
}

/// A set of named counters, plus the collectors read at every snapshot.
#[derive(Default)]
pub struct Registry {
    families: Mutex<BTreeMap<String, Family>>,
    collectors: Mutex<Vec<Box<dyn Collector>>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("families", &self.families.lock().len())
            .field("collectors", &self.collectors.lock().len())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// The counter `name`, registering it on first use. Asking again returns the same counter.
    pub fn counter(&self, name: &str, help: &str) -> Result<Counter, MetricsError> {
        self.cell(name, help, &[], &[])
    }

    /// A family of counters distinguished by the values of `label_names`.
    pub fn counter_vec(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
    ) -> Result<CounterVec<'_>, MetricsError> {
        self.register_family(name, help, label_names)?;
        Ok(CounterVec {
            registry: self,
            name: name.to_owned(),
            help: help.to_owned(),
        })
    }

    /// Adds a collector, read at every snapshot.
    pub fn register(&self, collector: impl Collector + 'static) {
        self.collectors.lock().push(Box::new(collector));
    }

    fn register_family(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
    ) -> Result<(), MetricsError> {
        validate_name(name)?;
        for l in label_names {
            validate_label(l)?;
        }
        let mut families = self.families.lock();
        let family = families.entry(name.to_owned()).or_insert_with(|| Family {
            help: help.to_owned(),
            label_names: label_names.iter().map(|&s| s.to_owned()).collect(),
            series: BTreeMap::new(),
        });
        if family
            .label_names
            .iter()
            .map(String::as_str)
            .ne(label_names.iter().copied())
        {
            return Err(MetricsError::conflict(name));
        }
        Ok(())
    }

    fn cell(
        &self,
        name: &str,
        help: &str,
        label_names: &[&str],
        values: &[&str],
    ) -> Result<Counter, MetricsError> {
        self.register_family(name, help, label_names)?;
        let mut families = self.families.lock();
        let Some(family) = families.get_mut(name) else {
            unreachable!("invariant: register_family inserted {name}")
        };
        if values.len() != family.label_names.len() {
            return Err(MetricsError(Repr::LabelCount {
                name: name.to_owned(),
                expected: family.label_names.len(),
                got: values.len(),
            }));
        }
        let key: Vec<String> = values.iter().map(|&v| v.to_owned()).collect();
        Ok(family.series.entry(key).or_default().clone())
    }

    /// The current value of every metric, registered and collected, sorted by name.
    pub fn snapshot(&self) -> Snapshot {
        let mut collect = Collect::default();
        for c in self.collectors.lock().iter() {
            c.collect(&mut collect);
        }
        let mut out = collect.families;
        for (name, family) in self.families.lock().iter() {
            let samples = family.series.iter().map(|(values, counter)| Sample {
                suffix: "",
                labels: family
                    .label_names
                    .iter()
                    .cloned()
                    .zip(values.iter().cloned())
                    .collect(),
                value: Value::Counter(counter.get()),
            });
            let snap = out.entry(name.clone()).or_insert_with(|| FamilySnapshot {
                name: name.clone(),
                help: family.help.clone(),
                kind: Kind::Counter,
                samples: Vec::new(),
            });
            if snap.kind == Kind::Counter {
                snap.samples.extend(samples);
            }
        }
        Snapshot {
            families: out.into_values().collect(),
        }
    }
}

/// Counters distinguished by label values; see [`Registry::counter_vec`].
#[derive(Debug)]
pub struct CounterVec<'r> {
    registry: &'r Registry,
    name: String,
    help: String,
}

impl CounterVec<'_> {
    /// The counter for these label values (in the order of the label names).
    pub fn with(&self, values: &[&str]) -> Result<Counter, MetricsError> {
        let names: Vec<String> = {
            let families = self.registry.families.lock();
            families
                .get(&self.name)
                .map(|f| f.label_names.clone())
                .unwrap_or_default()
        };
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.registry.cell(&self.name, &self.help, &names, values)
    }
}

/// A sample's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    /// A counter's count (and a histogram's bucket counts and count).
    Counter(u64),
    /// A gauge's value.
    Gauge(i64),
    /// A histogram's sum.
    Float(f64),
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Counter(v) => write!(f, "{v}"),
            Value::Gauge(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v}"),
        }
    }
}

/// One labelled value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Appended to the family's name on this sample's line: `_bucket`, `_sum` and `_count` for
    /// a histogram, empty otherwise.
    pub suffix: &'static str,
    /// Label names and values.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: Value,
}

/// A metric family at snapshot time.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilySnapshot {
    /// The metric name.
    pub name: String,
    /// Its help text.
    pub help: String,
    /// Counter or gauge.
    pub kind: Kind,
    /// Its samples.
    pub samples: Vec<Sample>,
}

/// Every metric of a [`Registry`] at one moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// Families sorted by name.
    pub families: Vec<FamilySnapshot>,
}

impl Snapshot {
    /// The value of `name` with exactly these labels (for a histogram, `name` is the family's
    /// name followed by `_bucket`, `_sum` or `_count`).
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<Value> {
        let (family, suffix) = self.families.iter().find_map(|f| {
            let rest = name.strip_prefix(f.name.as_str())?;
            (rest.is_empty() || f.kind == Kind::Histogram).then_some((f, rest))
        })?;
        family
            .samples
            .iter()
            .find(|s| {
                s.suffix == suffix
                    && s.labels
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str()))
                        .eq(labels.iter().copied())
            })
            .map(|s| s.value)
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn to_prometheus(&self) -> String {
        let mut out = String::new();
        for f in &self.families {
            let _ = writeln!(out, "# HELP {} {}", f.name, escape(&f.help, false));
            let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind.as_str());
            for s in &f.samples {
                out.push_str(&f.name);
                out.push_str(s.suffix);
                if !s.labels.is_empty() {
                    out.push('{');
                    for (i, (k, v)) in s.labels.iter().enumerate() {
                        if i > 0 {
                            out.push(',');
                        }
                        let _ = write!(out, "{k}=\"{}\"", escape(v, true));
                    }
                    out.push('}');
                }
                let _ = writeln!(out, " {}", s.value);
            }
        }
        out
    }
}

/// Escapes `\` and newlines (and `"` in label values) as the text format requires.
fn escape(s: &str, quote: bool) -> std::borrow::Cow<'_, str> {
    if !(s.contains(['\\', '\n']) || quote && s.contains('"')) {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quote => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        for ok in ["a", "capstan_bytes_total", "ns:sub_1", "_x"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1abc", "a-b", "a b", "é"] {
            assert!(
                validate_name(bad).err().map(|e| e.kind()) == Some(MetricsErrorKind::InvalidName),
                "{bad}"
            );
        }
        let r = Registry::new();
        for bad in ["__reserved", "a:b"] {
            let e = r.counter_vec("x", "", &[bad]).err();
            assert_eq!(
                e.as_ref().map(|e| (e.kind(), e.name())),
                Some((MetricsErrorKind::InvalidLabel, bad))
            );
        }
    }

    #[test]
    fn same_name_same_counter_other_labels_conflict() -> Result<(), MetricsError> {
        let r = Registry::new();
        let a = r.counter("hits_total", "h")?;
        let b = r.counter("hits_total", "h")?;
        a.inc();
        b.add(2);
        assert_eq!(a.get(), 3);
        let e = r.counter_vec("hits_total", "h", &["x"]).err();
        assert_eq!(
            e.as_ref().map(|e| (e.kind(), e.name())),
            Some((MetricsErrorKind::Conflict, "hits_total"))
        );
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("metric \"hits_total\" is already registered with different labels")
        );
        r.counter_vec("by_file_total", "f", &["file"])?;
        assert!(
            r.counter("by_file_total", "f").is_err(),
            "a labelled family is not a plain counter"
        );
        Ok(())
    }

    #[test]
    fn label_count_is_checked() -> Result<(), MetricsError> {
        let r = Registry::new();
        let v = r.counter_vec("f_total", "f", &["a", "b"])?;
        let e = v.with(&["1"]).err();
        assert_eq!(
            e.as_ref().map(MetricsError::kind),
            Some(MetricsErrorKind::LabelCount)
        );
        assert_eq!(
            e.map(|e| e.to_string()).as_deref(),
            Some("metric \"f_total\" takes 2 label values, got 1")
        );
        v.with(&["1", "2"])?.inc();
        assert_eq!(
            r.snapshot().value("f_total", &[("a", "1"), ("b", "2")]),
            Some(Value::Counter(1))
        );
        Ok(())
    }

    #[test]
    fn prometheus_text_is_exact_and_escaped() -> Result<(), MetricsError> {
        struct Depth;
        impl Collector for Depth {
            fn collect(&self, out: &mut Collect) {
                out.gauge("queue_depth", "Items\nwaiting \\ now.", &[], 4);
            }
        }
        let r = Registry::new();
        r.register(Depth);
        r.counter_vec("errs_total", "Errors.", &["file"])?
            .with(&["a\"b\\c\nd"])?
            .add(2);
        let text = r.snapshot().to_prometheus();
        assert_eq!(
            text,
            "# HELP errs_total Errors.\n\
             # TYPE errs_total counter\n\
             errs_total{file=\"a\\\"b\\\\c\\nd\"} 2\n\
             # HELP queue_depth Items\\nwaiting \\\\ now.\n\
             # TYPE queue_depth gauge\n\
             queue_depth 4\n"
        );
        Ok(())
    }

    #[test]
    fn collectors_are_read_at_snapshot_and_pool_stats_publish() -> Result<(), MetricsError> {
        let r = Registry::new();
        let pool = crate::pool::BufPool::builder().thread_cache(0).build();
        r.register(pool.metrics("capstan_bufpool")?);
        drop(pool.get(4096));
        drop(pool.get(4096));
        let snap = r.snapshot();
        assert_eq!(
            snap.value("capstan_bufpool_hits_total", &[("class", "4096")]),
            Some(Value::Counter(1))
        );
        assert_eq!(
            snap.value("capstan_bufpool_misses_total", &[("class", "4096")]),
            Some(Value::Counter(1))
        );
        assert_eq!(
            snap.value("capstan_bufpool_idle_buffers", &[("class", "4096")]),
            Some(Value::Gauge(1))
        );
        assert!(pool.metrics("bad-name").is_err());
        drop(pool);
        assert!(
            r.snapshot().families.is_empty(),
            "a dropped pool publishes nothing"
        );
        Ok(())
    }

    #[test]
    fn histograms_count_in_buckets_and_expose_cumulatively() {
        struct One(HistogramSnapshot);
        impl Collector for One {
            fn collect(&self, out: &mut Collect) {
                out.histogram(
                    "rtt_seconds",
                    "Round trips.",
                    &[("level", "shared")],
                    &self.0,
                );
            }
        }
        let h = Histogram::new(&[0.01, 0.001, 0.1, f64::NAN, 1.0]);
        for v in [0.0005, 0.0005, 0.02, 0.1, 3.0] {
            h.clone().observe(v);
        }
        let snap = h.snapshot();
        assert_eq!(
            snap.bounds,
            [0.01, 0.1, 1.0],
            "out of order and NaN bounds dropped"
        );
        assert_eq!(snap.counts, [2, 2, 0, 1], "a bound is inclusive");
        assert!((snap.sum - 3.121).abs() < 1e-9);
        let r = Registry::new();
        r.register(One(snap));
        let snap = r.snapshot();
        let bucket = |le| snap.value("rtt_seconds_bucket", &[("level", "shared"), ("le", le)]);
        assert_eq!(bucket("0.01"), Some(Value::Counter(2)));
        assert_eq!(bucket("1"), Some(Value::Counter(4)));
        assert_eq!(bucket("+Inf"), Some(Value::Counter(5)));
        assert_eq!(
            snap.value("rtt_seconds_count", &[("level", "shared")]),
            Some(Value::Counter(5))
        );
        let text = snap.to_prometheus();
        assert!(text.contains("# TYPE rtt_seconds histogram\n"), "{text}");
        assert!(
            text.contains("rtt_seconds_sum{level=\"shared\"} 3.121"),
            "{text}"
        );
    }
}
