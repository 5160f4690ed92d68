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
    rx: crossbeam_channel::Receiver<Msg>,
    current: Vec<u8>,
    pos: usize,
    /// The writer said the tar is complete.
    ended: bool,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the writer thread sends: chunks, then `End` once the tar is whole, or the failure.
/// A queue that closes without `End` (the writer panicked) is an error, never a short tar
/// passed off as a whole one.
#[derive(Debug)]
enum Msg {
    Chunk(Vec<u8>),
    End,
    Failed(ContextError),
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
                let _ = tx.send(match result {
                    Ok(()) => Msg::End,
                    Err(e) => Msg::Failed(e),
                });
            });
        let thread = match spawned {
            Ok(t) => Some(t),
            Err(e) => {
                // The queue is empty: this never blocks.
                let _ = on_failure.send(Msg::Failed(ContextError::write(e)));
                None
            }
        };
        drop(on_failure);
        ContextReader {
            rx,
            current: Vec::new(),
            pos: 0,
            ended: false,
            thread,
        }
    }
}

struct ChunkWriter {
    tx: crossbeam_channel::Sender<Msg>,
    buf: Vec<u8>,
}

impl ChunkWriter {
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(READER_CHUNK));
        self.tx
            .send(Msg::Chunk(chunk))
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
            if self.ended {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Msg::Chunk(chunk)) => {
                    self.current = chunk;
                    self.pos = 0;
                }
                Ok(Msg::End) => self.ended = true,
                Ok(Msg::Failed(e)) => return Err(io::Error::other(e)),
                Err(_) => {
                    return Err(io::Error::other(
                        "the context writer stopped before the end of the tar",
                    ));
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(msgs: Vec<Msg>) -> ContextReader {
        let (tx, rx) = crossbeam_channel::unbounded();
        for m in msgs {
            let _ = tx.send(m);
        }
        ContextReader {
            rx,
            current: Vec::new(),
            pos: 0,
            ended: false,
            thread: None,
        }
    }

    #[test]
    fn a_writer_that_stops_without_finishing_is_an_error_not_a_short_tar() {
        let mut got = Vec::new();
        let e = reader(vec![Msg::Chunk(b"abc".to_vec())]).read_to_end(&mut got);
        assert_eq!(got, b"abc");
        assert!(
            e.as_ref()
                .is_err_and(|e| e.to_string().contains("before the end")),
            "{e:?}"
        );

        let mut whole = reader(vec![Msg::Chunk(b"abc".to_vec()), Msg::End]);
        let mut got = Vec::new();
        assert_eq!(whole.read_to_end(&mut got).ok(), Some(3));
        assert_eq!(
            whole.read(&mut [0; 8]).ok(),
            Some(0),
            "the end stays the end"
        );
    }
}
