package egress_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
)

// countingProxy sends every connection to a dial that only counts.
type countingProxy struct{ n atomic.Int32 }

func (p *countingProxy) ProxyFor(sockets.Address) (sockets.DialFunc, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		p.n.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, "127.0.0.1:1")
	}, nil
}

// TestPublicInternetOnlyRefusesLocalhost: names that are loopback by
// definition (RFC 6761) are refused at Connect under PublicInternetOnly,
// before a proxy, which resolves names itself, could reach its loopback.
func TestPublicInternetOnlyRefusesLocalhost(t *testing.T) {
	p := newPolicy(t, egress.PublicInternetOnly())
	px := &countingProxy{}
	for _, h := range []string{"localhost", "LOCALHOST", "localhost.", "db.localhost", "a.b.localhost.", "[::1]", "127.0.0.1"} {
		for _, o := range []*sockets.Options{{Policy: p, Proxy: px}, {Policy: p}} {
			if _, err := sockets.Connect(ctxT(t), h+":8080", o); !isDenied(err) {
				t.Errorf("Connect(%s:8080) under PublicInternetOnly (proxy %v) = %v; want ErrDenied at once", h, o.Proxy != nil, err)
			}
		}
	}
	if n := px.n.Load(); n != 0 {
		t.Fatalf("the proxy was asked %d times", n)
	}
	// A public name still goes to the proxy (its addresses are the proxy's to check).
	s, err := sockets.Connect(ctxT(t), "example.com:443", &sockets.Options{Policy: p, Proxy: px})
	if err != nil {
		t.Fatal(err)
	}
	s.Opened(ctxT(t))
	s.Close()
	if px.n.Load() != 1 {
		t.Fatal("a public name did not reach the proxy")
	}
}

// TestNilMetricsAndHolder: reads of a nil *Metrics are zero; a nil holder
// reads as the default policy.
func TestNilMetricsAndHolder(t *testing.T) {
	var m *egress.Metrics
	if st := m.Stats(); st.Allowed != 0 || st.Open != 0 || st.DeniedTotal() != 0 {
		t.Fatalf("(*Metrics)(nil).Stats() = %v", st)
	}
	var h *egress.PolicyHolder
	if h.Policy() != nil {
		t.Fatal("a nil holder holds a policy")
	}
}
