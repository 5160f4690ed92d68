//! Findings handed to C: a list built once, read by index, serialised on demand.

use std::ffi::{CStr, CString, c_char};

use core_capstan::scan::{
    Confidence, Finding, GitOrigin, ImageOrigin, Issue, ScanOutcome, ScanStats, Verified,
};

use crate::{
    FfiError, boundary, c_string, capstan_status, give, give_string, handle, out_param, put, quiet,
    take,
};

/// The findings of one scan, in order (path, line, column, rule), and the files that could not
/// be read. Immutable: share it freely between threads. Strings borrowed from it live until
/// `capstan_findings_free`.
pub struct capstan_findings {
    findings: Vec<Finding>,
    /// NUL-terminated copies of each finding's text fields, in `capstan_finding` order.
    texts: Vec<[CString; TEXTS]>,
    /// NUL-terminated copies of the fields read by accessor (not in `capstan_finding`).
    extras: Vec<Extras>,
    errors: Vec<CString>,
    /// Findings left out by a baseline or an ignore file.
    suppressed: u64,
    /// Findings left out for a confidence below the request's minimum.
    below_confidence: u64,
    /// Image scans: layers pulled, answered from the cache, shared with an earlier image.
    layers: [u64; 3],
    /// History scans: commits walked.
    commits: u64,
}

const TEXTS: usize = 7;

/// The fields of a finding that `capstan_finding` has no room for, as C strings.
struct Extras {
    /// Crypto findings only: algorithm, primitive, quantum class, replacement.
    crypto: Option<[CString; 4]>,
    /// The rule's tags, comma-separated (empty when none).
    tags: CString,
    /// Image findings only: where in the image.
    image: Option<Origin>,
    /// History findings only: the commit's id, author, email, date and message.
    git: Option<[CString; 5]>,
}

/// A finding's `ImageOrigin`, its strings as C strings.
struct Origin {
    image: CString,
    manifest_digest: Option<CString>,
    platform: Option<CString>,
    /// The layer's index and digest; none in the image config.
    layer: Option<(u32, CString)>,
    removed_in_layer: Option<u32>,
}

impl Origin {
    fn of(o: &ImageOrigin) -> Self {
        Origin {
            image: c_string(&o.image),
            manifest_digest: o.manifest_digest.as_deref().map(c_string),
            platform: o.platform.as_deref().map(c_string),
            layer: o.layer.as_ref().map(|l| (l.index, c_string(&l.digest))),
            removed_in_layer: o.removed_in_layer,
        }
    }
}

impl Extras {
    fn of(f: &Finding) -> Self {
        Extras {
            crypto: f.crypto.as_ref().map(|c| {
                [
                    c_string(&c.algorithm),
                    c_string(&c.primitive),
                    c_string(&c.quantum_class),
                    c_string(&c.replacement),
                ]
            }),
            tags: c_string(&f.tags.join(",")),
            image: f.image.as_ref().map(Origin::of),
            git: f.git.as_ref().map(|g: &GitOrigin| {
                [
                    c_string(&g.commit),
                    c_string(&g.author),
                    c_string(&g.email),
                    c_string(&g.date),
                    c_string(&g.message),
                ]
            }),
        }
    }
}

/// Which commit field an accessor reads (its index in `Extras::git`).
#[derive(Clone, Copy)]
enum Commit {
    Id = 0,
    Author = 1,
    Email = 2,
    Date = 3,
    Message = 4,
}

/// Which crypto field an accessor reads (its index in `Extras::crypto`).
#[derive(Clone, Copy)]
enum Crypto {
    Algorithm = 0,
    Primitive = 1,
    QuantumClass = 2,
    Replacement = 3,
}

impl std::fmt::Debug for capstan_findings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "capstan_findings({} findings, {} errors)",
            self.findings.len(),
            self.errors.len()
        )
    }
}

impl capstan_findings {
    pub(crate) fn new(findings: Vec<Finding>, errors: &[Issue]) -> Self {
        let texts = findings
            .iter()
            .map(|f| {
                [
                    c_string(&f.rule_id),
                    c_string(f.category.as_str()),
                    c_string(&f.path),
                    c_string(&f.secret),
                    c_string(&f.fingerprint),
                    c_string(f.severity.as_str()),
                    c_string(&f.description),
                ]
            })
            .collect();
        let extras = findings.iter().map(Extras::of).collect();
        let errors = errors
            .iter()
            .map(|e| c_string(&format!("{}: {}", e.path, e.reason)))
            .collect();
        capstan_findings {
            findings,
            texts,
            extras,
            errors,
            suppressed: 0,
            below_confidence: 0,
            layers: [0; 3],
            commits: 0,
        }
    }

