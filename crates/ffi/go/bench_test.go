package capstan

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// The same inputs as the Rust and C benches (benches/benches/ffi.rs, benches/ffi/bench.c):
// 100 clean bytes, and 1 MiB of source-like text.
var (
	clean100 = []byte(strings.Repeat("let total = items.iter().map(|x| x.len()).sum();\n", 3)[:100])
	mib      = func() []byte {
		var b bytes.Buffer
		for i := 0; b.Len() < 1<<20; i++ {
			b.WriteString("    fn handler_")
			b.WriteString(strings.Repeat("x", i%23))
			b.WriteString("(req: Request) -> Response { let user = req.header(\"x-user\"); respond(user) }\n")
		}
		return b.Bytes()[:1<<20]
	}()
)

func BenchmarkScanBytes100(b *testing.B) {
	r := builtin(b)
	b.ResetTimer()
	b.SetBytes(int64(len(clean100)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if got, err := r.ScanBytes(clean100, "a.rs"); err != nil || got != nil {
			b.Fatal(got, err)
		}
	}
}

func BenchmarkScanBytes1MiB(b *testing.B) {
	r := builtin(b)
	b.ResetTimer()
	b.SetBytes(int64(len(mib)))
	for i := 0; i < b.N; i++ {
		if _, err := r.ScanBytes(mib, "a.rs"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkScanBytes100Parallel(b *testing.B) {
	r := builtin(b)
	b.ResetTimer()
	b.SetBytes(int64(len(clean100)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.ScanBytes(clean100, "a.rs"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkWriteContext(b *testing.B) {
	dir := os.Getenv("CAPSTAN_BENCH_CONTEXT")
	if dir == "" {
		b.Skip("set CAPSTAN_BENCH_CONTEXT to a directory")
	}
	for i := 0; i < b.N; i++ {
		var n countingWriter
		if err := WriteContext(dir, "", &n); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(n))
	}
}

type countingWriter int

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

// The floor: one cgo call that does nothing (capstan_version).
func BenchmarkCgoCall(b *testing.B) {
	for i := 0; i < b.N; i++ {
		if Version() == "" {
			b.Fatal("no version")
		}
	}
}
