//! The tar writer: a selected context as a deterministic PAX tar (ustar headers, PAX records
//! for long names and large sizes, padding), each file copied exactly once past the observer.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::path::Path;

use super::{ByteObserver, Context, ContextError, Entry, Kind, NoObserver};
use crate::pool::BufPool;

/// Copy buffer size.
const COPY: usize = 32 << 10;
/// The largest size a ustar header's 11 octal digits hold; larger files get a PAX `size`.
const USTAR_MAX_SIZE: u64 = 0o777_7777_7777;

impl Context {
    /// Writes the context as a PAX tar: entries in name order, mtime fixed, uid/gid 0, no user
    /// or group names, modes kept. Returns the bytes written.
    pub fn write_to<W: Write>(&self, out: W) -> Result<u64, ContextError> {
        self.write_observed(out, &mut NoObserver)
    }

    /// [`write_to`](Self::write_to), handing every regular file's bytes to `observer` as they
    /// are copied: each file is read once.
    pub fn write_observed<W: Write>(
        &self,
        mut out: W,
        observer: &mut dyn ByteObserver,
    ) -> Result<u64, ContextError> {
        let mut written = 0u64;
        let mut buf = BufPool::global().get(COPY);
        buf.resize(COPY, 0);
        for e in &self.entries {
            written += self.header(e, &mut out)?;
            if let Kind::File { size } = e.kind {
                observer.start(&e.name);
                written += copy_exact(&e.path, size, &mut out, &mut buf, observer)?;
                let pad = padding(size);
                out.write_all(&[0u8; 512][..pad])
                    .map_err(ContextError::write)?;
                written += pad as u64;
                if let Err(reason) = observer.end() {
                    poison(&mut out);
                    return Err(ContextError::stopped(e.name.clone(), reason));
                }
            }
        }
        if let Err(reason) = observer.finish() {
            poison(&mut out);
            return Err(ContextError::stopped("the context", reason));
        }
        out.write_all(&[0u8; 1024]).map_err(ContextError::write)?;
        out.flush().map_err(ContextError::write)?;
        Ok(written + 1024)
    }

    fn header<W: Write>(&self, e: &Entry, out: &mut W) -> Result<u64, ContextError> {
        let mut h = ::tar::Header::new_ustar();
        let mut pax: Vec<(&str, Vec<u8>)> = Vec::new();
        let (ty, size) = match &e.kind {
            Kind::Dir => (::tar::EntryType::Directory, 0),
            Kind::File { size } => (::tar::EntryType::Regular, *size),
            Kind::Symlink { .. } => (::tar::EntryType::Symlink, 0),
            Kind::Hardlink { .. } => (::tar::EntryType::Link, 0),
        };
        h.set_entry_type(ty);
        h.set_mode(e.mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(self.mtime);
        if size > USTAR_MAX_SIZE {
            pax.push(("size", size.to_string().into_bytes()));
            h.set_size(0);
        } else {
            h.set_size(size);
        }
        let name = e.tar_name();
        if !fits_ustar_path(&mut h, name) {
            pax.push(("path", name.to_vec()));
            set_truncated_name(&mut h, name);
        }
        let link: Option<&[u8]> = match &e.kind {
            Kind::Symlink { target } => Some(target),
            Kind::Hardlink { target } => Some(target.as_slice()),
            _ => None,
        };
        if let Some(target) = link {
            if target.len() <= 100 {
                h.set_link_name_literal(target)
                    .map_err(|source| ContextError::read(&e.path, source))?;
            } else {
                pax.push(("linkpath", target.to_vec()));
            }
        }
        h.set_cksum();
        let mut written = 0;
        if !pax.is_empty() {
            written += write_pax(out, &e.name, &pax, self.mtime)?;
        }
        out.write_all(h.as_bytes()).map_err(ContextError::write)?;
        Ok(written + 512)
    }
}

/// Sets a ustar name (with the 155-byte prefix split) when the name fits.
fn fits_ustar_path(h: &mut ::tar::Header, name: &[u8]) -> bool {
    use std::os::unix::ffi::OsStrExt;
    name.len() <= 255
        && h.set_path(Path::new(OsStr::from_bytes(name))).is_ok()
        && h.path_bytes().as_ref() == name
}

fn set_truncated_name(h: &mut ::tar::Header, name: &[u8]) {
    if let Some(u) = h.as_ustar_mut() {
        let n = name.len().min(100);
        u.name = [0; 100];
        u.name[..n].copy_from_slice(&name[..n]);
        u.prefix = [0; 155];
    }
}

/// A PAX extended header (`x`) carrying `records` for the entry `name` that follows.
fn write_pax<W: Write>(
    out: &mut W,
    name: &str,
    records: &[(&str, Vec<u8>)],
    mtime: u64,
) -> Result<u64, ContextError> {
    let mut body = Vec::new();
    for (key, value) in records {
        // "LEN key=value\n", LEN counting its own digits.
        let rest = key.len() + value.len() + 3;
        let mut len = rest + 1;
        while len != rest + len.to_string().len() {
            len = rest + len.to_string().len();
        }
        body.extend_from_slice(format!("{len} {key}=").as_bytes());
        body.extend_from_slice(value);
        body.push(b'\n');
    }
    let mut h = ::tar::Header::new_ustar();
    h.set_entry_type(::tar::EntryType::XHeader);
    h.set_mode(0o644);
    h.set_mtime(mtime);
    h.set_size(body.len() as u64);
    let short: String = name.chars().filter(|&c| c != '/').take(80).collect();
    set_truncated_name(&mut h, format!("PaxHeaders/{short}").as_bytes());
    h.set_cksum();
    out.write_all(h.as_bytes()).map_err(ContextError::write)?;
    out.write_all(&body).map_err(ContextError::write)?;
    let pad = padding(body.len() as u64);
    out.write_all(&[0u8; 512][..pad])
        .map_err(ContextError::write)?;
    Ok(512 + body.len() as u64 + pad as u64)
}

/// Ends a stopped context with a block no tar reader accepts as a header (its checksum field
/// is not octal): readers treat a tar that merely stops at a header boundary as complete, and a
/// gzip stream gets a valid trailer when its encoder is dropped, so only a bad block makes the
/// consumer fail.
fn poison<W: Write>(out: &mut W) {
    let _ = out.write_all(&[0xff; 512]);
    let _ = out.flush();
}

fn padding(size: u64) -> usize {
    ((512 - size % 512) % 512) as usize
}

/// Copies exactly `size` bytes of `path`; a file that grew or shrank is an error.
fn copy_exact<W: Write>(
    path: &Path,
    size: u64,
    out: &mut W,
    buf: &mut [u8],
    observer: &mut dyn ByteObserver,
) -> Result<u64, ContextError> {
    let read_err = |source| ContextError::read(path, source);
    let mut f = std::fs::File::open(path).map_err(read_err)?;
    let mut left = size;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = match f.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(ContextError::changed(path, size, size - left));
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_err(e)),
        };
        observer.bytes(&buf[..n]);
        out.write_all(&buf[..n]).map_err(ContextError::write)?;
        left -= n as u64;
    }
    // One more byte would mean the file grew.
    let mut probe = [0u8; 1];
    match f.read(&mut probe) {
        Ok(0) => Ok(size),
        Ok(_) => Err(ContextError::changed(path, size, size + 1)),
        Err(e) => Err(read_err(e)),
    }
}
