//! Pooled buffers and strings on a hot loop, scoped threads fanning the work out under a
//! limiter, a cache of the results, and the pool's own counters published in the Prometheus
//! text format.
//!
//! Run it with `cargo run --release -p capstan-examples --example pools_and_metrics`.

use std::fmt::Write as _;
use std::io::Read;
use std::time::Duration;

use capstan::cache::TtlLru;
use capstan::exec::Limiter;
use capstan::metrics::Registry;
use capstan::pool::{BufPool, StringPool};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let registry = Registry::new();
    let bufs = BufPool::new();
    registry.register(bufs.metrics("capstan_example_bufpool")?);
    let lines = registry.counter("capstan_example_lines_total", "Lines read.")?;
    let strings = StringPool::strings(64, 128);
    let counts: TtlLru<String, u64> = TtlLru::new(64, Duration::from_secs(60));
    let limiter = Limiter::new(2);

    // Eight "files", read through pooled 32 KiB buffers, at most two at once.
    let files: Vec<String> = (0..8)
        .map(|n| format!("layer {n}\nFROM alpine\nRUN make\n").repeat(1000))
        .collect();
    std::thread::scope(|s| {
        for (n, file) in files.iter().enumerate() {
            let (bufs, lines, strings, counts, limiter) =
                (&bufs, &lines, &strings, &counts, &limiter);
            s.spawn(move || {
                let _permit = limiter.acquire();
                let mut buf = bufs.get(32 << 10);
                buf.resize(32 << 10, 0);
                let mut reader = file.as_bytes();
                let mut read_lines = 0;
                while let Ok(read @ 1..) = reader.read(&mut buf) {
                    read_lines += buf[..read].split(|&b| b == b'\n').count() as u64 - 1;
                }
                lines.add(read_lines);
                // A 3-part key built in a pooled string: no allocation once the pool is warm.
                let mut key = strings.get();
                let _ = write!(key, "ctx/{n}/Dockerfile");
                counts.insert(key.to_string(), read_lines);
            });
        }
    });

    assert_eq!(lines.get(), 8 * 3 * 1000);
    assert_eq!(counts.len(), 8);
    assert_eq!(counts.get("ctx/3/Dockerfile"), Some(3 * 1000));
    print!("{}", registry.snapshot().to_prometheus());
    Ok(())
}
