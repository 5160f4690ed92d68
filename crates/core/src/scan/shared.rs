//! The scan cache's second level: results shared by a fleet of machines through Redis (or a
//! server that speaks its protocol: Valkey, KeyDB, Dragonfly).
//!
//! Keys name the value format, the rule set and settings, and the content unit
//! (`capstan:v3:<settings>:file:<blake3>:<path>`, `…:layer:<digest>`, `…:blob:<oid>:<path>`), so
//! machines that scan the same bytes under the same rules share one answer. Values carry a
//! magic, a version and a BLAKE3 checksum of the findings; one that fails them is ignored,
//! counted, and the unit is scanned again.
//!
//! The shared level is an optimisation and never fails a scan: a server that is down, refuses,
//! answers slower than the per-call timeout or dies mid-scan turns the level off for the rest of
//! the run (every later lookup is counted as a fallback), and the caller says so once. Writes
//! go through a [`Batcher`] and are pipelined; a worker never waits on one.

use std::fmt;
#[cfg(feature = "shared-cache")]
use std::sync::Arc;
#[cfg(feature = "shared-cache")]
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
#[cfg(feature = "shared-cache")]
use std::time::Instant;

#[cfg(feature = "shared-cache")]
use parking_lot::Mutex;

use super::CachedFile;
#[cfg(feature = "shared-cache")]
use crate::exec::Batcher;
#[cfg(feature = "shared-cache")]
use crate::metrics::Histogram;
use crate::metrics::HistogramSnapshot;
#[cfg(feature = "shared-cache")]
use crate::pool::{Pool, Reset};

/// How long a shared entry lives unless `ttl` says otherwise: 30 days.
pub const DEFAULT_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// How long one call may take before the shared level is given up for the run: 200 ms.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);

#[cfg(feature = "shared-cache")]
/// Round-trip histogram bounds, in seconds: 50 µs to 1 s.
const RTT_BOUNDS: [f64; 12] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1, 0.25, 1.0,
];
/// A value's header: [`MAGIC`] and the [`CHECKSUM`], before the entry's JSON.
const HEADER: usize = 4 + 16;

/// What the shared level answered for a unit: the entry, and the value it came in (its JSON is
/// stored in the local level as it is, not encoded again).
#[derive(Debug)]
pub(crate) struct SharedHit {
    pub(crate) entry: CachedFile,
    value: Vec<u8>,
}

impl SharedHit {
    /// The entry as JSON, as the levels store it.
    pub(crate) fn json(&self) -> &[u8] {
        &self.value[HEADER..]
    }
}

#[cfg(feature = "shared-cache")]
/// What a value starts with: "capstan cache", value format 1.
const MAGIC: &[u8; 4] = b"cpc\x01";
#[cfg(feature = "shared-cache")]
/// Bytes of BLAKE3 kept as the value's checksum.
const CHECKSUM: usize = 16;
/// Part of every key: bumped with the local store's layout (findings' shape).
#[cfg(feature = "shared-cache")]
const KEY_VERSION: &str = "v3";

/// Where the shared level is and how it is used.
///
/// ```
/// use capstan::scan::SharedCacheOptions;
/// let o = SharedCacheOptions::new("redis://ci:s3cret@cache.internal:6379/2");
/// assert_eq!(o.url_shown(), "redis://ci:***@cache.internal:6379/2");
/// assert!(!format!("{o:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SharedCacheOptions {
    url: String,
    /// How long an entry lives in the shared level ([`DEFAULT_TTL`]).
    pub ttl: Duration,
    /// The most one call (connect, lookup, batched write) may take ([`DEFAULT_TIMEOUT`]).
    pub timeout: Duration,
}

