package pg_test

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/pg"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func mustPolicy(t *testing.T, cfg sockets.PolicyConfig) *sockets.Policy {
	t.Helper()
	p, err := sockets.NewPolicy(cfg)
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
			p := mustPolicy(t, sockets.PolicyConfig{Rules: []sockets.Rule{{Name: "no-blocked-db", Action: sockets.Deny, Hosts: []string{"*.blocked.example"}}}})
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
			p := mustPolicy(t, sockets.PolicyConfig{Default: sockets.Deny, Rules: []sockets.Rule{{Action: sockets.Allow, Hosts: []string{srv.host}}}})
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
			p := mustPolicy(t, sockets.PolicyConfig{Rules: []sockets.Rule{{Name: "no-loopback", Action: sockets.Deny, Addrs: []string{"loopback"}}}})
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
