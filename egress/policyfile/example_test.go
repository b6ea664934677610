package policyfile_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/egress/policyfile"
	"github.com/outboundhq/outbound/sockets"
)

func ExampleParse() {
	cfg, err := policyfile.Parse("egress.yaml", []byte(`
default: deny
rules:
  - name: web
    action: allow
    addrs: [public]
    ports: [80, 443]
  - name: typo
    action: allow
    prots: [22]
`))
	fmt.Println(err)
	_ = cfg
	// Output:
	// policy file egress.yaml:10: unknown rule key "prots"; did you mean "ports"? (the rule keys are name, action, hosts, addrs, ports)
}

// A running program swaps policies atomically; a bad file leaves the old
// one in force.
func ExampleReload() {
	dir, _ := os.MkdirTemp("", "egress")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "egress.yaml")

	holder := egress.NewPolicyHolder(nil) // the default policy until a file loads
	opts := &sockets.Options{Policy: holder}

	os.WriteFile(path, []byte("default: deny\nrules:\n  - {action: allow, hosts: [api.example.com], ports: [443]}\n"), 0o600)
	fmt.Println(policyfile.Reload(holder, path))

	os.WriteFile(path, []byte("default: deny\nrules:\n  - {action: allow, hosts: [api.example.com], ports: [4430000]}\n"), 0o600)
	err := policyfile.Reload(holder, path)
	var pe *policyfile.Error
	fmt.Println(errors.As(err, &pe), pe.Line)

	_, err = sockets.Connect(context.Background(), "other.example.com:443", opts)
	fmt.Println(errors.Is(err, sockets.ErrDenied)) // the first file is still in force
	// Output:
	// <nil>
	// true 3
	// true
}
