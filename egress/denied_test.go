package egress_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
)

// TestPresetDenialsNameTheClass: under PublicInternetOnly an internal
// address is refused in the words of its class, one short line, and the
// hint never suggests a rule that would open the hole the preset closes.
func TestPresetDenialsNameTheClass(t *testing.T) {
	p := newPolicy(t, egress.PublicInternetOnly())
	cases := []struct{ addr, class string }{
		{"127.0.0.1:80", "loopback"},
		{"10.0.0.1:80", "private"},
		{"169.254.169.254:80", "link-local and metadata"},
		{"0.0.0.0:80", "loopback and unspecified"},
		{"[::1]:80", "loopback"},
		{"[::ffff:127.0.0.1]:80", "loopback"},
		{"[64:ff9b::7f00:1]:80", "loopback"},
		{"100.64.0.1:80", "cgnat"},
		{"[fd00:ec2::254]:80", "private and metadata"},
		{"224.0.0.1:80", "multicast"},
	}
	for _, c := range cases {
		_, err := sockets.Connect(ctxT(t), c.addr, &sockets.Options{Policy: p})
		var de *egress.DeniedError
		if !errors.As(err, &de) || !errors.Is(err, sockets.ErrDenied) {
			t.Fatalf("Connect(%s) = %v, want a *DeniedError", c.addr, err)
		}
		msg := de.Error()
		if !strings.Contains(msg, " is "+c.class+", denied by default: no rule allows it") && !strings.Contains(msg, "which is "+c.class+",") {
			t.Errorf("Connect(%s): %q does not say it is %s", c.addr, msg, c.class)
		}
		if len(msg) > 120 || strings.ContainsAny(msg, "\n;") {
			t.Errorf("Connect(%s): message is not one short line: %q", c.addr, msg)
		}
		for _, bad := range []string{"Rule{", "action: allow", "addrs:", "Addrs:", "allow it"} {
			if strings.Contains(de.Hint, bad) {
				t.Errorf("Connect(%s): hint %q suggests allowing an address the preset denies", c.addr, de.Hint)
			}
		}
		if de.Decision.Reason != egress.ReasonDefault || de.Decision.Rule != "default" || !de.Decision.IP.IsValid() || de.Decision.Port != 80 {
			t.Errorf("Connect(%s): decision %+v", c.addr, de.Decision)
		}
	}
	// A name resolving to loopback: the same words, the name quoted.
	cfg := egress.PublicInternetOnly()
	cfg.Resolver = resolveTo("127.0.0.1")
	err := openErr(t, "rebind.example:80", &sockets.Options{Policy: newPolicy(t, cfg)})
	var de *egress.DeniedError
	if !errors.As(err, &de) || de.Error() != `"rebind.example" (127.0.0.1) is loopback, denied by default: no rule allows it` {
		t.Fatalf("name to loopback: %v", err)
	}
	if de.Decision.Host != "rebind.example" || de.Decision.IP != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("decision %+v", de.Decision)
	}
}

// TestDenialByClassRule: a deny rule naming a class is quoted by name and
// the class, as in issue 13's example, and its hint does not suggest
// allowing the address either.
func TestDenialByClassRule(t *testing.T) {
	sc := sockets.NewScope(ctxT(t), &sockets.ScopeOptions{Name: "req-7"})
	defer sc.Close()
	p := newPolicy(t, egress.PolicyConfig{Rules: []egress.Rule{{Name: "no-internal", Action: egress.Deny, Addrs: []string{"loopback", "private"}}}})
	_, err := sockets.Connect(sockets.WithScope(ctxT(t), sc), "127.0.0.1:8080", &sockets.Options{Policy: p})
	var de *egress.DeniedError
	if !errors.As(err, &de) {
		t.Fatal(err)
	}
	if got := de.Error(); got != `127.0.0.1 is loopback, denied by the rule "no-internal"` {
		t.Fatalf("message %q", got)
	}
	d := de.Decision
	if d.Rule != "no-internal" || d.Reason != egress.ReasonRule || d.IP.String() != "127.0.0.1" || d.Port != 8080 || d.Scope != "req-7" || fmt.Sprint(d.Classes()) != "[loopback]" {
		t.Fatalf("decision %+v", d)
	}
	if strings.Contains(de.Hint, "Rule{") || !strings.Contains(de.Hint, "no-internal") {
		t.Fatalf("hint %q", de.Hint)
	}
}

// TestManyDeniedAddressesBounded: a name resolving to 1,000 denied
// addresses gives a short message (the first few, then a count), and
// every denial is in Denied.
func TestManyDeniedAddressesBounded(t *testing.T) {
	addrs := make([]string, 1000)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("127.0.%d.%d", i/250, 1+i%250)
	}
	var logBuf bytes.Buffer
	cfg := denylist()
	cfg.Resolver = resolveTo(addrs...)
	cfg.Logger = slog.New(slog.NewTextHandler(&logBuf, nil))
	err := openErr(t, "many.example:80", &sockets.Options{Policy: newPolicy(t, cfg)})
	var de *egress.DeniedError
	if !errors.As(err, &de) || len(de.Denied) != 1000 {
		t.Fatalf("err %v", err)
	}
	msg := err.Error()
	if len(msg) > 400 || !strings.Contains(msg, `"many.example" resolved to 1000 addresses, none allowed: 127.0.0.1 is loopback, denied by the rule "internal"`) || !strings.HasSuffix(msg, "and 997 more") {
		t.Fatalf("message (%d bytes): %q", len(msg), msg)
	}
	// One record per address, each short.
	lines := strings.Split(strings.TrimSpace(logBuf.String()), "\n")
	if len(lines) != 1000 {
		t.Fatalf("%d log lines, want 1000", len(lines))
	}
	for _, l := range lines {
		if len(l) > 400 {
			t.Fatalf("log line of %d bytes: %s", len(l), l)
		}
	}
}

