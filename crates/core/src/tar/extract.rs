//! Safe extraction: an archive from anywhere, unpacked so that nothing lands outside the
//! target directory.
//!
//! Refused (the extraction stops with an error naming the member): absolute names, names with
//! a `..` component, symlinks whose target leaves the target directory, hardlinks to anything
//! outside it or to a symlink, writing through a symlink (a member below a path that is a
//! symlink on disk), device nodes and FIFOs. PAX sizes and long names are honoured (the
//! archive reader, shared with the scanner, gives them); directory modes are applied after
//! their contents; set-id bits are dropped. A truncated or malformed archive is an error; what
//! was extracted before it stays, inside the target.

use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use super::TarLimits;
use super::archive::{ArchiveError, ArchiveReader, Member};

/// Why an archive was not (completely) extracted.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ExtractError(Repr);

#[derive(Debug, thiserror::Error)]
enum Repr {
    #[error("{member}: refused: {reason}")]
    Refused {
        member: String,
        reason: &'static str,
    },
    #[error("bad archive{}: {source}", member.as_deref().map(|m| format!(" at {m}")).unwrap_or_default())]
    Archive {
        member: Option<String>,
        source: io::Error,
    },
    #[error("{path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// What kind of thing went wrong in an [`ExtractError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtractErrorKind {
    /// A member that would write outside the target, or a kind that is never extracted.
    Refused,
    /// The archive is truncated, malformed or beyond its limits (the cause is the error's
    /// `source`).
    Archive,
    /// Writing into the target failed (the cause is the error's `source`).
    Write,
}

impl ExtractError {
    /// What went wrong.
    pub fn kind(&self) -> ExtractErrorKind {
        match self.0 {
            Repr::Refused { .. } => ExtractErrorKind::Refused,
            Repr::Archive { .. } => ExtractErrorKind::Archive,
            Repr::Write { .. } => ExtractErrorKind::Write,
        }
    }

    /// The member at fault, its name as stored: the one refused, or the one being read when
    /// the archive broke.
    pub fn member(&self) -> Option<&str> {
        match &self.0 {
            Repr::Refused { member, .. } => Some(member),
            Repr::Archive { member, .. } => member.as_deref(),
            Repr::Write { .. } => None,
        }
    }

    /// The file or directory that could not be written.
    pub fn path(&self) -> Option<&Path> {
        match &self.0 {
            Repr::Write { path, .. } => Some(path),
            _ => None,
        }
    }

    fn write(path: PathBuf, source: io::Error) -> Self {
        ExtractError(Repr::Write { path, source })
    }
}

impl From<ArchiveError> for ExtractError {
    fn from(e: ArchiveError) -> Self {
        ExtractError(Repr::Archive {
            member: e.member,
            source: e.source,
        })
    }
}

/// What an extraction wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Regular files.
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Symbolic and hard links.
    pub links: u64,
    /// Bytes of file content.
    pub bytes: u64,
}

