package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// demoNetHTTP plugs outbound into net/http: a dialers.Dialer supplies the
// Transport's DialContext and DialTLSContext, so every connection of the
// client is a sockets.Socket (TLS by the socket, verified against an
// in-process CA). The in-process HTTPS server answers with the TLS version it
// saw.
func demoNetHTTP(ctx context.Context, e *env) error {
	ca, err := sockettest.NewCA()
	if err != nil {
		return err
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		return err
	}
	url, stop, err := startHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			http.Error(w, "plain HTTP", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "hello over %s", tls.VersionName(r.TLS.Version))
	}), cfg)
	if err != nil {
		return err
	}
	defer stop()

	d := &dialers.Dialer{Options: &sockets.Options{TLSConfig: &tls.Config{RootCAs: ca.Pool()}}}
	transport := &http.Transport{
		DialContext:       d.DialContext,
		DialTLSContext:    d.DialTLSContext,
		DisableKeepAlives: true,
	}
	client := &http.Client{Transport: transport}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/", nil)
	if err != nil {
		return err
	}
	e.step("GET %s with a Transport dialling through dialers.Dialer", url)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "hello over TLS 1.") {
		return fmt.Errorf("GET %s: %s %q", url, resp.Status, body)
	}
	// The server saw TLS. (On this side Response.TLS stays nil: net/http
	// fills it only for a *tls.Conn returned by DialTLSContext.)
	e.step("the server said %q", body)
	return nil
}