impl SharedCacheOptions {
    /// `redis://[user:password@]host[:port][/db]`, or `rediss://` for TLS; default TTL and
    /// timeout.
    pub fn new(url: impl Into<String>) -> Self {
        SharedCacheOptions {
            url: url.into(),
            ttl: DEFAULT_TTL,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The URL with its password replaced by `***`: what messages show.
    pub fn url_shown(&self) -> String {
        hide_password(&self.url)
    }
}

impl fmt::Debug for SharedCacheOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedCacheOptions")
            .field("url", &self.url_shown())
            .field("ttl", &self.ttl)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// `url` with its password replaced by `***`: the user-info's (`scheme://user:password@host`,
/// everything up to the last `@` — a password may hold `/`, `?` or `#` unencoded, and a URL
/// that does not parse must not show it either) and a `pass` or `password` query parameter's
/// (`redis+unix:///run/redis.sock?pass=…`).
fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let rest = match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            if userinfo.contains(':') || user.is_empty() {
                format!("{user}:***@{host}")
            } else {
                // `redis://password@host` is how some write a password alone.
                format!("***@{host}")
            }
        }
        None => rest.to_owned(),
    };
    let Some((before, query)) = rest.split_once('?') else {
        return format!("{scheme}://{rest}");
    };
    let (query, fragment) = query
        .split_once('#')
        .map_or((query, None), |(q, f)| (q, Some(f)));
    let query: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, _))
                if k.eq_ignore_ascii_case("pass") || k.eq_ignore_ascii_case("password") =>
            {
                format!("{k}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    let fragment = fragment.map(|f| format!("#{f}")).unwrap_or_default();
    format!("{scheme}://{before}?{}{fragment}", query.join("&"))
}

/// A shared-level URL that is not one (the scan is refused: a typo must not silently turn the
/// shared level off).
#[derive(Debug, thiserror::Error)]
#[error(
    "cache URL {url}: {message} (expected redis://[user:password@]host[:port][/db] or rediss://…)"
)]
pub struct SharedCacheError {
    url: String,
    message: String,
}

/// What the shared level counted in one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SharedCounters {
    /// Lookups answered.
    pub hits: u64,
    /// Lookups that found nothing usable (rejected values included).
    pub misses: u64,
    /// Values that failed their checksum or did not decode: ignored and scanned again.
    pub rejected: u64,
    /// Lookups not made because the level had failed: answered by the local level or a scan.
    pub fallbacks: u64,
    /// Entries written.
    pub written: u64,
    /// Entries not written: the level had failed or its queue was full.
    pub unwritten: u64,
    /// Round trips (lookups and pipelined writes), in seconds.
    pub rtt: HistogramSnapshot,
}

/// Without the `shared-cache` feature there is no shared level: [`connect`](Self::connect)
/// says so, and no value of this type exists.
#[cfg(not(feature = "shared-cache"))]
#[derive(Debug)]
pub struct SharedCache(std::convert::Infallible);

#[cfg(not(feature = "shared-cache"))]
impl SharedCache {
    /// Always an error: this build has no Redis client.
    pub fn connect(
        options: &SharedCacheOptions,
        _settings: &str,
    ) -> Result<SharedCache, SharedCacheError> {
        Err(SharedCacheError {
            url: options.url_shown(),
            message: "this build of capstan has no shared cache (the `shared-cache` feature)"
                .to_owned(),
        })
    }
    pub(crate) fn get_many(&self, _: &[&str]) -> Vec<Option<SharedHit>> {
        match self.0 {}
    }
    pub(crate) fn up(&self) -> bool {
        match self.0 {}
    }
    pub(crate) fn put(&self, _: &str, _: &[u8]) {
        match self.0 {}
    }
    /// Never called: no value exists.
    pub fn fault(&self) -> Option<String> {
        match self.0 {}
    }
    /// Never called: no value exists.
    pub fn counters(&self) -> SharedCounters {
        match self.0 {}
    }
    pub(crate) fn flush(&mut self) {
        match self.0 {}
    }
}

#[cfg(feature = "shared-cache")]
/// A pooled connection slot: empty until a lookup connects it, emptied when a call fails.
#[derive(Default)]
struct Conn(Option<redis::Connection>);

#[cfg(feature = "shared-cache")]
impl Reset for Conn {
    fn reset(&mut self) {}
    fn retain(&self) -> bool {
        self.0.is_some()
    }
}

#[cfg(feature = "shared-cache")]
/// What the lookups and the writer thread share.
#[derive(Debug)]
struct State {
    client: redis::Client,
    shown: String,
    timeout: Duration,
    down: AtomicBool,
    fault: Mutex<Option<String>>,
    hits: AtomicU64,
    misses: AtomicU64,
    rejected: AtomicU64,
    fallbacks: AtomicU64,
    written: AtomicU64,
    unwritten: AtomicU64,
    rtt: Histogram,
}