/// Extracts the tar read from `archive` into the existing directory `dest`, within `limits`
/// ([`TarLimits::default`] unless the caller has its own).
///
/// Refused, stopping the extraction with an error naming the member: absolute names, `..`
/// components, symlinks whose target leaves `dest`, hardlinks to anything outside it or to a
/// non-file, writing through a symlink, device nodes and FIFOs. Directory modes are applied
/// after their contents; set-id bits are dropped.
///
/// A gzip-compressed archive (`.tar.gz`, `.tgz`) is recognised by its first bytes and
/// decompressed as it streams. An archive with more members or member bytes than `limits`
/// allow, or a PAX / GNU long-name extension larger than they allow, stops with an
/// [`ExtractError`] of kind [`Archive`](ExtractErrorKind::Archive) naming the limit (what was
/// extracted before it stays, inside `dest`).
///
/// ```
/// use capstan::tar::{TarLimits, extract_limited};
/// let dir = std::env::temp_dir().join(format!("capstan-doc-extract-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let mut b = tar::Builder::new(Vec::new());
/// let mut h = tar::Header::new_ustar();
/// h.set_size(3);
/// h.set_mode(0o644);
/// b.append_data(&mut h, "a/b.txt", &b"hi\n"[..])?;
/// let done = extract_limited(b.into_inner()?.as_slice(), &dir, TarLimits::default())?;
/// assert_eq!(done.files, 1);
/// assert_eq!(std::fs::read(dir.join("a/b.txt"))?, b"hi\n");
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// ```
/// use capstan::tar::{TarLimits, extract_limited};
/// let dir = std::env::temp_dir().join(format!("capstan-doc-limited-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let mut b = tar::Builder::new(Vec::new());
/// for name in ["a", "b", "c"] {
///     let mut h = tar::Header::new_ustar();
///     h.set_size(0);
///     h.set_mode(0o644);
///     b.append_data(&mut h, name, &b""[..])?;
/// }
/// let limits = TarLimits { max_entries: 2, ..TarLimits::default() };
/// let err = extract_limited(b.into_inner()?.as_slice(), &dir, limits).unwrap_err();
/// assert!(err.to_string().contains("more than 2 members"));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn extract_limited<R: Read>(
    archive: R,
    dest: &Path,
    limits: TarLimits,
) -> Result<Extracted, ExtractError> {
    let mut archive = io::BufReader::new(archive);
    let head = io::BufRead::fill_buf(&mut archive).map_err(|source| {
        ExtractError(Repr::Archive {
            member: None,
            source,
        })
    })?;
    if head.starts_with(&GZIP_MAGIC) {
        extract_tar(flate2::read::MultiGzDecoder::new(archive), dest, limits)
    } else {
        extract_tar(archive, dest, limits)
    }
}

/// The first bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

fn extract_tar<R: Read>(
    archive: R,
    dest: &Path,
    limits: TarLimits,
) -> Result<Extracted, ExtractError> {
    let mut done = Extracted::default();
    let mut dir_modes: Vec<(PathBuf, u32)> = Vec::new();
    let mut tar = ArchiveReader::new(archive, limits);
    let members = tar.members()?;
    let mut known = Verified::default();
    let result = (|| {
        for member in members {
            unpack(&mut member?, dest, &mut done, &mut dir_modes, &mut known)?;
        }
        Ok(())
    })();
    // Directory modes last (a read-only directory still received its files), deepest first.
    dir_modes.sort_by(|a, b| b.0.cmp(&a.0));
    for (dir, mode) in dir_modes {
        set_mode(&dir, mode).map_err(|source| ExtractError::write(dir, source))?;
    }
    result.map(|()| done)
}

