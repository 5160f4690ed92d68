//! Limits on a tar stream from an untrusted source, checked on the headers as they stream past
//! (before the `tar` crate buffers a PAX or GNU long-name extension in memory, or an extraction
//! writes its millionth file).

use std::io::{self, Read};

/// How much an archive from an untrusted source may ask for.
///
/// ```
/// use capstan::tar::TarLimits;
/// let strict = TarLimits { max_entries: 10_000, ..TarLimits::default() };
/// assert_eq!(strict.max_extension, 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TarLimits {
    /// Members (every header but PAX and GNU extensions). Default 1,000,000.
    pub max_entries: u64,
    /// Bytes of member data, all members together. Default 64 GiB.
    pub max_bytes: u64,
    /// Bytes in one PAX or GNU long-name / long-link extension, which readers hold in memory.
    /// Default 1 MiB (real ones are a few hundred bytes).
    pub max_extension: u64,
}

impl Default for TarLimits {
    fn default() -> Self {
        TarLimits {
            max_entries: 1_000_000,
            max_bytes: 64 << 30,
            max_extension: 1 << 20,
        }
    }
}

impl TarLimits {
    /// No limit on entries or bytes (a scan streams them), only on extensions.
    pub(crate) fn streaming() -> Self {
        TarLimits {
            max_entries: u64::MAX,
            max_bytes: u64::MAX,
            ..TarLimits::default()
        }
    }
}

const BLOCK: usize = 512;

/// A `Read` that passes a tar stream through unchanged and fails (`InvalidData`, with a message
/// that names the limit) as soon as a header breaks one of the limits.
pub(crate) struct Guard<R> {
    inner: R,
    limits: TarLimits,
    block: [u8; BLOCK],
    /// Bytes of `block` filled and already handed out.
    block_len: usize,
    block_pos: usize,
    /// Data (with padding) of the current member still to pass.
    data_left: u64,
    /// The current member is a PAX extended header: its records are kept (bounded by
    /// `max_extension`) to learn a `size` override for the next member.
    pax: Option<Vec<u8>>,
    /// A PAX `size` record for the next member.
    next_size: Option<u64>,
    entries: u64,
    bytes: u64,
    /// The end-of-archive block was seen: the rest passes untouched.
    ended: bool,
}

impl<R: Read> Guard<R> {
    pub(crate) fn new(inner: R, limits: TarLimits) -> Self {
        Guard {
            inner,
            limits,
            block: [0; BLOCK],
            block_len: 0,
            block_pos: 0,
            data_left: 0,
            pax: None,
            next_size: None,
            entries: 0,
            bytes: 0,
            ended: false,
        }
    }

