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
///
/// It follows the stream exactly as the `tar` crate reads it (0.4's `next_entry`), with the
/// crate's own header and PAX parsers, so that the two never disagree about where a header
/// starts: sizes from `Header::entry_size`; a PAX `size` (the first valid record, none if any
/// record is malformed) replaces the size of the next header that is not an extension; GNU
/// long names and PAX headers with ustar/GNU magic are held for the next member, anything else
/// is a member; GNU sparse extension blocks follow their header. Where the crate would fail
/// (a bad checksum or size), the guard stops looking and lets the crate report it.
pub(crate) struct Guard<R> {
    inner: R,
    limits: TarLimits,
    block: [u8; BLOCK],
    /// Bytes of `block` filled and already handed out.
    block_len: usize,
    block_pos: usize,
    /// Data (with padding) of the current member still to pass.
    data_left: u64,
    /// Of that, how many bytes are PAX records still to keep.
    pax_left: u64,
    /// GNU sparse extension blocks follow before the data.
    sparse_ext: bool,
    /// The records of a PAX header waiting for its member.
    pax: Option<Vec<u8>>,
    entries: u64,
    bytes: u64,
    /// End of archive, or a header the `tar` crate will refuse: the rest passes untouched.
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
            pax_left: 0,
            sparse_ext: false,
            pax: None,
            entries: 0,
            bytes: 0,
            ended: false,
        }
    }

    /// Reads the next block whole (or what is left of a truncated stream) and checks it.
    fn next_block(&mut self) -> io::Result<()> {
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
        if self.sparse_ext {
            // A GNU sparse extension block: another follows while its `isextended` is set.
            self.sparse_ext = self.block[504] != 0;
            return Ok(());
        }
        if self.block.iter().all(|&b| b == 0) {
            self.ended = true;
            return Ok(());
        }
        self.check_header()
    }

    fn check_header(&mut self) -> io::Result<()> {
        let header = ::tar::Header::from_byte_slice(&self.block);
        let sum: u32 = self.block[..148]
            .iter()
            .chain(&self.block[156..])
            .map(|&b| u32::from(b))
            .sum::<u32>()
            + 8 * 32;
        let Ok(stored) = header.entry_size() else {
            self.ended = true; // the crate fails on this header
            return Ok(());
        };
        if header.cksum().ok() != Some(sum) {
            self.ended = true;
            return Ok(());
        }
        let kind = header.entry_type();
        let extension = kind.is_gnu_longname()
            || kind.is_gnu_longlink()
            || kind.is_pax_local_extensions()
            || kind.is_pax_global_extensions();
        let recognized = header.as_gnu().is_some() || header.as_ustar().is_some();
        let too_much = |what: String| Err(io::Error::new(io::ErrorKind::InvalidData, what));
        let held = recognized
            && (kind.is_gnu_longname() || kind.is_gnu_longlink() || kind.is_pax_local_extensions());
        if held {
            // Read into memory by the crate: this is what `max_extension` bounds.
            if stored > self.limits.max_extension {
                let what = if kind.is_pax_local_extensions() {
                    "PAX"
                } else {
                    "GNU long-name"
                };
                return too_much(format!(
                    "a {what} extension header claims {stored} bytes (the limit is {})",
                    self.limits.max_extension
                ));
            }
            if kind.is_pax_local_extensions() {
                self.pax = Some(Vec::with_capacity(stored as usize));
                self.pax_left = stored;
            }
            self.data_left = padded(stored);
            return Ok(());
        }
        // A member (anything the crate returns): it takes the pending PAX records with it.
        let pax = self.pax.take();
        let size = match pax.as_deref().filter(|_| !extension).and_then(pax_size) {
            Some(size) => size,
            None => stored,
        };
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return too_much(format!(
                "more than {} members (the limit on entries)",
                self.limits.max_entries
            ));
        }
        self.bytes = self.bytes.saturating_add(size);
        if self.bytes > self.limits.max_bytes {
            return too_much(format!(
                "members hold more than {} bytes (the limit on data)",
                self.limits.max_bytes
            ));
        }
        self.sparse_ext =
            kind.is_gnu_sparse() && header.as_gnu().is_some_and(::tar::GnuHeader::is_extended);
        self.data_left = padded(size);
        Ok(())
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
        if self.data_left > 0 && !self.sparse_ext {
            let want = usize::try_from(self.data_left)
                .unwrap_or(usize::MAX)
                .min(out.len());
            let n = self.inner.read(&mut out[..want])?;
            if n == 0 {
                self.ended = true;
                return Ok(0);
            }
            self.data_left -= n as u64;
            if self.pax_left > 0
                && let Some(pax) = self.pax.as_mut()
            {
                let keep = (self.pax_left as usize).min(n);
                pax.extend_from_slice(&out[..keep]);
                self.pax_left -= keep as u64;
            }
            return Ok(n);
        }
        self.next_block()?;
        self.read(out)
    }
}

