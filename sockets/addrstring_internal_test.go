package sockets

import (
	"net"
	"testing"
)

// addrString formats a TCP address as net.TCPAddr.String does, in one
// allocation: IPv4 (in both slice forms), IPv6, zones, and the odd ones.
func TestAddrStringMatchesTCPAddr(t *testing.T) {
	for _, a := range []net.Addr{
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5432},
		&net.TCPAddr{IP: net.IP{10, 1, 2, 3}, Port: 1},
		&net.TCPAddr{IP: net.ParseIP("::1"), Port: 443},
		&net.TCPAddr{IP: net.ParseIP("2001:db8::1:0:0:1"), Port: 65535},
		&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 80, Zone: "eth0"},
		&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 25},
		&net.TCPAddr{Port: 8080},
		&net.TCPAddr{IP: net.IP{1, 2, 3}, Port: 9}, // an invalid length
		&net.UnixAddr{Name: "/tmp/x", Net: "unix"},
	} {
		if got, want := addrString(a), a.String(); got != want {
			t.Errorf("addrString(%#v) = %q, want %q", a, got, want)
		}
	}
	if got := addrString(nil); got != "" {
		t.Errorf("addrString(nil) = %q, want \"\"", got)
	}
	if got := addrString((*net.TCPAddr)(nil)); got != "<nil>" {
		t.Errorf("addrString(nil *TCPAddr) = %q, want %q", got, "<nil>")
	}
}

// addrStrings formats both addresses as addrString does each, whatever the
// pair, and in one allocation when both are TCP addresses.
func TestAddrStringsMatchesAddrString(t *testing.T) {
	addrs := []net.Addr{
		&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5432},
		&net.TCPAddr{IP: net.ParseIP("2001:db8::1:0:0:1"), Port: 65535},
		&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 80, Zone: "a-rather-long-zone-name-that-does-not-fit-the-buffer-on-the-stack"},
		&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.1"), Port: 25},
		&net.TCPAddr{Port: 8080},
		(*net.TCPAddr)(nil),
		&net.UnixAddr{Name: "/tmp/x", Net: "unix"},
		nil,
	}
	for _, a := range addrs {
		for _, b := range addrs {
			ga, gb := addrStrings(a, b)
			if wa, wb := addrString(a), addrString(b); ga != wa || gb != wb {
				t.Errorf("addrStrings(%#v, %#v) = %q, %q, want %q, %q", a, b, ga, gb, wa, wb)
			}
		}
	}
	r, l := addrs[1], addrs[0]
	if n := testing.AllocsPerRun(100, func() { addrStrings(r, l) }); n > 1 {
		t.Errorf("addrStrings of two TCP addresses: %v allocations, want 1", n)
	}
}

// join hands the dial the caller's own string only when it is exactly what
// net.JoinHostPort would make of the normalized address.
func TestJoinReusesOnlyCanonicalSpelling(t *testing.T) {
	for _, c := range []struct {
		given string
		reuse bool
	}{
		{"127.0.0.1:5432", true},
		{"[::1]:443", true},
		{"example.com:443", true},
		{"Example.COM:443", false},
		{"example.com.:443", false},
		{"[0:0::1]:443", false},
	} {
		a, err := ParseAddress(c.given)
		if err != nil {
			t.Fatal(err)
		}
		a = a.normalized()
		want := net.JoinHostPort(a.Hostname, "443")
		if a.Port == 5432 {
			want = net.JoinHostPort(a.Hostname, "5432")
		}
		got := a.join(c.given)
		if got != want {
			t.Errorf("join(%q) = %q, want %q", c.given, got, want)
		}
		if reused := got == c.given; reused != c.reuse && got == want && c.reuse {
			t.Errorf("join(%q) did not reuse the caller's string", c.given)
		}
	}
	a := Address{Hostname: "h", Port: 80}
	for _, g := range []string{"h:080", "h:8", "h:80x", "h:", "[h]:80", "hh:80"} {
		if got := a.join(g); got != "h:80" {
			t.Errorf("join(%q) = %q, want \"h:80\"", g, got)
		}
	}
}
