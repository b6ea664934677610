package egress_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
)

// A policy built in Go: deny rules win, an allow-list for the rest.
func ExampleNewPolicy() {
	policy, err := egress.NewPolicy(egress.PolicyConfig{
		Default: egress.Deny,
		Rules: []egress.Rule{
			{Name: "no-metadata", Action: egress.Deny, Addrs: []string{"metadata"}},
			{Name: "api", Action: egress.Allow, Hosts: []string{"api.example.com", "*.cdn.example.com"}, Ports: []string{"443"}},
			{Name: "db", Action: egress.Allow, Addrs: []string{"10.20.0.0/16"}, Ports: []string{"5432"}},
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
	policy, _ := egress.NewPolicy(egress.PublicInternetOnly())
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
func Example_port25() {
	_, err := sockets.Connect(context.Background(), "mx.example.com:25", nil)
	fmt.Println(errors.Is(err, sockets.ErrDenied))

	policy, _ := egress.NewPolicy(egress.PolicyConfig{Rules: []egress.Rule{
		{Action: egress.Allow, Hosts: []string{"mx.example.com"}, Ports: []string{"25"}},
	}})
	fmt.Println(policy.Decide("mx.example.com", netip.MustParseAddr("192.0.2.25"), 25).Allowed)
	// Output:
	// true
	// true
}

func ExampleAddrClasses() {
	for _, a := range []string{"10.1.2.3", "169.254.169.254", "64:ff9b::7f00:1", "2002:808:808::1"} {
		fmt.Println(a, egress.AddrClasses(netip.MustParseAddr(a)))
	}
	// Output:
	// 10.1.2.3 [private]
	// 169.254.169.254 [link-local metadata]
	// 64:ff9b::7f00:1 [loopback]
	// 2002:808:808::1 [public]
}

// Decisions are logged with log/slog and counted.
func ExampleMetrics_Stats() {
	var m egress.Metrics
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "detail" {
				return slog.Attr{}
			}
			return a
		},
	}))
	policy, _ := egress.NewPolicy(egress.PolicyConfig{Logger: logger, Metrics: &m, Rules: []egress.Rule{
		{Name: "no-private", Action: egress.Deny, Addrs: []string{"private"}},
	}})
	sockets.Connect(context.Background(), "10.0.0.7:5432", &sockets.Options{Policy: policy})
	st := m.Stats()
	fmt.Println(st.Denied[egress.ReasonRule], st.Allowed)
	// Output:
	// level=WARN msg="egress denied" decision=deny rule=no-private reason=rule host=10.0.0.7 ip=10.0.0.7 port=5432 scope=""
	// 1 0
}
