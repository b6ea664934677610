package egress_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
)

// --- address classes ---------------------------------------------------------

func TestAddrClasses(t *testing.T) {
	cases := []struct {
		ip   string
		want []string
	}{
		{"8.8.8.8", []string{"public"}},
		{"2606:4700::1111", []string{"public"}},
		{"10.1.2.3", []string{"private"}},
		{"172.16.0.1", []string{"private"}},
		{"172.32.0.1", []string{"public"}},
		{"192.168.1.1", []string{"private"}},
		{"fd12::1", []string{"private"}},
		{"fec0::1", []string{"private"}},
		{"127.0.0.1", []string{"loopback"}},
		{"127.255.255.254", []string{"loopback"}},
		{"::1", []string{"loopback"}},
		{"169.254.1.1", []string{"link-local"}},
		{"fe80::1", []string{"link-local"}},
		{"fe80::1%eth0", []string{"link-local"}},
		{"0.0.0.0", []string{"loopback", "unspecified"}},
		{"0.1.2.3", []string{"unspecified"}},
		{"::", []string{"loopback", "unspecified"}},
		{"224.0.0.1", []string{"multicast"}},
		{"ff02::1", []string{"multicast"}},
		{"100.64.0.1", []string{"cgnat"}},
		{"100.127.255.255", []string{"cgnat"}},
		{"169.254.169.254", []string{"link-local", "metadata"}},
		{"169.254.170.2", []string{"link-local", "metadata"}},
		{"fd00:ec2::254", []string{"private", "metadata"}},
		{"100.100.100.200", []string{"cgnat", "metadata"}},
		{"168.63.129.16", []string{"metadata"}},
		{"192.0.2.1", []string{"documentation"}},
		{"198.51.100.7", []string{"documentation"}},
		{"203.0.113.9", []string{"documentation"}},
		{"2001:db8::1", []string{"documentation"}},
		{"198.18.0.1", []string{"benchmarking"}},
		{"198.19.255.255", []string{"benchmarking"}},
		{"240.0.0.1", []string{"reserved"}},
		{"255.255.255.255", []string{"reserved", "broadcast"}},
		{"192.0.0.8", []string{"reserved"}},
		{"4000::1", []string{"reserved"}},
		{"100::1", []string{"reserved"}},
		// IPv4 carried in IPv6: the classes of the IPv4 address.
		{"::ffff:127.0.0.1", []string{"loopback"}},
		{"::ffff:8.8.8.8", []string{"public"}},
		{"::127.0.0.1", []string{"loopback"}},
		{"::ffff:0:10.0.0.1", []string{"private"}},
		{"64:ff9b::7f00:1", []string{"loopback"}},
		{"64:ff9b::a9fe:a9fe", []string{"link-local", "metadata"}},
		{"64:ff9b::808:808", []string{"public"}},
		{"64:ff9b:1::7f00:1", []string{"private", "loopback", "unspecified"}},
		{"2002:7f00:1::", []string{"loopback"}},
		{"2002:a9fe:a9fe::1", []string{"link-local", "metadata"}},
		{"2002:808:808::1", []string{"public"}},
		// Teredo: server 65.54.227.120, client ^0x80fffffe = 127.0.0.1.
		{"2001:0:4136:e378:8000:63bf:80ff:fffe", []string{"loopback"}},
		// Teredo with a public server and client (^0xf7f7f7f7 = 8.8.8.8).
		{"2001:0:4136:e378:8000:63bf:f7f7:f7f7", []string{"public"}},
	}
	for _, c := range cases {
		t.Run(c.ip, func(t *testing.T) {
			got := egress.AddrClasses(netip.MustParseAddr(c.ip))
			want := slices.Clone(c.want)
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("AddrClasses(%s) = %v, want %v", c.ip, got, want)
			}
		})
	}
}

// --- rules and precedence ----------------------------------------------------------

