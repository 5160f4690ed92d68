package capstan_test

import (
	"archive/tar"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	capstan "example.invalid/capstan"
)

// A build context streamed as the body of docker's POST /build. Here the "daemon" is a test
// server that lists the tar's members; against docker, send the request to
// http://docker/build?t=app:latest through an http.Client whose transport dials the daemon's
// socket (/var/run/docker.sock).
func ExampleNewContextReader() {
	dir, err := os.MkdirTemp("", "capstan-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY . /\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("*.log\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "app.txt"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "debug.log"), []byte("not sent\n"), 0o644)

	daemon := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		tr := tar.NewReader(req.Body)
		for {
			h, err := tr.Next()
			if err != nil {
				if err != io.EOF {
					fmt.Fprintln(w, "bad context:", err)
				}
				return
			}
			fmt.Fprintln(w, h.Name)
		}
	}))
	defer daemon.Close()

	body, err := capstan.NewContextReader(dir, "")
	if err != nil {
		fmt.Println(err)
		return
	}
	// The transport reads the body as it sends it, and closes it.
	resp, err := http.Post(daemon.URL+"/build?t=app:latest", "application/x-tar", body)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	io.Copy(os.Stdout, resp.Body)
	// Output:
	// .dockerignore
	// Dockerfile
	// app.txt
}
