package sockets_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// A policy built in Go: deny rules win, an allow-list for the rest.
func ExampleNewPolicy() {
	policy, err := sockets.NewPolicy(sockets.PolicyConfig{
		Default: sockets.Deny,
		Rules: []sockets.Rule{
			{Name: "no-metadata", Action: sockets.Deny, Addrs: []string{"metadata"}},
			{Name: "api", Action: sockets.Allow, Hosts: []string{"api.example.com", "*.cdn.example.com"}, Ports: []string{"443"}},
			{Name: "db", Action: sockets.Allow, Addrs: []string{"10.20.0.0/16"}, Ports: []string{"5432"}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	opts := &sockets.Options{Policy: policy}

	_, err = sockets.Connect(context.Background(), "api.example.com:22", opts)
	fmt.Println(errors.Is(err, sockets.ErrDenied))

	d := policy.Decide("img.cdn.example.com", netip.MustParseAddr("93.184.215.14"), 443)
	fmt.Println(d.Allowed, d.Rule)
	// Output:
	// true
	// true api
}

// The SSRF-safe preset for programs that connect where their users say.
func ExamplePublicInternetOnly() {
	policy, _ := sockets.NewPolicy(sockets.PublicInternetOnly())
	opts := &sockets.Options{Policy: policy}
	for _, target := range []string{"169.254.169.254:80", "[::ffff:127.0.0.1]:6379", "[64:ff9b::a00:1]:22", "0.0.0.0:8080"} {
		_, err := sockets.Connect(context.Background(), target, opts)
		fmt.Println(target, errors.Is(err, sockets.ErrDenied))
	}
	// Output:
	// 169.254.169.254:80 true
	// [::ffff:127.0.0.1]:6379 true
	// [64:ff9b::a00:1]:22 true
	// 0.0.0.0:8080 true
}

// Port 25 is denied until a rule lists it; the error says how.
func ExampleConnect_port25() {
	_, err := sockets.Connect(context.Background(), "mx.example.com:25", nil)
	fmt.Println(errors.Is(err, sockets.ErrDenied))

	policy, _ := sockets.NewPolicy(sockets.PolicyConfig{Rules: []sockets.Rule{
		{Action: sockets.Allow, Hosts: []string{"mx.example.com"}, Ports: []string{"25"}},
	}})
	fmt.Println(policy.Decide("mx.example.com", netip.MustParseAddr("192.0.2.25"), 25).Allowed)
	// Output:
	// true
	// true
}

func ExampleAddrClasses() {
	for _, a := range []string{"10.1.2.3", "169.254.169.254", "64:ff9b::7f00:1", "2002:808:808::1"} {
		fmt.Println(a, sockets.AddrClasses(netip.MustParseAddr(a)))
	}
	// Output:
	// 10.1.2.3 [private]
	// 169.254.169.254 [link-local metadata]
	// 64:ff9b::7f00:1 [loopback]
	// 2002:808:808::1 [public]
}

func ExampleParsePolicyConfig() {
	cfg, err := sockets.ParsePolicyConfig("egress.yaml", []byte(`
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
func ExamplePolicyHolder_LoadFile() {
	dir, _ := os.MkdirTemp("", "egress")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "egress.yaml")

	holder := sockets.NewPolicyHolder(nil) // the default policy until a file loads
	opts := &sockets.Options{Policy: holder}

	os.WriteFile(path, []byte("default: deny\nrules:\n  - {action: allow, hosts: [api.example.com], ports: [443]}\n"), 0o600)
	fmt.Println(holder.LoadFile(path))

	os.WriteFile(path, []byte("default: deny\nrules:\n  - {action: allow, hosts: [api.example.com], ports: [4430000]}\n"), 0o600)
	err := holder.LoadFile(path)
	var pe *sockets.PolicyFileError
	fmt.Println(errors.As(err, &pe), pe.Line)

	_, err = sockets.Connect(context.Background(), "other.example.com:443", opts)
	fmt.Println(errors.Is(err, sockets.ErrDenied)) // the first file is still in force
	// Output:
	// <nil>
	// true 3
	// true
}

// A Scope closes every socket connected in it when it ends.
func ExampleNewScope() {
	srv, _ := sockettest.NewEcho()
	defer srv.Close()

	scope := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Name: "job-1", Limit: 2})
	ctx := sockets.WithScope(context.Background(), scope)
	s, _ := sockets.Connect(ctx, srv.Addr(), nil)
	s.Opened(ctx)

	scope.Close()
	<-s.Closed()
	fmt.Println("closed with the scope:", s.Err() == nil)
	// Output:
	// closed with the scope: true
}

// Decisions are logged with log/slog and counted.
func ExampleMetrics_Stats() {
	var m sockets.Metrics
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "detail" {
				return slog.Attr{}
			}
			return a
		},
	}))
	policy, _ := sockets.NewPolicy(sockets.PolicyConfig{Logger: logger, Metrics: &m, Rules: []sockets.Rule{
		{Name: "no-private", Action: sockets.Deny, Addrs: []string{"private"}},
	}})
	sockets.Connect(context.Background(), "10.0.0.7:5432", &sockets.Options{Policy: policy})
	st := m.Stats()
	fmt.Println(st.Denied[sockets.ReasonRule], st.Allowed)
	// Output:
	// level=WARN msg="egress denied" decision=deny rule=no-private reason=rule host=10.0.0.7 ip=10.0.0.7 port=5432 scope=""
	// 1 0
}

func ExampleSOCKS5Proxy() {
	proxy := &sockets.SOCKS5Proxy{Addr: "127.0.0.1:1080"}
	opts := &sockets.Options{
		Proxy: proxy,
		// Hostname and port rules still apply here; address rules for
		// names are the proxy's job.
		Policy: mustPolicy(sockets.NewPolicy(sockets.PolicyConfig{Rules: []sockets.Rule{
			{Action: sockets.Deny, Hosts: []string{"*.internal.example"}},
		}})),
	}
	_, err := sockets.Connect(context.Background(), "db.internal.example:5432", opts)
	fmt.Println(errors.Is(err, sockets.ErrDenied))
	// Output:
	// true
}

func ExampleProxyFromEnvironment() {
	// With ALL_PROXY=socks5h://proxy.example:1080 and NO_PROXY=.internal.example
	// in the environment, internal names are dialled directly and the rest
	// through the proxy.
	opts := &sockets.Options{Proxy: sockets.ProxyFromEnvironment()}
	_ = opts
}

func mustPolicy(v *sockets.Policy, err error) *sockets.Policy {
	if err != nil {
		panic(err)
	}
	return v
}
