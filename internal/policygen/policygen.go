// Package policygen builds the 1,000-rule egress policy that the policy
// benchmarks and tests share (sockets' Benchmark*, the bench program), so
// both measure the same thing.
package policygen

import (
	"fmt"
	"net/netip"
	"strconv"

	"github.com/outboundhq/outbound/egress"
)

// Size is the number of rules Rules returns.
const Size = 1000

// Rules returns Size rules of the shape large deployments have: exact and
// wildcard host allow-lists, CIDR deny lists in both families, CIDR allow
// rules with port ranges, single-port denials, and address classes. The
// extra rules take the place of the last single-port denials, so the total
// stays Size.
func Rules(extra ...egress.Rule) []egress.Rule {
	rules := make([]egress.Rule, 0, Size)
	rules = append(rules, egress.Rule{Name: "no-internal", Action: egress.Deny, Addrs: []string{"private", "link-local", "metadata", "unspecified"}})
	for i := 0; len(rules) < 400; i++ {
		rules = append(rules, egress.Rule{Action: egress.Allow, Hosts: []string{fmt.Sprintf("api%d.partner%d.example", i, i%37)}, Ports: []string{"443"}})
	}
	for i := 0; len(rules) < 600; i++ {
		rules = append(rules, egress.Rule{Action: egress.Allow, Hosts: []string{fmt.Sprintf("*.tenant%d.example.net", i)}})
	}
	for i := 0; len(rules) < 800; i++ {
		rules = append(rules, egress.Rule{Action: egress.Deny, Addrs: []string{fmt.Sprintf("%d.%d.0.0/16", 20+i/200, i%200), fmt.Sprintf("2001:db8:%x::/48", i)}})
	}
	for i := 0; len(rules) < 950; i++ {
		rules = append(rules, egress.Rule{Action: egress.Allow, Addrs: []string{fmt.Sprintf("198.60.%d.0/24", i)}, Ports: []string{fmt.Sprintf("%d-%d", 8000+i, 8100+i)}})
	}
	for len(rules) < Size-len(extra) {
		rules = append(rules, egress.Rule{Action: egress.Deny, Ports: []string{fmt.Sprint(6000 + len(rules))}})
	}
	return append(rules, extra...)
}

// Scaled returns n rules in the mix of Rules (it is Rules(extra...) for
// n = Size): 40% exact hosts, 20% wildcard hosts, 20% CIDR denials in both
// families, 15% CIDR allows with port ranges, the rest single-port
// denials, and the address-class rule first; the extra rules are last, and
// the total stays n.
func Scaled(n int, extra ...egress.Rule) []egress.Rule {
	if n == Size {
		return Rules(extra...)
	}
	rules := make([]egress.Rule, 0, n)
	rules = append(rules, egress.Rule{Name: "no-internal", Action: egress.Deny, Addrs: []string{"private", "link-local", "metadata", "unspecified"}})
	upto := func(f float64) int { return max(len(rules)+1, int(f*float64(n))) }
	for i, end := 0, upto(0.40); len(rules) < end; i++ {
		rules = append(rules, egress.Rule{Action: egress.Allow, Hosts: []string{fmt.Sprintf("api%d.partner%d.example", i, i%37)}, Ports: []string{"443"}})
	}
	for i, end := 0, upto(0.60); len(rules) < end; i++ {
		rules = append(rules, egress.Rule{Action: egress.Allow, Hosts: []string{fmt.Sprintf("*.tenant%d.example.net", i)}})
	}
	for i, end := 0, upto(0.80); len(rules) < end; i++ {
		rules = append(rules, egress.Rule{Action: egress.Deny, Addrs: []string{fmt.Sprintf("%d.%d.%d.0/24", 20+i/65536, i/256%256, i%256), fmt.Sprintf("2001:db8:%x::/48", i)}})
	}
	for i, end := 0, upto(0.95); len(rules) < end; i++ {
		rules = append(rules, egress.Rule{Action: egress.Allow, Addrs: []string{fmt.Sprintf("198.%d.%d.0/24", 60+i/256, i%256)}, Ports: []string{fmt.Sprintf("%d-%d", 8000+i%50000, 8100+i%50000)}})
	}
	for len(rules) < n-len(extra) {
		rules = append(rules, egress.Rule{Action: egress.Deny, Ports: []string{strconv.Itoa(6000 + len(rules)%50000)}})
	}
	return append(rules, extra...)
}

// Query is one decision to ask of the policy.
type Query struct {
	Host string
	IP   netip.Addr
	Port int
}

// Queries are decisions that exercise every kind of rule in Rules; under a
// default-deny policy the first, second and fourth are allowed.
func Queries() []Query {
	return []Query{
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
