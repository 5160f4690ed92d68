package capstan

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// startRedis runs redis-server on a free loopback port until the test ends and returns its URL.
func startRedis(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("redis-server not found on PATH: install Debian's redis-server package (the README's test command .ci/test does)")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Write([]byte("PING\r\n"))
			buf := make([]byte, 7)
			n, _ := c.Read(buf)
			c.Close()
			if strings.HasPrefix(string(buf[:n]), "+PONG") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return "redis://" + addr + "/0"
}

// A second machine — its own empty cache directory — is answered by the shared level with the
// same findings.
func TestScanRequestSharesResultsThroughRedis(t *testing.T) {
	dir := requestTree(t)
	url := startRedis(t)
	first, err := ScanRequest{Inputs: []string{dir}, CacheDir: filepath.Join(t.TempDir(), "a"),
		CacheURL: url, CacheTTL: time.Hour}.Run()
	if err != nil || len(first.Findings) != 4 {
		t.Fatalf("first run: %v %+v", err, first)
	}
	second, err := ScanRequest{Inputs: []string{dir}, CacheDir: filepath.Join(t.TempDir(), "b"),
		CacheURL: url, CacheTimeout: time.Second}.Run()
	if err != nil || !reflect.DeepEqual(first.Findings, second.Findings) {
		t.Fatalf("second run differs: %v\n%+v\n%+v", err, first.Findings, second.Findings)
	}
	// Only the shared level, and a server that is not there: the same findings, no error.
	down := "redis://127.0.0.1:1/0"
	third, err := ScanRequest{Inputs: []string{dir}, CacheURL: down}.Run()
	if err != nil || !reflect.DeepEqual(first.Findings, third.Findings) {
		t.Fatalf("with the shared level down: %v %+v", err, third)
	}
	_, err = ScanRequest{Inputs: []string{dir}, CacheURL: "http://user:hunter2@host"}.Run()
	var e *Error
	if !errors.As(err, &e) || e.Status != StatusInvalidArgument ||
		strings.Contains(e.Message, "hunter2") || !strings.Contains(e.Message, "http://user:***@host") {
		t.Fatalf("a URL that is not one: %v", err)
	}
}

// The shards of a split scan find, together, what the whole scan finds, each finding once.
func TestScanRequestShardsPartitionTheWork(t *testing.T) {
	dir := requestTree(t)
	whole, err := ScanRequest{Inputs: []string{dir}}.Run()
	if err != nil {
		t.Fatal(err)
	}
	var parts []Finding
	for i := 1; i <= 3; i++ {
		got, err := ScanRequest{Inputs: []string{dir}, Shard: Shard{Index: i, Count: 3}}.Run()
		if err != nil {
			t.Fatalf("shard %d/3: %v", i, err)
		}
		parts = append(parts, got.Findings...)
	}
	key := func(f Finding) string { return fmt.Sprint(f.Path, f.Line, f.Column, f.RuleID) }
	seen := map[string]int{}
	for _, f := range parts {
		seen[key(f)]++
	}
	for _, f := range whole.Findings {
		if seen[key(f)] != 1 {
			t.Errorf("%s found %d times across the shards", key(f), seen[key(f)])
		}
	}
	if len(parts) != len(whole.Findings) {
		t.Errorf("%d findings across the shards, %d in the whole scan", len(parts), len(whole.Findings))
	}
	for _, bad := range []Shard{{Index: 0, Count: 3}, {Index: 4, Count: 3}, {Index: -1, Count: 2}} {
		_, err := ScanRequest{Inputs: []string{dir}, Shard: bad}.Run()
		var e *Error
		if !errors.As(err, &e) || e.Status != StatusInvalidArgument {
			t.Errorf("shard %+v: %v", bad, err)
		}
	}
}