    /// The findings of a request's scan, with the files it could not read and its counters.
    pub(crate) fn from_outcome(outcome: ScanOutcome) -> Self {
        let mut f = capstan_findings::new(outcome.findings, &outcome.errors);
        f.count(&outcome.stats);
        f
    }

    /// The findings of a one-shot scan (a buffer, a streamed scanner): those a default request
    /// reports, of medium confidence and above.
    pub(crate) fn reported(mut findings: Vec<Finding>) -> Self {
        findings.retain(|f| f.confidence >= Confidence::default());
        capstan_findings::new(findings, &[])
    }

    /// Keeps a scan's counters.
    pub(crate) fn count(&mut self, stats: &ScanStats) {
        self.suppressed = stats.suppressed;
        self.below_confidence = stats.below_confidence;
        self.layers = [
            stats.layers_pulled,
            stats.layers_cached,
            stats.layers_shared,
        ];
        self.commits = stats.commits;
    }

    /// A string of finding `i`'s extras, or NULL.
    ///
    /// # Safety
    /// `findings` is NULL or a live handle.
    unsafe fn extra(
        findings: *const capstan_findings,
        i: usize,
        pick: impl FnOnce(&Extras) -> Option<&CString>,
    ) -> *const c_char {
        quiet(std::ptr::null(), || {
            // SAFETY: the caller promises NULL or a live handle.
            unsafe { findings.as_ref() }
                .and_then(|f| f.extras.get(i))
                .and_then(pick)
                .map_or(std::ptr::null(), |s| s.as_ptr())
        })
    }

    /// A crypto field of finding `i`, or NULL.
    ///
    /// # Safety
    /// `findings` is NULL or a live handle.
    unsafe fn crypto(findings: *const capstan_findings, i: usize, field: Crypto) -> *const c_char {
        // SAFETY: forwarded from the caller.
        unsafe {
            Self::extra(findings, i, |e| {
                e.crypto.as_ref().map(|c| &c[field as usize])
            })
        }
    }

    /// A field of the commit finding `i` was found in, or NULL.
    ///
    /// # Safety
    /// `findings` is NULL or a live handle.
    unsafe fn commit(findings: *const capstan_findings, i: usize, field: Commit) -> *const c_char {
        // SAFETY: forwarded from the caller.
        unsafe { Self::extra(findings, i, |e| e.git.as_ref().map(|g| &g[field as usize])) }
    }

    /// A number from finding `i`'s image origin as C reads it: -1 when `pick` gives none, `i`
    /// is past the end, the finding is not from an image or `findings` is NULL.
    ///
    /// # Safety
    /// `findings` is NULL or a live handle.
    unsafe fn origin_number(
        findings: *const capstan_findings,
        i: usize,
        pick: impl FnOnce(&Origin) -> Option<u32>,
    ) -> i64 {
        quiet(-1, || {
            // SAFETY: the caller promises NULL or a live handle.
            unsafe { findings.as_ref() }
                .and_then(|f| f.extras.get(i))
                .and_then(|e| e.image.as_ref())
                .and_then(pick)
                .map_or(-1, i64::from)
        })
    }

    /// A counter of these findings' scan (0 for NULL).
    ///
    /// # Safety
    /// `findings` is NULL or a live handle.
    unsafe fn counter(findings: *const capstan_findings, pick: fn(&Self) -> u64) -> u64 {
        quiet(0, || {
            // SAFETY: the caller promises NULL or a live handle.
            unsafe { findings.as_ref() }.map_or(0, pick)
        })
    }

    /// Hands the findings to C through a checked out-parameter.
    pub(crate) fn give_to(self, out: *mut *mut capstan_findings) {
        // SAFETY: every caller checked `out` with `out_param` before doing any work.
        unsafe { put(out, give(self)) }
    }
}

