// Command parity runs one scan request through the Go package and prints its findings as a
// JSON array (the form capstan_findings_to_json gives), for tests/parity.sh, which compares them
// with the CLI's and the C ABI's.
//
//	go run ./internal/parity [-baseline FILE]... [-ignore-file FILE]... PATH...
//
// Exit status: 0 when the request ran (whatever it found), 2 on an error.
package main

import (
	"encoding/json"
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
	flag.Var((*list)(&req.Baselines), "baseline", "a previous JSON report whose findings are left out (repeatable)")
	flag.Var((*list)(&req.IgnoreFiles), "ignore-file", "an ignore file (repeatable; turns discovery off)")
	flag.Parse()
	req.Inputs = flag.Args()
	res, err := req.Run()
	if err != nil {
		fmt.Fprintln(os.Stderr, "parity:", err)
		os.Exit(2)
	}
	findings := res.Findings
	if findings == nil {
		findings = []capstan.Finding{}
	}
	out, err := json.Marshal(findings)
	if err != nil {
		fmt.Fprintln(os.Stderr, "parity:", err)
		os.Exit(2)
	}
	fmt.Printf("%s\n", out)
}
