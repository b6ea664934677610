package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/egress/policyfile"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/scopehttp"
)

// egressPolicy is the policy file of the egress demo; %s is the port of its
// internal backend.
const egressPolicy = `default: deny
require_scope: true   # no Connect outside a request handler
rules:
  - name: no-metadata
    action: deny
    addrs: [metadata]
  - name: backend
    action: allow
    addrs: [loopback]
    ports: [%s]
`

// demoEgress loads an egress policy from a file and runs a "fetch this URL
// for me" service behind scopehttp.Middleware, which gives each request its
// own scope: the internal backend the policy allows is fetched, an SSRF
// attempt at the cloud metadata address is refused before it is dialled,
// and code outside any request cannot connect at all (require_scope).
func demoEgress(ctx context.Context, e *env) error {
	backend, stopBackend, err := startHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from the backend")
	}), nil)
	if err != nil {
		return err
	}
	defer stopBackend()
	u, _ := url.Parse(backend)

	dir, err := os.MkdirTemp("", "outbound-tour")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "egress.yaml")
	if err := os.WriteFile(path, fmt.Appendf(nil, egressPolicy, u.Port()), 0o600); err != nil {
		return err
	}
	cfg, err := policyfile.Load(path)
	if err != nil {
		return err
	}
	policy, err := egress.NewPolicy(cfg)
	if err != nil {
		return err
	}
	opts := &sockets.Options{Policy: policy}
	tr := dialers.NewHTTPTransport(&dialers.Dialer{Options: opts})
	tr.DisableKeepAlives = true // each fetch in the scope of the request that made it
	defer tr.CloseIdleConnections()
	fetcher := &http.Client{Transport: tr}

	service, stopService, err := startHTTP(scopehttp.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, r.URL.Query().Get("url"), nil)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := fetcher.Do(req)
		if errors.Is(err, sockets.ErrDenied) {
			http.Error(w, "refused by the egress policy", http.StatusForbidden)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		io.Copy(w, io.LimitReader(resp.Body, 1<<10))
	})), nil)
	if err != nil {
		return err
	}
	defer stopService()
	e.step("policy %s: %d rules, default %s, require_scope %t", filepath.Base(path), len(cfg.Rules), cfg.Default, cfg.RequireScope)

	tests := []struct {
		target string
		status int
		body   string
	}{
		{backend + "/", http.StatusOK, "hello from the backend"},
		{"http://169.254.169.254/latest/meta-data/iam/security-credentials/", http.StatusForbidden, "refused by the egress policy"},
	}
	inbound := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, tt := range tests {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, service+"/fetch?url="+url.QueryEscape(tt.target), nil)
		if err != nil {
			return err
		}
		resp, err := inbound.Do(req)
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if body := strings.TrimSpace(string(b)); resp.StatusCode != tt.status || body != tt.body {
			return fmt.Errorf("fetch %s: %d %q, want %d %q", tt.target, resp.StatusCode, body, tt.status, tt.body)
		}
		e.step("fetch %s -> %d %s", tt.target, resp.StatusCode, tt.body)
	}

	_, err = sockets.Connect(ctx, net.JoinHostPort(u.Hostname(), u.Port()), opts)
	if !errors.Is(err, sockets.ErrDenied) {
		return fmt.Errorf("sockets.Connect outside a request: %v, want a refusal (require_scope)", err)
	}
	e.step("Connect outside a request: refused (require_scope)")
	return nil
}