/// One finding, as `capstan_findings_get` fills it in. Strings are NUL-terminated UTF-8,
/// borrowed from the findings: they live until `capstan_findings_free`.
///
/// Its layout is fixed (programs built against it keep working); fields added to findings
/// since are read by index instead: `capstan_findings_algorithm`, `capstan_findings_primitive`,
/// `capstan_findings_quantum_class`, `capstan_findings_replacement` (crypto findings),
/// `capstan_findings_tags`, `capstan_findings_image`, `_manifest_digest`, `_platform`,
/// `_layer_index`, `_layer_digest`, `_removed_in_layer` (image findings), and
/// `capstan_findings_commit`, `_author`, `_email`, `_date`, `_message` (history findings).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct capstan_finding {
    /// The rule that matched.
    pub rule_id: *const c_char,
    /// `secret`, `crypto` or `threat`.
    pub category: *const c_char,
    /// The file (`archive.tar!member` inside archives), or the path given to the scan; in an
    /// image, the file's path inside its layer (`etc/app/.env`) or where in the image config
    /// (`config:Env[1]`); in a repository's history, the file's path in the commit that
    /// introduced its content (for staged changes, its path in the index).
    pub path: *const c_char,
    /// The secret, redacted: its first characters and `…`.
    pub secret: *const c_char,
    /// Stable across line moves: a hash of rule id, path and the secret.
    pub fingerprint: *const c_char,
    /// First line of the match, 1-based.
    pub line: u32,
    /// First column (byte) of the match, 1-based.
    pub column: u32,
    /// Last line of the match.
    pub end_line: u32,
    /// Column of the match's last byte.
    pub end_column: u32,
    /// `info`, `low`, `medium`, `high` or `critical`.
    pub severity: *const c_char,
    /// What the rule finds.
    pub description: *const c_char,
    /// Shannon entropy of the secret, bits per byte.
    pub entropy: f64,
}

/// The number of findings (0 for NULL).
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_len(findings: *const capstan_findings) -> usize {
    quiet(0, || {
        // SAFETY: the caller promises NULL or a live handle.
        unsafe { findings.as_ref() }.map_or(0, |f| f.findings.len())
    })
}

/// Fills `out` with finding `i` (0-based); an index past the end is
/// `CAPSTAN_ERR_INVALID_ARGUMENT`.
///
/// # Safety
/// `findings` is NULL or a live handle; `out` points at writable memory for a
/// `capstan_finding`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_get(
    findings: *const capstan_findings,
    i: usize,
    out: *mut capstan_finding,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises NULL or a live handle.
        let all = unsafe { handle(findings, "findings") }?;
        let (Some(f), Some(t)) = (all.findings.get(i), all.texts.get(i)) else {
            return Err(FfiError::invalid(format!(
                "index {i} is past the end ({} findings)",
                all.findings.len()
            )));
        };
        let n = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        let item = capstan_finding {
            rule_id: t[0].as_ptr(),
            category: t[1].as_ptr(),
            path: t[2].as_ptr(),
            secret: t[3].as_ptr(),
            fingerprint: t[4].as_ptr(),
            line: n(f.line),
            column: n(f.column),
            end_line: n(f.end_line),
            end_column: n(f.end_column),
            severity: t[5].as_ptr(),
            description: t[6].as_ptr(),
            entropy: f.entropy,
        };
        // SAFETY: `out` was checked above.
        unsafe { put(out, item) };
        Ok(())
    })
}

/// Finding `i`'s algorithm (`RSA`, `MD5`, `ECDSA`, …), borrowed until `capstan_findings_free`;
/// NULL when the finding is not a crypto finding, `i` is past the end or `findings` is NULL.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_algorithm(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::crypto(findings, i, Crypto::Algorithm) }
}

/// Finding `i`'s cryptographic primitive (`signature`, `kem`, `key-exchange`, `hash`, `cipher`,
/// `mode`, `protocol`), borrowed until `capstan_findings_free`; NULL when the finding is not a
/// crypto finding, `i` is past the end or `findings` is NULL.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_primitive(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::crypto(findings, i, Crypto::Primitive) }
}

/// Finding `i`'s quantum class: `vulnerable` (broken by a quantum computer) or `weak` (broken
/// today), borrowed until `capstan_findings_free`; NULL when the finding is not a crypto
/// finding, `i` is past the end or `findings` is NULL.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_quantum_class(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::crypto(findings, i, Crypto::QuantumClass) }
}

/// What finding `i`'s algorithm should be replaced by (`ML-KEM-768`, `SHA-256 / SHA-3`, …),
/// borrowed until `capstan_findings_free`; NULL when the finding is not a crypto finding, `i`
/// is past the end or `findings` is NULL.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_replacement(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::crypto(findings, i, Crypto::Replacement) }
}

/// The tags of finding `i`'s rule, comma-separated (`"python,hash"`; `""` when it has none),
/// borrowed until `capstan_findings_free`; NULL when `i` is past the end or `findings` is NULL.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_tags(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::extra(findings, i, |e| Some(&e.tags)) }
}

/// The image finding `i` was made in, as it was given to the scan (`alpine`,
/// `ghcr.io/org/app:1.2`, `oci:DIR:TAG`, `docker-archive:FILE`), borrowed until
/// `capstan_findings_free`; NULL when the finding is not from an image scan, `i` is past the end
/// or `findings` is NULL. When this is NULL, so is every other image accessor's answer (-1 for
/// the numbers).
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_image(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::extra(findings, i, |e| e.image.as_ref().map(|o| &o.image)) }
}

