package proxy_test

import (
	"testing"

	"github.com/outboundhq/outbound/proxy"
	"github.com/outboundhq/outbound/sockets"
)

// TestTrailingDotNoProxy: NO_PROXY matches an absolute name as the rules do.
func TestTrailingDotNoProxy(t *testing.T) {
	t.Setenv("ALL_PROXY", "socks5://127.0.0.1:1")
	t.Setenv("NO_PROXY", "db.example")
	p := proxy.FromEnvironment()
	for _, h := range []string{"db.example", "db.example."} {
		via, err := p.ProxyFor(sockets.Address{Hostname: h, Port: 5432})
		if err != nil || via != nil {
			t.Errorf("ProxyFor(%q) = %v, %v; want a direct connection (NO_PROXY)", h, via != nil, err)
		}
	}
}