#[cfg(feature = "shared-cache")]
impl State {
    /// Gives the level up for the rest of the run; the first cause is kept for the warning.
    fn trip(&self, what: &str, e: &redis::RedisError) {
        if e.is_timeout() {
            self.trip_with(
                what,
                &format!("no answer within {} ms", self.timeout.as_millis()),
            );
            return;
        }
        // A refused pipeline lists every command it refused: the first says why.
        let refused = e.clone().into_server_errors().and_then(|errors| {
            let (_, first) = errors.first()?;
            let n = errors.len();
            let why = match first.details() {
                Some(d) => format!("{}: {d}", first.code()),
                None => first.code().to_owned(),
            };
            Some(if n > 1 {
                format!("{why} ({n} commands refused)")
            } else {
                why
            })
        });
        self.trip_with(what, &refused.unwrap_or_else(|| e.to_string()));
    }

    fn trip_with(&self, what: &str, why: &str) {
        self.down.store(true, Ordering::Relaxed);
        let mut fault = self.fault.lock();
        if fault.is_none() {
            // One line, whatever the server said.
            let why: String = why
                .lines()
                .next()
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect();
            *fault = Some(format!(
                "shared cache {}: {what}: {why}; scanning on without it",
                self.shown
            ));
        }
    }

    fn connect(&self) -> redis::RedisResult<redis::Connection> {
        let con = self.client.get_connection_with_timeout(self.timeout)?;
        con.set_read_timeout(Some(self.timeout))?;
        con.set_write_timeout(Some(self.timeout))?;
        Ok(con)
    }

    /// Times `call` into the round-trip histogram.
    fn timed<T>(&self, call: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = call();
        self.rtt.observe(start.elapsed().as_secs_f64());
        out
    }
}

#[cfg(feature = "shared-cache")]
/// The shared level of a [`ScanCache`](super::ScanCache): open it with
/// [`connect`](Self::connect) and give it to
/// [`ScanCache::with_shared`](super::ScanCache::with_shared).
pub struct SharedCache {
    state: Arc<State>,
    prefix: String,
    conns: Pool<Conn>,
    writer: Option<Batcher<(String, Vec<u8>)>>,
}

#[cfg(feature = "shared-cache")]
impl fmt::Debug for SharedCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedCache")
            .field("url", &self.state.shown)
            .field("down", &self.state.down.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(feature = "shared-cache")]
impl SharedCache {
    /// The shared level at `options`' URL for results computed under `settings` (the same
    /// digest the local store is opened with). Connects once to check the server; a server
    /// that cannot be reached is not an error but a level that is off from the start, and
    /// [`fault`](Self::fault) says why. Only a URL that is not one is an error.
    pub fn connect(
        options: &SharedCacheOptions,
        settings: &str,
    ) -> Result<SharedCache, SharedCacheError> {
        let shown = options.url_shown();
        let client = redis::Client::open(options.url.as_str()).map_err(|e| SharedCacheError {
            url: shown.clone(),
            message: e.to_string(),
        })?;
        let timeout = options.timeout.max(Duration::from_millis(1));
        let state = Arc::new(State {
            client,
            shown,
            timeout,
            down: AtomicBool::new(false),
            fault: Mutex::new(None),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            written: AtomicU64::new(0),
            unwritten: AtomicU64::new(0),
            rtt: Histogram::new(&RTT_BOUNDS),
        });
        let conns = Pool::new(64, Conn::default);
        match state.connect().and_then(|mut con| {
            state.timed(|| redis::cmd("PING").exec(&mut con))?;
            Ok(con)
        }) {
            Ok(con) => drop(std::mem::replace(&mut *conns.get(), Conn(Some(con)))),
            Err(e) => state.trip("cannot connect", &e),
        }
        let ttl = options.ttl.as_secs().max(1);
        let sink_state = Arc::clone(&state);
        let mut sink_con: Option<redis::Connection> = None;
        let writer = Batcher::builder()
            .name("capstan-shared-writer")
            .max_items(256)
            .build(move |batch: Vec<(String, Vec<u8>)>| {
                write_batch(&sink_state, &mut sink_con, &batch, ttl);
            })
            .ok();
        let digest = blake3::hash(settings.as_bytes()).to_hex();
        Ok(SharedCache {
            state,
            prefix: format!("capstan:{KEY_VERSION}:{}:", &digest[..32]),
            conns,
            writer,
        })
    }

