package dialers

import (
	"net/http"
	"time"
)

// NewHTTPTransport returns an [http.Transport] whose connections are all
// outbound sockets opened by d (nil means the zero Dialer). It has the
// settings of [http.DefaultTransport] (timeouts, idle pool, HTTP/2) but:
//
//   - DialContext is d.DialContext, and the transport does TLS itself over
//     the plain socket, so "https" URLs negotiate HTTP/2 by ALPN and
//     [http.Response].TLS is filled in. TLSClientConfig is a clone of
//     d.Options.TLSConfig when that is set (roots, client certificates).
//   - Proxy is nil: the environment's HTTP_PROXY and HTTPS_PROXY are not
//     consulted, because a transport-level proxy would make every socket
//     connect to the proxy and the egress policy would judge the proxy's
//     address instead of the server's. Route through a proxy with the
//     socket options instead (sockets.Options.Proxy), where host rules still
//     apply to the real destination.
//
// The egress policy in d.Options applies to every connection, and a
// [sockets.Scope] in a request's context ([sockets.WithScope]) owns the
// connection that request dials: net/http dials with a context that keeps
// the request's values. Ending the scope closes that connection even if it
// sits idle in the transport's pool, or serves another request by then; the
// transport dials again for the next request. Give each scope its own
// transport (and call CloseIdleConnections when it ends) if requests of
// different scopes must not share connections.
//
// The caller may change the returned transport's fields before first use.
func NewHTTPTransport(d *Dialer) *http.Transport {
	if d == nil {
		d = &Dialer{}
	}
	tr := &http.Transport{
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
	if d.Options != nil && d.Options.TLSConfig != nil {
		tr.TLSClientConfig = d.Options.TLSConfig.Clone()
	}
	return tr
}