    /// Reads the next header block whole (or what is left of a truncated stream) and checks it.
    fn next_header(&mut self) -> io::Result<()> {
        let mut got = 0;
        while got < BLOCK {
            match self.inner.read(&mut self.block[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.block_len = got;
        self.block_pos = 0;
        if got < BLOCK {
            // Truncated: pass it on and let the reader report it.
            self.ended = true;
            return Ok(());
        }
        if self.block.iter().all(|&b| b == 0) {
            self.ended = true;
            return Ok(());
        }
        self.check_header()
    }

    fn check_header(&mut self) -> io::Result<()> {
        let kind = self.block[156];
        let stored = parse_size(&self.block[124..136]);
        let too_much = |what: String| Err(io::Error::new(io::ErrorKind::InvalidData, what));
        match kind {
            b'x' | b'g' | b'L' | b'K' => {
                let Some(size) = stored else {
                    return too_much("a tar extension header has an unreadable size".to_owned());
                };
                if size > self.limits.max_extension {
                    let what = if kind == b'x' || kind == b'g' {
                        "PAX"
                    } else {
                        "GNU long-name"
                    };
                    return too_much(format!(
                        "a {what} extension header claims {size} bytes (the limit is {})",
                        self.limits.max_extension
                    ));
                }
                self.data_left = padded(size);
                self.pax = (kind == b'x').then(|| Vec::with_capacity(size as usize));
                Ok(())
            }
            _ => {
                // Not checked here: an unreadable size is the tar reader's error to report.
                let size = self.next_size.take().or(stored).unwrap_or(0);
                self.entries += 1;
                if self.entries > self.limits.max_entries {
                    return too_much(format!(
                        "more than {} members (the limit on entries)",
                        self.limits.max_entries
                    ));
                }
                // Links, directories and devices carry no data whatever their size field says
                // in old archives; the tar crate reads `size` bytes for every other kind.
                let data = if matches!(kind, b'1' | b'2' | b'3' | b'4' | b'5' | b'6') {
                    0
                } else {
                    size
                };
                self.bytes = self.bytes.saturating_add(data);
                if self.bytes > self.limits.max_bytes {
                    return too_much(format!(
                        "members hold more than {} bytes (the limit on data)",
                        self.limits.max_bytes
                    ));
                }
                self.data_left = padded(data);
                Ok(())
            }
        }
    }

    /// After a PAX header's data has passed: its `size` record applies to the next member.
    fn end_of_pax(&mut self) {
        if let Some(records) = self.pax.take() {
            self.next_size = pax_size(&records);
        }
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.block_pos < self.block_len {
            let n = (self.block_len - self.block_pos).min(out.len());
            out[..n].copy_from_slice(&self.block[self.block_pos..self.block_pos + n]);
            self.block_pos += n;
            return Ok(n);
        }
        if self.ended {
            return self.inner.read(out);
        }
        if self.data_left > 0 {
            let want = usize::try_from(self.data_left)
                .unwrap_or(usize::MAX)
                .min(out.len());
            let n = self.inner.read(&mut out[..want])?;
            if n == 0 {
                self.ended = true;
                return Ok(0);
            }
            self.data_left -= n as u64;
            if let Some(pax) = self.pax.as_mut() {
                pax.extend_from_slice(&out[..n]);
            }
            if self.data_left == 0 {
                self.end_of_pax();
            }
            return Ok(n);
        }
        self.next_header()?;
        self.read(out)
    }
}

fn padded(size: u64) -> u64 {
    size.div_ceil(BLOCK as u64).saturating_mul(BLOCK as u64)
}

/// A header's size field: octal (spaces and NULs around it), or GNU base-256 when the high bit
/// of the first byte is set.
fn parse_size(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|&b| b & 0x80 != 0) {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let text = std::str::from_utf8(field).ok()?;
    let digits = text.trim_matches(|c: char| c == ' ' || c == '\0');
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(digits, 8).ok()
}

/// The `size` record of PAX extended-header records (`"<len> key=value\n"`…).
fn pax_size(mut records: &[u8]) -> Option<u64> {
    let mut size = None;
    while !records.is_empty() {
        let space = records.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&records[..space]).ok()?.parse().ok()?;
        if len <= space || len > records.len() {
            return size;
        }
        let record = &records[space + 1..len];
        if let Some(value) = record.strip_prefix(b"size=") {
            let value = value.strip_suffix(b"\n").unwrap_or(value);
            size = std::str::from_utf8(value).ok()?.parse().ok();
        }
        records = &records[len..];
    }
    size
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(members: &[(&str, usize)]) -> Vec<u8> {
        let mut b = ::tar::Builder::new(Vec::new());
        for (name, size) in members {
            let mut h = ::tar::Header::new_gnu();
            h.set_size(*size as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, vec![b'x'; *size].as_slice())
                .expect("append");
        }
        b.into_inner().expect("finish")
    }

    fn read_all(bytes: &[u8], limits: TarLimits) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        Guard::new(bytes, limits).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn a_good_archive_passes_unchanged_whatever_the_read_sizes() {
        let long = "d/".repeat(80) + "file.txt"; // a GNU long-name extension
        let tar = archive(&[("a", 0), ("b", 1), (&long, 513), ("c", 100_000)]);
        assert_eq!(read_all(&tar, TarLimits::default()).ok(), Some(tar.clone()));
        // Byte by byte, too.
        let mut g = Guard::new(tar.as_slice(), TarLimits::default());
        let mut out = Vec::new();
        let mut one = [0u8; 1];
        while g.read(&mut one).expect("read") == 1 {
            out.push(one[0]);
        }
        assert_eq!(out, tar);
    }

    #[test]
    fn limits_on_entries_bytes_and_extensions_are_errors_naming_them() {
        let tar = archive(&[("a", 10), ("b", 10), ("c", 10)]);
        let few = TarLimits {
            max_entries: 2,
            ..TarLimits::default()
        };
        let e = read_all(&tar, few).expect_err("3 > 2 entries");
        assert!(e.to_string().contains("more than 2 members"), "{e}");
        let small = TarLimits {
            max_bytes: 25,
            ..TarLimits::default()
        };
        let e = read_all(&tar, small).expect_err("30 > 25 bytes");
        assert!(e.to_string().contains("more than 25 bytes"), "{e}");
        let long = "n".repeat(3000);
        let tar = archive(&[(&long, 1)]);
        let tight = TarLimits {
            max_extension: 1000,
            ..TarLimits::default()
        };
        let e = read_all(&tar, tight).expect_err("a 3 KB long name");
        assert!(e.to_string().contains("GNU long-name extension"), "{e}");
    }

    #[test]
    fn pax_size_records_are_followed() {
        assert_eq!(pax_size(b"19 size=1234567890\n"), Some(1_234_567_890));
        assert_eq!(
            pax_size(b"12 path=abc\n19 size=1234567890\n"),
            Some(1_234_567_890)
        );
        assert_eq!(pax_size(b"12 path=abc\n"), None);
        assert_eq!(pax_size(b"99 size=1\n"), None);
        assert_eq!(parse_size(b"00000001750\0"), Some(1000));
        assert_eq!(
            parse_size(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
            Some(256)
        );
    }
}
