package pg_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/outboundhq/outbound/pg"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// connectFake connects pgconn to an in-process server through outbound.
func connectFake(ctx context.Context, connString string, opts *pg.Options) (*pgconn.PgConn, error) {
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		return nil, err
	}
	if err := pg.Configure(cfg, opts); err != nil {
		return nil, err
	}
	return pgconn.ConnectConfig(ctx, cfg)
}

// fakeServer starts f on a plain in-process server.
func fakeServer(t *testing.T, f *fakePG) *sockettest.Server {
	t.Helper()
	srv, err := sockettest.NewServer(func(c net.Conn) {
		if err := f.serve(c); err != nil {
			t.Errorf("fake server: %v", err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func fakeConnString(srv *sockettest.Server, params string) string {
	return fmt.Sprintf("host=%s port=%d user=app database=app %s", srv.Host(), srv.Port(), params)
}

// TestSocketTLSRefused: the server answers 'N' to the SSLRequest. prefer and
// allow carry on in plaintext on the same connection; require refuses.
func TestSocketTLSRefused(t *testing.T) {
	cases := []struct {
		sslmode string
		wantErr error
	}{
		{"prefer", nil},
		{"allow", nil},
		{"require", pg.ErrTLSRefused},
		{"verify-full", pg.ErrTLSRefused},
	}
	for _, tc := range cases {
		t.Run(tc.sslmode, func(t *testing.T) {
			ctx := testCtx(t)
			f := &fakePG{}
			srv := fakeServer(t, f)
			c, err := connectFake(ctx, fakeConnString(srv, "sslmode="+tc.sslmode), &pg.Options{SocketTLS: true})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), "sslmode=prefer") {
					t.Fatalf("error %v; want %v saying what to change", err, tc.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				if _, ok := c.Conn().(*sockets.Socket); !ok {
					t.Errorf("pgx talks over a %T, want the plain socket", c.Conn())
				}
				c.Close(ctx)
			}
			srv.Close()
			if n := srv.Accepted(); n != 1 {
				t.Errorf("%d connections; want 1 (plaintext continues on the same one)", n)
			}
			for _, s := range f.sessions() {
				if !s.sslRequest || s.tls {
					t.Errorf("server saw SSLRequest %v, TLS %v; want an SSLRequest and no TLS", s.sslRequest, s.tls)
				}
			}
		})
	}
}

// TestSocketTLSDisable: sslmode=disable sends no SSLRequest at all.
func TestSocketTLSDisable(t *testing.T) {
	ctx := testCtx(t)
	f := &fakePG{}
	srv := fakeServer(t, f)
	c, err := connectFake(ctx, fakeConnString(srv, "sslmode=disable"), &pg.Options{SocketTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	srv.Close()
	if s := f.sessions(); len(s) != 1 || s[0].sslRequest || s[0].tls {
		t.Errorf("sessions %+v; want one, without SSLRequest or TLS", s)
	}
}

// TestSocketTLSBadReply: answers other than a single 'S' or 'N' fail clearly;
// bytes sent after the 'S' and before the handshake are refused as a
// STARTTLS injection.
func TestSocketTLSBadReply(t *testing.T) {
	req := string([]byte{0, 0, 0, 8, 4, 210, 22, 47})
	cases := []struct {
		name  string
		reply string
		check func(error) bool
	}{
		{"not postgres", "X", func(err error) bool { return strings.Contains(err.Error(), `'X'`) }},
		{"injection", "Sinjected", func(err error) bool { return errors.Is(err, sockets.ErrPlaintextInjection) }},
		{"closed", "", func(err error) bool { return strings.Contains(err.Error(), "closed the connection") }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			steps := []sockettest.Step{sockettest.Expect(req)}
			if tc.reply != "" {
				steps = append(steps, sockettest.Send(tc.reply), sockettest.Discard(1))
			}
			srv, err := sockettest.NewScripted(steps...)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			c, err := connectFake(ctx, fakeConnString(srv, "sslmode=require"), &pg.Options{SocketTLS: true})
			if err == nil {
				c.Close(ctx)
				t.Fatal("connected")
			}
			if !tc.check(err) {
				t.Errorf("error %v", err)
			}
		})
	}
}

// TestDirectTLS: sslnegotiation=direct starts TLS at once, with ALPN
// "postgresql" and no SSLRequest, both ways (PostgreSQL 17 and later; the
// test server is in-process).
func TestDirectTLS(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "ca.pem")
	if err := ca.WriteCertPEM(root); err != nil {
		t.Fatal(err)
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			ctx := testCtx(t)
			scfg, err := ca.ServerConfig("db.internal")
			if err != nil {
				t.Fatal(err)
			}
			scfg.NextProtos = []string{"postgresql"}
			f := &fakePG{}
			srv, err := sockettest.NewTLSServer(scfg, func(c net.Conn) {
				if err := f.serve(c); err != nil {
					t.Errorf("fake server: %v", err)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			rec := &recorder{to: srv.Addr()}
			connString := fmt.Sprintf("host=db.internal port=5432 user=app sslnegotiation=direct sslmode=verify-full sslrootcert=%s", root)
			c, err := connectFake(ctx, connString, rec.options(w.socketTLS))
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			if w.socketTLS {
				s, ok := c.Conn().(*sockets.Socket)
				if !ok || s.SecureTransport() != sockets.SecureTransportOn {
					t.Errorf("pgx talks over %T, want a socket with SecureTransport \"on\"", c.Conn())
				}
			}
			c.Close(ctx)
			srv.Close()
			s := f.sessions()
			if len(s) != 1 || s[0].sslRequest || !s[0].tls || s[0].alpn != "postgresql" {
				t.Errorf("sessions %+v; want one, TLS from the first byte, ALPN postgresql, no SSLRequest", s)
			}
		})
	}
}

// TestChannelBinding authenticates with SCRAM against an in-process server
// offering SCRAM-SHA-256-PLUS. With pgx's TLS over the socket, channel
// binding works and the server checks the binding data against its own
// certificate; with SocketTLS, channel_binding=require is refused up front
// and the default (prefer) authenticates without binding.
func TestChannelBinding(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "ca.pem")
	if err := ca.WriteCertPEM(root); err != nil {
		t.Fatal(err)
	}
	scfg, err := ca.ServerConfig("db.internal")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name      string
		socketTLS bool
		params    string
		password  string
		mech      string // mechanism the server must see; "" when the connect fails
		gs2       string
		errText   string
	}{
		{"driverTLS/require", false, "channel_binding=require", "secret", "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,", ""},
		{"driverTLS/prefer", false, "", "secret", "SCRAM-SHA-256-PLUS", "p=tls-server-end-point,,", ""},
		{"driverTLS/disable", false, "channel_binding=disable", "secret", "SCRAM-SHA-256", "n,,", ""},
		{"driverTLS/wrong password", false, "channel_binding=require", "wrong", "", "", "password authentication failed"},
		{"socketTLS/require", true, "channel_binding=require", "secret", "", "", "channel_binding=require needs pgx's own TLS"},
		{"socketTLS/prefer", true, "", "secret", "SCRAM-SHA-256", "n,,", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testCtx(t)
			f := &fakePG{tls: scfg, password: "secret"}
			srv, err := sockettest.NewServer(func(c net.Conn) {
				if err := f.serve(c); err != nil && tc.errText == "" {
					t.Errorf("fake server: %v", err)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			rec := &recorder{to: srv.Addr()}
			connString := fmt.Sprintf("host=db.internal port=5432 user=app password=%s sslmode=verify-full sslrootcert=%s %s", tc.password, root, tc.params)
			c, err := connectFake(ctx, connString, rec.options(tc.socketTLS))
			if tc.errText != "" {
				if err == nil {
					c.Close(ctx)
					t.Fatal("connected")
				}
				if !strings.Contains(err.Error(), tc.errText) {
					t.Fatalf("error %q does not contain %q", err, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatalf("Connect: %v", err)
			}
			c.Close(ctx)
			srv.Close()
			s := f.sessions()
			if len(s) != 1 || !s[0].tls || s[0].mechanism != tc.mech || s[0].gs2 != tc.gs2 {
				t.Fatalf("sessions %+v; want one over TLS with %s and GS2 header %q", s, tc.mech, tc.gs2)
			}
			if tc.mech == "SCRAM-SHA-256-PLUS" && (len(s[0].cbind) == 0 || string(s[0].cbind) != string(s[0].cbindWant)) {
				t.Errorf("channel binding data %x, want %x", s[0].cbind, s[0].cbindWant)
			}
		})
	}
}

// TestCancelRequestTLS: pgx's CancelRequest goes to the connection's remote
// address (an IP, though the connection string names a host) through the
// same dial function, and is encrypted like the connection, both ways.
func TestCancelRequestTLS(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "ca.pem")
	if err := ca.WriteCertPEM(root); err != nil {
		t.Fatal(err)
	}
	scfg, err := ca.ServerConfig("db.internal")
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			ctx := testCtx(t)
			f := &fakePG{tls: scfg}
			srv := fakeServer(t, f)
			rec := &recorder{to: srv.Addr()}
			connString := fmt.Sprintf("host=db.internal port=5432 user=app sslmode=verify-full sslrootcert=%s", root)
			c, err := connectFake(ctx, connString, rec.options(w.socketTLS))
			if err != nil {
				t.Fatal(err)
			}
			remote := c.Conn().RemoteAddr().String()
			if remote != srv.Addr() {
				t.Errorf("RemoteAddr = %s, want %s", remote, srv.Addr())
			}
			if err := c.CancelRequest(ctx); err != nil {
				t.Fatalf("CancelRequest: %v", err)
			}
			c.Close(ctx)
			srv.Close()
			if d := rec.dialed(); len(d) != 2 || d[0] != "db.internal:5432" || d[1] != remote {
				t.Errorf("dialed %q; want db.internal:5432, then the cancel to %s", d, remote)
			}
			s := f.sessions()
			var cancels int
			for _, x := range s {
				if !x.sslRequest || !x.tls {
					t.Errorf("session %+v is not TLS", x)
				}
				if x.cancel {
					cancels++
				}
			}
			if len(s) != 2 || cancels != 1 {
				t.Errorf("sessions %+v; want a connection and a cancel request", s)
			}
		})
	}
}
