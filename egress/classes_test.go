package egress_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
)

// internalAnswers are resolver answers that reach the local host, a
// private network or a metadata service under some spelling.
var internalAnswers = []string{
	"127.0.0.1", "127.255.255.254", "0.0.0.0", "0.1.2.3", "::", "::1", "::1%lo",
	"::ffff:127.0.0.1", "::ffff:0:127.0.0.1", "::127.0.0.1", "64:ff9b::7f00:1", "64:ff9b:1::7f00:1",
	"2002:7f00:1::1", "2001:0:4136:e378:8000:63bf:80ff:fffe", "10.0.0.1", "172.16.0.1", "192.168.1.1",
	"fc00::1", "fd00::1", "fe80::1", "fe80::1%eth0", "169.254.169.254", "::ffff:169.254.169.254",
	"64:ff9b::a9fe:a9fe", "fd00:ec2::254", "100.100.100.200", "168.63.129.16", "100.64.0.1",
	"2002:a9fe:a9fe::1", "2002:c0a8:101::1",
}

// TestEveryDialPathChecksEveryClass: for each internal answer, under a
// deny-list and under PublicInternetOnly, whichever opens the connection
// (the default dialer, a custom Dial, a Layer, a proxy that resolves
// locally), the name is refused and nothing is dialled.
func TestEveryDialPathChecksEveryClass(t *testing.T) {
	var dialled []string
	hook := func(_ context.Context, _, addr string) (net.Conn, error) {
		dialled = append(dialled, addr)
		return nil, errors.New("must not be dialled")
	}
	paths := map[string]func() *sockets.Options{
		"default dialer": func() *sockets.Options { return &sockets.Options{} },
		"custom Dial":    func() *sockets.Options { return &sockets.Options{Dial: hook} },
		"Dial and Layer": func() *sockets.Options {
			return &sockets.Options{Dial: hook, Layers: []sockets.Layer{passLayer{}}}
		},
		"local-resolving proxy": func() *sockets.Options { return &sockets.Options{Proxy: localProxy{hook}} },
	}
	for _, ans := range internalAnswers {
		for name, mk := range paths {
			for _, base := range []egress.PolicyConfig{denylist(), egress.PublicInternetOnly()} {
				base.Resolver = resolveTo(ans)
				o := mk()
				o.Policy = newPolicy(t, base)
				for _, host := range []string{"innocent.example", "INNOCENT.Example.", "xn--nxasmq6b.example"} {
					err := openErr(t, host+":80", o)
					var de *egress.DeniedError
					if !errors.As(err, &de) || !errors.Is(err, sockets.ErrDenied) {
						t.Fatalf("%s, %s -> %s: %v, want a denial", name, host, ans, err)
					}
				}
			}
		}
	}
	if len(dialled) != 0 {
		t.Fatalf("dialled %v", dialled)
	}
}

// localProxy is a Proxy that resolves locally and dials with fn.
type localProxy struct {
	fn sockets.DialFunc
}

func (p localProxy) ProxyFor(sockets.Address) (sockets.DialFunc, error) { return p.fn, nil }
func (p localProxy) ResolvesLocally() bool                              { return true }

// TestHostRulesNormalised: host rules match whatever the case, a trailing
// dot, and the Unicode or punycode form of a name, so none of them slips
// past a deny rule.
func TestHostRulesNormalised(t *testing.T) {
	p := newPolicy(t, egress.PolicyConfig{Rules: []egress.Rule{
		{Name: "no-blocked", Action: egress.Deny, Hosts: []string{"blocked.example", "*.evil.example", "bücher.example"}},
	}})
	for _, h := range []string{"blocked.example", "BLOCKED.EXAMPLE", "blocked.example.", "Blocked.Example.", "a.evil.example", "A.B.EVIL.EXAMPLE.", "xn--bcher-kva.example", "XN--BCHER-KVA.EXAMPLE."} {
		if _, err := sockets.Connect(ctxT(t), h+":443", &sockets.Options{Policy: p}); !isDenied(err) {
			t.Errorf("Connect(%s) = %v, want ErrDenied", h, err)
		}
	}
	for _, h := range []string{"evil.example", "notblocked.example", "blocked.example.com"} {
		s, err := sockets.Connect(ctxT(t), h+":443", &sockets.Options{Policy: p, Dial: func(context.Context, string, string) (net.Conn, error) {
			return nil, errors.New("offline")
		}})
		if err != nil {
			t.Errorf("Connect(%s) = %v, want allowed", h, err)
			continue
		}
		s.Close()
	}
}

// TestControlBytesRefused: control bytes and other junk in an address are
// refused before any policy or dial, with a message that does not echo
// them raw.
func TestControlBytesRefused(t *testing.T) {
	p := newPolicy(t, egress.PublicInternetOnly())
	for _, a := range []string{"a.example\x00:80", "a.example\t:80", "a\x7f.example:80", "a.example:80\n", "a b.example:80", "[::1%25lo]:80", "[fe80::1%eth0]:80", "bücher.example:80"} {
		_, err := sockets.Connect(ctxT(t), a, &sockets.Options{Policy: p})
		if !errors.Is(err, sockets.ErrInvalidAddress) {
			t.Errorf("Connect(%q) = %v, want ErrInvalidAddress", a, err)
		}
	}
}
