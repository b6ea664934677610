package policyfile_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/outboundhq/outbound/egress/policyfile"
	"github.com/outboundhq/outbound/sockets"
)

// TestPortParsedAsConnectDoes: a policy file's ports go through Connect's
// port parser, with its message ("0443" was accepted here and refused by
// Connect).
func TestPortParsedAsConnectDoes(t *testing.T) {
	for _, p := range []string{"0443", "040395"} {
		_, err := policyfile.Parse("p.yaml", []byte("rules:\n  - action: allow\n    ports: [\""+p+"\", 80]\n"))
		_, cerr := sockets.ParsePort(p)
		want := strings.TrimPrefix(cerr.Error(), sockets.ErrInvalidAddress.Error()+": ")
		if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "leading zero") {
			t.Errorf("policy file with port %q: %v; want Connect's message %q", p, err, want)
		}
	}
}

// TestReloadNilHolder: Reload with a nil holder is an error, not a panic.
func TestReloadNilHolder(t *testing.T) {
	if err := policyfile.Reload(nil, "p.yaml"); !errors.Is(err, sockets.ErrInvalidOptions) {
		t.Fatalf("Reload(nil) = %v; want ErrInvalidOptions", err)
	}
}
