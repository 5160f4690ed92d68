//! Batching items from many threads into a sink.

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError, bounded};

use super::ExecError;

#[derive(Default)]
struct Counters {
    /// Items the background thread took off the queue. Every counter is written by that thread
    /// alone, so `push` touches no shared counter (one cost 3x on two producers).
    received: AtomicU64,
    delivered: AtomicU64,
    batches: AtomicU64,
    sink_panics: AtomicU64,
}

/// Counters of a [`Batcher`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchStats {
    /// Items accepted by `push` and `try_push`: exact once the batcher is shut down; while it
    /// runs, the count can be off by the one item the background thread is taking.
    pub pushed: u64,
    /// Items handed to the sink.
    pub delivered: u64,
    /// Sink calls.
    pub batches: u64,
    /// Sink calls that panicked (the batcher carries on).
    pub sink_panics: u64,
}

/// Configures a [`Batcher`]; see [`Batcher::builder`].
#[derive(Debug, Clone)]
pub struct BatcherBuilder {
    max_items: usize,
    max_age: Duration,
    queue: usize,
    name: String,
}

impl BatcherBuilder {
    /// A batch goes to the sink when it holds this many items (default 256).
    pub fn max_items(mut self, n: usize) -> Self {
        self.max_items = n.max(1);
        self
    }

    /// ... or when its first item is this old (default 100 ms).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Items that may wait before `push` blocks (default 4096).
    pub fn queue_capacity(mut self, n: usize) -> Self {
        self.queue = n.max(1);
        self
    }

    /// The background thread's name (default `capstan-batcher`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Starts the background thread that feeds `sink`.
    pub fn build<T, F>(self, sink: F) -> Result<Batcher<T>, ExecError>
    where
        T: Send + 'static,
        F: FnMut(Vec<T>) + Send + 'static,
    {
        let (tx, rx) = bounded(self.queue);
        let counters = Arc::new(Counters::default());
        let c = Arc::clone(&counters);
        let (max_items, max_age) = (self.max_items, self.max_age);
        let thread = std::thread::Builder::new()
            .name(self.name)
            .spawn(move || run(&rx, sink, max_items, max_age, &c))
            .map_err(ExecError::spawn)?;
        Ok(Batcher {
            tx: Some(tx),
            thread: Some(thread),
            counters,
        })
    }
}

fn run<T, F: FnMut(Vec<T>)>(
    rx: &Receiver<T>,
    mut sink: F,
    max_items: usize,
    max_age: Duration,
    c: &Counters,
) {
    let mut batch: Vec<T> = Vec::with_capacity(max_items);
    let mut deadline: Option<Instant> = None;
    let mut emit = |batch: &mut Vec<T>, deadline: &mut Option<Instant>| {
        *deadline = None;
        if batch.is_empty() {
            return;
        }
        let full = std::mem::replace(batch, Vec::with_capacity(max_items));
        let n = full.len() as u64;
        c.batches.fetch_add(1, Relaxed);
        c.delivered.fetch_add(n, Relaxed);
        if catch_unwind(AssertUnwindSafe(|| sink(full))).is_err() {
            c.sink_panics.fetch_add(1, Relaxed);
        }
    };
    loop {
        let msg = match deadline {
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(d) => rx.recv_deadline(d),
        };
        match msg {
            Ok(item) => {
                c.received.fetch_add(1, Relaxed);
                if batch.is_empty() {
                    deadline = Instant::now().checked_add(max_age);
                }
                batch.push(item);
                if batch.len() >= max_items {
                    emit(&mut batch, &mut deadline);
                }
            }
            Err(RecvTimeoutError::Timeout) => emit(&mut batch, &mut deadline),
            Err(RecvTimeoutError::Disconnected) => {
                emit(&mut batch, &mut deadline);
                return;
            }
        }
    }
}

/// Hands items pushed from many threads to a sink in batches, by count or by age.
///
/// `push` blocks while the queue is full (backpressure); `try_push` gives the item back instead.
/// Every accepted item reaches the sink: in a batch that fills up or grows old, or at
/// [`shutdown`](Batcher::shutdown) (or drop), which delivers the rest before the thread ends. A
/// sink that panics loses only the batch it was given; the batcher carries on and counts it.
///
/// ```
/// use capstan::exec::Batcher;
/// use std::sync::{Arc, Mutex};
///
/// let lines = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&lines);
/// let batcher = Batcher::builder().max_items(100).build(move |batch: Vec<String>| {
///     sink.lock().unwrap().extend(batch);
/// })?;
/// for i in 0..250 {
///     batcher.push(format!("line {i}"))?;
/// }
/// let stats = batcher.shutdown();
/// assert_eq!(stats.delivered, 250);
/// assert_eq!(lines.lock().unwrap().len(), 250);
/// # Ok::<(), capstan::exec::ExecError>(())
/// ```
pub struct Batcher<T: Send + 'static> {
    tx: Option<Sender<T>>,
    thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
}

impl<T: Send + 'static> fmt::Debug for Batcher<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batcher")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl Batcher<()> {
    /// Starts configuring a batcher.
    pub fn builder() -> BatcherBuilder {
        BatcherBuilder {
            max_items: 256,
            max_age: Duration::from_millis(100),
            queue: 4096,
            name: "capstan-batcher".to_owned(),
        }
    }
}