func TestDecide(t *testing.T) {
	p := newPolicy(t, egress.PolicyConfig{
		Default: egress.Deny,
		Rules: []egress.Rule{
			{Name: "no-metadata", Action: egress.Deny, Addrs: []string{"metadata"}},
			{Name: "no-admin", Action: egress.Deny, Hosts: []string{"admin.example.com"}},
			{Name: "no-debug-port", Action: egress.Deny, Hosts: []string{"*.example.com"}, Ports: []string{"6000-6999"}},
			{Name: "web", Action: egress.Allow, Hosts: []string{"*.example.com", "example.com"}, Ports: []string{"80", "443"}},
			{Name: "bücher", Action: egress.Allow, Hosts: []string{"BÜCHER.example."}},
			{Name: "internal", Action: egress.Allow, Addrs: []string{"10.20.0.0/16", "fd00:1::/32"}, Ports: []string{"8000-8999"}},
			{Name: "everything-metadata", Action: egress.Allow, Addrs: []string{"169.254.169.254"}},
			{Name: "mail-submission", Action: egress.Allow, Hosts: []string{"smtp.example.com"}},
			{Name: "mail-relay", Action: egress.Allow, Hosts: []string{"relay.example.com"}, Ports: []string{"25"}},
			{Name: "any-port", Action: egress.Allow, Hosts: []string{"wide.example.com"}, Ports: []string{"1-65535"}},
		},
	})
	pub := "93.184.215.14"
	cases := []struct {
		host string
		ip   string
		port int
		ok   bool
		rule string
	}{
		{"www.example.com", pub, 443, true, "web"},
		{"WWW.Example.COM.", pub, 443, true, "web"},
		{"a.b.c.example.com", pub, 80, true, "web"},
		{"example.com", pub, 443, true, "web"},
		{"example.com", pub, 8080, false, "default"},
		{"badexample.com", pub, 443, false, "default"},
		{"admin.example.com", pub, 443, false, "no-admin"}, // deny beats the earlier-matching allow
		{"www.example.com", pub, 6443, false, "no-debug-port"},
		{"www.example.com", "169.254.169.254", 443, false, "no-metadata"}, // deny beats allow
		{"xn--bcher-kva.example", pub, 443, true, "bücher"},
		{"10.20.3.4", "10.20.3.4", 8080, true, "internal"},
		{"10.20.3.4", "10.20.3.4", 9000, false, "default"},
		{"10.21.3.4", "10.21.3.4", 8080, false, "default"},
		{"svc.internal", "10.20.3.4", 8443, true, "internal"},
		{"fd00:1::5", "fd00:1::5", 8000, true, "internal"},
		{"::ffff:10.20.0.1", "::ffff:10.20.0.1", 8000, true, "internal"},
		{"smtp.example.com", pub, 587, true, "mail-submission"},
		{"smtp.example.com", pub, 25, false, "port-25"}, // a host rule without port 25 does not open SMTP
		{"relay.example.com", pub, 25, true, "mail-relay"},
		{"wide.example.com", pub, 25, false, "port-25"}, // nor does a range
		{"wide.example.com", pub, 22, true, "any-port"},
	}
	for _, c := range cases {
		t.Run(c.host+"_"+strconv.Itoa(c.port), func(t *testing.T) {
			d := p.Decide(c.host, netip.MustParseAddr(c.ip), c.port)
			if d.Allowed != c.ok || d.Rule != c.rule {
				t.Fatalf("Decide(%s, %s, %d) = allowed %v by %q (%s), want allowed %v by %q", c.host, c.ip, c.port, d.Allowed, d.Rule, d, c.ok, c.rule)
			}
		})
	}
}

func TestDecideDefaultPolicy(t *testing.T) {
	var p *egress.Policy // nil: the default policy
	for _, c := range []struct {
		port int
		ok   bool
	}{{80, true}, {443, true}, {25, false}, {587, true}, {465, true}} {
		d := p.Decide("mail.example.com", netip.MustParseAddr("192.0.2.1"), c.port)
		if d.Allowed != c.ok {
			t.Errorf("default policy, port %d: allowed = %v, want %v", c.port, d.Allowed, c.ok)
		}
	}
	d := p.Decide("127.0.0.1", netip.Addr{}, 80)
	if !d.Allowed {
		t.Errorf("default policy denies loopback: %s", d)
	}
}

func TestNewPolicyErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  egress.PolicyConfig
		want string
	}{
		{"mode", egress.PolicyConfig{Mode: "audit"}, `mode "audit"`},
		{"default", egress.PolicyConfig{Default: "maybe"}, `default "maybe"`},
		{"no action", egress.PolicyConfig{Rules: []egress.Rule{{Hosts: []string{"a.com"}}}}, `rules[0].action: the rule has no action`},
		{"bad action", egress.PolicyConfig{Rules: []egress.Rule{{Action: "permit"}}}, `"permit" is not "allow" or "deny"`},
		{"bad cidr", egress.PolicyConfig{Rules: []egress.Rule{{Name: "x", Action: egress.Deny, Addrs: []string{"10.0.0.0/33"}}}}, `rules[0] ("x").addrs[0]: "10.0.0.0/33" is not a CIDR`},
		{"host bits", egress.PolicyConfig{Rules: []egress.Rule{{Action: egress.Deny, Addrs: []string{"10.1.2.3/8"}}}}, `write "10.0.0.0/8"`},
		{"class typo", egress.PolicyConfig{Rules: []egress.Rule{{Action: egress.Deny, Addrs: []string{"privat"}}}}, `class name (public, private`},
		{"zone", egress.PolicyConfig{Rules: []egress.Rule{{Action: egress.Deny, Addrs: []string{"fe80::1%eth0"}}}}, `zone id`},
		{"ip as host", egress.PolicyConfig{Rules: []egress.Rule{{Action: egress.Deny, Hosts: []string{"10.0.0.1"}}}}, `put addresses in addrs`},
		{"numeric host", egress.PolicyConfig{Rules: []egress.Rule{{Action: egress.Deny, Hosts: []string{"0x7f.1"}}}}, `numeric spelling`},
		{"star host", egress.PolicyConfig{Rules: []egress.Rule{{Action: egress.Deny, Hosts: []string{"*"}}}}, `leave hosts out`},
		{"mid star", egress.PolicyConfig{Rules: []egress.Rule{{Action: egress.Deny, Hosts: []string{"a.*.com"}}}}, `whole first label`},
		{"bad label", egress.PolicyConfig{Rules: []egress.Rule{{Action: egress.Deny, Hosts: []string{"-a.com"}}}}, `starts or ends with '-'`},
		{"port 0", egress.PolicyConfig{Rules: []egress.Rule{{Action: egress.Deny, Ports: []string{"0"}}}}, `out of range`},
		{"port word", egress.PolicyConfig{Rules: []egress.Rule{{Action: egress.Deny, Ports: []string{"https"}}}}, `is not a port`},
		{"reversed", egress.PolicyConfig{Rules: []egress.Rule{{Action: egress.Deny, Ports: []string{"9000-8000"}}}}, `write "8000-9000"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := egress.NewPolicy(c.cfg)
			if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("NewPolicy error = %v, want ErrInvalidOptions containing %q", err, c.want)
			}
		})
	}
}

// --- Connect: the bypasses ------------------------------------------------------------

// TestBypassLiterals connects to IP literals that reach the local host or a
// metadata service under another spelling. Each is refused at Connect.
func TestBypassLiterals(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	port := ln.port()
	p := newPolicy(t, denylist())
	public := newPolicy(t, egress.PublicInternetOnly())
	cases := []struct {
		name, host string
		reaches    bool // connecting without a policy reaches the listener on this machine
	}{
		{"loopback", "127.0.0.1", true},
		{"loopback other", "127.0.0.2", false},
		{"unspecified v4", "0.0.0.0", true},
		{"unspecified v6", "[::]", false},
		{"ipv4-mapped", "[::ffff:127.0.0.1]", true},
		{"ipv4-compatible", "[::127.0.0.1]", false},
		{"nat64", "[64:ff9b::7f00:1]", false},
		{"nat64 local-use", "[64:ff9b:1::7f00:1]", false},
		{"6to4", "[2002:7f00:1::1]", false},
		{"teredo", "[2001:0:4136:e378:8000:63bf:80ff:fffe]", false},
		{"metadata", "169.254.169.254", false},
		{"metadata mapped", "[::ffff:169.254.169.254]", false},
		{"metadata nat64", "[64:ff9b::a9fe:a9fe]", false},
		{"metadata aws v6", "[fd00:ec2::254]", false},
		{"metadata alibaba", "100.100.100.200", false},
		{"private", "10.0.0.1", false},
		{"link-local v6", "[fe80::1]", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			addr := c.host + ":" + port
			for _, pol := range []*egress.Policy{p, public} {
				_, err := sockets.Connect(ctxT(t), addr, &sockets.Options{Policy: pol})
				if !isDenied(err) {
					t.Fatalf("Connect(%s) = %v, want ErrDenied at once", addr, err)
				}
			}
			if c.reaches {
				// Without the policy the same address reaches the listener:
				// the denial above is what stops it.
				if err := openErr(t, addr, nil); err != nil {
					t.Fatalf("without a policy %s does not connect (%v); the case proves nothing", addr, err)
				}
			}
		})
	}
	if n := ln.accepted.Load(); n != 3 {
		t.Fatalf("listener accepted %d connections, want 3 (only the unpoliced control connections)", n)
	}
}

// TestBypassZoneAndSpellings: the core refuses zone ids and numeric
// spellings of IPv4 in the address itself.
func TestBypassSpellingsRefusedAtParse(t *testing.T) {
	for _, h := range []string{"2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0", "0x7f.1", "[fe80::1%25eth0]", "[::1%lo]"} {
		_, err := sockets.Connect(ctxT(t), h+":80", &sockets.Options{Policy: newPolicy(t, denylist())})
		if !errors.Is(err, sockets.ErrInvalidAddress) {
			t.Errorf("Connect(%s:80) = %v, want ErrInvalidAddress", h, err)
		}
	}
}

// TestBypassResolvedNames: a name is checked on the addresses it resolves
// to, at dial time: an innocent-looking name that resolves to loopback
// (DNS rebinding, a numeric spelling a resolver accepts, a zone id,
// IPv4-mapped and embedded forms) is refused and never dialled.
func TestBypassResolvedNames(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	cases := []struct {
		name string
		ips  []string
	}{
		{"loopback", []string{"127.0.0.1"}},
		{"unspecified", []string{"0.0.0.0"}},
		{"ipv6 unspecified", []string{"::"}},
		{"ipv4-mapped", []string{"::ffff:127.0.0.1"}},
		{"zone", []string{"::1%lo"}},
		{"nat64", []string{"64:ff9b::7f00:1"}},
		{"6to4", []string{"2002:7f00:1::1"}},
		{"teredo", []string{"2001:0:4136:e378:8000:63bf:80ff:fffe"}},
		{"metadata", []string{"169.254.169.254"}},
		{"metadata v6", []string{"fd00:ec2::254"}},
		{"metadata alibaba", []string{"100.100.100.200"}},
		{"all internal", []string{"127.0.0.1", "10.0.0.1", "::1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, base := range []egress.PolicyConfig{denylist(), egress.PublicInternetOnly()} {
				base.Resolver = resolveTo(c.ips...)
				err := openErr(t, "innocent.example:"+ln.port(), &sockets.Options{Policy: newPolicy(t, base)})
				if !isDenied(err) {
					t.Fatalf("innocent.example -> %v: %v, want ErrDenied", c.ips, err)
				}
				for _, ip := range c.ips {
					if !strings.Contains(err.Error(), netip.MustParseAddr(ip).WithZone("").Unmap().String()) {
						t.Errorf("error does not name %s: %v", ip, err)
					}
				}
			}
		})
	}
	if n := ln.accepted.Load(); n != 0 {
		t.Fatalf("listener accepted %d connections, want 0", n)
	}
}

// TestDNSRebinding: a name that resolved to a public address when the
// application checked it, and to loopback when it connects, is refused:
// the check happens on the addresses the dial uses.
func TestDNSRebinding(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	var calls atomic.Int32
	cfg := egress.PublicInternetOnly()
	cfg.Resolver = resolverFunc(func(string) ([]netip.Addr, error) {
		if calls.Add(1) == 1 {
			return []netip.Addr{netip.MustParseAddr("93.184.215.14")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	})
	p := newPolicy(t, cfg)
	// The application's own check sees the first answer and passes.
	first, _ := cfg.Resolver.LookupNetIP(context.Background(), "ip", "rebind.example")
	if d := p.Decide("rebind.example", first[0], 80); !d.Allowed {
		t.Fatalf("first answer should pass: %s", d)
	}
	err := openErr(t, "rebind.example:"+ln.port(), &sockets.Options{Policy: p})
	if !isDenied(err) || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("rebound connect = %v, want ErrDenied naming 127.0.0.1", err)
	}
	if n := ln.accepted.Load(); n != 0 {
		t.Fatalf("listener accepted %d connections, want 0", n)
	}
}

// TestMixedAnswers: of a name's addresses only the allowed ones are
// dialled.
func TestMixedAnswers(t *testing.T) {
	good := listen(t, "127.0.0.1:0")
	bad := listen(t, "127.0.0.2:"+good.port())
	logs := &logRecords{}
	p := newPolicy(t, egress.PolicyConfig{
		Logger:   slog.New(logs),
		Resolver: resolveTo("127.0.0.2", "127.0.0.1"),
		Rules:    []egress.Rule{{Name: "no-dot-2", Action: egress.Deny, Addrs: []string{"127.0.0.2"}}},
	})
	s := connect(t, "mixed.example:"+good.port(), &sockets.Options{Policy: p})
	info := opened(t, s)
	if info.RemoteAddress != "127.0.0.1:"+good.port() {
		t.Fatalf("connected to %s, want 127.0.0.1", info.RemoteAddress)
	}
	if readN(t, s, 2) != "hi" {
		t.Fatal("no greeting")
	}
	if bad.accepted.Load() != 0 {
		t.Fatal("the denied address was dialled")
	}
	recs := logs.all()
	if len(recs) != 2 || recs[0].Attrs["ip"] != "127.0.0.2" || recs[0].Attrs["decision"] != "deny" ||
		recs[1].Attrs["ip"] != "127.0.0.1" || recs[1].Attrs["decision"] != "allow" {
		t.Fatalf("records = %+v, want a deny for 127.0.0.2 then an allow for 127.0.0.1", recs)
	}
}

func TestControl(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	p := newPolicy(t, denylist())
	for _, addr := range []string{"127.0.0.1:" + ln.port(), "[::ffff:127.0.0.1]:" + ln.port()} {
		d := net.Dialer{Control: p.Control}
		_, err := d.DialContext(ctxT(t), "tcp", addr)
		if !isDenied(err) {
			t.Fatalf("net.Dialer{Control: p.Control} to %s = %v, want ErrDenied", addr, err)
		}
	}
	if ln.accepted.Load() != 0 {
		t.Fatal("Control let a connection through")
	}
	for _, c := range []struct {
		addr string
		ok   bool
	}{{"8.8.8.8:443", true}, {"[fe80::1%eth0]:80", false}, {"[64:ff9b::a9fe:a9fe]:80", false}, {"not an address", false}} {
		err := p.Control("tcp", c.addr, nil)
		if (err == nil) != c.ok {
			t.Errorf("Control(%s) = %v, want ok %v", c.addr, err, c.ok)
		}
	}
}

// --- port 25, messages -------------------------------------------------------------------

func TestPort25(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	_, err := sockets.Connect(ctxT(t), "mail.example.com:25", nil)
	if !isDenied(err) {
		t.Fatalf("port 25 with the default policy = %v, want ErrDenied", err)
	}
	for _, want := range []string{"port 25", "587", `egress.Rule{Action: egress.Allow, Hosts: []string{"mail.example.com"}, Ports: []string{"25"}}`, `{action: allow, hosts: ["mail.example.com"], ports: [25]}`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not contain %q", err, want)
		}
	}
	// The rule the message names works.
	p := newPolicy(t, egress.PolicyConfig{Rules: []egress.Rule{{Action: egress.Allow, Hosts: []string{"mail.example.com"}, Ports: []string{"25"}}}})
	_, err = sockets.Connect(ctxT(t), "mail.example.com:25", &sockets.Options{Policy: p, Dial: func(context.Context, string, string) (net.Conn, error) {
		return net.Dial("tcp", ln.Addr().String())
	}})
	if err != nil {
		t.Fatalf("port 25 with the allow rule: %v", err)
	}
	// And only for that host.
	if _, err := sockets.Connect(ctxT(t), "other.example.com:25", &sockets.Options{Policy: p}); !isDenied(err) {
		t.Fatalf("port 25 to another host = %v, want ErrDenied", err)
	}
}

func TestDenialMessages(t *testing.T) {
	p := newPolicy(t, egress.PolicyConfig{
		Default: egress.Deny,
		Rules: []egress.Rule{
			{Name: "no-internal", Action: egress.Deny, Addrs: []string{"private"}},
			{Name: "api", Action: egress.Allow, Hosts: []string{"api.example.com"}},
		},
	})
	cases := []struct {
		addr string
		want []string
	}{
		{"10.1.2.3:80", []string{`deny rule "no-internal" (addrs private)`, "10.1.2.3 port 80", "narrow or remove"}},
		{"other.example.com:443", []string{`no allow rule matches "other.example.com" port 443`, `Hosts: []string{"other.example.com"}, Ports: []string{"443"}`}},
		{"192.0.2.7:443", []string{`Addrs: []string{"192.0.2.7"}`, `addrs: ["192.0.2.7"]`}},
		{"[64:ff9b::a01:203]:80", []string{"carries IPv4 10.1.2.3", "no-internal"}},
	}
	for _, c := range cases {
		_, err := sockets.Connect(ctxT(t), c.addr, &sockets.Options{Policy: p})
		if !isDenied(err) {
			t.Fatalf("Connect(%s) = %v, want ErrDenied", c.addr, err)
		}
		var se *sockets.SocketError
		if !errors.As(err, &se) || se.Op != "connect" || se.Addr != c.addr {
			t.Errorf("error %v is not a *SocketError for connect %s", err, c.addr)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Connect(%s): %q does not contain %q", c.addr, err, w)
			}
		}
	}
}

// --- logging and counters ----------------------------------------------------------------

func TestDecisionRecordsAndCounters(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	logs := &logRecords{}
	var m egress.Metrics
	p := newPolicy(t, egress.PolicyConfig{
		Default:  egress.Deny,
		Logger:   slog.New(logs),
		Metrics:  &m,
		Resolver: resolveTo("127.0.0.1"),
		Rules: []egress.Rule{
			{Name: "no-metadata", Action: egress.Deny, Addrs: []string{"metadata"}},
			{Name: "local-svc", Action: egress.Allow, Hosts: []string{"svc.test"}, Addrs: []string{"loopback"}},
		},
	})
	sc := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Name: "req-42"})
	defer sc.Close()
	ctx := sockets.WithScope(ctxT(t), sc)
	o := &sockets.Options{Policy: p}

	s, err := sockets.Connect(ctx, "svc.test:"+ln.port(), o)
	if err != nil {
		t.Fatal(err)
	}
	if got := readN(t, s, 2); got != "hi" {
		t.Fatalf("read %q", got)
	}
	if _, err := s.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	if st := m.Stats(); st.Open != 1 || st.Opened != 1 {
		t.Fatalf("while open: %+v", st)
	}
	s.Close()
	_, err1 := sockets.Connect(ctx, "169.254.169.254:80", o)
	_, err2 := sockets.Connect(ctx, "other.test:80", o)
	_, err3 := sockets.Connect(ctx, "svc.test:25", o)
	for _, err := range []error{err1, err2, err3} {
		if !isDenied(err) {
			t.Fatalf("want ErrDenied, got %v", err)
		}
	}
	want := []map[string]string{
		{"decision": "allow", "rule": "local-svc", "reason": "rule", "host": "svc.test", "ip": "127.0.0.1", "port": ln.port(), "scope": "req-42"},
		{"decision": "deny", "rule": "no-metadata", "reason": "rule", "host": "169.254.169.254", "ip": "169.254.169.254", "port": "80", "scope": "req-42"},
		{"decision": "deny", "rule": "default", "reason": "default", "host": "other.test", "ip": "", "port": "80", "scope": "req-42"},
		{"decision": "deny", "rule": "port-25", "reason": "port-25", "host": "svc.test", "ip": "", "port": "25", "scope": "req-42"},
	}
	recs := logs.all()
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d: %+v", len(recs), len(want), recs)
	}
	for i, w := range want {
		r := recs[i]
		for k, v := range w {
			if r.Attrs[k] != v {
				t.Errorf("record %d: %s = %q, want %q (%+v)", i, k, r.Attrs[k], v, r)
			}
		}
		if w["decision"] == "deny" && (r.Level != slog.LevelWarn || r.Msg != "egress denied" || r.Attrs["detail"] == "") {
			t.Errorf("record %d: level %v msg %q detail %q", i, r.Level, r.Msg, r.Attrs["detail"])
		}
		if w["decision"] == "allow" && (r.Level != slog.LevelInfo || r.Msg != "egress allowed") {
			t.Errorf("record %d: level %v msg %q", i, r.Level, r.Msg)
		}
	}
	st := m.Stats()
	if st.Allowed != 1 || st.Denied["rule"] != 1 || st.Denied["default"] != 1 || st.Denied["port-25"] != 1 || st.DeniedTotal() != 3 ||
		st.Open != 0 || st.Opened != 1 || st.BytesIn != 2 || st.BytesOut != 3 {
		t.Fatalf("stats = %+v", st)
	}
	if js := st.String(); !strings.Contains(js, `"denied":{`) || !strings.Contains(js, `"bytes_in":2`) || strings.Contains(js, "svc.test") {
		t.Fatalf("Stats JSON = %s", js)
	}
}

func TestReportMode(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	logs := &logRecords{}
	var m egress.Metrics
	cfg := egress.PublicInternetOnly()
	cfg.Mode, cfg.Logger, cfg.Metrics = egress.ModeReport, slog.New(logs), &m
	p := newPolicy(t, cfg)
	s := connect(t, ln.Addr().String(), &sockets.Options{Policy: p})
	if got := readN(t, s, 2); got != "hi" {
		t.Fatalf("report mode: read %q", got)
	}
	recs := logs.all()
	if len(recs) != 1 || recs[0].Attrs["decision"] != "report" || recs[0].Msg != "egress would be denied (report mode)" || recs[0].Attrs["rule"] != "default" {
		t.Fatalf("records = %+v", recs)
	}
	if st := m.Stats(); st.Reported["default"] != 1 || st.DeniedTotal() != 0 || st.Allowed != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestRequireScope(t *testing.T) {
	ln := listen(t, "127.0.0.1:0")
	p := newPolicy(t, egress.PolicyConfig{RequireScope: true})
	_, err := sockets.Connect(ctxT(t), ln.Addr().String(), &sockets.Options{Policy: p})
	if !isDenied(err) || !strings.Contains(err.Error(), "sockets.NewScope") || !strings.Contains(err.Error(), "WithScope") {
		t.Fatalf("Connect without a scope = %v, want ErrDenied naming NewScope and WithScope", err)
	}
	sc := sockets.NewScope(context.Background(), nil)
	defer sc.Close()
	s, err := sockets.Connect(sockets.WithScope(ctxT(t), sc), ln.Addr().String(), &sockets.Options{Policy: p})
	if err != nil {
		t.Fatalf("Connect with a scope: %v", err)
	}
	defer s.Close()
	if got := readN(t, s, 2); got != "hi" {
		t.Fatalf("read %q", got)
	}
}

// --- swapping policies ---------------------------------------------------------------------

func TestPolicyHolderSwap(t *testing.T) {
	deny := newPolicy(t, egress.PolicyConfig{Default: egress.Deny})
	h := egress.NewPolicyHolder(nil)
	o := &sockets.Options{Policy: h}
	ln := listen(t, "127.0.0.1:0")
	if err := openErr(t, ln.Addr().String(), o); err != nil {
		t.Fatalf("default policy: %v", err)
	}
	if old := h.Store(deny); old != nil {
		t.Fatalf("Store returned %v, want the nil it replaced", old)
	}
	if err := openErr(t, ln.Addr().String(), o); !isDenied(err) {
		t.Fatalf("after Store(deny): %v", err)
	}
	var zero egress.PolicyHolder
	if zero.Policy() != nil {
		t.Fatal("zero holder holds a policy")
	}
	var nilHolder *egress.PolicyHolder
	if err := openErr(t, ln.Addr().String(), &sockets.Options{Policy: nilHolder}); err != nil {
		t.Fatalf("nil holder: %v", err)
	}
	// Concurrent Connects while swapping (run with -race).
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				h.Store(deny)
			} else {
				h.Store(nil)
			}
		}
	}()
	for i := 0; i < 50; i++ {
		err := openErr(t, ln.Addr().String(), o)
		if err != nil && !isDenied(err) {
			t.Errorf("during swaps: %v", err)
		}
	}
	close(stop)
	wg.Wait()
	_ = time.Second
}