// TestRefusedSpellingIsADenial: under a policy, a numeric spelling of an
// IPv4 address is refused as a denial with its reason, a log record and a
// counter (and still matches ErrInvalidAddress); without a policy it stays
// an invalid address.
func TestRefusedSpellingIsADenial(t *testing.T) {
	for _, h := range []string{"2130706433", "0x7f000001", "0177.0.0.1", "127.1", "0x7f.1", "0", "017700000001", "0X7F.0.0.1", "127.1."} {
		logs := &logRecords{}
		var m egress.Metrics
		cfg := egress.PublicInternetOnly()
		cfg.Logger, cfg.Metrics = slog.New(logs), &m
		p := newPolicy(t, cfg)
		for _, connect := range []func() error{
			func() error { _, err := sockets.Connect(ctxT(t), h+":80", &sockets.Options{Policy: p}); return err },
			func() error { _, err := sockets.Dial(ctxT(t), h+":80", &sockets.Options{Policy: p}); return err },
			func() error {
				_, err := sockets.ConnectAddress(ctxT(t), sockets.Address{Hostname: h, Port: 80}, &sockets.Options{Policy: p})
				return err
			},
		} {
			err := connect()
			var de *egress.DeniedError
			if !errors.As(err, &de) || !errors.Is(err, sockets.ErrDenied) || !errors.Is(err, sockets.ErrInvalidAddress) {
				t.Fatalf("%s: %v, want a denial that is also an invalid address", h, err)
			}
			if de.Decision.Reason != egress.ReasonSpelling || !strings.Contains(de.Error(), "non-standard address spelling") || de.Hint == "" {
				t.Fatalf("%s: %q (%+v)", h, de.Error(), de.Decision)
			}
		}
		if st := m.Stats(); st.Denied[egress.ReasonSpelling] != 3 {
			t.Fatalf("%s: stats %+v, want 3 spelling denials", h, st)
		}
		recs := logs.all()
		if len(recs) != 3 || recs[0].Attrs["reason"] != egress.ReasonSpelling || recs[0].Attrs["decision"] != "deny" || recs[0].Level != slog.LevelWarn {
			t.Fatalf("%s: records %+v", h, recs)
		}
		_, err := sockets.Connect(ctxT(t), h+":80", nil)
		if !errors.Is(err, sockets.ErrInvalidAddress) || errors.Is(err, sockets.ErrDenied) {
			t.Fatalf("%s without a policy: %v", h, err)
		}
	}
	// Standard forms refused for another reason are not spellings.
	p := newPolicy(t, egress.PublicInternetOnly())
	if _, err := sockets.Connect(ctxT(t), "127.0.0.1:99999", &sockets.Options{Policy: p}); errors.Is(err, sockets.ErrDenied) {
		t.Fatalf("a bad port is not a spelling: %v", err)
	}
	// Report mode records it and still refuses the address.
	var m egress.Metrics
	rp := newPolicy(t, egress.PolicyConfig{Mode: egress.ModeReport, Metrics: &m})
	if _, err := sockets.Connect(ctxT(t), "2130706433:80", &sockets.Options{Policy: rp}); !errors.Is(err, sockets.ErrInvalidAddress) {
		t.Fatalf("report mode: %v", err)
	}
	if st := m.Stats(); st.Reported[egress.ReasonSpelling] != 1 {
		t.Fatalf("report mode stats %+v", st)
	}
}

// TestUserStringsEscaped: no user-supplied string puts a raw control byte
// into an error or a log line: not the address, not a rule's name.
func TestUserStringsEscaped(t *testing.T) {
	var logBuf bytes.Buffer
	p := newPolicy(t, egress.PolicyConfig{
		Logger: slog.New(slog.NewTextHandler(&logBuf, nil)),
		Rules:  []egress.Rule{{Name: "evil\n[warn] forged", Action: egress.Deny, Hosts: []string{"blocked.example"}}, {Name: "loop\r\nx", Action: egress.Deny, Addrs: []string{"loopback"}}},
	})
	for _, addr := range []string{"a.example:80\n[warn] forged", "a.example:80\r\n", "\x1b[31mred:80", "a\"b:80", "blocked.example:443", "127.0.0.1:80"} {
		for _, o := range []*sockets.Options{nil, {Policy: p}} {
			s, err := sockets.Connect(ctxT(t), addr, o)
			if err == nil {
				s.Close()
				if o != nil {
					t.Fatalf("Connect(%q) under the policy succeeded", addr)
				}
				continue
			}
			if strings.ContainsAny(err.Error(), "\n\r\x1b") {
				t.Errorf("Connect(%q): raw control byte in %q", addr, err.Error())
			}
			var de *egress.DeniedError
			if errors.As(err, &de) && strings.ContainsAny(de.Hint, "\n\r") {
				t.Errorf("Connect(%q): raw control byte in the hint %q", addr, de.Hint)
			}
		}
	}
	lines := strings.Split(strings.TrimSpace(logBuf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log has %d lines, want 2 records on 2 lines:\n%s", len(lines), logBuf.String())
	}
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(strings.SplitN(l, "msg=", 2)[0]), "[warn]") || strings.Contains(l, "\r") || !strings.HasPrefix(l, "time=") {
			t.Errorf("forged log line: %q", l)
		}
	}
}