/// The digest (`sha256:…`) of the manifest finding `i`'s image was scanned from (for a
/// multi-platform image, the chosen platform's), borrowed until `capstan_findings_free`; NULL
/// when the image has none (a legacy `docker save` archive), the finding is not from an image,
/// `i` is past the end or `findings` is NULL.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_manifest_digest(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe {
        capstan_findings::extra(findings, i, |e| {
            e.image.as_ref().and_then(|o| o.manifest_digest.as_ref())
        })
    }
}

/// The platform (`linux/arm64/v8`) picked from a multi-platform image for finding `i`, borrowed
/// until `capstan_findings_free`; NULL when the image is not a multi-platform index (it was
/// scanned whatever its platform), the finding is not from an image, `i` is past the end or
/// `findings` is NULL.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_platform(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe {
        capstan_findings::extra(findings, i, |e| {
            e.image.as_ref().and_then(|o| o.platform.as_ref())
        })
    }
}

/// The index of the layer holding finding `i`'s file, from the base layer (0) up; -1 when the
/// finding is in the image config (its path is `config:…`), is not from an image, `i` is past
/// the end or `findings` is NULL.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_layer_index(
    findings: *const capstan_findings,
    i: usize,
) -> i64 {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::origin_number(findings, i, |o| o.layer.as_ref().map(|l| l.0)) }
}

/// The digest (`sha256:…`) of the layer holding finding `i`'s file, as the image's manifest
/// names it, borrowed until `capstan_findings_free`; NULL exactly when
/// `capstan_findings_layer_index` is -1.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_layer_digest(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe {
        capstan_findings::extra(findings, i, |e| {
            e.image
                .as_ref()
                .and_then(|o| o.layer.as_ref())
                .map(|l| &l.1)
        })
    }
}

/// The index of the layer whose whiteout deleted finding `i`'s file (always above the layer
/// holding it): the file is not in a container's filesystem, but its bytes still ship with
/// every pull of the image. -1 when no layer deleted it, the finding is in the image config or
/// not from an image, `i` is past the end or `findings` is NULL.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_removed_in_layer(
    findings: *const capstan_findings,
    i: usize,
) -> i64 {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::origin_number(findings, i, |o| o.removed_in_layer) }
}

/// The id (40 hex digits) of the commit that first had finding `i`'s blob (oldest in history
/// order: the commit that introduced the content), borrowed until `capstan_findings_free`; NULL
/// when the finding is not from a repository's history (a staged change, a blob a tag points
/// at directly, a file or an image), `i` is past the end or `findings` is NULL. When this is
/// NULL, so are `capstan_findings_author`, `_email`, `_date` and `_message`.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_commit(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::commit(findings, i, Commit::Id) }
}

/// The author's name of the commit finding `i` was found in (see `capstan_findings_commit`),
/// borrowed until `capstan_findings_free`; NULL when `capstan_findings_commit` is.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_author(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::commit(findings, i, Commit::Author) }
}

/// The author's email of the commit finding `i` was found in, borrowed until
/// `capstan_findings_free`; NULL when `capstan_findings_commit` is.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_email(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::commit(findings, i, Commit::Email) }
}

/// When the commit finding `i` was found in was authored, RFC 3339 with the author's UTC
/// offset (`2026-01-02T03:04:05+01:00`), borrowed until `capstan_findings_free`; NULL when
/// `capstan_findings_commit` is.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_date(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::commit(findings, i, Commit::Date) }
}

/// The message of the commit finding `i` was found in (leading and trailing whitespace
/// removed), borrowed until `capstan_findings_free`; NULL when `capstan_findings_commit` is.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_message(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::commit(findings, i, Commit::Message) }
}

/// Finding `i`'s confidence: `high` (a token in its provider's own format, or verified by its
/// checksum), `medium` or `low` (see `capstan_request_set_min_confidence`); a static string, never
/// freed. NULL when `i` is past the end or `findings` is NULL.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_confidence(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe { static_text(findings, i, |f| Some(confidence_name(f.confidence))) }
}

/// How finding `i`'s secret was verified offline: `checksum` (the provider's checksum holds; see
/// `capstan rules`), a static string never freed; NULL when it was not, `i` is past the end or
/// `findings` is NULL. Nothing contacts a provider: a verified secret is well-formed, not known
/// to be live.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_verified(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    // SAFETY: forwarded from the caller.
    unsafe {
        static_text(findings, i, |f| match f.verified? {
            Verified::Checksum => Some(c"checksum"),
            _ => None,
        })
    }
}