/// Writes one member under `dest`, or refuses it.
fn unpack<R: Read>(
    member: &mut Member<'_, R>,
    dest: &Path,
    done: &mut Extracted,
    dir_modes: &mut Vec<(PathBuf, u32)>,
    known: &mut Verified,
) -> Result<(), ExtractError> {
    let name = member.name().into_owned();
    let refuse = |reason| {
        ExtractError(Repr::Refused {
            member: name.clone(),
            reason,
        })
    };
    let rel =
        safe_relative(member.name_bytes()).ok_or_else(|| refuse("absolute name or `..` escape"))?;
    if rel.as_os_str().is_empty() {
        return Ok(());
    }
    let target = dest.join(&rel);
    ensure_no_symlink_between(dest, &rel, known).map_err(|e| match e {
        Some(reason) => refuse(reason),
        None => refuse("a parent is not a directory"),
    })?;
    let mode = member.mode().unwrap_or(0o644) & 0o777;
    let write = |source| ExtractError::write(target.clone(), source);
    match member.kind() {
        ::tar::EntryType::Directory => {
            mkdirs(dest, &rel, known).map_err(write)?;
            dir_modes.push((target.clone(), mode));
            done.dirs += 1;
        }
        _ if member.is_file() => {
            if let Some(parent) = rel.parent() {
                mkdirs(dest, parent, known).map_err(write)?;
            }
            remove_existing(&target).map_err(write)?;
            let mut f = create_new(&target, mode).map_err(write)?;
            let n = io::copy(member, &mut f).map_err(|source| member.error(source))?;
            if let Err(e) = member.ensure_complete(n) {
                // The archive ended inside this member: no half file is left behind.
                drop(f);
                let _ = std::fs::remove_file(&target);
                return Err(e.into());
            }
            done.files += 1;
            done.bytes += n;
        }
        ::tar::EntryType::Symlink => {
            let link = member
                .link_name_bytes()
                .ok_or_else(|| refuse("a symlink without a target"))?
                .into_owned();
            if !symlink_stays_inside(&rel, &link) {
                return Err(refuse("symlink target leaves the directory"));
            }
            if let Some(parent) = rel.parent() {
                mkdirs(dest, parent, known).map_err(write)?;
            }
            remove_existing(&target).map_err(write)?;
            make_symlink(&link, &target).map_err(write)?;
            done.links += 1;
        }
        ::tar::EntryType::Link => {
            let link = member
                .link_name_bytes()
                .ok_or_else(|| refuse("a hardlink without a target"))?
                .into_owned();
            let from = safe_relative(&link)
                .filter(|p| !p.as_os_str().is_empty())
                .ok_or_else(|| refuse("hardlink target leaves the directory"))?;
            ensure_no_symlink_between(dest, &from, known)
                .map_err(|_| refuse("hardlink target is reached through a symlink"))?;
            let source = dest.join(&from);
            let meta = std::fs::symlink_metadata(&source)
                .map_err(|_| refuse("hardlink target does not exist (yet)"))?;
            if !meta.is_file() {
                return Err(refuse("hardlink target is not a regular file"));
            }
            if let Some(parent) = rel.parent() {
                mkdirs(dest, parent, known).map_err(write)?;
            }
            remove_existing(&target).map_err(write)?;
            std::fs::hard_link(&source, &target).map_err(write)?;
            done.links += 1;
        }
        ::tar::EntryType::Char | ::tar::EntryType::Block => {
            return Err(refuse("device node"));
        }
        ::tar::EntryType::Fifo => return Err(refuse("FIFO")),
        // PAX and GNU metadata members are consumed by the reader; anything else
        // (a GNU volume label, say) carries no file.
        _ => {}
    }
    Ok(())
}

/// The member name as a relative path of normal components; `None` for an absolute name or
/// any `..`.
fn safe_relative(raw: &[u8]) -> Option<PathBuf> {
    let s = String::from_utf8_lossy(raw);
    if s.starts_with('/') || s.contains('\0') {
        return None;
    }
    let mut out = PathBuf::new();
    for c in Path::new(&*bytes_path(raw)).components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(unix)]
fn bytes_path(raw: &[u8]) -> std::borrow::Cow<'_, Path> {
    use std::os::unix::ffi::OsStrExt;
    std::borrow::Cow::Borrowed(Path::new(std::ffi::OsStr::from_bytes(raw)))
}

#[cfg(not(unix))]
fn bytes_path(raw: &[u8]) -> std::borrow::Cow<'_, Path> {
    std::borrow::Cow::Owned(PathBuf::from(String::from_utf8_lossy(raw).into_owned()))
}

