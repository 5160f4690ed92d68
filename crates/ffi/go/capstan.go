// Package capstan links libcapstan (capstan's C ABI) into Go programs: secrets, weak-crypto and
// threat scanning of buffers, streams, trees, container images and git history; deterministic
// Docker build contexts, optionally scanned on their way out; and registry credentials resolved
// as the docker CLI does.
//
// A scan of files and trees is a ScanRequest: the same request `capstan scan` builds from its
// flags (rules, baselines, ignore files, redaction, threads, size limit, cache). Rules.ScanPath
// is its short form. A scan of container images is a ScanRequest with Images (registry
// references, oci:DIR[:TAG], docker-archive:FILE) instead of Inputs, and Rules.ScanImage its
// short form; their findings say where in the image they were made (Finding.Image). A scan of a
// repository's history is a ScanRequest with Git instead, and Rules.ScanGit its short form; its
// findings name the commit that introduced them (Finding.Git).
//
// Handles (Rules, Scanner, ContextReader) hold C memory: Close them when done. A finalizer frees
// a forgotten one, but only as a safety net. Rules are safe for concurrent use; a Scanner is
// not.
//
// A build context is written to an io.Writer by WriteContext, or read as an io.ReadCloser from
// NewContextReader (an http.Request body for docker's POST /build).
//
// Errors are *Error values carrying the status and capstan's message; compare them with
// errors.Is against ErrInvalidArgument, ErrConfig, ErrIO, ErrFindingsLimit, ErrPanic or
// ErrOther.
package capstan

