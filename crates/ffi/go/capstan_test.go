package capstan

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"
)

const tokenLine = "GITHUB_TOKEN=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\n"

func builtin(t testing.TB, packs ...string) *Rules {
	t.Helper()
	r, err := BuiltinRules(packs...)
	if err != nil {
		t.Fatalf("BuiltinRules(%v): %v", packs, err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestVersion(t *testing.T) {
	if Version() == "" {
		t.Fatal("empty version")
	}
}

func TestBuiltinPacksAndErrors(t *testing.T) {
	all, some := builtin(t), builtin(t, "secrets", "crypto")
	if some.Len() < 100 || some.Len() >= all.Len() {
		t.Fatalf("secrets+crypto has %d rules, all %d", some.Len(), all.Len())
	}
	_, err := BuiltinRules("secrets", "nope")
	if !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown pack: %v", err)
	}
	_, err = RulesFromTOML([]byte("[[rules]]\nid = \"broken\"\nregex = '''(unclosed'''\n"))
	var e *Error
	if !errors.As(err, &e) || e.Status != StatusConfig || !strings.Contains(e.Message, "broken") {
		t.Fatalf("bad TOML: %v", err)
	}
	_, err = RulesFromFile(filepath.Join(t.TempDir(), "missing.toml"))
	if !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), "missing.toml") {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := RulesFromTOML(nil); err != nil {
		t.Fatalf("an empty config is an empty rule set: %v", err)
	}
}

func TestScanBytesFindsAndRedacts(t *testing.T) {
	r := builtin(t, "secrets")
	got, err := r.ScanBytes([]byte(tokenLine), ".env")
	if err != nil || len(got) == 0 {
		t.Fatalf("ScanBytes: %v %v", got, err)
	}
	f := got[0]
	if !strings.HasPrefix(f.RuleID, "github") || f.Path != ".env" || f.Line != 1 || f.Column != 14 || f.Category != "secret" {
		t.Fatalf("unexpected finding %+v", f)
	}
	if strings.Contains(f.Secret, "8kTqZ2vXw9") {
		t.Fatalf("secret not redacted: %q", f.Secret)
	}
	clean, err := r.ScanBytes([]byte("nothing to see\n"), "a.txt")
	if err != nil || clean != nil {
		t.Fatalf("clean buffer: %v %v", clean, err)
	}
	if _, err := r.ScanBytes(nil, ""); err != nil {
		t.Fatalf("empty buffer: %v", err)
	}
}

func TestCustomRules(t *testing.T) {
	r, err := RulesFromTOML([]byte("[[rules]]\nid = \"internal-token\"\nregex = '''itk_[a-z0-9]{32}'''\nkeywords = [\"itk_\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.ScanBytes([]byte("x = itk_0123456789abcdef0123456789abcdef\n"), "conf.py")
	if err != nil || len(got) != 1 || got[0].RuleID != "internal-token" || got[0].Column != 5 || got[0].EndColumn != 40 {
		t.Fatalf("%+v %v", got, err)
	}
}

func TestScannerIsAWriterAndMatchesOneShot(t *testing.T) {
	r := builtin(t)
	input := strings.Repeat("filler line\n", 5000) + tokenLine + strings.Repeat("more\n", 100)
	want, err := r.ScanBytes([]byte(input), "big.env")
	if err != nil || len(want) == 0 {
		t.Fatalf("one-shot: %v %v", want, err)
	}
	s := r.NewScanner("big.env")
	defer s.Close()
	// One byte at a time: a secret split between writes must still be found.
	if _, err := io.Copy(s, iotest.OneByteReader(strings.NewReader(input))); err != nil {
		t.Fatal(err)
	}
	got, err := s.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("streamed %v\nwant %v", got, want)
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("write after finish: %v", err)
	}
	s.Close()
	if _, err := s.Write([]byte("x")); err != ErrClosed {
		t.Fatalf("write after close: %v", err)
	}
}

func TestScannerOutlivesItsRules(t *testing.T) {
	r, err := BuiltinRules("secrets")
	if err != nil {
		t.Fatal(err)
	}
	s := r.NewScanner("late.env")
	defer s.Close()
	r.Close()
	r.Close()
	if _, err := r.ScanBytes([]byte(tokenLine), "x"); err != ErrClosed {
		t.Fatalf("closed rules: %v", err)
	}
	if _, err := r.NewScanner("x").Write([]byte("x")); err != ErrClosed {
		t.Fatalf("scanner of closed rules: %v", err)
	}
	io.WriteString(s, tokenLine)
	if got, err := s.Finish(); err != nil || len(got) == 0 {
		t.Fatalf("%v %v", got, err)
	}
}

func TestScanPath(t *testing.T) {
	r := builtin(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", ".env"), []byte(tokenLine), 0o644)
	os.WriteFile(filepath.Join(dir, "clean.txt"), []byte("hello\n"), 0o644)
	got, err := r.ScanPath(dir, 2)
	if err != nil || len(got) == 0 || !strings.HasSuffix(got[0].Path, "sub/.env") {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := r.ScanPath(dir+"\x00", 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("a NUL in a path: %v", err)
	}
	if _, err := r.ScanPath(filepath.Join(dir, "nope"), 0); !errors.Is(err, ErrIO) {
		t.Fatalf("missing path: %v", err)
	}
	if os.Geteuid() != 0 { // root reads anything
		locked := filepath.Join(dir, "locked.txt")
		os.WriteFile(locked, []byte("x"), 0o000)
		got, err = r.ScanPath(dir, 1)
		var pe PathErrors
		if !errors.As(err, &pe) || len(pe) != 1 || len(got) == 0 {
			t.Fatalf("unreadable file: %v %v", got, err)
		}
	}
}

func contextDir(t *testing.T) string {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY . /\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("*.log\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "app.txt"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "debug.log"), []byte("ignored\n"), 0o644)
	return dir
}

func tarNames(t *testing.T, b []byte) map[string]string {
	t.Helper()
	names := map[string]string{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("reading the context: %v", err)
		}
		body, _ := io.ReadAll(tr)
		names[h.Name] = string(body)
	}
}

func TestWriteContext(t *testing.T) {
	dir := contextDir(t)
	var a, b bytes.Buffer
	if err := WriteContext(dir, "", &a); err != nil {
		t.Fatal(err)
	}
	if err := WriteContext(dir, "Dockerfile", &b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two writes of one context differ")
	}
	names := tarNames(t, a.Bytes())
	if names["app.txt"] != "hello\n" || names["Dockerfile"] == "" {
		t.Fatalf("names: %v", names)
	}
	if _, ok := names["debug.log"]; ok {
		t.Fatal(".dockerignore not applied")
	}
	boom := errors.New("disk full")
	fw := &failingWriter{err: boom}
	if err := WriteContext(dir, "", fw); err != boom || fw.calls != 1 {
		t.Fatalf("writer error: %v after %d calls (want 1)", err, fw.calls)
	}
	if err := WriteContext(dir+"\x00/etc", "", io.Discard); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("a NUL in a path: %v", err)
	}
	if err := WriteContext(dir, "", panickingWriter{}); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("panicking writer: %v", err)
	}
	if err := WriteContext(dir, "Nope", io.Discard); !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), "Nope") {
		t.Fatalf("missing Dockerfile: %v", err)
	}
}

