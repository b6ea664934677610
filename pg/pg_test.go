package pg_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outboundhq/outbound/pg"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestQueryAndPrepare(t *testing.T) {
	u := pgURL(t)
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			ctx := testCtx(t)
			rec := &recorder{}
			c := connect(t, ctx, u.String(), rec.options(w.socketTLS))

			var sum int
			if err := c.QueryRow(ctx, "SELECT 40 + 2").Scan(&sum); err != nil || sum != 42 {
				t.Fatalf("SELECT 40 + 2 = %d, %v; want 42", sum, err)
			}
			if _, err := c.Prepare(ctx, "double", "SELECT $1::int * 2"); err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			for i := range 5 {
				var got int
				if err := c.QueryRow(ctx, "double", i).Scan(&got); err != nil || got != 2*i {
					t.Fatalf("double(%d) = %d, %v", i, got, err)
				}
			}

			// The connection is an outbound socket, and RemoteAddr is the
			// server's real address as the server itself sees it.
			nc := c.PgConn().Conn()
			if tc, ok := nc.(*tls.Conn); ok {
				nc = tc.NetConn()
			}
			s, ok := nc.(*sockets.Socket)
			if !ok {
				t.Fatalf("pgx talks over a %T, want a *sockets.Socket", nc)
			}
			var addr string
			var port int
			if err := c.QueryRow(ctx, "SELECT host(inet_server_addr()), inet_server_port()").Scan(&addr, &port); err != nil {
				t.Fatal(err)
			}
			if got, want := s.RemoteAddr().String(), net.JoinHostPort(addr, fmt.Sprint(port)); got != want {
				t.Errorf("RemoteAddr = %s, server says %s", got, want)
			}
			if got := rec.dialed(); len(got) != 1 || got[0] != u.Host {
				t.Errorf("dialed %q, want [%s]", got, u.Host)
			}
		})
	}
}

func TestCopyFrom(t *testing.T) {
	u := pgURL(t)
	const rows = 100_000
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			ctx := testCtx(t)
			c := connect(t, ctx, u.String(), &pg.Options{SocketTLS: w.socketTLS})
			if _, err := c.Exec(ctx, "CREATE TEMP TABLE copied (id int, name text)"); err != nil {
				t.Fatal(err)
			}
			n, err := c.CopyFrom(ctx, pgx.Identifier{"copied"}, []string{"id", "name"},
				pgx.CopyFromSlice(rows, func(i int) ([]any, error) { return []any{i, fmt.Sprintf("row %d", i)}, nil }))
			if err != nil || n != rows {
				t.Fatalf("CopyFrom = %d, %v; want %d", n, err, rows)
			}
			var count, sum int64
			var last string
			if err := c.QueryRow(ctx, "SELECT count(*), sum(id), max(name) FILTER (WHERE id = $1) FROM copied", rows-1).Scan(&count, &sum, &last); err != nil {
				t.Fatal(err)
			}
			if count != rows || sum != int64(rows)*(rows-1)/2 || last != fmt.Sprintf("row %d", rows-1) {
				t.Errorf("table holds count %d, sum %d, last %q; want %d, %d, %q", count, sum, last, rows, int64(rows)*(rows-1)/2, fmt.Sprintf("row %d", rows-1))
			}
		})
	}
}

func TestListenNotify(t *testing.T) {
	u := pgURL(t)
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			ctx := testCtx(t)
			opts := &pg.Options{SocketTLS: w.socketTLS}
			listener := connect(t, ctx, u.String(), opts)
			notifier := connect(t, ctx, u.String(), opts)
			channel := "outbound_" + strings.ToLower(w.name)
			if _, err := listener.Exec(ctx, "LISTEN "+channel); err != nil {
				t.Fatal(err)
			}
			for i := range 3 {
				payload := fmt.Sprintf("hello %d", i)
				if _, err := notifier.Exec(ctx, "SELECT pg_notify($1, $2)", channel, payload); err != nil {
					t.Fatal(err)
				}
				n, err := listener.WaitForNotification(ctx)
				if err != nil {
					t.Fatalf("WaitForNotification: %v", err)
				}
				if n.Channel != channel || n.Payload != payload || n.PID != notifier.PgConn().PID() {
					t.Errorf("notification %+v, want channel %s payload %q from pid %d", n, channel, payload, notifier.PgConn().PID())
				}
			}
		})
	}
}

