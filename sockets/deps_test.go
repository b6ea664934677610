package sockets_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestStandardLibraryOnly: importing sockets compiles nothing outside the
// standard library (no policy engine, YAML parser, proxy or driver).
func TestStandardLibraryOnly(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list the dependencies: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/outboundhq/outbound/sockets" {
			t.Errorf("sockets depends on %s; it must use the standard library only", p)
		}
	}
}
