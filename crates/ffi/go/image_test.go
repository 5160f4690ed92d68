package capstan

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// layerTar is an uncompressed layer holding files (name, content) in order.
func layerTar(t *testing.T, files ...[2]string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, f := range files {
		h := &tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f[1]))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// testLayout is what writeLayout wrote: the image as a scan names it, its manifest's digest and
// its layers' digests.
type testLayout struct {
	image    string
	manifest string
	layers   []string
}

// writeLayout writes an OCI image layout under a temporary directory, tagged v1: a token in
// layer 0's etc/app/.env, which layer 1 deletes (a whiteout), one in layer 1's srv/new.env, and
// one in the config's Env[1].
func writeLayout(t *testing.T) testLayout {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	blobs := filepath.Join(dir, "blobs", "sha256")
	if err := os.MkdirAll(blobs, 0o755); err != nil {
		t.Fatal(err)
	}
	put := func(b []byte) string {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(blobs, h), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + h
	}
	js := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	layers := [][]byte{
		layerTar(t, [2]string{"etc/app/.env", "GITHUB_TOKEN=" + requestTokens[0] + "\n"}, [2]string{"srv/ok.txt", "hello\n"}),
		layerTar(t, [2]string{"etc/app/.wh..env", ""}, [2]string{"srv/new.env", "GITHUB_TOKEN=" + requestTokens[1] + "\n"}),
	}
	w := testLayout{image: "oci:" + dir + ":v1"}
	var descriptors []map[string]any
	for _, l := range layers {
		d := put(l)
		w.layers = append(w.layers, d)
		descriptors = append(descriptors, map[string]any{
			"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": len(l),
		})
	}
	config := js(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Env": []string{"PATH=/usr/bin", "API_TOKEN=" + requestTokens[2]}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": w.layers},
	})
	manifest := js(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{
			"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(config), "size": len(config),
		},
		"layers": descriptors,
	})
	w.manifest = put(manifest)
	index := js(map[string]any{"schemaVersion": 2, "manifests": []any{map[string]any{
		"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": w.manifest, "size": len(manifest),
		"annotations": map[string]string{"org.opencontainers.image.ref.name": "v1"},
	}}})
	os.WriteFile(filepath.Join(dir, "index.json"), index, 0o644)
	os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	return w
}

// checkImageFindings checks the three findings of writeLayout's image, in order.
func checkImageFindings(t *testing.T, w testLayout, got []Finding) {
	t.Helper()
	origin := func(layer int, removed int) *ImageOrigin {
		o := &ImageOrigin{Image: w.image, ManifestDigest: w.manifest, RemovedInLayer: removed}
		if layer >= 0 {
			o.Layer = &LayerRef{Index: layer, Digest: w.layers[layer]}
		}
		return o
	}
	want := []struct {
		path   string
		origin *ImageOrigin
	}{
		{"config:Env[1]", origin(-1, 0)},
		{"etc/app/.env", origin(0, 1)},
		{"srv/new.env", origin(1, 0)},
	}
	if len(got) != len(want) {
		t.Fatalf("%d findings, want %d: %+v", len(got), len(want), got)
	}
	for i, f := range got {
		if f.Path != want[i].path || !strings.HasPrefix(f.RuleID, "github") {
			t.Errorf("finding %d: %s %s, want %s", i, f.RuleID, f.Path, want[i].path)
		}
		if !reflect.DeepEqual(f.Image, want[i].origin) {
			t.Errorf("finding %d (%s): origin %s, want %s", i, f.Path, originText(f.Image),
				originText(want[i].origin))
		}
		if strings.Contains(f.Secret, "8kTqZ2vXw9") {
			t.Errorf("finding %d not redacted: %q", i, f.Secret)
		}
	}
}

func originText(o *ImageOrigin) string {
	if o == nil {
		return "none"
	}
	b, _ := json.Marshal(o)
	return string(b)
}

