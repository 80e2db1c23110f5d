package model_test

import (
	"flag"
	"os"
	"testing"
)

// TestMain sets rapid's default budget for `make test` (1,000 sequences of up
// to 50 steps; 250 under the race detector); -rapid.checks and -rapid.steps
// still win.
func TestMain(m *testing.M) {
	flag.Parse()
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for name, value := range map[string]string{"rapid.checks": defaultChecks, "rapid.steps": "50"} {
		if f := flag.Lookup(name); f != nil && !set[name] {
			_ = f.Value.Set(value)
		}
	}
	os.Exit(m.Run())
}
