//! Layers: decompressed as they stream (gzip, zstd or none, told by their first bytes), and
//! the whiteouts that say which files of lower layers an upper layer deleted.

use std::io::{self, BufRead, BufReader, Read};

use ruzstd::decoding::{FrameDecoder, StreamingDecoder};

/// A whiteout's prefix: `dir/.wh.name` deletes `dir/name` from the layers below.
const WHITEOUT: &str = ".wh.";
/// An opaque directory's marker: `dir/.wh..wh..opq` hides everything below `dir` in the
/// layers below.
const OPAQUE: &str = ".wh..wh..opq";

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Whether a layer's member name is a whiteout (or an opaque marker).
pub(crate) fn is_whiteout(path: &str) -> bool {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.starts_with(WHITEOUT)
}

/// What a whiteout member removes from the layers below: `(path, opaque)` — a deleted path,
/// or (opaque) a directory whose lower contents are hidden (`""` is the root).
fn removed_path(whiteout: &str) -> Option<(String, bool)> {
    let (dir, base) = whiteout.rsplit_once('/').unwrap_or(("", whiteout));
    if base == OPAQUE {
        return Some((dir.to_owned(), true));
    }
    let name = base.strip_prefix(WHITEOUT)?;
    Some((
        if dir.is_empty() {
            name.to_owned()
        } else {
            format!("{dir}/{name}")
        },
        false,
    ))
}

/// The lowest layer above `layer` whose whiteouts remove `path` (a file of `layer`): a
/// whiteout of the path or of a directory above it, or an opaque marker on a directory above
/// it. `whiteouts[i]` are layer `i`'s whiteout members.
pub(crate) fn removed_in(path: &str, layer: usize, whiteouts: &[&[String]]) -> Option<usize> {
    // A finding inside a nested archive names `path.tar!member`: the file is the archive.
    let path = path.split('!').next().unwrap_or(path);
    for (upper, list) in whiteouts.iter().enumerate().skip(layer + 1) {
        for w in *list {
            let Some((target, opaque)) = removed_path(w) else {
                continue;
            };
            let hit = if opaque {
                target.is_empty() || is_below(path, &target)
            } else {
                path == target || is_below(path, &target)
            };
            if hit {
                return Some(upper);
            }
        }
    }
    None
}

/// Whether `path` is strictly below directory `dir`.
fn is_below(path: &str, dir: &str) -> bool {
    path.len() > dir.len() && path.starts_with(dir) && path.as_bytes()[dir.len()] == b'/'
}

/// A member's name as a path in the image: no `./` or `/` in front.
pub(crate) fn member_path(name: &str) -> &str {
    let mut s = name;
    loop {
        if let Some(r) = s.strip_prefix("./") {
            s = r;
        } else if let Some(r) = s.strip_prefix('/') {
            s = r;
        } else {
            return s;
        }
    }
}

/// A layer's bytes, decompressed: gzip (members concatenated, as `gzip` allows), zstd (frames
/// concatenated, skippable frames skipped) or a plain tar — told by the first bytes, whatever
/// the media type claims.
pub(crate) fn decompress<'r>(raw: impl Read + 'r) -> io::Result<Box<dyn Read + 'r>> {
    let mut buffered = BufReader::with_capacity(64 << 10, raw);
    let head = buffered.fill_buf()?;
    if head.starts_with(&GZIP_MAGIC) {
        return Ok(Box::new(flate2::bufread::MultiGzDecoder::new(buffered)));
    }
    if head.starts_with(&ZSTD_MAGIC) {
        return Ok(Box::new(Zstd::Between(buffered, None)));
    }
    Ok(Box::new(buffered))
}

type Framed<R> = io::Chain<io::Cursor<[u8; 4]>, R>;

/// Zstandard frames one after another; the frame decoder (and its window) is reused.
enum Zstd<R: BufRead> {
    Between(R, Option<FrameDecoder>),
    InFrame(StreamingDecoder<Framed<R>, FrameDecoder>),
    Done,
}

/// The first bytes of a skippable frame's magic (`0x184D2A5?`, little-endian).
fn is_skippable(magic: [u8; 4]) -> bool {
    u32::from_le_bytes(magic) & 0xFFFF_FFF0 == 0x184D_2A50
}

