package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// demoHTTP2 fetches from an in-process HTTP/2 server with
// dialers.NewHTTPTransport: the connections are outbound sockets, the
// transport does TLS over them and negotiates h2. The policy is
// egress.PublicInternetOnly (plus a rule for the in-process server), which
// refuses the cloud metadata address before anything is dialled. Last, a
// request made in a sockets.Scope has its connection closed when the scope
// ends, though the transport keeps it for reuse.
func demoHTTP2(ctx context.Context, e *env) error {
	ca, err := sockettest.NewCA()
	if err != nil {
		return err
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		return err
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello over %s", r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = cfg
	srv.StartTLS()
	defer srv.Close()

	pc := egress.PublicInternetOnly()
	host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	pc.Rules = append(pc.Rules, egress.Rule{Name: "tour-server", Action: egress.Allow, Addrs: []string{host}, Ports: []string{port}})
	policy, err := egress.NewPolicy(pc)
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var dialed []*sockets.Socket
	tr := dialers.NewHTTPTransport(&dialers.Dialer{Options: &sockets.Options{Policy: policy, TLSConfig: ca.ClientConfig()}})
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if s, ok := dialers.SocketOf(c); err == nil && ok {
			mu.Lock()
			dialed = append(dialed, s)
			mu.Unlock()
		}
		return c, err
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	get := func(ctx context.Context, url string) (*http.Response, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return nil, "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, "", err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, string(body), err
	}

	resp, body, err := get(ctx, srv.URL+"/")
	if err != nil {
		return err
	}
	if resp.ProtoMajor != 2 || resp.TLS == nil || body != "hello over HTTP/2.0" {
		return fmt.Errorf("GET %s: %s, TLS %t, %q; want HTTP/2 over TLS", srv.URL, resp.Proto, resp.TLS != nil, body)
	}
	e.step("GET %s: %s, %s over an outbound socket", srv.URL, resp.Status, resp.Proto)

	const metadata = "http://169.254.169.254/latest/meta-data/"
	if _, _, err := get(ctx, metadata); !errors.Is(err, sockets.ErrDenied) {
		return fmt.Errorf("GET %s: %v, want a refusal by the egress policy", metadata, err)
	}
	e.step("GET %s: refused by PublicInternetOnly", metadata)

	// A scope, as a request handler has: the connection dialled for a
	// request in it is closed when it ends.
	tr.CloseIdleConnections()
	sc := sockets.NewScope(ctx, &sockets.ScopeOptions{Name: "tour request"})
	mu.Lock()
	before := len(dialed)
	mu.Unlock()
	if _, _, err := get(sockets.WithScope(ctx, sc), srv.URL+"/scoped"); err != nil {
		sc.Close()
		return err
	}
	open, _ := sc.Open()
	sc.Close()
	mu.Lock()
	scoped := dialed[before:]
	mu.Unlock()
	if len(scoped) != 1 || open != 1 {
		return fmt.Errorf("the scoped request dialled %d sockets with %d open in the scope, want 1 and 1", len(scoped), open)
	}
	select {
	case <-scoped[0].Closed():
	case <-time.After(5 * time.Second):
		return errors.New("the scoped request's connection stayed open after its scope ended")
	}
	e.step("a request in a scope: its connection closed when the scope ended")
	return nil
}
