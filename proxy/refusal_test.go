package proxy_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/proxy"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// An egress proxy's refusal by rule, said in smokescreen's error header or
// RFC 9209's Proxy-Status, reads as a local denial: ErrDenied, and an
// *egress.DeniedError whose Decision names the proxy and its reason.
func TestProxyRefusalHeaders(t *testing.T) {
	req := "CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n\r\n"
	for _, tc := range []struct {
		name, resp, reason string
		denied             bool
	}{
		{"smokescreen", "HTTP/1.1 407 Request rejected by proxy\r\nX-Smokescreen-Error: Egress proxying is denied to host 'api.example': host matched no rule.\r\n\r\n",
			"Egress proxying is denied to host 'api.example': host matched no rule.", true},
		{"proxy-status denied", "HTTP/1.1 403 Forbidden\r\nProxy-Status: fleet; error=destination_ip_prohibited\r\n\r\n", "fleet; error=destination_ip_prohibited", true},
		{"proxy-status other", "HTTP/1.1 502 Bad Gateway\r\nProxy-Status: fleet; error=dns_error\r\n\r\n", "", false},
		{"plain 407", "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", "", false},
		{"header with CR", "HTTP/1.1 407 Request rejected by proxy\r\nX-Smokescreen-Error: bad\rthing\r\n\r\n", "bad\rthing", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t)(sockettest.NewScripted(sockettest.Discard(len(req)), sockettest.Send(tc.resp), sockettest.Sleep(time.Second)))
			p := &proxy.HTTP{Addr: srv.Addr()}
			_, err := sockets.Dial(ctxT(t), "api.example:443", &sockets.Options{Proxy: p})
			if err == nil {
				t.Fatal("the proxy's refusal was not an error")
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("message spans lines: %q", err.Error())
			}
			var pe *proxy.Error
			if !errors.As(err, &pe) {
				t.Fatalf("%v: no *proxy.Error", err)
			}
			var de *egress.DeniedError
			gotDenied := errors.As(err, &de)
			if gotDenied != tc.denied || errors.Is(err, sockets.ErrDenied) != tc.denied {
				t.Fatalf("%v: denied = %v (As) %v (Is), want %v", err, gotDenied, errors.Is(err, sockets.ErrDenied), tc.denied)
			}
			if !tc.denied {
				if tc.name == "plain 407" && !strings.Contains(err.Error(), "Username and Password") {
					t.Errorf("plain 407 does not point at the credentials: %v", err)
				}
				return
			}
			d := de.Decision
			if d.Reason != egress.ReasonProxy || d.By != "http://"+srv.Addr() || d.Host != "api.example" || d.Port != 443 || d.Rule != tc.reason || d.Allowed {
				t.Fatalf("decision = %+v", d)
			}
			if de.Hint == "" || strings.Contains(err.Error(), "Username") {
				t.Fatalf("hint %q, message %q", de.Hint, err.Error())
			}
		})
	}
}