    /// The entries for content units `units` (`file:…`, `layer:…`, `blob:…`), in one round
    /// trip (`MGET`): each one the level holds a valid value for, or `None`.
    pub(crate) fn get_many(&self, units: &[&str]) -> Vec<Option<SharedHit>> {
        let s = &*self.state;
        let none = || (0..units.len()).map(|_| None).collect();
        let n = units.len() as u64;
        if units.is_empty() {
            return Vec::new();
        }
        if s.down.load(Ordering::Relaxed) {
            s.fallbacks.fetch_add(n, Ordering::Relaxed);
            return none();
        }
        let mut slot = self.conns.get();
        if slot.0.is_none() {
            match s.connect() {
                Ok(con) => slot.0 = Some(con),
                Err(e) => {
                    s.trip("cannot connect", &e);
                    s.fallbacks.fetch_add(n, Ordering::Relaxed);
                    return none();
                }
            }
        }
        let Some(con) = slot.0.as_mut() else {
            return none();
        };
        let mut mget = redis::cmd("MGET");
        for unit in units {
            mget.arg(format!("{}{unit}", self.prefix));
        }
        let got: redis::RedisResult<Vec<Option<Vec<u8>>>> = s.timed(|| mget.query(con));
        match got {
            Ok(values) if values.len() == units.len() => values
                .into_iter()
                .map(|value| {
                    let rejected = value.is_some();
                    let entry = value.and_then(|value| {
                        let entry = decode(&value)?;
                        Some(SharedHit { entry, value })
                    });
                    if entry.is_some() {
                        s.hits.fetch_add(1, Ordering::Relaxed);
                    } else {
                        if rejected {
                            s.rejected.fetch_add(1, Ordering::Relaxed);
                        }
                        s.misses.fetch_add(1, Ordering::Relaxed);
                    }
                    entry
                })
                .collect(),
            Ok(_) => {
                // Not what MGET answers: not a server to trust.
                slot.0 = None;
                s.trip_with(
                    "lookup failed",
                    "the server's answer does not match the request",
                );
                s.fallbacks.fetch_add(n, Ordering::Relaxed);
                none()
            }
            Err(e) => {
                slot.0 = None;
                s.trip("lookup failed", &e);
                s.fallbacks.fetch_add(n, Ordering::Relaxed);
                none()
            }
        }
    }

    /// Whether the level is still in use (it has not failed in this run).
    pub(crate) fn up(&self) -> bool {
        !self.state.down.load(Ordering::Relaxed)
    }

