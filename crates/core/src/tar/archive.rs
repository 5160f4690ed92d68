//! The archive reader shared by extraction (`extract_limited`) and scanning (the tree scanner's
//! look into archives): a tar stream from an untrusted source, opened from any [`Read`] through
//! the [`Guard`] within given [`TarLimits`], and read member by member.
//!
//! A [`Member`] gives its name's bytes (a PAX `path` or GNU long name when there is one; the
//! `tar` crate reads them), its kind, its size (a PAX `size`, a GNU sparse member's expanded
//! size) and its data as a [`Read`] (a sparse member's holes read as zeros). What goes wrong in
//! the archive itself has one shape, [`ArchiveError`], naming the member when there is one.
//! What to do with a member (write it, scan it, refuse it) is the caller's.

use std::borrow::Cow;
use std::io::{self, Read};

use super::TarLimits;
use super::guard::Guard;

/// The archive is truncated, malformed or beyond its limits; at `member` when the trouble was
/// inside one.
#[derive(Debug, thiserror::Error)]
#[error("bad archive{}: {source}", .member.as_deref().map(|m| format!(" at {m}")).unwrap_or_default())]
pub(crate) struct ArchiveError {
    /// The member being read (its name as stored, lossy UTF-8), if any.
    pub(crate) member: Option<String>,
    /// The cause.
    pub(crate) source: io::Error,
}

impl ArchiveError {
    fn outside(source: io::Error) -> Self {
        ArchiveError {
            member: None,
            source,
        }
    }
}

/// A guarded tar archive read from `R`.
pub(crate) struct ArchiveReader<R: Read> {
    archive: ::tar::Archive<Guard<R>>,
}

impl<R: Read> ArchiveReader<R> {
    /// Opens the tar read from `reader`; a header that breaks `limits` ends the members with
    /// an [`ArchiveError`] naming the limit.
    pub(crate) fn new(reader: R, limits: TarLimits) -> Self {
        ArchiveReader {
            archive: ::tar::Archive::new(Guard::new(reader, limits)),
        }
    }

    /// The members, in archive order (PAX and GNU extension headers are consumed, not
    /// returned). Read each one's data, or not, before asking for the next.
    pub(crate) fn members(&mut self) -> Result<Members<'_, R>, ArchiveError> {
        let entries = self.archive.entries().map_err(ArchiveError::outside)?;
        Ok(Members { entries })
    }
}

/// The members of an [`ArchiveReader`]; after an error there are no more.
pub(crate) struct Members<'a, R: Read> {
    entries: ::tar::Entries<'a, Guard<R>>,
}

impl<'a, R: Read> Iterator for Members<'a, R> {
    type Item = Result<Member<'a, R>, ArchiveError>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = match self.entries.next()? {
            Ok(entry) => entry,
            Err(e) => return Some(Err(ArchiveError::outside(e))),
        };
        let name = entry.path_bytes().into_owned();
        Some(Ok(Member { entry, name }))
    }
}

/// One member: its header's facts and its data.
pub(crate) struct Member<'a, R: Read> {
    entry: ::tar::Entry<'a, Guard<R>>,
    name: Vec<u8>,
}

impl<R: Read> Member<'_, R> {
    /// The name's bytes as stored (a PAX `path` or GNU long name when there is one).
    pub(crate) fn name_bytes(&self) -> &[u8] {
        &self.name
    }

    /// The name for messages (lossy UTF-8).
    pub(crate) fn name(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.name)
    }

    /// The header's entry type.
    pub(crate) fn kind(&self) -> ::tar::EntryType {
        self.entry.header().entry_type()
    }

    /// Whether the member is a file with data: regular, contiguous or GNU sparse.
    pub(crate) fn is_file(&self) -> bool {
        let kind = self.kind();
        kind.is_file() || kind.is_contiguous() || kind.is_gnu_sparse()
    }

    /// The size of its data (a PAX `size` when there is one; a sparse member's expanded size).
    pub(crate) fn size(&self) -> u64 {
        self.entry.size()
    }

    /// The header's mode bits, if they are readable.
    pub(crate) fn mode(&self) -> Option<u32> {
        self.entry.header().mode().ok()
    }

    /// A link's target as stored (a PAX `linkpath` or GNU long link when there is one).
    pub(crate) fn link_name_bytes(&self) -> Option<Cow<'_, [u8]>> {
        self.entry.link_name_bytes()
    }

    /// `source` (met while reading this member's data) as an error naming the member.
    pub(crate) fn error(&self, source: io::Error) -> ArchiveError {
        ArchiveError {
            member: Some(self.name().into_owned()),
            source,
        }
    }

    /// An error naming the member when only `read` of its [`size`](Self::size) bytes could be
    /// read: the archive ended inside it (its data reads as a short file, not as an error).
    pub(crate) fn ensure_complete(&self, read: u64) -> Result<(), ArchiveError> {
        let size = self.size();
        if read < size {
            return Err(self.error(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("truncated: {read} of {size} bytes"),
            )));
        }
        Ok(())
    }
}

impl<R: Read> Read for Member<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.entry.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(members: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = ::tar::Builder::new(Vec::new());
        for (name, data) in members {
            let mut h = ::tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, name, *data).expect("append");
        }
        b.into_inner().expect("finish")
    }

    #[test]
    fn members_come_with_long_names_sizes_and_data() {
        let long = "d/".repeat(80) + "file.txt";
        let tar = archive(&[("a", b"one"), (&long, b"two!")]);
        let mut reader = ArchiveReader::new(tar.as_slice(), TarLimits::default());
        let mut got = Vec::new();
        for m in reader.members().expect("members") {
            let mut m = m.expect("member");
            assert!(m.is_file());
            let mut data = Vec::new();
            m.read_to_end(&mut data).expect("data");
            m.ensure_complete(data.len() as u64).expect("whole");
            got.push((m.name().into_owned(), m.size(), data));
        }
        assert_eq!(
            got,
            [
                ("a".to_owned(), 3, b"one".to_vec()),
                (long, 4, b"two!".to_vec())
            ]
        );
    }

    #[test]
    fn errors_name_the_member_or_the_limit() {
        let tar = archive(&[("a", b"x"), ("b", b"y")]);
        let few = TarLimits {
            max_entries: 1,
            ..TarLimits::default()
        };
        let mut reader = ArchiveReader::new(tar.as_slice(), few);
        let mut members = reader.members().expect("members");
        let first = members.next().expect("one").expect("the first is fine");
        let e = first.ensure_complete(0).expect_err("short");
        assert_eq!(e.to_string(), "bad archive at a: truncated: 0 of 1 bytes");
        drop(first);
        let e = members
            .next()
            .expect("an error")
            .err()
            .expect("over the limit");
        assert!(e.member.is_none());
        assert!(
            e.to_string()
                .starts_with("bad archive: more than 1 members"),
            "{e}"
        );
        assert!(members.next().is_none(), "nothing after an error");
    }
}
