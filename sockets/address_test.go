package sockets_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
)

func TestParseAddress(t *testing.T) {
	good := []struct {
		in   string
		host string
		port int
	}{
		{"example.com:443", "example.com", 443},
		{"EXAMPLE.com.:80", "EXAMPLE.com.", 80},
		{"127.0.0.1:5432", "127.0.0.1", 5432},
		{"[::1]:8080", "::1", 8080},
		{"[2001:db8::1]:1", "2001:db8::1", 1},
		{"xn--bcher-kva.example:65535", "xn--bcher-kva.example", 65535},
		{"_srv.example.com:5060", "_srv.example.com", 5060},
		{"1.2.3.example:80", "1.2.3.example", 80},
		{"1.2.3.4.5.example:80", "1.2.3.4.5.example", 80},
		{"0x7f.example:80", "0x7f.example", 80},
		{"localhost:6379", "localhost", 6379},
	}
	for _, g := range good {
		a, err := sockets.ParseAddress(g.in)
		if err != nil || a.Hostname != g.host || a.Port != g.port {
			t.Errorf("ParseAddress(%q) = %+v, %v; want %s %d", g.in, a, err, g.host, g.port)
		}
	}
	bad := []struct {
		in, want string
	}{
		{"", "empty address"},
		{"example.com", "has no port"},
		{"example.com:", "empty port"},
		{"example.com:0", `port "0" is out of range`},
		{"example.com:65536", "out of range"},
		{"example.com:-1", "is not a port number"},
		{"example.com:+80", "is not a port number"},
		{"example.com:080", "leading zero"},
		{"example.com:040395", `port "040395" has a leading zero; write it as 40395`},
		{"example.com:0000000000000443", `has a leading zero; write it as 443`},
		{"example.com:" + strings.Repeat("9", 400), "out of range"},
		{"example.com:99999999", "out of range"},
		{"::1:80", "IPv6 address without brackets"},
		{"2001:db8::1", "IPv6 address without brackets"},
		{"[::1:80", "unclosed"},
		{"[example.com]:80", "brackets are only for IPv6"},
		{"[fe80::1%eth0]:80", "zone id"},
		{"[::1%25lo]:80", "zone id"},
		{strings.Repeat("a.", 127) + "com:80", "at most 253"},
		{strings.Repeat("a", 64) + ".com:80", "longer than 63"},
		{"exa\x00mple.com:80", "NUL"},
		{"exa\nmple.com:80", "control byte"},
		{"exa\x7fmple.com:80", "control byte"},
		{"bücher.example:80", "punycode"},
		{"exa mple.com:80", "space"},
		{"a..b:80", "empty label"},
		{"-a.com:80", "starts or ends with '-'"},
		{"a/b.com:80", "contains '/'"},
		{"2130706433:80", "non-standard spelling of an IPv4"},
		{"0x7f000001:80", "non-standard spelling"},
		{"0177.0.0.1:80", "non-standard spelling"},
		{"127.1:80", "non-standard spelling"},
		{"0:80", "non-standard spelling"},
		{"1.2.3.999:80", "non-standard spelling"},
		{"1.2.3.4.5:80", "non-standard spelling"},
		{"a.b.c.d.0x10:80", "non-standard spelling"},
		{"0x7f.0.0.1.:80", "non-standard spelling"},
		{"[]:80", "brackets are only for IPv6"},
		{":80", "empty hostname"},
	}
	for _, b := range bad {
		_, err := sockets.ParseAddress(b.in)
		if !errors.Is(err, sockets.ErrInvalidAddress) || !strings.Contains(err.Error(), b.want) {
			t.Errorf("ParseAddress(%q) = %v; want ErrInvalidAddress mentioning %q", b.in, err, b.want)
		}
		// Connect refuses it at once, with the same class.
		if _, err := sockets.Connect(ctxT(t), b.in, nil); !errors.Is(err, sockets.ErrInvalidAddress) {
			t.Errorf("Connect(%q) = %v; want ErrInvalidAddress", b.in, err)
		}
	}
}

