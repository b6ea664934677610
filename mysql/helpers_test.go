package mysql_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/internal/testenv"
	outmysql "github.com/outboundhq/outbound/mysql"
	"github.com/outboundhq/outbound/sockets"
)

// serverConfig returns the driver configuration of the test server
// (OUTBOUND_TEST_MYSQL), skipping the test when it is not set.
func serverConfig(t *testing.T) *gomysql.Config {
	t.Helper()
	dsn := testenv.Get(t, "OUTBOUND_TEST_MYSQL")
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		t.Fatalf("OUTBOUND_TEST_MYSQL=%q: %v", dsn, err)
	}
	return cfg
}

// ctxT returns a context bounded by a generous timeout for one test.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// recorder wraps a dial function and keeps every connection it returned.
type recorder struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (r *recorder) wrap(next func(context.Context, string, string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err == nil {
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
		}
		return c, err
	}
}

// sockets returns the sockets under the recorded connections, failing the
// test if one is not an outbound socket.
func (r *recorder) sockets(t *testing.T) []*sockets.Socket {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*sockets.Socket, 0, len(r.conns))
	for _, c := range r.conns {
		s, ok := outmysql.SocketOf(c)
		if !ok {
			t.Fatalf("the dial function returned a %T, not an outbound socket", c)
		}
		out = append(out, s)
	}
	return out
}

// openRecorded opens a pool over cfg whose connections come from
// outmysql.DialFunc(dialerOpts(opts)) through rec, and closes it when the test ends.
func openRecorded(t *testing.T, cfg *gomysql.Config, opts *sockets.Options, rec *recorder) *sql.DB {
	t.Helper()
	cfg = cfg.Clone()
	cfg.DialFunc = rec.wrap(outmysql.DialFunc(dialerOpts(opts)))
	c, err := gomysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db
}

// openOutbound opens a pool with outmysql.OpenDB and closes it when the test ends.
func openOutbound(t *testing.T, cfg *gomysql.Config) *sql.DB {
	t.Helper()
	db, err := outmysql.OpenDB(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// openAdmin opens a pool with the driver's own dialer, the "second session"
// that kills connections and changes server settings.
func openAdmin(t *testing.T, cfg *gomysql.Config) *sql.DB {
	t.Helper()
	c, err := gomysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(c)
	t.Cleanup(func() { db.Close() })
	return db
}

// newTable creates a table named after the test and drops it when the test ends.
func newTable(t *testing.T, db *sql.DB, columns string) string {
	t.Helper()
	base := strings.ToLower(strings.NewReplacer("/", "_", "-", "_", " ", "_", "=", "_").Replace(t.Name()))
	if len(base) > 40 {
		base = base[:40]
	}
	name := fmt.Sprintf("outbound_%s_%d", base, time.Now().UnixNano()%1e9)
	ctx := ctxT(t)
	if _, err := db.ExecContext(ctx, "CREATE TABLE "+name+" ("+columns+")"); err != nil {
		t.Fatalf("CREATE TABLE %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP TABLE IF EXISTS "+name); err != nil {
			t.Errorf("DROP TABLE %s: %v", name, err)
		}
	})
	return name
}

// waitClosed waits for s to end, failing the test if it does not within d.
func waitClosed(t *testing.T, s *sockets.Socket, d time.Duration) {
	t.Helper()
	select {
	case <-s.Closed():
	case <-time.After(d):
		t.Fatalf("socket to %s: Closed did not fire within %v", s.Address(), d)
	}
}

// dialerOpts gives the adapter a Dialer with the socket options o.
func dialerOpts(o *sockets.Options) *outmysql.Options {
	return &outmysql.Options{Dialer: &dialers.Dialer{Options: o}}
}