fn padded(size: u64) -> u64 {
    size.div_ceil(BLOCK as u64).saturating_mul(BLOCK as u64)
}

/// The PAX `size` record as the `tar` crate reads it: the first one, and none at all when a
/// record before it is malformed or its value is not a number.
fn pax_size(records: &[u8]) -> Option<u64> {
    for record in ::tar::PaxExtensions::new(records) {
        let record = record.ok()?;
        if record.key() == Ok("size") {
            return record.value().ok()?.parse().ok();
        }
    }
    None
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

    /// A raw ustar header block (checksum filled in).
    fn raw_header(name: &str, kind: u8, size: u64) -> Vec<u8> {
        let mut h = ::tar::Header::new_ustar();
        h.set_path(name).expect("name");
        h.set_size(size);
        h.set_mode(0o644);
        h.set_entry_type(::tar::EntryType::new(kind));
        h.set_cksum();
        h.as_bytes().to_vec()
    }

    fn pad(v: &mut Vec<u8>) {
        v.resize(v.len().div_ceil(512) * 512, 0);
    }

    /// Reads `tar` through the guard with the `tar` crate: each member's name and length.
    fn members(tar: &[u8], limits: TarLimits) -> io::Result<Vec<(String, usize)>> {
        let mut ar = ::tar::Archive::new(Guard::new(tar, limits));
        let mut out = Vec::new();
        for e in ar.entries()? {
            let mut e = e?;
            let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
            let mut body = Vec::new();
            e.read_to_end(&mut body)?;
            out.push((name, body.len()));
        }
        Ok(out)
    }

    fn one_entry() -> TarLimits {
        TarLimits {
            max_entries: 1,
            ..TarLimits::default()
        }
    }

    #[test]
    fn a_pax_size_record_moves_the_next_boundary_as_the_crate_does() {
        // `size=1000` over a header that says 0, then the 1000 bytes, then another member whose
        // data starts with a zero block (a guard that ignored the record would stop there).
        let mut tar = raw_header("PaxHeaders/big", b'x', 13);
        tar.extend_from_slice(b"13 size=1000\n");
        pad(&mut tar);
        tar.extend(raw_header("big", b'0', 0));
        tar.extend(vec![0u8; 1000]);
        pad(&mut tar);
        tar.extend(raw_header("next", b'0', 3));
        tar.extend_from_slice(b"abc");
        pad(&mut tar);
        tar.extend(vec![0u8; 1024]);
        let got = members(&tar, TarLimits::default()).expect("reads");
        assert_eq!(got, [("big".to_owned(), 1000), ("next".to_owned(), 3)]);
        let e = members(&tar, one_entry()).expect_err("the guard saw the second member");
        assert!(e.to_string().contains("more than 1 members"), "{e}");
    }

    #[test]
    fn links_and_directories_with_a_size_carry_data_as_the_crate_reads_it() {
        let mut tar = raw_header("d/", b'5', 512);
        tar.extend(vec![0u8; 512]); // the directory's "data": a zero block, not the end
        tar.extend(raw_header("f", b'0', 2));
        tar.extend_from_slice(b"hi");
        pad(&mut tar);
        tar.extend(vec![0u8; 1024]);
        assert_eq!(members(&tar, TarLimits::default()).expect("reads").len(), 2);
        assert!(
            members(&tar, one_entry()).is_err(),
            "the second member is counted"
        );
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
        // The first record wins; a malformed one before it hides it, as in the crate.
        assert_eq!(pax_size(b"9 size=1\n9 size=2\n"), Some(1));
        assert_eq!(pax_size(b"3 x\n9 size=1\n"), None);
    }
}