// TestCancel cancels a long query with pgx's CancelRequest, which dials a new
// connection with the same dial function: the cancel reaches the server
// through outbound (with the same TLS), and the connection stays usable.
func TestCancel(t *testing.T) {
	u := pgURL(t)
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			ctx := testCtx(t)
			// By name, verified: the cancel goes to the connection's IP and
			// must still pass verify-full for that name.
			srv := realServerTLS(t, ctx, u)
			_, port, _ := net.SplitHostPort(u.Host)
			rec := &recorder{to: u.Host}
			cfg, err := pgx.ParseConfig(withParams(u, net.JoinHostPort(srv.host, port), "sslmode", "verify-full", "sslrootcert", srv.rootFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := pg.ConfigureConn(cfg, rec.options(w.socketTLS)); err != nil {
				t.Fatal(err)
			}
			cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
				return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: time.Minute}
			}
			c, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			remote := c.PgConn().Conn().RemoteAddr().String()

			qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			_, err = c.Exec(qctx, "SELECT pg_sleep(60)")
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "57014" {
				t.Fatalf("Exec(pg_sleep) = %v; want the server's query_canceled (57014)", err)
			}
			dialed := rec.dialed()
			if len(dialed) != 2 || dialed[1] != remote {
				t.Errorf("dialed %q; want the connection, then the cancel request to %s", dialed, remote)
			}
			var one int
			if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Errorf("after the cancel, SELECT 1 = %d, %v", one, err)
			}
		})
	}
}

func TestPool(t *testing.T) {
	u := pgURL(t)
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			ctx := testCtx(t)
			rec := &recorder{}
			pool, err := pg.NewPool(ctx, withParams(u, "", "pool_max_conns", "20"), rec.options(w.socketTLS))
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			var wg sync.WaitGroup
			var failures atomic.Int32
			for g := range 200 {
				wg.Go(func() {
					for i := range 5 {
						var got int
						if err := pool.QueryRow(ctx, "SELECT $1::int * 1000 + $2::int", g, i).Scan(&got); err != nil || got != g*1000+i {
							if failures.Add(1) <= 5 {
								t.Errorf("goroutine %d query %d = %d, %v", g, i, got, err)
							}
						}
					}
				})
			}
			wg.Wait()
			st := pool.Stat()
			if st.MaxConns() != 20 || st.TotalConns() > 20 || st.AcquireCount() < 1000 {
				t.Errorf("pool: max %d, total %d, acquired %d; want 20, ≤ 20, ≥ 1000", st.MaxConns(), st.TotalConns(), st.AcquireCount())
			}
			if n := len(rec.dialed()); n == 0 || n > 20 {
				t.Errorf("the pool dialed %d sockets; want 1 to 20", n)
			}
		})
	}
}

func TestDatabaseSQL(t *testing.T) {
	u := pgURL(t)
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			ctx := testCtx(t)
			rec := &recorder{}
			db, err := pg.OpenDB(u.String(), rec.options(w.socketTLS))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if n := len(rec.dialed()); n != 0 {
				t.Errorf("OpenDB dialed %d sockets before use; want none", n)
			}
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.ExecContext(ctx, "CREATE TEMP TABLE kv (k text PRIMARY KEY, v int)"); err != nil {
				t.Fatal(err)
			}
			for i, k := range []string{"a", "b", "c"} {
				if _, err := tx.ExecContext(ctx, "INSERT INTO kv VALUES ($1, $2)", k, i+1); err != nil {
					t.Fatal(err)
				}
			}
			var v int
			if err := tx.QueryRowContext(ctx, "SELECT v FROM kv WHERE k = $1", "c").Scan(&v); err != nil || v != 3 {
				t.Fatalf("SELECT v = %d, %v; want 3", v, err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			var echo string
			if err := db.QueryRowContext(ctx, "SELECT $1::text", "round trip").Scan(&echo); err != nil || echo != "round trip" {
				t.Errorf("SELECT $1 = %q, %v", echo, err)
			}
			if n := len(rec.dialed()); n == 0 {
				t.Error("database/sql did not dial through outbound")
			}
		})
	}
}