type failingWriter struct {
	err   error
	calls int
}

func (w *failingWriter) Write([]byte) (int, error) { w.calls++; return 0, w.err }

type panickingWriter struct{}

func (panickingWriter) Write([]byte) (int, error) { panic("oops") }

// A writer may use, even close, the rules it is writing a scanned context for.
func TestWriteContextScanWriterClosesRules(t *testing.T) {
	r, err := BuiltinRules("secrets")
	if err != nil {
		t.Fatal(err)
	}
	dir := contextDir(t)
	w := writerFunc(func(p []byte) (int, error) { r.Close(); return len(p), nil })
	if _, err := r.WriteContextScan(dir, "", w, 1, false); err != nil {
		t.Fatal(err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestWriteContextScan(t *testing.T) {
	r := builtin(t)
	dir := contextDir(t)
	os.WriteFile(filepath.Join(dir, ".env"), []byte(tokenLine), 0o644)
	var out bytes.Buffer
	got, err := r.WriteContextScan(dir, "", &out, 0, false)
	if err != nil || len(got) == 0 || got[0].Path != ".env" {
		t.Fatalf("%+v %v", got, err)
	}
	tarNames(t, out.Bytes())
	out.Reset()
	got, err = r.WriteContextScan(dir, "", &out, 2, true)
	if !errors.Is(err, ErrFindingsLimit) || len(got) == 0 {
		t.Fatalf("fail on findings: %v %v", got, err)
	}
	if _, err := tar.NewReader(&out).Next(); err == nil {
		for tr := tar.NewReader(bytes.NewReader(out.Bytes())); ; {
			if _, err := tr.Next(); err != nil {
				if err == io.EOF {
					t.Fatal("a stopped context reads as a complete tar")
				}
				break
			}
		}
	}
}

// bigContextDir is contextDir with a 1 MiB file, more than the reader's queue holds (so the
// background thread waits on the reads), and zz.txt after it in tar order.
func bigContextDir(t *testing.T) string {
	dir := contextDir(t)
	os.WriteFile(filepath.Join(dir, "big.bin"), bytes.Repeat([]byte("0123456789abcdef"), 64<<10), 0o644)
	os.WriteFile(filepath.Join(dir, "zz.txt"), bytes.Repeat([]byte("z"), 100), 0o644)
	return dir
}

func TestContextReader(t *testing.T) {
	dir := bigContextDir(t)
	var want bytes.Buffer
	if err := WriteContext(dir, "", &want); err != nil {
		t.Fatal(err)
	}
	r, err := NewContextReader(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("ReadAll: %d bytes, %v; WriteContext wrote %d", len(got), err, want.Len())
	}
	if n, err := r.Read(make([]byte, 8)); n != 0 || err != io.EOF {
		t.Fatalf("a read after the end: %d, %v", n, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("closing twice: %v", err)
	}
	if _, err := r.Read(make([]byte, 8)); err != ErrClosed {
		t.Fatalf("a read after Close: %v", err)
	}

	// Reads of every size, a named Dockerfile: iotest checks the io.Reader contract.
	r, err = NewContextReader(dir, "Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if err := iotest.TestReader(r, want.Bytes()); err != nil {
		t.Fatal(err)
	}
	r.Close()

	// Closed early: after a few bytes, and before any (the background thread waiting on a
	// full queue).
	r, err = NewContextReader(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	head := make([]byte, 100)
	if _, err := io.ReadFull(r, head); err != nil || !bytes.Equal(head, want.Bytes()[:100]) {
		t.Fatalf("the first bytes: %v", err)
	}
	r.Close()
	r, err = NewContextReader(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	r.Close()

	if _, err := NewContextReader(dir, "Nope"); !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), "Nope") {
		t.Fatalf("missing Dockerfile: %v", err)
	}
	if _, err := NewContextReader(dir+"\x00/etc", ""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("a NUL in a path: %v", err)
	}
}

// A file that changes size after the selection fails the read that reaches it, naming it, and
// every read after.
func TestContextReaderChangedFile(t *testing.T) {
	dir := bigContextDir(t)
	r, err := NewContextReader(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The background thread is held up in big.bin long before it reaches zz.txt.
	os.WriteFile(filepath.Join(dir, "zz.txt"), []byte("short\n"), 0o644)
	_, err = io.ReadAll(r)
	if !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), "zz.txt") {
		t.Fatalf("ReadAll: %v", err)
	}
	if _, again := r.Read(make([]byte, 8)); again == nil || again.Error() != err.Error() {
		t.Fatalf("the next read: %v", again)
	}
}

// The use it is for: a request body, read and closed by net/http's transport.
func TestContextReaderAsARequestBody(t *testing.T) {
	dir := bigContextDir(t)
	var want bytes.Buffer
	if err := WriteContext(dir, "", &want); err != nil {
		t.Fatal(err)
	}
	received := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		received <- body
	}))
	defer srv.Close()
	r, err := NewContextReader(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(srv.URL+"/build", "application/x-tar", r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := <-received; !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("the server received %d bytes, want %d", len(got), want.Len())
	}
	// The transport closes the body once it is sent (before the end of the request reaches the
	// server, as Go's transport is written; the wait only spares the test that detail).
	for i := 0; ; i++ {
		_, err := r.Read(make([]byte, 8))
		if err == ErrClosed {
			break
		}
		if i == 100 {
			t.Fatalf("the transport did not close the body: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestAuthHeader(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.json"),
		[]byte(`{"auths":{"registry.example.com":{"auth":"dXNlcjpwYXNz"}}}`), 0o600)
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("HOME", dir)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	ClearAuthCache()
	h, err := AuthHeader("registry.example.com/team/app:1")
	want := "eyJ1c2VybmFtZSI6InVzZXIiLCJwYXNzd29yZCI6InBhc3MiLCJzZXJ2ZXJhZGRyZXNzIjoicmVnaXN0cnkuZXhhbXBsZS5jb20ifQ=="
	if err != nil || h != want {
		t.Fatalf("header %q, %v", h, err)
	}
	if h, err := AuthHeader("other.example.com/app"); err != nil || h != "e30=" {
		t.Fatalf("anonymous: %q %v", h, err)
	}
	if _, err := AuthHeader("UPPER/Case::bad"); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad reference: %v", err)
	}
	// Another DOCKER_CONFIG is read after ClearAuthCache.
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "config.json"), []byte(`{"auths":{}}`), 0o600)
	t.Setenv("DOCKER_CONFIG", other)
	ClearAuthCache()
	if h, err := AuthHeader("registry.example.com/team/app:1"); err != nil || h != "e30=" {
		t.Fatalf("after switching configs: %q %v", h, err)
	}
}

