// Package httpdemo is the http example, run by `go run ./examples/http` and by
// the tour. It sends HTTP requests with net/http over outbound sockets:
// HTTP/2 over TLS done by the transport, an egress policy that refuses
// private and metadata addresses, and a request scope that closes the
// connections a request opened when the request ends.
//
//	go run ./examples/http                               # against an in-process HTTPS server
//	go run ./examples/http -url https://www.example.com/ # a real site (the public internet is allowed)
//
// dialers.NewHTTPTransport gives an http.Transport whose DialContext opens
// outbound sockets; the transport does TLS over them, so HTTP/2 is
// negotiated as usual. The policy is egress.PublicInternetOnly, the preset
// for programs that fetch URLs their users give (SSRF protection): loopback,
// private, link-local and cloud metadata addresses are refused at dial time,
// whatever name resolves to them. This program adds one rule that allows
// its own in-process server.
//
// On Cloudflare Workers the sockets a request handler opens close when the
// request ends. Here a middleware gives each incoming request a
// sockets.Scope; the outgoing request carries it in its context, the
// transport dials with that context, and the scope closes the connection
// when the handler returns.
package httpdemo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("http")
	target := fs.String("url", "", "`URL` to fetch (default: the in-process HTTPS server)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	// The policy: the public internet only, plus the in-process server.
	cfg := egress.PublicInternetOnly()
	var rootCAs *tls.Config
	if *target == "" {
		srv, ca, err := startServer()
		if err != nil {
			return err
		}
		defer srv.Close()
		host, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
		cfg.Rules = append(cfg.Rules, egress.Rule{Name: "example-server", Action: egress.Allow, Addrs: []string{host}, Ports: []string{port}})
		rootCAs = ca.ClientConfig()
		*target = srv.URL + "/hello"
		fmt.Fprintf(stdout, "in-process HTTPS server (HTTP/2) on %s\n", srv.Listener.Addr())
	}
	policy, err := egress.NewPolicy(cfg)
	if err != nil {
		return err
	}

	// Every connection of the transport is an outbound socket under the
	// policy. Keep them, to show what happened to them.
	var mu sync.Mutex
	var dialed []*sockets.Socket
	opts := fs.Options()
	opts.Policy, opts.TLSConfig = policy, rootCAs
	tr := dialers.NewHTTPTransport(&dialers.Dialer{Options: opts})
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err == nil {
			mu.Lock()
			dialed = append(dialed, c.(*sockets.Socket))
			mu.Unlock()
		}
		return c, err
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 20 * time.Second}

	// 1. A request; the transport negotiates HTTP/2 over TLS.
	line, err := fetch(ctx, client, *target)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "GET %s: %s\n", *target, line)

	// 2. Addresses the policy refuses, before any byte is sent to them.
	for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:6379/", "http://10.0.0.1/"} {
		_, err := fetch(ctx, client, u)
		if !errors.Is(err, sockets.ErrDenied) {
			return fmt.Errorf("GET %s: %v, want a refusal by the egress policy", u, err)
		}
		fmt.Fprintf(stdout, "GET %s: refused by the egress policy\n", u)
	}

	// 3. A request scope. An incoming request's handler fetches the target;
	// its scope owns the connection the transport opens for it.
	tr.CloseIdleConnections()
	mu.Lock()
	before := len(dialed)
	mu.Unlock()
	front := httptest.NewServer(withScope(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		line, err := fetch(r.Context(), client, *target)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		open, _ := sockets.ScopeFrom(r.Context()).Open()
		fmt.Fprintf(w, "%s; %d socket(s) open in the request's scope", line, open)
	})))
	defer front.Close()
	inbound := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := inbound.Get(front.URL + "/proxy")
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s/proxy: %s %s %v", front.URL, resp.Status, body, err)
	}
	fmt.Fprintf(stdout, "handler fetched it: %s\n", body)
	mu.Lock()
	scoped := append([]*sockets.Socket(nil), dialed[before:]...)
	mu.Unlock()
	if len(scoped) == 0 {
		return errors.New("the handler's request opened no socket")
	}
	for _, s := range scoped {
		select {
		case <-s.Closed():
		case <-ctx.Done():
			return fmt.Errorf("the connection to %s outlived its request's scope", s.RemoteAddr())
		}
	}
	fmt.Fprintf(stdout, "after the request: its %d connection(s) closed with its scope\n", len(scoped))
	return nil
}

// withScope gives each request a sockets.Scope (as a Workers request has):
// sockets connected with the request's context belong to it and are closed
// when the handler returns.
func withScope(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc := sockets.NewScope(r.Context(), &sockets.ScopeOptions{Name: r.Method + " " + r.URL.Path})
		defer sc.Close()
		next.ServeHTTP(w, r.WithContext(sockets.WithScope(r.Context(), sc)))
	})
}

// fetch GETs url and describes the response in one line: status, protocol,
// TLS version and the body's first line.
func fetch(ctx context.Context, client *http.Client, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode >= 400 {
		return "", fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	first, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	if len(first) > 60 {
		first = first[:60] + "..."
	}
	how := resp.Proto
	if resp.TLS != nil {
		how += ", " + tls.VersionName(resp.TLS.Version)
	}
	return fmt.Sprintf("%s, %s: %s", resp.Status, how, first), nil
}

// startServer starts the in-process HTTPS server with HTTP/2 and a
// certificate from a throwaway certificate authority.
func startServer() (*httptest.Server, *sockettest.CA, error) {
	ca, err := sockettest.NewCA()
	if err != nil {
		return nil, nil, err
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		return nil, nil, err
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello over %s\n", r.Proto)
	}))
	srv.EnableHTTP2 = true
	srv.TLS = cfg
	srv.StartTLS()
	return srv, ca, nil
}