// TestSSLModes connects with every sslmode, both ways, to the real server
// (addressed by a name its certificate covers, or by a wrong one), and asks
// the server whether TLS is on.
func TestSSLModes(t *testing.T) {
	u := pgURL(t)
	ctx := testCtx(t)
	srv := realServerTLS(t, ctx, u)
	_, port, _ := net.SplitHostPort(u.Host)
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	otherRoot := filepath.Join(t.TempDir(), "other-ca.pem")
	if err := ca.WriteCertPEM(otherRoot); err != nil {
		t.Fatal(err)
	}
	const wrongHost = "wrong.example"

	type want struct {
		tls bool
		err string // substring of the error; "" means success
	}
	cases := []struct {
		name   string
		host   string
		params []string
		driver want
		socket want
	}{
		{"disable", srv.host, []string{"sslmode", "disable"}, want{}, want{}},
		// libpq's allow tries plaintext first; the socket-owned path decides
		// while dialing and tries TLS first (see the package documentation).
		{"allow", srv.host, []string{"sslmode", "allow"}, want{}, want{tls: true}},
		{"prefer", srv.host, []string{"sslmode", "prefer"}, want{tls: true}, want{tls: true}},
		{"require", wrongHost, []string{"sslmode", "require"}, want{tls: true}, want{tls: true}},
		{"require/root is verify-ca", wrongHost, []string{"sslmode", "require", "sslrootcert", srv.rootFile}, want{tls: true}, want{tls: true}},
		{"require/other root", srv.host, []string{"sslmode", "require", "sslrootcert", otherRoot}, want{err: "unknown authority"}, want{err: "unknown authority"}},
		{"verify-ca", wrongHost, []string{"sslmode", "verify-ca", "sslrootcert", srv.rootFile}, want{tls: true}, want{tls: true}},
		{"verify-ca/other root", srv.host, []string{"sslmode", "verify-ca", "sslrootcert", otherRoot}, want{err: "unknown authority"}, want{err: "unknown authority"}},
		{"verify-full", srv.host, []string{"sslmode", "verify-full", "sslrootcert", srv.rootFile}, want{tls: true}, want{tls: true}},
		{"verify-full/wrong host", wrongHost, []string{"sslmode", "verify-full", "sslrootcert", srv.rootFile}, want{err: wrongHost}, want{err: wrongHost}},
		// The other TLS-relevant settings pgx honours mean the same both ways
		// (TestTLSSettings checks what the server sees, SNI and certificates).
		{"require/sslsni=0", wrongHost, []string{"sslmode", "require", "sslsni", "0"}, want{tls: true}, want{tls: true}},
		{"verify-full/sslsni=0", srv.host, []string{"sslmode", "verify-full", "sslrootcert", srv.rootFile, "sslsni", "0"}, want{tls: true}, want{tls: true}},
		{"verify-full/sslsni=0/wrong host", wrongHost, []string{"sslmode", "verify-full", "sslrootcert", srv.rootFile, "sslsni", "0"}, want{err: wrongHost}, want{err: wrongHost}},
		{"max_protocol_version=3.2", srv.host, []string{"sslmode", "require", "max_protocol_version", "3.2"}, want{tls: true}, want{tls: true}},
		{"min_protocol_version=3.2", srv.host, []string{"sslmode", "require", "min_protocol_version", "3.2"}, want{err: "protocol version"}, want{err: "protocol version"}},
	}
	for _, w := range ways {
		for _, tc := range cases {
			t.Run(w.name+"/"+tc.name, func(t *testing.T) {
				want := tc.driver
				if w.socketTLS {
					want = tc.socket
				}
				rec := &recorder{to: u.Host}
				connString := withParams(u, net.JoinHostPort(tc.host, port), tc.params...)
				c, err := pg.Connect(ctx, connString, rec.options(w.socketTLS))
				if want.err != "" {
					if err == nil {
						c.Close(ctx)
						t.Fatalf("connected; want an error containing %q", want.err)
					}
					if !strings.Contains(err.Error(), want.err) {
						t.Fatalf("error %q does not contain %q", err, want.err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Connect: %v", err)
				}
				defer c.Close(ctx)
				if got := sslOn(t, ctx, c); got != want.tls {
					t.Errorf("server says ssl = %v, want %v", got, want.tls)
				}
				// TLS is where it should be: pgx's *tls.Conn, or the socket.
				switch nc := c.PgConn().Conn().(type) {
				case *tls.Conn:
					if w.socketTLS || !want.tls {
						t.Errorf("pgx did TLS itself (%T)", nc)
					}
				case *sockets.Socket:
					if got := nc.SecureTransport() == sockets.SecureTransportOn; got != (want.tls && w.socketTLS) {
						t.Errorf("socket SecureTransport = %q with TLS %v and SocketTLS %v", nc.SecureTransport(), want.tls, w.socketTLS)
					}
				default:
					t.Errorf("pgx talks over a %T", nc)
				}
				// The hostname reached the socket unresolved.
				if d := rec.dialed(); len(d) == 0 || d[0] != net.JoinHostPort(tc.host, port) {
					t.Errorf("dialed %q, want %s first", d, net.JoinHostPort(tc.host, port))
				}
			})
		}
	}
}

// TestPolicyDenied: a Postgres host on a port the egress rules deny fails at
// connect with the socket layer's error, and nothing is dialled.
func TestPolicyDenied(t *testing.T) {
	u := pgURL(t)
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			ctx := testCtx(t)
			rec := &recorder{to: u.Host}
			c, err := pg.Connect(ctx, withParams(u, "127.0.0.1:25"), rec.options(w.socketTLS))
			if err == nil {
				c.Close(ctx)
				t.Fatal("connected to a denied address")
			}
			if !errors.Is(err, sockets.ErrDenied) || !strings.Contains(err.Error(), "port 25") {
				t.Errorf("error %q; want sockets.ErrDenied naming port 25", err)
			}
			if d := rec.dialed(); len(d) != 0 {
				t.Errorf("dialed %q; want nothing", d)
			}
		})
	}
}