impl<R: BufRead> Zstd<R> {
    /// The next frame, skippable ones skipped; `Done` at the end of the input.
    fn next_frame(mut r: R, decoder: Option<FrameDecoder>) -> io::Result<Zstd<R>> {
        loop {
            if r.fill_buf()?.is_empty() {
                return Ok(Zstd::Done);
            }
            let mut magic = [0u8; 4];
            r.read_exact(&mut magic)
                .map_err(|e| io::Error::new(e.kind(), format!("zstd: truncated frame: {e}")))?;
            if is_skippable(magic) {
                let mut len = [0u8; 4];
                r.read_exact(&mut len)?;
                let len = u64::from(u32::from_le_bytes(len));
                if io::copy(&mut (&mut r).take(len), &mut io::sink())? < len {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "zstd: truncated skippable frame",
                    ));
                }
                continue;
            }
            if magic != ZSTD_MAGIC {
                return Err(io::Error::other(
                    "zstd: what follows the last frame is not a frame",
                ));
            }
            // The decoder reads the magic itself: it is put back in front of the rest.
            let framed = io::Cursor::new(magic).chain(r);
            let started = match decoder {
                Some(d) => StreamingDecoder::new_with_decoder(framed, d),
                None => StreamingDecoder::new(framed),
            };
            return started
                .map(Zstd::InFrame)
                .map_err(|e| io::Error::other(format!("zstd: {e}")));
        }
    }
}

impl<R: BufRead> Read for Zstd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            match std::mem::replace(self, Zstd::Done) {
                Zstd::Done => return Ok(0),
                Zstd::Between(r, d) => *self = Zstd::next_frame(r, d)?,
                Zstd::InFrame(mut frame) => {
                    let n = frame
                        .read(buf)
                        .map_err(|e| io::Error::new(e.kind(), format!("zstd: {e}")))?;
                    if n > 0 {
                        *self = Zstd::InFrame(frame);
                        return Ok(n);
                    }
                    let (framed, decoder) = frame.into_parts();
                    let (_, r) = framed.into_inner();
                    *self = Zstd::Between(r, Some(decoder));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts_remove_paths_and_opaque_directories() {
        let layers: Vec<Vec<String>> = vec![
            vec![],
            vec!["etc/.wh.secret.env".into()],
            vec!["app/.wh..wh..opq".into(), ".wh.tmp".into()],
        ];
        let refs: Vec<&[String]> = layers.iter().map(Vec::as_slice).collect();
        assert_eq!(removed_in("etc/secret.env", 0, &refs), Some(1));
        assert_eq!(removed_in("etc/secret.envx", 0, &refs), None);
        assert_eq!(removed_in("app/config/key.pem", 0, &refs), Some(2));
        assert_eq!(
            removed_in("app/config/key.pem", 2, &refs),
            None,
            "only upper layers"
        );
        assert_eq!(removed_in("tmp/a.tar!inner/key", 1, &refs), Some(2));
        assert_eq!(removed_in("application/x", 0, &refs), None);
        assert!(is_whiteout("a/.wh.b") && is_whiteout(".wh..wh..opq") && !is_whiteout("a/b.wh.c"));
        assert_eq!(member_path("./a/b"), "a/b");
        assert_eq!(member_path("/./a"), "a");
    }

    #[test]
    fn layers_decompress_by_their_first_bytes() {
        let data = b"plain tar bytes, or close enough".repeat(100);
        let read = |bytes: &[u8]| {
            let mut out = Vec::new();
            decompress(bytes)
                .and_then(|mut r| r.read_to_end(&mut out))
                .map(|_| out)
        };
        assert_eq!(read(&data).expect("plain"), data);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, &data).expect("gzip");
        let gz = gz.finish().expect("gzip");
        assert_eq!(read(&gz).expect("gzip"), data);
        // Two zstd frames with a skippable frame between them (as zstd:chunked writes).
        let mut zst = ruzstd::encoding::compress_to_vec(
            &data[..1000],
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        zst.extend_from_slice(&[0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 9, 9, 9]);
        zst.extend(ruzstd::encoding::compress_to_vec(
            &data[1000..],
            ruzstd::encoding::CompressionLevel::Fastest,
        ));
        assert_eq!(read(&zst).expect("zstd"), data);
        let e = read(&zst[..zst.len() - 5]).expect_err("truncated");
        assert!(
            e.to_string().contains("zstd") || e.kind() == io::ErrorKind::UnexpectedEof,
            "{e}"
        );
    }
}