/*
#include <stdlib.h>
#include <string.h>
#include "capstan.h"

// Each shim makes one capstan call and, when it fails, copies the thread-local message in the
// same cgo call: a goroutine may run on another OS thread by the next one. Results come back
// by value, so no Go memory is handed to C for them. (The status is taken before `out` is
// read: C leaves the order of argument evaluation unspecified.)
typedef struct {
	capstan_status status;
	void *ptr;            // the handle, findings or string made
	size_t len;           // findings: how many
	char *err;            // the message, malloc'd, when status is not CAPSTAN_OK
	uint64_t suppressed;  // findings: how many a baseline or an ignore file left out
	uint64_t layers[3];   // findings of images: layers pulled, from the cache, shared
	uint64_t commits;     // findings of history: commits walked
	uint64_t below_confidence; // findings: how many the minimum confidence left out
} go_result;

static go_result go_done(capstan_status st, void *ptr) {
	go_result r = {st, ptr, 0, NULL, 0, {0, 0, 0}, 0, 0};
	if (st != CAPSTAN_OK) {
		const char *m = capstan_last_error();
		r.err = strdup(m != NULL ? m : "unknown error");
	}
	return r;
}

// Findings come back with their count; an empty list is freed here, saving two calls.
static go_result go_findings(capstan_status st, capstan_findings *f) {
	go_result r = go_done(st, f);
	if (f != NULL) {
		r.len = capstan_findings_len(f);
		r.suppressed = capstan_findings_suppressed(f);
		r.layers[0] = capstan_findings_layers_pulled(f);
		r.layers[1] = capstan_findings_layers_cached(f);
		r.layers[2] = capstan_findings_layers_shared(f);
		r.commits = capstan_findings_commits(f);
		r.below_confidence = capstan_findings_below_confidence(f);
		if (r.len == 0 && capstan_findings_errors_len(f) == 0) {
			capstan_findings_free(f);
			r.ptr = NULL;
		}
	}
	return r;
}

static go_result go_rules_builtin(const char *packs) {
	capstan_rules *out = NULL;
	capstan_status st = capstan_rules_builtin(packs, &out);
	return go_done(st, out);
}

static go_result go_rules_from_toml(const char *toml, size_t len) {
	capstan_rules *out = NULL;
	capstan_status st = capstan_rules_from_toml(toml, len, &out);
	return go_done(st, out);
}

static go_result go_rules_from_file(const char *path) {
	capstan_rules *out = NULL;
	capstan_status st = capstan_rules_from_file(path, &out);
	return go_done(st, out);
}

static go_result go_scan_bytes(const capstan_rules *r, const uint8_t *data, size_t n, const char *path) {
	capstan_findings *out = NULL;
	capstan_status st = capstan_scan_bytes(r, data, n, path, &out);
	return go_findings(st, out);
}

static go_result go_scan_path(const capstan_rules *r, const char *path, uint32_t threads) {
	capstan_findings *out = NULL;
	capstan_status st = capstan_scan_path(r, path, threads, &out);
	return go_findings(st, out);
}

static go_result go_scan_image(const capstan_rules *r, const char *image, uint32_t threads) {
	capstan_findings *out = NULL;
	capstan_status st = capstan_scan_image(r, image, threads, &out);
	return go_findings(st, out);
}

static go_result go_scan_git(const capstan_rules *r, const char *repo, uint32_t threads) {
	capstan_findings *out = NULL;
	capstan_status st = capstan_scan_git(r, repo, threads, &out);
	return go_findings(st, out);
}

static go_result go_scanner_new(const capstan_rules *r, const char *path) {
	capstan_scanner *out = NULL;
	capstan_status st = capstan_scanner_new(r, path, &out);
	return go_done(st, out);
}

static go_result go_scanner_feed(capstan_scanner *s, const uint8_t *data, size_t n) {
	capstan_status st = capstan_scanner_feed(s, data, n);
	return go_done(st, NULL);
}

static go_result go_scanner_finish(capstan_scanner *s) {
	capstan_findings *out = NULL;
	capstan_status st = capstan_scanner_finish(s, &out);
	return go_findings(st, out);
}

// The fields of a finding read by accessor (NULL, -1: not a crypto finding, not from an image,
// not from history).
typedef struct {
	const char *algorithm, *primitive, *quantum_class, *replacement, *tags;
	const char *image, *manifest_digest, *platform, *layer_digest;
	int64_t layer_index, removed_in_layer;
	const char *commit, *author, *email, *date, *message;
	const char *confidence, *verified;
} go_extras;

static void go_findings_fill(const capstan_findings *f, capstan_finding *items, go_extras *extras,
		size_t n) {
	for (size_t i = 0; i < n; i++) {
		capstan_findings_get(f, i, &items[i]);
		extras[i].algorithm = capstan_findings_algorithm(f, i);
		extras[i].primitive = capstan_findings_primitive(f, i);
		extras[i].quantum_class = capstan_findings_quantum_class(f, i);
		extras[i].replacement = capstan_findings_replacement(f, i);
		extras[i].tags = capstan_findings_tags(f, i);
		extras[i].image = capstan_findings_image(f, i);
		extras[i].manifest_digest = capstan_findings_manifest_digest(f, i);
		extras[i].platform = capstan_findings_platform(f, i);
		extras[i].layer_digest = capstan_findings_layer_digest(f, i);
		extras[i].layer_index = capstan_findings_layer_index(f, i);
		extras[i].removed_in_layer = capstan_findings_removed_in_layer(f, i);
		extras[i].commit = capstan_findings_commit(f, i);
		extras[i].author = capstan_findings_author(f, i);
		extras[i].email = capstan_findings_email(f, i);
		extras[i].date = capstan_findings_date(f, i);
		extras[i].message = capstan_findings_message(f, i);
		extras[i].confidence = capstan_findings_confidence(f, i);
		extras[i].verified = capstan_findings_verified(f, i);
	}
}

// A list of strings comes packed, each NUL-terminated after the one before: one Go buffer that
// holds no Go pointers, which cgo lets C read for the length of the call.
static const char *go_next(const char *p) { return p + strlen(p) + 1; }

// A whole request in one call: made, set up, run and freed, the first failure's message copied.
static go_result go_request_run(const capstan_rules *rules, const char *inputs, size_t n_inputs,
		const char *images, size_t n_images, const char *platform, uint32_t pulls, bool insecure,
		const char *git_repo, const char *git_since, const char *git_branch, bool git_staged,
		const char *packs, size_t n_packs, const char *config, const char *baselines,
		size_t n_baselines, const char *ignores, size_t n_ignores, bool discovery, bool redact,
		uint32_t threads, uint64_t max_file_size, const char *cache_dir, const char *cache_url,
		uint64_t cache_ttl, uint32_t cache_timeout, uint32_t shard_index, uint32_t shard_count,
		const char *min_confidence) {
	capstan_request *req = NULL;
	capstan_status st = capstan_request_new(&req);
	const char *p = inputs;
	for (size_t i = 0; st == CAPSTAN_OK && i < n_inputs; i++, p = go_next(p))
		st = capstan_request_add_input(req, p);
	p = images;
	for (size_t i = 0; st == CAPSTAN_OK && i < n_images; i++, p = go_next(p))
		st = capstan_request_add_image(req, p);
	if (st == CAPSTAN_OK && platform != NULL) st = capstan_request_set_platform(req, platform);
	if (st == CAPSTAN_OK && pulls != 0) st = capstan_request_set_pulls(req, pulls);
	if (st == CAPSTAN_OK && insecure) st = capstan_request_set_insecure(req, true);
	if (st == CAPSTAN_OK && git_repo != NULL)
		st = capstan_request_set_git(req, git_repo, git_since, git_branch, git_staged);
	if (st == CAPSTAN_OK && rules != NULL) st = capstan_request_set_rules(req, rules);
	p = packs;
	for (size_t i = 0; st == CAPSTAN_OK && i < n_packs; i++, p = go_next(p))
		st = capstan_request_add_pack(req, p);
	if (st == CAPSTAN_OK && config != NULL) st = capstan_request_set_config(req, config);
	p = baselines;
	for (size_t i = 0; st == CAPSTAN_OK && i < n_baselines; i++, p = go_next(p))
		st = capstan_request_add_baseline(req, p);
	p = ignores;
	for (size_t i = 0; st == CAPSTAN_OK && i < n_ignores; i++, p = go_next(p))
		st = capstan_request_add_ignore_file(req, p);
	if (st == CAPSTAN_OK && !discovery) st = capstan_request_set_ignore_discovery(req, false);
	if (st == CAPSTAN_OK) st = capstan_request_set_redact(req, redact);
	if (st == CAPSTAN_OK) st = capstan_request_set_threads(req, threads);
	if (st == CAPSTAN_OK && max_file_size != 0)
		st = capstan_request_set_max_file_size(req, max_file_size);
	if (st == CAPSTAN_OK && cache_dir != NULL) st = capstan_request_set_cache_dir(req, cache_dir);
	if (st == CAPSTAN_OK && cache_url != NULL)
		st = capstan_request_set_cache_url(req, cache_url, cache_ttl, cache_timeout);
	if (st == CAPSTAN_OK && shard_count != 0)
		st = capstan_request_set_shard(req, shard_index, shard_count);
	if (st == CAPSTAN_OK && min_confidence != NULL)
		st = capstan_request_set_min_confidence(req, min_confidence);
	capstan_findings *out = NULL;
	if (st == CAPSTAN_OK) st = capstan_request_run(req, &out);
	go_result r = go_findings(st, out);
	capstan_request_free(req); // a *_free leaves the message as it is
	return r;
}

extern int32_t goCapstanWrite(uintptr_t handle, uint8_t *data, size_t n);

static int32_t go_write(void *user, const uint8_t *data, size_t n) {
	return goCapstanWrite((uintptr_t)user, (uint8_t *)data, n);
}

static go_result go_context_write(const char *dir, const char *dockerfile, uintptr_t sink) {
	capstan_status st = capstan_context_write(dir, dockerfile, go_write, (void *)sink);
	return go_done(st, NULL);
}

static go_result go_context_write_scan(const capstan_rules *r, const char *dir,
		const char *dockerfile, uintptr_t sink, uint32_t threads, bool fail) {
	capstan_findings *out = NULL;
	capstan_status st = capstan_context_write_scan(r, dir, dockerfile, go_write, (void *)sink,
		threads, fail, &out);
	return go_findings(st, out);
}

static go_result go_context_reader_new(const char *dir, const char *dockerfile) {
	capstan_context_reader *out = NULL;
	capstan_status st = capstan_context_reader_new(dir, dockerfile, &out);
	return go_done(st, out);
}

// A read's count comes back in len.
static go_result go_context_reader_read(capstan_context_reader *r, uint8_t *buf, size_t n) {
	size_t got = 0;
	capstan_status st = capstan_context_reader_read(r, buf, n, &got);
	go_result res = go_done(st, NULL);
	res.len = got;
	return res;
}

static go_result go_auth_header(const char *image) {
	char *out = NULL;
	capstan_status st = capstan_auth_header(image, &out);
	return go_done(st, out);
}
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"runtime/cgo"
	"strings"
	"sync"
	"time"
	"unsafe"
)

// Status is a capstan_status.
type Status int

// The statuses a call can fail with.
const (
	StatusOK              Status = C.CAPSTAN_OK
	StatusInvalidArgument Status = C.CAPSTAN_ERR_INVALID_ARGUMENT
	StatusConfig          Status = C.CAPSTAN_ERR_CONFIG
	StatusIO              Status = C.CAPSTAN_ERR_IO
	StatusFindingsLimit   Status = C.CAPSTAN_ERR_FINDINGS_LIMIT
	StatusPanic           Status = C.CAPSTAN_ERR_PANIC
	StatusOther           Status = C.CAPSTAN_ERR_OTHER
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusInvalidArgument:
		return "invalid argument"
	case StatusConfig:
		return "config error"
	case StatusIO:
		return "I/O error"
	case StatusFindingsLimit:
		return "stopped on findings"
	case StatusPanic:
		return "internal error (panic)"
	default:
		return "error"
	}
}

// Error is a failed call: its status and capstan's message (which names the file, rule or
// argument at fault).
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string { return "capstan: " + e.Message }

// Is matches errors of the same status, so errors.Is(err, capstan.ErrConfig) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Status == e.Status
}

// Sentinels for errors.Is.
var (
	ErrInvalidArgument = &Error{Status: StatusInvalidArgument}
	ErrConfig          = &Error{Status: StatusConfig}
	ErrIO              = &Error{Status: StatusIO}
	ErrFindingsLimit   = &Error{Status: StatusFindingsLimit}
	ErrPanic           = &Error{Status: StatusPanic}
	ErrOther           = &Error{Status: StatusOther}
)

// ErrClosed is returned by calls on a closed handle.
var ErrClosed = &Error{Status: StatusInvalidArgument, Message: "the handle is closed"}

// fail turns a shim's result into an *Error (nil on success), freeing the copied message.
func fail(r C.go_result) error {
	if r.status == C.CAPSTAN_OK {
		return nil
	}
	e := &Error{Status: Status(r.status), Message: "unknown error"}
	if r.err != nil {
		e.Message = C.GoString(r.err)
		C.free(unsafe.Pointer(r.err))
	}
	return e
}

// noNUL refuses strings C would see cut short at an interior NUL.
func noNUL(what string, values ...string) error {
	for _, v := range values {
		if strings.IndexByte(v, 0) >= 0 {
			return &Error{Status: StatusInvalidArgument, Message: what + " contains a NUL byte"}
		}
	}
	return nil
}

// cstr is s NUL-terminated in Go memory, for the length of one call (callers check noNUL).
func cstr(s string) *C.char {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return (*C.char)(unsafe.Pointer(&b[0]))
}

// bytesPtr is the address of data's first byte, or nil when it is empty.
func bytesPtr(data []byte) *C.uint8_t {
	if len(data) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&data[0]))
}

// Version is libcapstan's version.
func Version() string { return C.GoString(C.capstan_version()) }

// Finding is one match of one rule. Positions are 1-based; columns count bytes. Secret is
// redacted (its first characters and "…") unless a ScanRequest asked otherwise. Its JSON form is
// the one `capstan scan --format json` prints.
type Finding struct {
	RuleID      string `json:"rule_id"`
	Description string `json:"description"`
	Category    string `json:"category"` // secret, crypto or threat
	Severity    string `json:"severity"` // info, low, medium, high or critical
	// high (a token in its provider's own format, or verified by its checksum), medium or low
	// (in documentation, examples and vendored code): see ScanRequest.MinConfidence.
	Confidence string `json:"confidence"`
	// "checksum" when the provider's checksum holds (verified offline, not known to be live);
	// "" otherwise.
	Verified    string   `json:"verified,omitempty"`
	Path        string   `json:"path"`
	Line        int      `json:"line"`
	Column      int      `json:"column"`
	EndLine     int      `json:"end_line"`
	EndColumn   int      `json:"end_column"`
	Secret      string   `json:"secret"`
	Entropy     float64  `json:"entropy"` // of the secret, bits per byte
	Fingerprint string   `json:"fingerprint"`
	Tags        []string `json:"tags,omitempty"` // the rule's tags
	// Crypto findings only ("" otherwise): the algorithm (RSA, MD5, …), its primitive
	// (signature, kem, key-exchange, hash, cipher, mode, protocol), its quantum class
	// (vulnerable: broken by a quantum computer; weak: broken today) and what to migrate to.
	Algorithm    string `json:"algorithm,omitempty"`
	Primitive    string `json:"primitive,omitempty"`
	QuantumClass string `json:"quantum_class,omitempty"`
	Replacement  string `json:"replacement,omitempty"`
	// Image scans only (nil otherwise): where in the image the finding was made. Path is then
	// the file's path inside its layer (etc/app/.env), or where in the image config
	// (config:Env[1]). In JSON its fields sit beside the others, as capstan prints them.
	Image *ImageOrigin `json:"-"`
	// History scans only (nil otherwise, and for staged changes): the commit that first had the
	// finding's content (oldest in history order); Path is the file's path there. In JSON it is
	// the object "git", as capstan prints it.
	Git *GitOrigin `json:"git,omitempty"`
}

// GitOrigin is the commit that introduced a finding's content into a repository's history.
type GitOrigin struct {
	Commit  string `json:"commit"`  // its id, 40 hex digits
	Author  string `json:"author"`  // its author's name
	Email   string `json:"email"`   // its author's email
	Date    string `json:"date"`    // when it was authored: RFC 3339, with the author's UTC offset
	Message string `json:"message"` // its message (leading and trailing whitespace removed)
}

// ImageOrigin is where in a container image a finding was made.
type ImageOrigin struct {
	// The image as given to the scan: alpine, ghcr.io/org/app:1.2, oci:DIR:TAG,
	// docker-archive:FILE.
	Image string `json:"image"`
	// The digest (sha256:…) of the manifest scanned (for a multi-platform image, the chosen
	// platform's); "" for a legacy `docker save` archive, which has none.
	ManifestDigest string `json:"manifest_digest,omitempty"`
	// The platform picked from a multi-platform image (linux/arm64/v8); "" for an image that
	// is not one.
	Platform string `json:"platform,omitempty"`
	// The layer holding the file; nil for a finding in the image config.
	Layer *LayerRef `json:"layer,omitempty"`
	// The index of the layer whose whiteout deleted the file: it is not in a container's
	// filesystem, but its bytes still ship with every pull. 0 when no layer deleted it (a
	// file can only be deleted by a layer above its own, so never by layer 0).
	RemovedInLayer int `json:"removed_in_layer,omitempty"`
}

// LayerRef is one layer of an image.
type LayerRef struct {
	Index  int    `json:"index"`  // from the base layer, 0
	Digest string `json:"digest"` // sha256:…, as the manifest names it
}

// findingFields is a Finding without its JSON methods; findingJSON adds the image origin's
// fields beside the others.
type findingFields Finding

type findingJSON struct {
	findingFields
	*ImageOrigin
}

// MarshalJSON writes the finding as `capstan scan --format json` does, an image finding's
// origin (image, manifest_digest, platform, layer, removed_in_layer) among its fields.
func (f Finding) MarshalJSON() ([]byte, error) {
	return json.Marshal(findingJSON{findingFields(f), f.Image})
}

// UnmarshalJSON reads a finding as MarshalJSON (and `capstan scan --format json`) writes it.
func (f *Finding) UnmarshalJSON(b []byte) error {
	var j findingJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = Finding(j.findingFields)
	f.Image = j.ImageOrigin
	return nil
}

// PathErrors lists the files a tree scan could not read (or not completely), the images and
// layers an image scan could not, or the repository, revisions and objects a history scan could
// not; the findings of everything else are returned with it.
type PathErrors []string

func (p PathErrors) Error() string {
	return fmt.Sprintf("capstan: %d file(s) could not be read: %s", len(p), strings.Join(p, "; "))
}

// take copies the findings a shim returned into Go values and frees them.
func take(res C.go_result) ([]Finding, error) {
	f, n := (*C.capstan_findings)(res.ptr), res.len
	if f == nil {
		return nil, nil
	}
	defer C.capstan_findings_free(f)
	var out []Finding
	if n > 0 {
		items := make([]C.capstan_finding, int(n))
		extras := make([]C.go_extras, int(n))
		C.go_findings_fill(f, &items[0], &extras[0], n)
		out = make([]Finding, len(items))
		for i := range items {
			c, x := &items[i], &extras[i]
			out[i] = Finding{
				RuleID:      C.GoString(c.rule_id),
				Description: C.GoString(c.description),
				Category:    C.GoString(c.category),
				Severity:    C.GoString(c.severity),
				Confidence:  C.GoString(x.confidence),
				Verified:    C.GoString(x.verified),
				Path:        C.GoString(c.path),
				Line:        int(c.line),
				Column:      int(c.column),
				EndLine:     int(c.end_line),
				EndColumn:   int(c.end_column),
				Secret:      C.GoString(c.secret),
				Entropy:     float64(c.entropy),
				Fingerprint: C.GoString(c.fingerprint),
				// C.GoString(nil) is "": the crypto fields of other findings.
				Algorithm:    C.GoString(x.algorithm),
				Primitive:    C.GoString(x.primitive),
				QuantumClass: C.GoString(x.quantum_class),
				Replacement:  C.GoString(x.replacement),
			}
			if tags := C.GoString(x.tags); tags != "" {
				out[i].Tags = strings.Split(tags, ",")
			}
			if x.image != nil {
				o := &ImageOrigin{
					Image:          C.GoString(x.image),
					ManifestDigest: C.GoString(x.manifest_digest),
					Platform:       C.GoString(x.platform),
				}
				if x.layer_index >= 0 {
					o.Layer = &LayerRef{Index: int(x.layer_index), Digest: C.GoString(x.layer_digest)}
				}
				if x.removed_in_layer >= 0 {
					o.RemovedInLayer = int(x.removed_in_layer)
				}
				out[i].Image = o
			}
			if x.commit != nil {
				out[i].Git = &GitOrigin{
					Commit:  C.GoString(x.commit),
					Author:  C.GoString(x.author),
					Email:   C.GoString(x.email),
					Date:    C.GoString(x.date),
					Message: C.GoString(x.message),
				}
			}
		}
	}
	var errs PathErrors
	for i := C.size_t(0); i < C.capstan_findings_errors_len(f); i++ {
		errs = append(errs, C.GoString(C.capstan_findings_error(f, i)))
	}
	if errs != nil {
		return out, errs
	}
	return out, nil
}

// Rules is a compiled rule set. Safe for concurrent use by any number of goroutines.
type Rules struct {
	mu  sync.RWMutex // Close takes it exclusively, so no call sees a freed handle
	ptr *C.capstan_rules
}

func newRules(ptr *C.capstan_rules) *Rules {
	r := &Rules{ptr: ptr}
	runtime.SetFinalizer(r, (*Rules).Close)
	return r
}

// BuiltinRules compiles capstan's built-in packs: all of them, or those named
// ("secrets", "crypto", "threats", "dockerfile").
func BuiltinRules(packs ...string) (*Rules, error) {
	if err := noNUL("packs", packs...); err != nil {
		return nil, err
	}
	var arg *C.char
	if len(packs) > 0 {
		arg = cstr(strings.Join(packs, ","))
	}
	res := C.go_rules_builtin(arg)
	if err := fail(res); err != nil {
		return nil, err
	}
	return newRules((*C.capstan_rules)(res.ptr)), nil
}

// RulesFromTOML compiles a rule config: capstan's format or a gitleaks config, unchanged.
func RulesFromTOML(toml []byte) (*Rules, error) {
	res := C.go_rules_from_toml((*C.char)(unsafe.Pointer(bytesPtr(toml))), C.size_t(len(toml)))
	if err := fail(res); err != nil {
		return nil, err
	}
	return newRules((*C.capstan_rules)(res.ptr)), nil
}

// RulesFromFile loads and compiles a rule config file, following gitleaks' [extend].
func RulesFromFile(path string) (*Rules, error) {
	if err := noNUL("path", path); err != nil {
		return nil, err
	}
	res := C.go_rules_from_file(cstr(path))
	if err := fail(res); err != nil {
		return nil, err
	}
	return newRules((*C.capstan_rules)(res.ptr)), nil
}

// Len is the number of rules.
func (r *Rules) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return int(C.capstan_rules_len(r.ptr))
}

// Close frees the rules. Scanners made from them stay usable. Closing twice is harmless.
func (r *Rules) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr != nil {
		C.capstan_rules_free(r.ptr)
		r.ptr = nil
		runtime.SetFinalizer(r, nil)
	}
	return nil
}

// ScanBytes scans one complete buffer; path is what findings report and what path-scoped rules
// match. A buffer with a NUL byte in its first 8 KiB counts as binary: no findings.
func (r *Rules) ScanBytes(data []byte, path string) ([]Finding, error) {
	if err := noNUL("path", path); err != nil {
		return nil, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.ptr == nil {
		return nil, ErrClosed
	}
	res := C.go_scan_bytes(r.ptr, bytesPtr(data), C.size_t(len(data)), cstr(path))
	if err := fail(res); err != nil {
		return nil, err
	}
	return take(res)
}

// ScanPath scans a file or a directory tree on threads threads (0: one per core; more than 1024
// is an ErrInvalidArgument), as `capstan scan` does by default (.gitignore honoured, hidden files
// scanned, symlinks not followed, archives scanned inside) but with nothing suppressed and no
// cache: a ScanRequest does both. Files that could not be read are reported as PathErrors
// beside the findings of the rest.
func (r *Rules) ScanPath(path string, threads int) ([]Finding, error) {
	if err := noNUL("path", path); err != nil {
		return nil, err
	}
	if threads < 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: "threads is negative"}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.ptr == nil {
		return nil, ErrClosed
	}
	res := C.go_scan_path(r.ptr, cstr(path), C.uint32_t(threads))
	if err := fail(res); err != nil {
		return nil, err
	}
	return take(res)
}

// ScanImage scans one container image (alpine, ghcr.io/org/app:1.2, oci:DIR[:TAG],
// docker-archive:FILE: see ScanRequest.Images) on threads threads (0: one per core; more than
// 1024 is an ErrInvalidArgument): this host's platform, 3 layers pulled at a time, HTTPS except
// to loopback registries, credentials resolved as the docker CLI does. Like ScanPath, nothing is
// suppressed and nothing is cached: a ScanRequest with Images does both, and picks the platform,
// the pulls and plain HTTP. Findings come the config's first, then layer by layer from the base,
// with Finding.Image set. Text that is not an image reference is an ErrInvalidArgument; an image
// that cannot be read at all (not found, unreachable, refused, not matching its digest, no image
// for this platform) is an ErrIO; layers that could not be read are reported as PathErrors
// beside the findings of the rest.
func (r *Rules) ScanImage(image string, threads int) ([]Finding, error) {
	if err := noNUL("image", image); err != nil {
		return nil, err
	}
	if threads < 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: "threads is negative"}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.ptr == nil {
		return nil, ErrClosed
	}
	res := C.go_scan_image(r.ptr, cstr(image), C.uint32_t(uint32Arg(threads)))
	if err := fail(res); err != nil {
		return nil, err
	}
	return take(res)
}

// ScanGit scans the history of the git repository at repo (a work tree or a bare repository) on
// threads threads (0: one per core; more than 1024 is an ErrInvalidArgument): every blob
// reachable from every ref (branches, tags, remotes, the stash), each unique blob once, as
// `capstan git REPO` does. Like ScanPath, nothing is suppressed and nothing is cached: a
// ScanRequest with Git does both, and picks the part of history or the staged changes. Findings
// come in order (path, line, column, rule), with Finding.Git naming the commit that introduced
// each. A repository that cannot be opened is an ErrIO; objects that could not be read (a
// partial clone's) are reported as PathErrors beside the findings of the rest.
func (r *Rules) ScanGit(repo string, threads int) ([]Finding, error) {
	if err := noNUL("repo", repo); err != nil {
		return nil, err
	}
	if threads < 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: "threads is negative"}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.ptr == nil {
		return nil, ErrClosed
	}
	res := C.go_scan_git(r.ptr, cstr(repo), C.uint32_t(uint32Arg(threads)))
	if err := fail(res); err != nil {
		return nil, err
	}
	return take(res)
}

// GitSource is a repository to scan (ScanRequest.Git), and which part of it.
type GitSource struct {
	// The repository: a work tree or a bare repository (not a directory inside one).
	Repo string
	// Only history after this revision (v1.2, main, a commit id): what it reaches is left out.
	// "" for none.
	Since string
	// Only what this revision reaches (with Since, Since..Branch); "" for every ref: branches,
	// tags, remotes, the stash and its older entries.
	Branch string
	// Instead of history, what `git commit` would record: the staged files that differ from
	// HEAD, at their index paths, reporting only the lines they add (a pre-commit hook). Their
	// findings have no Finding.Git. With Since or Branch, an ErrInvalidArgument.
	Staged bool
}

// ScanRequest describes a scan of files and trees, of container images, or of a repository's
// history: the request `capstan scan` builds from its flags, with the same defaults (every
// built-in pack, .capstanignore files discovered, secrets redacted, one thread per core, files
// over 10 MiB skipped) except the cache, off unless CacheDir names one. The zero value of each
// field is its default.
type ScanRequest struct {
	// Files, directories (walked), tar / tar.gz archives (scanned inside), or "-" for standard
	// input. Findings report paths as given here. A request has one kind of source: Inputs,
	// Images or Git (more is an ErrInvalidArgument).
	Inputs []string
	// Container images: registry references in docker's short form (alpine,
	// ghcr.io/org/app:1.2, 127.0.0.1:5000/team/app:v1, …@sha256:…), OCI image layouts
	// (oci:DIR[:TAG]) or `docker save` archives (docker-archive:FILE). Every other field applies
	// as to files (a layer seen before is answered from the cache). Findings come image by
	// image, each image's config first, then layer by layer from the base, with Finding.Image
	// set. Text that is not an image reference is an ErrInvalidArgument; an image or layer that
	// cannot be read is reported in PathErrors ("IMAGE: cause", "IMAGE@layerN: cause") beside
	// the findings of the rest. Registry credentials are resolved as the docker CLI does.
	Images []string
	// The platform to pick from a multi-platform image: os/arch or os/arch/variant
	// (linux/arm64/v8); "" for this host's, as docker pulls.
	Platform string
	// Layers pulled (and scanned) at once, across all the images: 0 means the default, 3; more
	// than 1024 is an ErrInvalidArgument.
	Pulls int
	// Pull over plain HTTP from any registry, not only from loopback ones.
	Insecure bool
	// A git repository whose history is scanned: every blob reachable from its refs, each
	// unique blob once, reported at the commit that introduced it (Finding.Git; the path is the
	// file's there). Every other field applies as to files (a blob seen before with the same
	// rules is answered from the cache; MaxFileSize is per blob; .capstanignore is looked for in
	// the current directory and the repository's). A repository that cannot be opened, or a revision that does
	// not resolve, is reported in PathErrors ("REPO: cause") with an empty result, as are
	// objects that cannot be read beside the findings of the rest.
	Git *GitSource
	// Compiled rules (shared, not copied), or nil for Packs and Config. Giving both is an
	// ErrInvalidArgument.
	Rules *Rules
	// Built-in packs ("secrets", "crypto", "threats", "dockerfile") and a rule config file,
	// loaded on each run as `capstan scan --rules` / `--config` do: with neither, every pack;
	// with a config alone, only its rules; with both, the config's rules then the packs.
	Packs  []string
	Config string
	// Previous JSON reports (`capstan scan --format json`) whose findings are left out.
	Baselines []string
	// Ignore files (fingerprints, or gitleaks' path:rule:line). Naming any turns discovery off.
	IgnoreFiles []string
	// Don't look for .capstanignore in the current directory and each directory named in Inputs.
	NoIgnoreDiscovery bool
	// Report secrets in full instead of their first characters (never cached).
	NoRedact bool
	// Worker threads: 0 means one per core; more than 1024 is an ErrInvalidArgument.
	Threads int
	// Files larger than this many bytes are skipped; 0 means the default, 10 MiB.
	MaxFileSize uint64
	// Where results are cached between runs, keyed by content and rule set; "" for no cache.
	CacheDir string
	// A cache level shared by every machine that scans with the same rules: Redis (or Valkey,
	// KeyDB, Dragonfly) at redis://[user:password@]host[:port][/db], rediss:// for TLS; "" for
	// none. Looked up after CacheDir's; new results go to both. A server that is down or slow
	// never fails a run (the level is given up for the run). A URL that is not one is an
	// ErrInvalidArgument naming it without its password.
	CacheURL string
	// How long a shared entry lives (0: 30 days) and how long one call to it may take (0:
	// 200 ms); whole seconds and milliseconds.
	CacheTTL, CacheTimeout time.Duration
	// Scan only part Shard.Index of Shard.Count (1-based) of the work, for jobs that split one
	// scan and merge their JSON reports (`capstan merge`); the zero value scans it all.
	Shard Shard
	// Report only findings of at least this confidence: "low", "medium" or "high"; "" is
	// medium, as `capstan scan` does. Anything else is an ErrInvalidArgument.
	MinConfidence string
}

// Shard is one part of a scan split across jobs: files by path, a history's blobs by path,
// images whole — a stable partition, the same on every machine.
type Shard struct {
	Index, Count int
}

// ScanResult is what a ScanRequest found.
type ScanResult struct {
	// The findings, sorted by path, line, column and rule, suppressed ones left out.
	Findings []Finding
	// How many findings a baseline or an ignore file left out.
	Suppressed uint64
	// How many findings MinConfidence left out.
	BelowConfidence uint64
	// Images: how many layers were pulled and scanned, answered from the cache, or shared with
	// an image scanned before in the same run.
	LayersPulled, LayersCached, LayersShared uint64
	// History: how many commits were walked (0 for staged changes).
	Commits uint64
}

// packed lays out strings for C one after another, each NUL-terminated (callers check noNUL).
func packed(list []string) (*C.char, C.size_t) {
	if len(list) == 0 {
		return nil, 0
	}
	var b []byte
	for _, s := range list {
		b = append(b, s...)
		b = append(b, 0)
	}
	return (*C.char)(unsafe.Pointer(&b[0])), C.size_t(len(list))
}

// Run runs the request. A config, baseline or ignore file that cannot be read is an ErrIO, an
// invalid one an ErrConfig, a setting out of range (or no input) an ErrInvalidArgument; each
// message names the file or setting. Inputs that could not be read are reported as PathErrors
// beside the result for the rest. The request may be run again, and from several goroutines.
func (r ScanRequest) Run() (*ScanResult, error) {
	var git GitSource
	if r.Git != nil {
		git = *r.Git
	}
	for what, list := range map[string][]string{
		"inputs": r.Inputs, "images": r.Images, "platform": {r.Platform}, "packs": r.Packs,
		"baselines": r.Baselines, "ignore files": r.IgnoreFiles, "config": {r.Config},
		"cache dir": {r.CacheDir}, "cache URL": {r.CacheURL}, "min confidence": {r.MinConfidence},
		"git": {git.Repo, git.Since, git.Branch},
	} {
		if err := noNUL(what, list...); err != nil {
			return nil, err
		}
	}
	if r.Threads < 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: "threads is negative"}
	}
	if r.Pulls < 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: "pulls is negative"}
	}
	if r.Shard.Index < 0 || r.Shard.Count < 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: "shard is negative"}
	}
	if r.CacheTTL < 0 || r.CacheTimeout < 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: "cache TTL or timeout is negative"}
	}
	threads, pulls := uint32Arg(r.Threads), uint32Arg(r.Pulls)
	ttl := uint64(r.CacheTTL / time.Second)
	if r.CacheTTL > 0 && ttl == 0 {
		ttl = 1
	}
	timeout := uint32Arg(int(r.CacheTimeout / time.Millisecond))
	if r.CacheTimeout > 0 && timeout == 0 {
		timeout = 1
	}
	var rules *C.capstan_rules
	if r.Rules != nil {
		r.Rules.mu.RLock()
		defer r.Rules.mu.RUnlock()
		if r.Rules.ptr == nil {
			return nil, ErrClosed
		}
		rules = r.Rules.ptr
	}
	inputs, nInputs := packed(r.Inputs)
	images, nImages := packed(r.Images)
	packs, nPacks := packed(r.Packs)
	baselines, nBaselines := packed(r.Baselines)
	ignores, nIgnores := packed(r.IgnoreFiles)
	var repo *C.char // NULL: no repository; "" is one, refused with its message
	if r.Git != nil {
		repo = cstr(git.Repo)
	}
	res := C.go_request_run(rules, inputs, nInputs, images, nImages, optional(r.Platform),
		C.uint32_t(pulls), C.bool(r.Insecure), repo, optional(git.Since), optional(git.Branch),
		C.bool(git.Staged), packs, nPacks, optional(r.Config),
		baselines, nBaselines, ignores, nIgnores, C.bool(!r.NoIgnoreDiscovery),
		C.bool(!r.NoRedact), C.uint32_t(threads), C.uint64_t(r.MaxFileSize),
		optional(r.CacheDir), optional(r.CacheURL), C.uint64_t(ttl), C.uint32_t(timeout),
		C.uint32_t(uint32Arg(r.Shard.Index)), C.uint32_t(uint32Arg(r.Shard.Count)),
		optional(r.MinConfidence))
	if err := fail(res); err != nil {
		return nil, err
	}
	findings, err := take(res)
	return &ScanResult{
		Findings:        findings,
		Suppressed:      uint64(res.suppressed),
		BelowConfidence: uint64(res.below_confidence),
		LayersPulled:    uint64(res.layers[0]),
		LayersCached:    uint64(res.layers[1]),
		LayersShared:    uint64(res.layers[2]),
		Commits:         uint64(res.commits),
	}, err
}

// uint32Arg is a checked non-negative count for C: past uint32 it becomes the largest, which
// libcapstan refuses with its message.
func uint32Arg(n int) uint32 {
	if uint64(n) > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(n)
}

// Scanner scans one input written to it in chunks of any size (it is an io.Writer, so io.Copy
// works); Finish gives the findings. A secret split between two writes is found. Not safe for
// concurrent use.
type Scanner struct {
	ptr *C.capstan_scanner
	err error // why it could not be made: returned by every call
}

// NewScanner starts a streaming scan of one input reported under path. It cannot fail on its
// own; if the rules are closed, Write and Finish say so.
func (r *Rules) NewScanner(path string) *Scanner {
	if err := noNUL("path", path); err != nil {
		return &Scanner{err: err}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.ptr == nil {
		return &Scanner{err: ErrClosed}
	}
	res := C.go_scanner_new(r.ptr, cstr(path))
	if err := fail(res); err != nil {
		return &Scanner{err: err}
	}
	s := &Scanner{ptr: (*C.capstan_scanner)(res.ptr)}
	runtime.SetFinalizer(s, (*Scanner).Close)
	return s
}

// Write scans the next chunk; it never keeps p.
func (s *Scanner) Write(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.ptr == nil {
		return 0, ErrClosed
	}
	if err := fail(C.go_scanner_feed(s.ptr, bytesPtr(p), C.size_t(len(p)))); err != nil {
		return 0, err
	}
	runtime.KeepAlive(s)
	return len(p), nil
}

// Finish ends the input and returns its findings; the scanner takes no more writes.
func (s *Scanner) Finish() ([]Finding, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.ptr == nil {
		return nil, ErrClosed
	}
	res := C.go_scanner_finish(s.ptr)
	runtime.KeepAlive(s)
	if err := fail(res); err != nil {
		return nil, err
	}
	return take(res)
}

// Close frees the scanner, finished or not. Closing twice is harmless.
func (s *Scanner) Close() error {
	if s.ptr != nil {
		C.capstan_scanner_free(s.ptr)
		s.ptr = nil
		runtime.SetFinalizer(s, nil)
	}
	return nil
}

// optional is NULL for "" and the NUL-terminated string otherwise.
func optional(s string) *C.char {
	if s == "" {
		return nil
	}
	return cstr(s)
}

// WriteContext writes the build context of dir to w as a tar, as `docker build` would send
// it but byte-for-byte reproducible: .dockerignore applied as docker applies it, names sorted,
// mtime 0 (or $SOURCE_DATE_EPOCH), owners 0. dockerfile "" means Dockerfile; a relative one is
// relative to dir. An error from w stops the context and is returned as it is.
func WriteContext(dir, dockerfile string, w io.Writer) error {
	if err := noNUL("dir or dockerfile", dir, dockerfile); err != nil {
		return err
	}
	s := &sink{w: w}
	h := cgo.NewHandle(s)
	defer h.Delete()
	err := fail(C.go_context_write(cstr(dir), optional(dockerfile), C.uintptr_t(h)))
	if s.err != nil {
		return s.err
	}
	return err
}

// WriteContextScan is WriteContext with every file scanned on its way out (threads: 0 for one
// per core; more than 1024 is an ErrInvalidArgument). With failOnFindings a finding stops the context before its end (w gets a tar no
// builder accepts) and the error is ErrFindingsLimit; the findings are returned either way.
func (r *Rules) WriteContextScan(dir, dockerfile string, w io.Writer, threads int, failOnFindings bool) ([]Finding, error) {
	if threads < 0 {
		return nil, &Error{Status: StatusInvalidArgument, Message: "threads is negative"}
	}
	if err := noNUL("dir or dockerfile", dir, dockerfile); err != nil {
		return nil, err
	}
	// w runs inside this call and may use r (even Close it): lend the call its own handle
	// rather than hold r's lock around user code.
	r.mu.RLock()
	if r.ptr == nil {
		r.mu.RUnlock()
		return nil, ErrClosed
	}
	var lent *C.capstan_rules
	st := C.capstan_rules_clone(r.ptr, &lent)
	r.mu.RUnlock()
	if st != C.CAPSTAN_OK {
		return nil, &Error{Status: Status(st), Message: "could not share the rules"}
	}
	defer C.capstan_rules_free(lent)
	s := &sink{w: w}
	h := cgo.NewHandle(s)
	defer h.Delete()
	res := C.go_context_write_scan(lent, cstr(dir), optional(dockerfile), C.uintptr_t(h),
		C.uint32_t(threads), C.bool(failOnFindings))
	err := fail(res)
	findings, _ := take(res)
	if s.err != nil {
		return findings, s.err
	}
	return findings, err
}

// ContextReader is the build context of a directory as an io.ReadCloser: the bytes WriteContext
// writes, pulled instead of pushed. Give it to an http.Request as the body of docker's
// POST /build. A background thread copies the files, staying at most a few 64 KiB chunks ahead
// of Read, so memory stays bounded whatever the context's size.
//
// Close it when done, read to its end or not (an http.Client closes a request's body itself);
// closing early stops the background thread. Read and Close may be called from different
// goroutines (a transport may close a body another goroutine is reading): each waits for the
// other. Reads from several goroutines at once are serialised, but their bytes would interleave.
type ContextReader struct {
	mu  sync.Mutex // Close waits for a Read in progress, so no call sees a freed handle
	ptr *C.capstan_context_reader
}

// NewContextReader starts reading the build context of dir: the same selection, .dockerignore
// and Dockerfile rules as WriteContext (dockerfile "" means Dockerfile; a relative one is
// relative to dir). The directory is walked and the Dockerfile located here, so their errors
// come from this call; those of the files' contents come from Read.
func NewContextReader(dir, dockerfile string) (*ContextReader, error) {
	if err := noNUL("dir or dockerfile", dir, dockerfile); err != nil {
		return nil, err
	}
	res := C.go_context_reader_new(cstr(dir), optional(dockerfile))
	if err := fail(res); err != nil {
		return nil, err
	}
	r := &ContextReader{ptr: (*C.capstan_context_reader)(res.ptr)}
	runtime.SetFinalizer(r, (*ContextReader).Close)
	return r, nil
}

// Read reads the next bytes of the tar (at most 64 KiB at a time), waiting for the background
// thread if it has none ready; io.EOF follows the last. A file that cannot be read, or that
// changed size since NewContextReader (the tar would be corrupt), is an ErrIO naming it,
// returned again by every later Read. After Close, Read returns ErrClosed.
func (r *ContextReader) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr == nil {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	res := C.go_context_reader_read(r.ptr, bytesPtr(p), C.size_t(len(p)))
	runtime.KeepAlive(r)
	if err := fail(res); err != nil {
		return 0, err
	}
	if res.len == 0 {
		return 0, io.EOF
	}
	return int(res.len), nil
}

// Close frees the reader, stopping the background thread if the context was not read to its
// end. Closing twice is harmless.
func (r *ContextReader) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ptr != nil {
		C.capstan_context_reader_free(r.ptr)
		r.ptr = nil
		runtime.SetFinalizer(r, nil)
	}
	return nil
}

// AuthHeader is the X-Registry-Auth header value for image ("alpine", "ghcr.io/org/app:1"),
// with credentials resolved as the docker CLI does (podman's and docker's config files,
// credential helpers) through a process-wide cache. It carries the secret: never log it.
func AuthHeader(image string) (string, error) {
	if err := noNUL("image", image); err != nil {
		return "", err
	}
	res := C.go_auth_header(cstr(image))
	if err := fail(res); err != nil {
		return "", err
	}
	defer C.capstan_string_free((*C.char)(res.ptr))
	return C.GoString((*C.char)(res.ptr)), nil
}

// ClearAuthCache forgets every cached credential (after a login, say).
func ClearAuthCache() { C.capstan_auth_clear() }
