package sockets_test

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/outboundhq/outbound/sockets"
)

// thousandRules is a 1,000-rule policy of the shape large deployments have:
// exact and wildcard host allow-lists, CIDR deny and allow lists in both
// families, port ranges, and the address classes.
func thousandRules() sockets.PolicyConfig {
	var rules []sockets.Rule
	rules = append(rules, sockets.Rule{Name: "no-internal", Action: sockets.Deny, Addrs: []string{"private", "loopback", "link-local", "metadata", "unspecified"}})
	for i := 0; len(rules) < 400; i++ {
		rules = append(rules, sockets.Rule{Action: sockets.Allow, Hosts: []string{fmt.Sprintf("api%d.partner%d.example", i, i%37)}, Ports: []string{"443"}})
	}
	for i := 0; len(rules) < 600; i++ {
		rules = append(rules, sockets.Rule{Action: sockets.Allow, Hosts: []string{fmt.Sprintf("*.tenant%d.example.net", i)}})
	}
	for i := 0; len(rules) < 800; i++ {
		rules = append(rules, sockets.Rule{Action: sockets.Deny, Addrs: []string{fmt.Sprintf("%d.%d.0.0/16", 20+i/200, i%200), fmt.Sprintf("2001:db8:%x::/48", i)}})
	}
	for i := 0; len(rules) < 950; i++ {
		rules = append(rules, sockets.Rule{Action: sockets.Allow, Addrs: []string{fmt.Sprintf("198.%d.%d.0/24", 60+i/250, i%250)}, Ports: []string{fmt.Sprintf("%d-%d", 8000+i, 8100+i)}})
	}
	for len(rules) < 1000 {
		rules = append(rules, sockets.Rule{Action: sockets.Deny, Ports: []string{fmt.Sprint(6000 + len(rules))}})
	}
	return sockets.PolicyConfig{Default: sockets.Deny, Rules: rules}
}

type query struct {
	host string
	ip   netip.Addr
	port int
}

func thousandQueries() []query {
	return []query{
		{"api17.partner17.example", netip.MustParseAddr("93.184.215.14"), 443},
		{"www.tenant150.example.net", netip.MustParseAddr("2606:4700::1111"), 443},
		{"deep.a.b.c.tenant3.example.net", netip.MustParseAddr("20.55.1.2"), 80},
		{"unknown.example.org", netip.MustParseAddr("198.60.3.9"), 8050},
		{"evil.example", netip.MustParseAddr("169.254.169.254"), 80},
		{"evil.example", netip.MustParseAddr("64:ff9b::7f00:1"), 80},
		{"10.1.2.3", netip.MustParseAddr("10.1.2.3"), 5432},
		{"x.tenant9.example.net", netip.MustParseAddr("2001:db8:2a::1"), 6950},
	}
}

func TestThousandRulePolicy(t *testing.T) {
	p := newPolicy(t, thousandRules())
	want := []bool{true, true, false, true, false, false, false, false}
	for i, q := range thousandQueries() {
		if d := p.Decide(q.host, q.ip, q.port); d.Allowed != want[i] {
			t.Errorf("%+v: %s", q, d)
		}
	}
}

// BenchmarkPolicyDecision1000Rules measures one decision (host, address,
// port) against a 1,000-rule policy. The target is at most 2 µs.
func BenchmarkPolicyDecision1000Rules(b *testing.B) {
	p := newPolicy(b, thousandRules())
	qs := thousandQueries()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := qs[i%len(qs)]
		p.Decide(q.host, q.ip, q.port)
	}
}