func TestAddressStructuredForm(t *testing.T) {
	for _, c := range []struct {
		a    sockets.Address
		str  string
		okay bool
	}{
		{sockets.Address{Hostname: "::1", Port: 443}, "[::1]:443", true},
		{sockets.Address{Hostname: "[::1]", Port: 443}, "[::1]:443", true},
		{sockets.Address{Hostname: "example.com", Port: 25}, "example.com:25", true},
		{sockets.Address{Hostname: "example.com", Port: 0}, "example.com:0", false},
		{sockets.Address{Hostname: "fe80::1%eth0", Port: 1}, "[fe80::1%eth0]:1", false},
		{sockets.Address{Hostname: "", Port: 1}, ":1", false},
	} {
		if got := c.a.String(); got != c.str {
			t.Errorf("String() = %q, want %q", got, c.str)
		}
		if err := c.a.Validate(); (err == nil) != c.okay {
			t.Errorf("Validate(%+v) = %v", c.a, err)
		}
	}
	srv := echo(t)
	a, _ := sockets.ParseAddress(srv.Addr())
	s, err := sockets.ConnectAddress(ctxT(t), a, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	opened(t, s)
}

func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"example.com:443", "[::1]:80", "127.0.0.1:1", "a:0", "[fe80::1%eth0]:1", "x:65536", "0x7f.1:80", "\x00:1", "[::ffff:127.0.0.1]:8080"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := sockets.ParseAddress(s)
		if err != nil {
			if !errors.Is(err, sockets.ErrInvalidAddress) {
				t.Fatalf("ParseAddress(%q) error %v is not ErrInvalidAddress", s, err)
			}
			return
		}
		if a.Port < 1 || a.Port > 65535 {
			t.Fatalf("ParseAddress(%q) accepted port %d", s, a.Port)
		}
		if strings.ContainsAny(a.Hostname, "%\x00 ") {
			t.Fatalf("ParseAddress(%q) accepted hostname %q", s, a.Hostname)
		}
		// Round trip: what String produces parses to the same address.
		b, err := sockets.ParseAddress(a.String())
		if err != nil || b != a {
			t.Fatalf("round trip of %q: %+v -> %q -> %+v, %v", s, a, a.String(), b, err)
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("parsed %q but Validate says %v", s, err)
		}
	})
}

// TestOnePortParser: a policy rule's port is read by Connect's parser, so
// the two agree on what a port is and say so in the same words.
func TestOnePortParser(t *testing.T) {
	for _, p := range []string{"0443", "040395", "0", "65536", "+80", "https", "1e3", "443 ", "٤٤٣", "0x1bb"} {
		if _, err := sockets.ParseAddress("example.com:" + p); err == nil {
			t.Errorf("ParseAddress accepts port %q", p)
		}
		_, cerr := sockets.ParsePort(p)
		_, perr := egress.NewPolicy(egress.PolicyConfig{Rules: []egress.Rule{{Action: egress.Allow, Ports: []string{p}}}})
		if cerr == nil || perr == nil {
			// " 443 " with spaces is a range spelling the rule parser trims; Connect refuses it.
			if p == "443 " && perr == nil && cerr != nil {
				continue
			}
			t.Errorf("port %q: Connect error %v, policy error %v; want both refused", p, cerr, perr)
			continue
		}
		cmsg := strings.TrimPrefix(cerr.Error(), sockets.ErrInvalidAddress.Error()+": ")
		if !strings.Contains(perr.Error(), cmsg) {
			t.Errorf("port %q: policy says %q, Connect says %q; want one message", p, perr, cmsg)
		}
		if !errors.Is(perr, sockets.ErrInvalidOptions) {
			t.Errorf("port %q: policy error %v is not ErrInvalidOptions", p, perr)
		}
	}
	for _, p := range []string{"1", "443", "65535"} {
		n, err := sockets.ParsePort(p)
		if err != nil || strconv.Itoa(n) != p {
			t.Errorf("ParsePort(%q) = %d, %v", p, n, err)
		}
	}
}
