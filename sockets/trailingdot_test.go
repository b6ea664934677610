package sockets_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// TestTrailingDotKeptForTheDial: a name the caller marked absolute
// ("db.") is dialled as written, so the resolver's search domains do not
// apply, and Socket.Address keeps it; host rules still match it without
// the dot.
func TestTrailingDotKeptForTheDial(t *testing.T) {
	srv := echo(t)
	_, port, _ := net.SplitHostPort(srv.Addr())
	var mu sync.Mutex
	var dialled []string
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialled = append(dialled, addr)
		mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Addr())
	}
	allowDB := newPolicy(t, egress.PolicyConfig{Default: egress.Deny, Rules: []egress.Rule{{Action: egress.Allow, Hosts: []string{"db"}}}})
	s, err := sockets.Dial(ctxT(t), "DB.:"+port, &sockets.Options{Dial: dial, Policy: allowDB})
	if err != nil {
		t.Fatalf("an allow rule for \"db\" does not allow \"DB.\": %v", err)
	}
	defer s.Close()
	if got := s.Address(); got.Hostname != "db." {
		t.Fatalf("Address() = %+v, want hostname \"db.\"", got)
	}
	mu.Lock()
	got := dialled
	mu.Unlock()
	if len(got) != 1 || got[0] != "db.:"+port {
		t.Fatalf("dialled %q, want [\"db.:%s\"]", got, port)
	}

	denyDB := newPolicy(t, egress.PolicyConfig{Rules: []egress.Rule{{Action: egress.Deny, Hosts: []string{"db.example"}}}})
	for _, h := range []string{"db.example", "db.example.", "DB.Example."} {
		if _, err := sockets.Connect(ctxT(t), h+":"+port, &sockets.Options{Dial: dial, Policy: denyDB}); !errors.Is(err, sockets.ErrDenied) {
			t.Errorf("Connect(%q) under a deny rule for \"db.example\" = %v, want ErrDenied", h, err)
		}
	}
}

// TestTrailingDotTLS: TLS to an absolute name checks the certificate for
// the name without its dot.
func TestTrailingDotTLS(t *testing.T) {
	ca := newCA(t)
	srv := serve(t)(sockettest.NewTLSEcho(serverTLS(t, ca, "db.internal")))
	_, port, _ := net.SplitHostPort(srv.Addr())
	dial := func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Addr())
	}
	s := connect(t, "db.internal.:"+port, &sockets.Options{Dial: dial, SecureTransport: sockets.SecureTransportOn, TLSConfig: ca.ClientConfig()})
	if _, err := s.Opened(ctxT(t)); err != nil {
		t.Fatalf("TLS to \"db.internal.\": %v", err)
	}
	if s.Address().Hostname != "db.internal." {
		t.Fatalf("Address() = %+v", s.Address())
	}
	s.Write([]byte("ok"))
	if got := readN(t, s, 2); got != "ok" {
		t.Fatal(got)
	}
}

type recordingResolver struct {
	mu    sync.Mutex
	hosts []string
}

func (r *recordingResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	r.hosts = append(r.hosts, host)
	r.mu.Unlock()
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// TestTrailingDotResolved: with address rules, the policy's resolver is
// asked for the absolute name as the caller wrote it.
func TestTrailingDotResolved(t *testing.T) {
	srv := echo(t)
	_, port, _ := net.SplitHostPort(srv.Addr())
	r := &recordingResolver{}
	p := newPolicy(t, egress.PolicyConfig{Resolver: r, Rules: []egress.Rule{{Action: egress.Deny, Addrs: []string{"private"}}}})
	s, err := sockets.Dial(ctxT(t), "db.:"+port, &sockets.Options{Policy: p})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.hosts) != 1 || r.hosts[0] != "db." {
		t.Fatalf("resolver asked for %q, want [\"db.\"]", r.hosts)
	}
}