/// A static string `pick` gives for finding `i`, or NULL (no such finding, or `pick` gives none).
///
/// # Safety
/// `findings` is NULL or a live handle.
unsafe fn static_text(
    findings: *const capstan_findings,
    i: usize,
    pick: fn(&Finding) -> Option<&'static CStr>,
) -> *const c_char {
    quiet(std::ptr::null(), || {
        // SAFETY: the caller promises NULL or a live handle.
        let found = unsafe { findings.as_ref() }.and_then(|f| f.findings.get(i));
        found.and_then(pick).map_or(std::ptr::null(), CStr::as_ptr)
    })
}

/// A confidence as a static C string.
fn confidence_name(c: Confidence) -> &'static CStr {
    match c {
        Confidence::Low => c"low",
        Confidence::Medium => c"medium",
        Confidence::High => c"high",
    }
}

/// How many findings were left out of these for a confidence below the request's minimum
/// (`capstan_request_set_min_confidence`; they are not in the list). 0 for NULL, and for
/// findings not made by `capstan_request_run`.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_below_confidence(
    findings: *const capstan_findings,
) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::counter(findings, |f| f.below_confidence) }
}

/// How many findings a baseline or an ignore file left out of these (they are not in the list).
/// 0 for NULL, and for findings not made by `capstan_request_run`.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_suppressed(findings: *const capstan_findings) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::counter(findings, |f| f.suppressed) }
}

/// Image scans: how many layers were pulled (read from the registry, layout or archive) and
/// scanned. 0 for NULL, and for findings not made by an image scan.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_layers_pulled(findings: *const capstan_findings) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::counter(findings, |f| f.layers[0]) }
}

/// Image scans: how many layers were answered from the cache (`capstan_request_set_cache_dir`)
/// rather than pulled. 0 for NULL, and for findings not made by an image scan.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_layers_cached(findings: *const capstan_findings) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::counter(findings, |f| f.layers[1]) }
}

/// Image scans: how many layers another image of the same run had already scanned (a shared
/// base is pulled once). 0 for NULL, and for findings not made by an image scan.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_layers_shared(findings: *const capstan_findings) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::counter(findings, |f| f.layers[2]) }
}

/// History scans: how many commits were walked (the scan's part of the history: with `since`,
/// only the commits after it). 0 for NULL, for a staged scan, and for findings not made by a
/// history scan.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_commits(findings: *const capstan_findings) -> u64 {
    // SAFETY: forwarded from the caller.
    unsafe { capstan_findings::counter(findings, |f| f.commits) }
}

/// The number of files that could not be read (or not completely) during a tree scan — or of
/// images and layers, repositories and objects, in image and history scans; their findings, if
/// any, are still in the list.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_errors_len(findings: *const capstan_findings) -> usize {
    quiet(0, || {
        // SAFETY: the caller promises NULL or a live handle.
        unsafe { findings.as_ref() }.map_or(0, |f| f.errors.len())
    })
}

/// Error `i` as `"path: cause"`, borrowed until `capstan_findings_free`; NULL when `i` is past
/// the end or `findings` is NULL.
///
/// # Safety
/// `findings` is NULL or a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_error(
    findings: *const capstan_findings,
    i: usize,
) -> *const c_char {
    quiet(std::ptr::null(), || {
        // SAFETY: the caller promises NULL or a live handle.
        unsafe { findings.as_ref() }
            .and_then(|f| f.errors.get(i))
            .map_or(std::ptr::null(), |e| e.as_ptr())
    })
}

/// The findings as a JSON array (the objects `capstan scan --format json` prints under
/// `findings`), for `capstan_string_free`.
///
/// # Safety
/// `findings` is NULL or a live handle; `out` points at writable memory for a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_to_json(
    findings: *const capstan_findings,
    out: *mut *mut c_char,
) -> capstan_status {
    boundary(|| {
        out_param(out, "out")?;
        // SAFETY: the caller promises NULL or a live handle.
        let all = unsafe { handle(findings, "findings") }?;
        let json = serde_json::to_string(&all.findings)
            .map_err(|e| FfiError::new(capstan_status::CAPSTAN_ERR_OTHER, format!("JSON: {e}")))?;
        // SAFETY: `out` was checked above.
        unsafe { put(out, give_string(&json)) };
        Ok(())
    })
}

/// Frees findings; NULL is accepted. Strings borrowed from them become invalid.
///
/// # Safety
/// `findings` is NULL or a handle from a scan call, not freed before.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn capstan_findings_free(findings: *mut capstan_findings) {
    // SAFETY: forwarded from the caller.
    unsafe { take(findings) }
}
