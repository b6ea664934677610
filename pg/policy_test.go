package pg_test

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/pg"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func mustPolicy(t *testing.T, cfg egress.PolicyConfig) *egress.Policy {
	t.Helper()
	p, err := egress.NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPolicy: the egress policy decides on the hostname of the connection
// string (pgx's lookup is bypassed) and on the address dialled; a denied
// Postgres host fails at connect with the policy's error and nothing reaches
// the server.
func TestPolicy(t *testing.T) {
	u := pgURL(t)
	ctx := testCtx(t)
	srv := realServerTLS(t, ctx, u)
	_, port, _ := net.SplitHostPort(u.Host)
	for _, w := range ways {
		t.Run(w.name+"/host denied", func(t *testing.T) {
			rec := &recorder{to: u.Host}
			p := mustPolicy(t, egress.PolicyConfig{Rules: []egress.Rule{{Name: "no-blocked-db", Action: egress.Deny, Hosts: []string{"*.blocked.example"}}}})
			opts := &pg.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{Dial: rec.dial, Policy: p}}, SocketTLS: w.socketTLS}
			c, err := pg.Connect(ctx, withParams(u, net.JoinHostPort("db.blocked.example", port)), opts)
			if err == nil {
				c.Close(ctx)
				t.Fatal("connected to a denied host")
			}
			if !errors.Is(err, sockets.ErrDenied) || !strings.Contains(err.Error(), "no-blocked-db") {
				t.Errorf("error %q; want sockets.ErrDenied naming the rule", err)
			}
			if d := rec.dialed(); len(d) != 0 {
				t.Errorf("dialed %q; want nothing", d)
			}
		})
		t.Run(w.name+"/host allowed", func(t *testing.T) {
			// Only the certificate's name is allowed: this works only because
			// the name reaches the policy unresolved.
			rec := &recorder{to: u.Host}
			p := mustPolicy(t, egress.PolicyConfig{Default: egress.Deny, Rules: []egress.Rule{{Action: egress.Allow, Hosts: []string{srv.host}}}})
			opts := &pg.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{Dial: rec.dial, Policy: p}}, SocketTLS: w.socketTLS}
			c := connect(t, ctx, withParams(u, net.JoinHostPort(srv.host, port), "sslmode", "verify-full", "sslrootcert", srv.rootFile), opts)
			if !sslOn(t, ctx, c) {
				t.Error("the server says TLS is off")
			}
		})
		t.Run(w.name+"/address denied", func(t *testing.T) {
			peer, err := sockettest.NewServer(func(net.Conn) {})
			if err != nil {
				t.Fatal(err)
			}
			defer peer.Close()
			p := mustPolicy(t, egress.PolicyConfig{Rules: []egress.Rule{{Name: "no-loopback", Action: egress.Deny, Addrs: []string{"loopback"}}}})
			opts := &pg.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{Policy: p}}, SocketTLS: w.socketTLS}
			c, err := pg.Connect(ctx, withParams(u, peer.Addr()), opts)
			if err == nil {
				c.Close(ctx)
				t.Fatal("connected to a denied address")
			}
			if !errors.Is(err, sockets.ErrDenied) || !strings.Contains(err.Error(), "no-loopback") {
				t.Errorf("error %q; want sockets.ErrDenied naming the rule", err)
			}
			if n := peer.Accepted(); n != 0 {
				t.Errorf("the server accepted %d connections; want none", n)
			}
		})
	}
}

// TestScope: the ctx pgx passes to its dial function carries the request's
// scope: its limit applies to Postgres connections, and ending it closes them.
func TestScope(t *testing.T) {
	u := pgURL(t)
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			ctx := testCtx(t)
			sc := sockets.NewScope(ctx, &sockets.ScopeOptions{Name: "request", Limit: 1, FailFast: true})
			defer sc.Close()
			sctx := sockets.WithScope(ctx, sc)
			opts := &pg.Options{SocketTLS: w.socketTLS}
			c := connect(t, sctx, u.String(), opts)
			if !sslOn(t, ctx, c) {
				t.Error("the server says TLS is off")
			}
			if open, waiting := sc.Open(); open != 1 || waiting != 0 {
				t.Errorf("scope holds %d open, %d waiting; want 1, 0", open, waiting)
			}
			if c2, err := pg.Connect(sctx, u.String(), opts); err == nil {
				c2.Close(ctx)
				t.Error("a second connection got past the scope's limit of 1")
			} else if !errors.Is(err, sockets.ErrLimit) {
				t.Errorf("second connection: %v; want sockets.ErrLimit", err)
			}
			sc.Close()
			var one int
			if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err == nil {
				t.Error("a query succeeded after the scope ended")
			}
			if !c.IsClosed() {
				t.Error("pgx still considers the connection open after the scope ended")
			}
		})
	}
}
