//! Pooled buffers and strings on a hot loop, a worker pool fanning the work out, and the pool's
//! own counters published in the Prometheus text format.
//!
//! Run it with `cargo run --release -p capstan-examples --example pools_and_metrics`.

use std::fmt::Write as _;
use std::io::Read;

use capstan::exec::WorkerPool;
use capstan::intern::Interner;
use capstan::metrics::Registry;
use capstan::pool::{BufPool, StringPool};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::new();
    let bufs = BufPool::new();
    registry.register(bufs.metrics("capstan_example_bufpool")?);
    let lines = registry.counter("capstan_example_lines_total", "Lines read.")?;
    let strings = StringPool::strings(64, 128);
    let paths = Interner::new();
    let workers = WorkerPool::new(2)?;

    // Eight "files", read through pooled 32 KiB buffers on the worker pool.
    let files: Vec<String> = (0..8)
        .map(|n| format!("layer {n}\nFROM alpine\nRUN make\n").repeat(1000))
        .collect();
    workers.scope(|s| {
        for (n, file) in files.iter().enumerate() {
            let (bufs, lines, strings, paths) = (&bufs, &lines, &strings, &paths);
            s.spawn(move || {
                let mut buf = bufs.get(32 << 10);
                buf.resize(32 << 10, 0);
                let mut reader = file.as_bytes();
                while let Ok(read @ 1..) = reader.read(&mut buf) {
                    lines.add(buf[..read].split(|&b| b == b'\n').count() as u64 - 1);
                }
                // A 3-part key built in a pooled string: no allocation once the pool is warm.
                let mut key = strings.get();
                let _ = write!(key, "ctx/{n}/Dockerfile");
                paths.intern(&key);
            });
        }
    })?;
    workers.shutdown();

    assert_eq!(lines.get(), 8 * 3 * 1000);
    assert_eq!(paths.len(), 8);
    print!("{}", registry.snapshot().to_prometheus());
    Ok(())
}