func TestScanRequestImages(t *testing.T) {
	w := writeLayout(t)
	req := ScanRequest{
		Images: []string{w.image}, Packs: []string{"secrets"}, NoIgnoreDiscovery: true,
		Platform: "linux/amd64", Pulls: 1, CacheDir: filepath.Join(t.TempDir(), "cache"),
	}
	res, err := req.Run()
	if err != nil {
		t.Fatal(err)
	}
	checkImageFindings(t, w, res.Findings)
	if res.LayersPulled != 2 || res.LayersCached != 0 || res.LayersShared != 0 {
		t.Fatalf("layers: %+v", res)
	}
	// Again: both layers from the cache, the same findings.
	again, err := req.Run()
	if err != nil {
		t.Fatal(err)
	}
	checkImageFindings(t, w, again.Findings)
	if again.LayersPulled != 0 || again.LayersCached != 2 {
		t.Fatalf("cached layers: %+v", again)
	}

	// JSON: the origin's fields beside the others, as capstan prints them, and back.
	b, err := json.Marshal(res.Findings[1])
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	json.Unmarshal(b, &fields)
	layer, _ := fields["layer"].(map[string]any)
	if fields["image"] != w.image || fields["manifest_digest"] != w.manifest ||
		fields["removed_in_layer"] != 1.0 || layer["index"] != 0.0 || layer["digest"] != w.layers[0] ||
		fields["path"] != "etc/app/.env" {
		t.Fatalf("JSON: %s", b)
	}
	var back Finding
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, res.Findings[1]) {
		t.Fatalf("JSON round trip: %+v %v", back, err)
	}
	if b, _ := json.Marshal(res.Findings[0]); strings.Contains(string(b), `"layer"`) || strings.Contains(string(b), "removed_in_layer") {
		t.Fatalf("a config finding has no layer: %s", b)
	}

	// An image that is not there is reported beside the findings of the rest.
	missing := "oci:" + filepath.Join(t.TempDir(), "nope")
	req.Images = append(req.Images, missing)
	res, err = req.Run()
	var pe PathErrors
	if !errors.As(err, &pe) || len(pe) != 1 || !strings.HasPrefix(pe[0], missing+": ") || res == nil || len(res.Findings) != 3 {
		t.Fatalf("a missing image: %+v %v", res, err)
	}

	for _, c := range []struct {
		req  ScanRequest
		want error
		text string
	}{
		{ScanRequest{Images: []string{"Alpine"}}, ErrInvalidArgument, "Alpine"},
		{ScanRequest{Images: []string{w.image}, Inputs: []string{t.TempDir()}}, ErrInvalidArgument, "one kind"},
		{ScanRequest{Images: []string{w.image}, Platform: "linux"}, ErrInvalidArgument, "linux/amd64"},
		{ScanRequest{Images: []string{w.image}, Pulls: 1025}, ErrInvalidArgument, "1025"},
		{ScanRequest{Images: []string{w.image}, Pulls: -1}, ErrInvalidArgument, "negative"},
		{ScanRequest{Images: []string{w.image + "\x00"}}, ErrInvalidArgument, "NUL"},
	} {
		got, err := c.req.Run()
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) || got != nil {
			t.Errorf("%+v: got %+v, %v; want %v with %q", c.req, got, err, c.want, c.text)
		}
	}
}

func TestScanImage(t *testing.T) {
	w := writeLayout(t)
	r := builtin(t, "secrets")
	got, err := r.ScanImage(w.image, 2)
	if err != nil {
		t.Fatal(err)
	}
	checkImageFindings(t, w, got)

	// Findings of files have no origin.
	files, err := r.ScanBytes([]byte(tokenLine), ".env")
	if err != nil || len(files) == 0 || files[0].Image != nil {
		t.Fatalf("a file's finding: %+v %v", files, err)
	}

	missing := "oci:" + filepath.Join(t.TempDir(), "nope") + ":v1"
	if got, err := r.ScanImage(missing, 0); !errors.Is(err, ErrIO) || !strings.Contains(err.Error(), missing) || got != nil {
		t.Fatalf("a missing image: %+v %v", got, err)
	}
	if _, err := r.ScanImage("Alpine", 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("not a reference: %v", err)
	}
	if _, err := r.ScanImage(w.image, 100000); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("100000 threads: %v", err)
	}
	if _, err := r.ScanImage(w.image, -1); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("negative threads: %v", err)
	}
	closed, _ := BuiltinRules("secrets")
	closed.Close()
	if _, err := closed.ScanImage(w.image, 0); err != ErrClosed {
		t.Fatalf("closed rules: %v", err)
	}
}
