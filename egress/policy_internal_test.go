package egress

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/outboundhq/outbound/sockets"
)

func TestPortPrefixes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	ranges := [][2]int{{1, 1}, {1, 65535}, {25, 25}, {8000, 8999}, {1024, 2047}, {65535, 65535}, {2, 3}}
	for i := 0; i < 200; i++ {
		a, b := 1+r.IntN(65535), 1+r.IntN(65535)
		ranges = append(ranges, [2]int{min(a, b), max(a, b)})
	}
	for _, rg := range ranges {
		covered := 0
		for _, pp := range portPrefixes(rg[0], rg[1]) {
			size := 1 << (16 - pp.bits)
			if pp.v%size != 0 || pp.v < rg[0] || pp.v+size-1 > rg[1] {
				t.Fatalf("range %v: block %d/%d is misaligned or outside", rg, pp.v, pp.bits)
			}
			covered += size
		}
		if covered != rg[1]-rg[0]+1 {
			t.Fatalf("range %v: blocks cover %d ports, want %d", rg, covered, rg[1]-rg[0]+1)
		}
	}
}

// refDecide is the policy's definition written as a plain scan: the index
// must agree with it.
func refDecide(rules []Rule, defaultDeny bool, host string, ip netip.Addr, port int) (bool, int, string) {
	hostMatch := func(r Rule) bool {
		if len(r.Hosts) == 0 {
			return true
		}
		for _, h := range r.Hosts {
			n, wild, _ := normalizeHostPattern(h)
			if host != "" && (!wild && host == n || wild && strings.HasSuffix(host, "."+n)) {
				return true
			}
		}
		return false
	}
	portMatch := func(r Rule) bool {
		if len(r.Ports) == 0 {
			return true
		}
		for _, p := range r.Ports {
			lo, hi, _ := parsePortRange(p)
			if port >= lo && port <= hi {
				return true
			}
		}
		return false
	}
	addrMatch := func(r Rule, a netip.Addr, cls addrClass) bool {
		if len(r.Addrs) == 0 {
			return true
		}
		for _, s := range r.Addrs {
			if c, ok := classByName(s); ok {
				if cls&c != 0 {
					return true
				}
				continue
			}
			p, err := netip.ParsePrefix(s)
			if err != nil {
				x := netip.MustParseAddr(s)
				p = netip.PrefixFrom(x, x.BitLen())
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	one := func(a netip.Addr, cls addrClass) (bool, int, string) {
		for i, r := range rules {
			if r.Action == Deny && hostMatch(r) && portMatch(r) && addrMatch(r, a, cls) {
				return false, i, ReasonRule
			}
		}
		for i, r := range rules {
			if r.Action == Allow && hostMatch(r) && portMatch(r) && addrMatch(r, a, cls) {
				if port == 25 && !slicesContains(r.Ports, "25") {
					continue
				}
				return true, i, ReasonRule
			}
		}
		if port == 25 {
			return false, -1, ReasonPort25
		}
		return !defaultDeny, -1, ReasonDefault
	}
	ip = canonical(ip)
	ok, i, why := one(ip, classify(ip))
	if !ok {
		return ok, i, why
	}
	e := embeddedIPv4(ip)
	for _, c := range e.v4[:e.n] {
		if ok2, i2, why2 := one(c, classify4(c)); !ok2 {
			return ok2, i2, why2
		}
	}
	return ok, i, why
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// randomRules builds n rules from small vocabularies so that they overlap.
func randomRules(r *rand.Rand, n int) []Rule {
	hosts := []string{"a.example", "b.example", "*.example", "*.a.example", "c.test", "*.test", "x.y.z.test"}
	addrs := []string{"10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "127.0.0.0/8", "192.168.0.0/16", "::1", "fd00::/8", "2001:db8::/32",
		"64:ff9b::/96", "8.8.8.0/24", "public", "private", "loopback", "metadata", "link-local", "::ffff:10.0.0.0/104"}
	ports := []string{"25", "80", "443", "1-1024", "8000-8999", "22", "6000-6100"}
	pick := func(vocab []string) []string {
		var out []string
		for k := r.IntN(3); k > 0; k-- {
			out = append(out, vocab[r.IntN(len(vocab))])
		}
		return out
	}
	rules := make([]Rule, n)
	for i := range rules {
		a := Allow
		if r.IntN(3) == 0 {
			a = Deny
		}
		rules[i] = Rule{Action: a, Hosts: pick(hosts), Addrs: pick(addrs), Ports: pick(ports)}
	}
	return rules
}

func TestIndexAgreesWithScan(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	names := []string{"a.example", "b.a.example", "q.example", "c.test", "x.y.z.test", "z.test", "other.org", ""}
	ips := []string{"10.1.2.3", "10.2.0.1", "127.0.0.1", "192.168.1.1", "8.8.8.8", "8.8.4.4", "::1", "fd00::5", "2001:db8::1",
		"64:ff9b::a01:203", "64:ff9b::808:808", "169.254.169.254", "::ffff:10.1.2.3", "2002:a01:203::", "1.1.1.1", "2606:4700::1"}
	ports := []int{25, 80, 443, 22, 8080, 8500, 6050, 9999}
	for round := 0; round < 60; round++ {
		rules := randomRules(r, 1+r.IntN(150))
		defaultDeny := r.IntN(2) == 0
		cfg := PolicyConfig{Rules: rules, Default: Allow}
		if defaultDeny {
			cfg.Default = Deny
		}
		p, err := NewPolicy(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 300; k++ {
			host, ip, port := names[r.IntN(len(names))], netip.MustParseAddr(ips[r.IntN(len(ips))]), ports[r.IntN(len(ports))]
			d := p.decideAddr(host, ip, port)
			ok, i, why := refDecide(rules, defaultDeny, host, ip, port)
			if d.Allowed != ok || d.Reason != why || (!ok && d.rule != i) {
				t.Fatalf("round %d: (%q, %s, %d): index says %v by %d (%s), scan says %v by %d (%s)\nrules: %+v",
					round, host, ip, port, d.Allowed, d.rule, d.Reason, ok, i, why, rules)
			}
			// Before resolving: a final answer must be the answer for every address.
			if host != "" {
				nd, final := p.decideName(host, port, false)
				if final && nd.Allowed != ok {
					t.Fatalf("round %d: decideName(%q, %d) is final %v but %s gives %v", round, host, port, nd.Allowed, ip, ok)
				}
			}
		}
	}
}

// inetAton is what glibc's resolver does with numeric names.
func inetAton(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 0, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	switch len(vals) {
	case 1:
		n = vals[0]
	case 2:
		n = vals[0]<<24 | vals[1]
	case 3:
		n = vals[0]<<24 | vals[1]<<16 | vals[2]
	case 4:
		n = vals[0]<<24 | vals[1]<<16 | vals[2]<<8 | vals[3]
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

type atonResolver struct{}

func (atonResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := inetAton(host); ok {
		return []netip.Addr{a}, nil
	}
	return nil, errors.New("not numeric")
}

// TestNumericSpellingsAtDial: should a numeric spelling reach the dial
// (the core refuses them in ParseAddress; this is the second line), a
// resolver that accepts it yields loopback, and the dial-time check refuses.
func TestNumericSpellingsAtDial(t *testing.T) {
	p, err := NewPolicy(PolicyConfig{Resolver: atonResolver{}, Rules: []Rule{{Action: Deny, Addrs: []string{"loopback"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0", "0x7f.1"} {
		a, ok := inetAton(h)
		if !ok || !(a.IsLoopback() || a.IsUnspecified()) {
			t.Fatalf("inet_aton(%s) = %v", h, a)
		}
		c := (*checker)(p)
		ips, err := c.LookupNetIP(context.Background(), "ip", h)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.CheckAddrs(context.Background(), sockets.Request{Address: sockets.Address{Hostname: h, Port: 9}}, ips)
		if !errors.Is(err, sockets.ErrDenied) || !strings.Contains(err.Error(), a.String()) {
			t.Errorf("%s: dial = %v, want ErrDenied naming %s", h, err, a)
		}
	}
}

// TestCheckAddrs: whatever address the dial hands the checker is decided
// on its own, whatever the name.
func TestCheckAddrs(t *testing.T) {
	p, err := NewPolicy(PublicInternetOnly())
	if err != nil {
		t.Fatal(err)
	}
	c := (*checker)(p)
	r := sockets.Request{Address: sockets.Address{Hostname: "innocent.example", Port: 80}}
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1", false}, {"::ffff:127.0.0.1", false}, {"::1%lo", false}, {"0.0.0.0", false},
		{"64:ff9b::a9fe:a9fe", false}, {"8.8.8.8", true}, {"2606:4700::1111", true},
	} {
		got, err := c.CheckAddrs(context.Background(), r, []netip.Addr{netip.MustParseAddr(tc.addr)})
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, sockets.ErrDenied)) || (err == nil && len(got) != 1) {
			t.Errorf("CheckAddrs(%s) = %v, %v, want ok %v", tc.addr, got, err, tc.ok)
		}
	}
	got, err := c.CheckAddrs(context.Background(), r, []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("8.8.8.8")})
	if err != nil || len(got) != 1 || got[0] != netip.MustParseAddr("8.8.8.8") {
		t.Errorf("mixed: %v, %v; want only 8.8.8.8", got, err)
	}
}

func TestEmbeddedTeredo(t *testing.T) {
	// RFC 4380's example: server 65.54.227.120, client 192.0.2.45 port 40000.
	e := embeddedIPv4(netip.MustParseAddr("2001:0000:4136:e378:8000:63bf:3fff:fdd2"))
	got := fmt.Sprint(e.v4[:e.n])
	if got != "[65.54.227.120 192.0.2.45]" {
		t.Fatalf("Teredo embedded = %s", got)
	}
}