// Each goroutine's error message is its own, though goroutines hop between OS threads.
func TestErrorsStayWithTheirCall(t *testing.T) {
	var wg sync.WaitGroup
	failures := make(chan string, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			name := fmt.Sprintf("pack%d", g)
			for i := 0; i < 50; i++ {
				_, err := BuiltinRules(name)
				if err == nil || !strings.Contains(err.Error(), name) {
					failures <- fmt.Sprintf("goroutine %d got %v", g, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
}

func TestConcurrentScansShareRules(t *testing.T) {
	r := builtin(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if got, err := r.ScanBytes([]byte(tokenLine), ".env"); err != nil || len(got) == 0 {
					t.Errorf("%v %v", got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

var requestTokens = [3]string{
	"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",
	"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",
	"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",
}

// requestTree holds a token in each of a/.env, b/.env and c/.env, and an MD5 call in app.py.
func requestTree(t *testing.T) string {
	dir := t.TempDir()
	for i, sub := range []string{"a", "b", "c"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
		os.WriteFile(filepath.Join(dir, sub, ".env"), []byte("GITHUB_TOKEN="+requestTokens[i]+"\n"), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "app.py"), []byte("import hashlib\ndigest = hashlib.md5(data).hexdigest()\n"), 0o644)
	return dir
}

func fingerprintOf(t *testing.T, findings []Finding, suffix string) string {
	t.Helper()
	for _, f := range findings {
		if strings.HasSuffix(f.Path, suffix) {
			return f.Fingerprint
		}
	}
	t.Fatalf("no finding in %s: %+v", suffix, findings)
	return ""
}

func TestScanRequestSuppressesAndReportsCrypto(t *testing.T) {
	dir := requestTree(t)
	req := ScanRequest{Inputs: []string{dir}, Rules: builtin(t), Threads: 2}
	all, err := req.Run()
	if err != nil || len(all.Findings) != 4 || all.Suppressed != 0 {
		t.Fatalf("%+v %v", all, err)
	}
	crypto := 0
	for _, f := range all.Findings {
		if f.Category != "crypto" {
			if f.Algorithm != "" || f.QuantumClass != "" || f.Primitive != "" || f.Replacement != "" {
				t.Fatalf("crypto fields on a secret: %+v", f)
			}
			continue
		}
		crypto++
		if !strings.HasSuffix(f.Path, "app.py") || f.Line != 2 || f.Algorithm != "MD5" ||
			f.QuantumClass != "weak" || f.Primitive != "hash" || f.Replacement == "" {
			t.Fatalf("crypto finding %+v", f)
		}
		hash := false
		for _, tag := range f.Tags {
			hash = hash || tag == "hash"
		}
		if !hash || f.Severity == "" {
			t.Fatalf("tags or severity of %+v", f)
		}
	}
	if crypto != 1 {
		t.Fatalf("%d crypto findings", crypto)
	}
	// A checksum-verified token is high confidence, the MD5 call its rule's medium; with a
	// minimum of high, the MD5 call is left out and counted.
	for _, f := range all.Findings {
		want := "high"
		if f.Category == "crypto" {
			want = "medium"
		}
		if f.Confidence != want {
			t.Fatalf("confidence of %+v: want %s", f, want)
		}
		if (f.Verified == "checksum") != (f.Category == "secret") {
			t.Fatalf("verified of %+v", f)
		}
	}
	sure := req
	sure.MinConfidence = "high"
	if got, err := sure.Run(); err != nil || len(got.Findings) != 3 || got.BelowConfidence != 1 {
		t.Fatalf("min confidence high: %+v %v", got, err)
	}
	sure.MinConfidence = "sure"
	if got, err := sure.Run(); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "sure") || got != nil {
		t.Fatalf("unknown confidence: %+v %v", got, err)
	}

	// Token a in a baseline, token b in an ignore file: both left out, and counted.
	tmp := t.TempDir()
	baseline := filepath.Join(tmp, "baseline.json")
	os.WriteFile(baseline, []byte(`{"findings":[{"fingerprint":"`+fingerprintOf(t, all.Findings, "/a/.env")+`"}]}`), 0o644)
	ignore := filepath.Join(tmp, "ignore")
	os.WriteFile(ignore, []byte("# a known test token\n"+fingerprintOf(t, all.Findings, "/b/.env")+"\n"), 0o644)
	req.Baselines = []string{baseline}
	req.IgnoreFiles = []string{ignore}
	left, err := req.Run()
	if err != nil || len(left.Findings) != 2 || left.Suppressed != 2 {
		t.Fatalf("%+v %v", left, err)
	}
	for _, f := range left.Findings {
		if !strings.HasSuffix(f.Path, "/c/.env") && !strings.HasSuffix(f.Path, "app.py") {
			t.Fatalf("not suppressed: %+v", f)
		}
	}
	// With a cache, twice: the same answer.
	req.CacheDir = filepath.Join(tmp, "cache")
	for i := 0; i < 2; i++ {
		if again, err := req.Run(); err != nil || fmt.Sprint(again) != fmt.Sprint(left) {
			t.Fatalf("cached run %d: %+v %v", i, again, err)
		}
	}

	// A baseline that is not there: an I/O error naming it.
	missing := filepath.Join(tmp, "missing-baseline.json")
	req.Baselines = append(req.Baselines, missing)
	if got, err := req.Run(); !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), missing) || got != nil {
		t.Fatalf("missing baseline: %+v %v", got, err)
	}
}

func TestScanRequestPacksSettingsAndErrors(t *testing.T) {
	dir := requestTree(t)
	tmp := t.TempDir()
	missing := filepath.Join(tmp, "does-not-exist")
	got, err := ScanRequest{
		Inputs: []string{dir, missing}, Packs: []string{"secrets"}, NoRedact: true,
		NoIgnoreDiscovery: true, MaxFileSize: 1 << 20,
	}.Run()
	var pe PathErrors
	if !errors.As(err, &pe) || len(pe) != 1 || !strings.Contains(pe[0], "does-not-exist") {
		t.Fatalf("unreadable input: %v", err)
	}
	if got == nil || len(got.Findings) != 3 || !strings.Contains(got.Findings[0].Secret, requestTokens[0]) {
		t.Fatalf("the secrets pack, unredacted: %+v", got)
	}

	for _, c := range []struct {
		req  ScanRequest
		want error
		text string
	}{
		{ScanRequest{Inputs: []string{dir}, Threads: 100000}, ErrInvalidArgument, "100000"},
		{ScanRequest{Inputs: []string{dir}, Threads: -1}, ErrInvalidArgument, "negative"},
		{ScanRequest{}, ErrInvalidArgument, "no input"},
		{ScanRequest{Inputs: []string{dir}, Packs: []string{"nope"}}, ErrInvalidArgument, "secrets"},
		{ScanRequest{Inputs: []string{dir}, Rules: builtin(t), Packs: []string{"secrets"}}, ErrInvalidArgument, "already has rules"},
		{ScanRequest{Inputs: []string{dir}, Config: filepath.Join(tmp, "none.toml")}, ErrIO, "none.toml"},
		{ScanRequest{Inputs: []string{dir + "\x00"}}, ErrInvalidArgument, "NUL"},
		{ScanRequest{Inputs: []string{dir}, IgnoreFiles: []string{filepath.Join(tmp, "no-ignore")}}, ErrIO, "no-ignore"},
	} {
		got, err := c.req.Run()
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) || got != nil {
			t.Errorf("%+v: got %+v, %v; want %v with %q", c.req, got, err, c.want, c.text)
		}
	}
	broken := filepath.Join(tmp, "broken.toml")
	os.WriteFile(broken, []byte("[[rules]]\nid = \"broken\"\nregex = '''(unclosed'''\n"), 0o644)
	if _, err := (ScanRequest{Inputs: []string{dir}, Config: broken}).Run(); !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "broken") {
		t.Fatalf("broken config: %v", err)
	}
	closed, _ := BuiltinRules("secrets")
	closed.Close()
	if _, err := (ScanRequest{Inputs: []string{dir}, Rules: closed}).Run(); err != ErrClosed {
		t.Fatalf("closed rules: %v", err)
	}
	if _, err := builtin(t).ScanPath(dir, 100000); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("ScanPath with 100000 threads: %v", err)
	}
}
