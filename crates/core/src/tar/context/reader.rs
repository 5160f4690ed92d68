//! The streaming reader: a context as an [`io::Read`], written by a background thread into a
//! bounded queue of chunks.

use std::io::{self, Read, Write};

use super::{Context, ContextError};

/// A context as an [`io::Read`] (an HTTP request body, say): a background thread writes the
/// tar into a bounded queue of 64 KiB chunks, so at most a few chunks are ever held, whatever
/// the context's size. Dropping the reader stops the writer.
///
/// ```
/// use std::io::Read;
/// use capstan::tar::{Context, ContextOptions};
///
/// let dir = std::env::temp_dir().join(format!("capstan-doc-ctxread-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// std::fs::write(dir.join("Dockerfile"), "FROM scratch\n")?;
/// let ctx = Context::select(&dir, &ContextOptions::default())?;
/// let mut whole = Vec::new();
/// ctx.write_to(&mut whole)?;
/// let mut streamed = Vec::new();
/// ctx.into_reader().read_to_end(&mut streamed)?;
/// assert_eq!(whole, streamed);
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ContextReader {
    rx: crossbeam_channel::Receiver<Result<Vec<u8>, ContextError>>,
    current: Vec<u8>,
    pos: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// Chunks in flight between the writer thread and the reader.
const READER_QUEUE: usize = 4;
const READER_CHUNK: usize = 64 << 10;

impl Context {
    /// The context as a reader; see [`ContextReader`].
    pub fn into_reader(self) -> ContextReader {
        let (tx, rx) = crossbeam_channel::bounded(READER_QUEUE);
        let on_failure = tx.clone();
        let spawned = std::thread::Builder::new()
            .name("capstan-context".to_owned())
            .spawn(move || {
                let mut w = ChunkWriter {
                    tx: tx.clone(),
                    buf: Vec::with_capacity(READER_CHUNK),
                };
                let result = self
                    .write_to(&mut w)
                    .and_then(|_| w.send().map_err(ContextError::write));
                if let Err(e) = result {
                    let _ = tx.send(Err(e));
                }
            });
        let thread = match spawned {
            Ok(t) => Some(t),
            Err(e) => {
                // The queue is empty: this never blocks.
                let _ = on_failure.send(Err(ContextError::write(e)));
                None
            }
        };
        drop(on_failure);
        ContextReader {
            rx,
            current: Vec::new(),
            pos: 0,
            thread,
        }
    }
}

struct ChunkWriter {
    tx: crossbeam_channel::Sender<Result<Vec<u8>, ContextError>>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(READER_CHUNK));
        self.tx
            .send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader was dropped"))
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(READER_CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == READER_CHUNK {
            self.send()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for ContextReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            match self.rx.recv() {
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Ok(Err(e)) => return Err(io::Error::other(e)),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len() - self.pos);
        out[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Drop for ContextReader {
    fn drop(&mut self) {
        // Unblock the writer (its next send fails), then wait for it.
        let (_, dead) = crossbeam_channel::bounded(0);
        self.rx = dead;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