// TestMultiHost: the first host refuses, the second is the server; pgx's
// order is kept and the connection lands on the second.
func TestMultiHost(t *testing.T) {
	u := pgURL(t)
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			ctx := testCtx(t)
			rec := &recorder{}
			connString := withParams(u, "127.0.0.1:1,"+u.Host)
			c := connect(t, ctx, connString, rec.options(w.socketTLS))
			if got := c.PgConn().Conn().RemoteAddr().String(); got != u.Host {
				t.Errorf("connected to %s, want %s", got, u.Host)
			}
			d := rec.dialed()
			if len(d) < 2 || d[0] != "127.0.0.1:1" || d[len(d)-1] != u.Host {
				t.Errorf("dialed %q; want 127.0.0.1:1 first and %s last", d, u.Host)
			}
			if !sslOn(t, ctx, c) {
				t.Error("the second host's connection is not TLS (sslmode=prefer)")
			}
		})
	}
}

// capture wraps cfg's dial function to keep the sockets it opens.
func capture(cfg *pgconn.Config) func() []*sockets.Socket {
	var mu sync.Mutex
	var socks []*sockets.Socket
	inner := cfg.DialFunc
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := inner(ctx, network, addr)
		if s, ok := c.(*sockets.Socket); ok {
			mu.Lock()
			socks = append(socks, s)
			mu.Unlock()
		}
		return c, err
	}
	return func() []*sockets.Socket {
		mu.Lock()
		defer mu.Unlock()
		return append([]*sockets.Socket(nil), socks...)
	}
}

// terminateWhenSleeping ends the backend pid once it is running pg_sleep.
func terminateWhenSleeping(ctx context.Context, admin *pgx.Conn, pid uint32) error {
	for {
		var n int
		err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE '%pg_sleep%'", pid).Scan(&n)
		if err != nil {
			return err
		}
		if n == 1 {
			var ok bool
			if err := admin.QueryRow(ctx, "SELECT pg_terminate_backend($1)", pid).Scan(&ok); err != nil || !ok {
				return fmt.Errorf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// TestServerGone terminates the backend in the middle of a query: the query
// fails with the server's reason, the socket's Closed fires, and a pool
// replaces the connection.
func TestServerGone(t *testing.T) {
	u := pgURL(t)
	for _, w := range ways {
		t.Run(w.name, func(t *testing.T) {
			ctx := testCtx(t)
			opts := &pg.Options{SocketTLS: w.socketTLS}
			admin := connect(t, ctx, u.String(), opts)

			cfg, err := pgxpool.ParseConfig(withParams(u, "", "pool_max_conns", "2"))
			if err != nil {
				t.Fatal(err)
			}
			if err := pg.ConfigurePool(cfg, opts); err != nil {
				t.Fatal(err)
			}
			sockets := capture(&cfg.ConnConfig.Config)
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()

			conn, err := pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			pid := conn.Conn().PgConn().PID()
			done := make(chan error, 1)
			go func() { done <- terminateWhenSleeping(ctx, admin, pid) }()
			_, err = conn.Exec(ctx, "SELECT pg_sleep(60)")
			if terr := <-done; terr != nil {
				t.Fatal(terr)
			}
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "57P01" || !strings.Contains(err.Error(), "terminating connection") {
				t.Fatalf("Exec = %v; want the server's admin_shutdown (57P01) error", err)
			}
			socks := sockets()
			if len(socks) != 1 {
				t.Fatalf("the pool opened %d sockets, want 1", len(socks))
			}
			select {
			case <-socks[0].Closed():
			case <-time.After(10 * time.Second):
				t.Fatal("the socket's Closed did not fire after the server ended the connection")
			}
			if !conn.Conn().IsClosed() {
				t.Error("pgx still considers the connection open")
			}
			conn.Release()

			for i := range 5 {
				var got int
				if err := pool.QueryRow(ctx, "SELECT $1::int", i).Scan(&got); err != nil || got != i {
					t.Fatalf("after the termination, pool query %d = %d, %v", i, got, err)
				}
			}
			if n := len(sockets()); n != 2 {
				t.Errorf("the pool opened %d sockets in all, want 2 (the terminated one and its replacement)", n)
			}
		})
	}
}