    /// Queues the entry whose JSON is `json` for unit `unit` (written in the background, in
    /// pipelined batches).
    pub(crate) fn put(&self, unit: &str, json: &[u8]) {
        let s = &*self.state;
        let queued = !s.down.load(Ordering::Relaxed)
            && self.writer.as_ref().is_some_and(|w| {
                w.try_push((format!("{}{unit}", self.prefix), encode(json)))
                    .is_ok()
            });
        if !queued {
            s.unwritten.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Why the level was given up, when it was: the one warning a run shows.
    pub fn fault(&self) -> Option<String> {
        self.state.fault.lock().clone()
    }

    /// The counters so far.
    pub fn counters(&self) -> SharedCounters {
        let s = &*self.state;
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        SharedCounters {
            hits: n(&s.hits),
            misses: n(&s.misses),
            rejected: n(&s.rejected),
            fallbacks: n(&s.fallbacks),
            written: n(&s.written),
            unwritten: n(&s.unwritten),
            rtt: s.rtt.snapshot(),
        }
    }

    /// Writes what is queued (each batch within the timeout, or given up).
    pub(crate) fn flush(&mut self) {
        if let Some(w) = self.writer.take() {
            w.shutdown();
        }
    }
}

#[cfg(feature = "shared-cache")]
impl Drop for SharedCache {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(feature = "shared-cache")]
/// One pipelined round trip of `SET key value EX ttl` for the batch.
fn write_batch(
    s: &State,
    con: &mut Option<redis::Connection>,
    batch: &[(String, Vec<u8>)],
    ttl: u64,
) {
    let n = batch.len() as u64;
    if s.down.load(Ordering::Relaxed) {
        s.unwritten.fetch_add(n, Ordering::Relaxed);
        return;
    }
    if con.is_none() {
        match s.connect() {
            Ok(c) => *con = Some(c),
            Err(e) => {
                s.trip("cannot connect", &e);
                s.unwritten.fetch_add(n, Ordering::Relaxed);
                return;
            }
        }
    }
    let Some(c) = con.as_mut() else { return };
    let mut pipe = redis::pipe();
    for (key, value) in batch {
        pipe.cmd("SET")
            .arg(key)
            .arg(value)
            .arg("EX")
            .arg(ttl)
            .ignore();
    }
    match s.timed(|| pipe.exec(c)) {
        Ok(()) => {
            s.written.fetch_add(n, Ordering::Relaxed);
        }
        Err(e) => {
            *con = None;
            s.trip("write failed", &e);
            s.unwritten.fetch_add(n, Ordering::Relaxed);
        }
    }
}

#[cfg(feature = "shared-cache")]
/// `MAGIC`, the first `CHECKSUM` bytes of the payload's BLAKE3, then the payload (the entry as
/// compact JSON, as the local store keeps it).
fn encode(json: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(MAGIC.len() + CHECKSUM + json.len());
    value.extend_from_slice(MAGIC);
    value.extend_from_slice(&blake3::hash(json).as_bytes()[..CHECKSUM]);
    value.extend_from_slice(json);
    value
}

#[cfg(feature = "shared-cache")]
/// The entry in `value`, or `None` when it is not one this version wrote intact.
fn decode(value: &[u8]) -> Option<CachedFile> {
    const _: () = assert!(HEADER == MAGIC.len() + CHECKSUM);
    let rest = value.strip_prefix(MAGIC)?;
    let (sum, payload) = rest.split_at_checked(CHECKSUM)?;
    if blake3::hash(payload).as_bytes()[..CHECKSUM] != *sum {
        return None;
    }
    serde_json::from_slice(payload).ok()
}

#[cfg(all(test, feature = "shared-cache"))]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        for (url, shown) in [
            ("redis://h:6379/0", "redis://h:6379/0"),
            ("redis://u:p@h:6379/0", "redis://u:***@h:6379/0"),
            ("rediss://:p%40ss@h", "rediss://:***@h"),
            ("redis://p@ss:word@h/1", "redis://p@ss:***@h/1"),
            ("redis://secret@h", "redis://***@h"),
            ("redis://:s3c#r3t/x?y@h:1/0", "redis://:***@h:1/0"),
            (
                "redis+unix:///run/r.sock?db=1&pass=hunter2#x",
                "redis+unix:///run/r.sock?db=1&pass=***#x",
            ),
            (
                "unix:///s?user=u&PASSWORD=hunter2",
                "unix:///s?user=u&PASSWORD=***",
            ),
            ("not a url", "not a url"),
        ] {
            assert_eq!(hide_password(url), shown, "{url}");
        }
        let e = SharedCache::connect(&SharedCacheOptions::new("http://u:pw@h"), "s").err();
        let text = e.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            text.contains("http://u:***@h") && !text.contains("pw"),
            "{text}"
        );
    }

    #[test]
    fn values_are_checked_before_they_are_trusted() {
        let entry = CachedFile {
            files: 3,
            ..CachedFile::default()
        };
        let value = encode(&serde_json::to_vec(&entry).unwrap_or_default());
        assert_eq!(decode(&value), Some(entry));
        let mut flipped = value.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 1;
        }
        assert_eq!(decode(&flipped), None, "a changed byte fails the checksum");
        assert_eq!(decode(&value[..value.len() - 1]), None, "truncated");
        assert_eq!(decode(b"garbage"), None);
        assert_eq!(decode(&value[4..]), None, "no magic");
        let mut other_version = value;
        other_version[3] = 2;
        assert_eq!(decode(&other_version), None, "another format version");
    }

    #[test]
    fn an_unreachable_server_is_a_level_that_is_off_not_an_error() {
        // A port nothing listens on: bind, note it, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_or(1, |a| a.port());
        let options = SharedCacheOptions::new(format!("redis://u:hunter2@127.0.0.1:{port}/0"));
        let Ok(cache) = SharedCache::connect(&options, "settings") else {
            panic!("a well-formed URL connects (or is off), never fails")
        };
        let found = cache.get_many(&["file:00:a", "file:00:b"]);
        assert!(
            found.len() == 2 && found.iter().all(Option::is_none),
            "{found:?}"
        );
        cache.put("file:00:a", b"{}");
        let c = cache.counters();
        assert_eq!((c.fallbacks, c.unwritten, c.hits), (2, 1, 0));
        let fault = cache.fault().unwrap_or_default();
        assert!(
            fault.contains(&format!("127.0.0.1:{port}")) && !fault.contains("hunter2"),
            "{fault}"
        );
    }
}
