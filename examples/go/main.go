// Command scan scans the files and directories named on the command line as `capstan scan`
// does — every built-in rule, .capstanignore files honoured, an optional baseline and ignore
// files — and prints one line per finding (secrets redacted; crypto findings with their algorithm
// and quantum class), like examples/c/scan.c; or with -json the findings as one JSON array (the
// finding objects of `capstan scan --format json`; tests/parity.sh compares them with the CLI's
// and the C example's). With -image (repeatable) it scans container images instead (a registry
// reference, oci:DIR[:TAG] or docker-archive:FILE), each finding prefixed with its image and
// layer; with -git a repository's history (every blob reachable from its refs, once), each
// finding followed by the commit that introduced it, as `capstan git` prints it.
//
//	cargo build --release -p capstan-ffi && cd examples/go && go run . [-json] [-baseline FILE] [-ignore-file FILE]... ../../src
//	go run . -image alpine:3.20 -image oci:build/layout:v1
//	go run . -git ../..
//
// Exit status: 0 clean, 1 findings, 2 an error (bad argument, unreadable path, image or
// repository).
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	"example.invalid/capstan"
)

type list []string

func (l *list) String() string     { return fmt.Sprint(*l) }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var req capstan.ScanRequest
	asJSON := flag.Bool("json", false, "print the findings as one JSON array")
	flag.Var((*list)(&req.Baselines), "baseline", "a previous JSON report whose findings are left out (repeatable)")
	flag.Var((*list)(&req.IgnoreFiles), "ignore-file", "an ignore file (repeatable; naming one turns .capstanignore discovery off)")
	flag.Var((*list)(&req.Images), "image", "a container image to scan instead of paths: a registry reference, oci:DIR[:TAG] or docker-archive:FILE (repeatable)")
	repo := flag.String("git", "", "a git repository whose history to scan instead of paths: every blob reachable from its refs, once")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: %s [-json] [-baseline FILE] [-ignore-file FILE]... PATH...\n", os.Args[0])
		fmt.Fprintf(os.Stderr, "       %s [-json] [-baseline FILE] [-ignore-file FILE]... -image IMAGE...\n", os.Args[0])
		fmt.Fprintf(os.Stderr, "       %s [-json] [-baseline FILE] [-ignore-file FILE]... -git REPO\n", os.Args[0])
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 && len(req.Images) == 0 && *repo == "" {
		flag.Usage()
		os.Exit(2)
	}
	req.Inputs = flag.Args()
	if *repo != "" {
		req.Git = &capstan.GitSource{Repo: *repo}
	}
	res, err := req.Run()
	var unreadable capstan.PathErrors
	if err != nil && !errors.As(err, &unreadable) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if *asJSON {
		printJSON(res.Findings)
	} else {
		printLines(res.Findings)
	}
	for _, e := range unreadable {
		fmt.Fprintln(os.Stderr, "scan:", e)
	}
	if res.Suppressed > 0 {
		fmt.Fprintf(os.Stderr, "scan: %d finding(s) suppressed\n", res.Suppressed)
	}
	switch {
	case len(unreadable) > 0:
		os.Exit(2)
	case len(res.Findings) > 0:
		os.Exit(1)
	}
}

// printLines prints one line per finding.
func printLines(findings []capstan.Finding) {
	for _, f := range findings {
		if o := f.Image; o != nil && o.Layer != nil { // a file in a layer
			fmt.Printf("%s@layer%d:", o.Image, o.Layer.Index)
		} else if o != nil { // the image config: the path says where
			fmt.Printf("%s@", o.Image)
		}
		fmt.Printf("%s:%d:%d: %s %s [%s] %s", f.Path, f.Line, f.Column, f.Severity, f.RuleID, f.Category, f.Secret)
		if f.Algorithm != "" {
			fmt.Printf(" (%s, %s)", f.Algorithm, f.QuantumClass)
		}
		if f.Git != nil { // history: the commit that introduced it, as capstan git shows
			fmt.Printf(" (commit %.12s)", f.Git.Commit)
		}
		if f.Image != nil && f.Image.RemovedInLayer > 0 {
			fmt.Printf(" (deleted in layer %d, still in the image)", f.Image.RemovedInLayer)
		}
		fmt.Println()
	}
}

// printJSON prints the findings as one JSON array ([] for none), as capstan_findings_to_json does.
func printJSON(findings []capstan.Finding) {
	if findings == nil {
		findings = []capstan.Finding{}
	}
	out, err := json.Marshal(findings)
	if err != nil {
		fmt.Fprintln(os.Stderr, "scan:", err)
		os.Exit(2)
	}
	fmt.Printf("%s\n", out)
}