impl<T: Send + 'static> Batcher<T> {
    fn sender(&self) -> Result<&Sender<T>, ExecError> {
        self.tx.as_ref().ok_or_else(ExecError::shut_down)
    }

    /// Queues `item`, waiting while the queue is full.
    pub fn push(&self, item: T) -> Result<(), ExecError> {
        self.sender()?
            .send(item)
            .map_err(|_| ExecError::shut_down())
    }

    /// Queues `item` if there is room now; gives it back otherwise.
    pub fn try_push(&self, item: T) -> Result<(), (T, ExecError)> {
        let tx = match self.sender() {
            Ok(tx) => tx,
            Err(e) => return Err((item, e)),
        };
        match tx.try_send(item) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(item)) => Err((item, ExecError::queue_full())),
            Err(TrySendError::Disconnected(item)) => Err((item, ExecError::shut_down())),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> BatchStats {
        let c = &self.counters;
        BatchStats {
            pushed: c.received.load(Relaxed) + self.tx.as_ref().map_or(0, |tx| tx.len() as u64),
            delivered: c.delivered.load(Relaxed),
            batches: c.batches.load(Relaxed),
            sink_panics: c.sink_panics.load(Relaxed),
        }
    }

    /// Delivers everything still queued, stops the thread, and returns the final counters.
    pub fn shutdown(mut self) -> BatchStats {
        self.stop();
        self.stats()
    }

    fn stop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            // The loop catches sink panics, so the thread ends normally.
            let _ = t.join();
        }
    }
}

impl<T: Send + 'static> Drop for Batcher<T> {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    type Batches = Arc<Mutex<Vec<Vec<u64>>>>;

    fn collecting(b: BatcherBuilder) -> (Batcher<u64>, Batches) {
        let got = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&got);
        let batcher = b
            .build(move |batch| sink.lock().push(batch))
            .expect("spawn the batcher thread");
        (batcher, got)
    }

    #[test]
    fn batches_by_count_and_loses_nothing_across_threads() {
        let (b, got) = collecting(
            Batcher::builder()
                .max_items(100)
                .max_age(Duration::from_secs(60))
                .queue_capacity(8),
        );
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let b = &b;
                s.spawn(move || {
                    for i in 0..2500 {
                        b.push(t * 10_000 + i).expect("push while running");
                    }
                });
            }
        });
        let stats = b.shutdown();
        assert_eq!((stats.pushed, stats.delivered), (10_000, 10_000));
        let batches = got.lock();
        assert!(batches.iter().all(|b| b.len() <= 100));
        let mut all: Vec<u64> = batches.iter().flatten().copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 10_000, "every item exactly once");
    }

    #[test]
    fn batches_by_age() {
        let (b, got) = collecting(
            Batcher::builder()
                .max_items(1000)
                .max_age(Duration::from_millis(20)),
        );
        b.push(1).expect("push");
        b.push(2).expect("push");
        let t0 = Instant::now();
        while got.lock().is_empty() {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "age flush never came"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        assert_eq!(*got.lock(), vec![vec![1, 2]]);
        drop(b);
    }

    #[test]
    fn drop_delivers_the_rest() {
        let (b, got) = collecting(
            Batcher::builder()
                .max_items(1000)
                .max_age(Duration::from_secs(60)),
        );
        for i in 0..10 {
            b.push(i).expect("push");
        }
        drop(b);
        assert_eq!(got.lock().concat().len(), 10);
    }

    #[test]
    fn a_panicking_sink_is_counted_and_the_batcher_goes_on() {
        let seen = Arc::new(Mutex::new(0usize));
        let s = Arc::clone(&seen);
        let b = Batcher::builder()
            .max_items(1)
            .build(move |batch: Vec<u32>| {
                assert!(batch[0] != 3, "sink rejects 3");
                *s.lock() += 1;
            })
            .expect("spawn");
        for i in 0..6 {
            b.push(i).expect("push");
        }
        let st = b.shutdown();
        assert_eq!((st.batches, st.sink_panics), (6, 1));
        assert_eq!(*seen.lock(), 5);
    }

    #[test]
    fn try_push_gives_the_item_back_when_full() {
        let gate = Arc::new(Mutex::new(()));
        let held = gate.lock();
        let g = Arc::clone(&gate);
        let b = Batcher::builder()
            .max_items(1)
            .queue_capacity(1)
            .build(move |_: Vec<u32>| drop(g.lock()))
            .expect("spawn");
        b.push(0).expect("push"); // taken by the thread, which then blocks in the sink
        let t0 = Instant::now();
        let mut rejected = None;
        for i in 1..100 {
            if let Err((item, e)) = b.try_push(i) {
                rejected = Some((item, e));
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(5));
        }
        let (item, e) = rejected.expect("the queue filled up");
        assert_eq!(e.kind(), crate::exec::ExecErrorKind::QueueFull);
        assert!(item >= 1);
        drop(held);
        let st = b.shutdown();
        assert_eq!(st.pushed, st.delivered);
    }
}
