// Command scan scans the files and directories named on the command line with capstan's
// built-in rules and prints one line per finding (secrets redacted), like examples/c/scan.c.
//
//	cargo build --release -p capstan-ffi && cd examples/go && go run . ../../src
//
// Exit status: 0 clean, 1 findings, 2 an error.
package main

import (
	"errors"
	"fmt"
	"os"

	"example.invalid/capstan"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintf(os.Stderr, "usage: %s PATH...\n", os.Args[0])
		os.Exit(2)
	}
	rules, err := capstan.BuiltinRules()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer rules.Close()
	status := 0
	for _, path := range os.Args[1:] {
		findings, err := rules.ScanPath(path, 0)
		for _, f := range findings {
			fmt.Printf("%s:%d:%d: %s %s [%s] %s\n", f.Path, f.Line, f.Column, f.Severity, f.RuleID, f.Category, f.Secret)
		}
		var unreadable capstan.PathErrors
		switch {
		case errors.As(err, &unreadable):
			for _, e := range unreadable {
				fmt.Fprintln(os.Stderr, "scan:", e)
			}
			status = 2
		case err != nil:
			fmt.Fprintln(os.Stderr, err)
			status = 2
		case len(findings) > 0 && status == 0:
			status = 1
		}
	}
	os.Exit(status)
}