/// Every existing ancestor of `dest/rel` below `dest` must be a real directory, not a symlink.
fn ensure_no_symlink_between(
    dest: &Path,
    rel: &Path,
    known: &mut Verified,
) -> Result<(), Option<&'static str>> {
    let parts: Vec<_> = rel.components().collect();
    let parents = &parts[..parts.len().saturating_sub(1)];
    let skip = known.prefix(parents);
    let mut cur: PathBuf = dest.join(parents[..skip].iter().collect::<PathBuf>());
    for (i, c) in parents.iter().enumerate().skip(skip) {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => return Err(Some("writing through a symlink")),
            Ok(m) if !m.is_dir() => return Err(None),
            Ok(_) => known.add(&parents[..=i]),
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// Whether a symlink at `rel` pointing at `target` resolves (lexically) inside the root.
fn symlink_stays_inside(rel: &Path, target: &[u8]) -> bool {
    let t = String::from_utf8_lossy(target);
    if t.starts_with('/') || t.is_empty() {
        return false;
    }
    let mut depth = rel.parent().map_or(0, |p| p.components().count());
    // Only `..`s first, then names: a `..` after a name could climb out through a symlink
    // (`d -> .`, then `e -> d/d/d/../../..`), so such targets are refused outright.
    let mut descended = false;
    for c in Path::new(&*bytes_path(target)).components() {
        match c {
            Component::Normal(_) => {
                descended = true;
                depth += 1;
            }
            Component::ParentDir if descended => return false,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            _ => return false,
        }
    }
    true
}

/// Creates `dest/rel` and its parents, refusing to pass through symlinks.
fn mkdirs(dest: &Path, rel: &Path, known: &mut Verified) -> io::Result<()> {
    let parts: Vec<_> = rel.components().collect();
    let skip = known.prefix(&parts);
    let mut cur: PathBuf = dest.join(parts[..skip].iter().collect::<PathBuf>());
    for (i, c) in parts.iter().enumerate().skip(skip) {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "exists and is not a directory",
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                std::fs::create_dir(&cur)?;
            }
            Err(e) => return Err(e),
        }
        known.add(&parts[..=i]);
    }
    Ok(())
}

/// Directories below the target (relative paths) already checked to be real directories, not
/// symlinks: each is checked once per extraction, not once per member below it (a deep tree
/// would otherwise cost depth² system calls). They stay directories: `remove_existing` never
/// removes one.
#[derive(Default)]
struct Verified(std::collections::HashSet<PathBuf>);

impl Verified {
    /// How many leading components of `parts` are known directories (longest first: usually
    /// the parent is, and one lookup answers).
    fn prefix(&self, parts: &[Component<'_>]) -> usize {
        (1..=parts.len())
            .rev()
            .find(|&n| self.0.contains(&parts[..n].iter().collect::<PathBuf>()))
            .unwrap_or(0)
    }

    fn add(&mut self, parts: &[Component<'_>]) {
        self.0.insert(parts.iter().collect());
    }
}

/// Removes a file or link already at `path` (never following it); directories stay.
fn remove_existing(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "a directory is in the way",
        )),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn create_new(path: &Path, mode: u32) -> io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, mode);
    #[cfg(not(unix))]
    let _ = mode;
    o.open(path)
}

#[cfg(unix)]
fn make_symlink(target: &[u8], at: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(&*bytes_path(target), at)
}

#[cfg(not(unix))]
fn make_symlink(_: &[u8], _: &Path) -> io::Result<()> {
    Err(io::Error::other("symlinks are not supported here"))
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) -> io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_link_targets_are_judged_lexically() {
        assert!(safe_relative(b"a/./b").is_some());
        for bad in [&b"/etc/passwd"[..], b"../x", b"a/../../x", b"a/.."] {
            assert!(
                safe_relative(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        assert!(symlink_stays_inside(Path::new("a/b/link"), b"../c"));
        assert!(symlink_stays_inside(Path::new("a/link"), b"../c"));
        assert!(!symlink_stays_inside(Path::new("link"), b"../c"));
        assert!(!symlink_stays_inside(Path::new("a/link"), b"/etc"));
        assert!(!symlink_stays_inside(Path::new("a/link"), b"x/../../.."));
        assert!(!symlink_stays_inside(
            Path::new("e"),
            b"d/d/d/../../../etc/passwd"
        ));
        assert!(
            !symlink_stays_inside(Path::new("a/b/e"), b"x/../y"),
            "not clean"
        );
        assert!(symlink_stays_inside(Path::new("a/b/e"), b"../../y/z"));
    }
}
