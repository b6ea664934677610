package mysql_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/outboundhq/outbound/egress"
	outmysql "github.com/outboundhq/outbound/mysql"
	"github.com/outboundhq/outbound/sockets"
)

func TestConnectCreateInsertSelect(t *testing.T) {
	cfg := serverConfig(t)
	ctx := ctxT(t)
	var rec recorder
	db := openRecorded(t, cfg, nil, &rec)
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("Ping through outbound: %v", err)
	}
	socks := rec.sockets(t)
	if len(socks) == 0 {
		t.Fatal("Ping succeeded but no outbound socket was dialled")
	}
	info, err := socks[0].Opened(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if host, _, _ := net.SplitHostPort(cfg.Addr); info.RemoteAddress == "" || socks[0].Address().Hostname != host {
		t.Errorf("socket info %+v, address %v; want a connection to %s", info, socks[0].Address(), cfg.Addr)
	}
	// The server sees the socket's local address as the client.
	var serverHost string
	if err := db.QueryRowContext(ctx, "SELECT HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()").Scan(&serverHost); err != nil {
		t.Fatal(err)
	}
	_, localPort, _ := net.SplitHostPort(info.LocalAddress)
	if _, port, _ := net.SplitHostPort(serverHost); port != localPort {
		t.Errorf("server sees the client at %q; the socket's local address is %s", serverHost, info.LocalAddress)
	}

	table := newTable(t, db, "id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, score DOUBLE NULL")
	rows := []struct {
		id    int
		name  string
		score sql.NullFloat64
	}{
		{1, "ada", sql.NullFloat64{Float64: 9.5, Valid: true}},
		{2, "grace", sql.NullFloat64{}},
		{3, "Ælfgifu 🧮", sql.NullFloat64{Float64: -1, Valid: true}},
	}
	for _, r := range rows {
		res, err := db.ExecContext(ctx, "INSERT INTO "+table+" (id, name, score) VALUES (?, ?, ?)", r.id, r.name, r.score)
		if err != nil {
			t.Fatalf("INSERT %d: %v", r.id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			t.Fatalf("INSERT %d: RowsAffected = %d, %v; want 1", r.id, n, err)
		}
	}
	got, err := db.QueryContext(ctx, "SELECT id, name, score FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	i := 0
	for got.Next() {
		var id int
		var name string
		var score sql.NullFloat64
		if err := got.Scan(&id, &name, &score); err != nil {
			t.Fatal(err)
		}
		if i >= len(rows) || id != rows[i].id || name != rows[i].name || score != rows[i].score {
			t.Errorf("row %d = (%d, %q, %v); want %+v", i, id, name, score, rows[min(i, len(rows)-1)])
		}
		i++
	}
	if err := got.Err(); err != nil {
		t.Fatal(err)
	}
	if i != len(rows) {
		t.Errorf("read %d rows; want %d", i, len(rows))
	}
}

func TestPreparedStatements(t *testing.T) {
	cfg := serverConfig(t)
	ctx := ctxT(t)
	db := openOutbound(t, cfg)
	table := newTable(t, db, "k VARCHAR(32) PRIMARY KEY, v VARBINARY(255) NULL, n BIGINT NULL")

	ins, err := db.PrepareContext(ctx, "INSERT INTO "+table+" (k, v, n) VALUES (?, ?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	defer ins.Close()
	sel, err := db.PrepareContext(ctx, "SELECT v, n FROM "+table+" WHERE k = ?")
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Close()

	tests := []struct {
		k string
		v []byte
		n sql.NullInt64
	}{
		{"empty", []byte{}, sql.NullInt64{Int64: 0, Valid: true}},
		{"null", nil, sql.NullInt64{}},
		{"binary", []byte{0, 1, 0xfe, 0xff, '\'', '\\', '"'}, sql.NullInt64{Int64: -1 << 62, Valid: true}},
		{"text", []byte("hello, outbound"), sql.NullInt64{Int64: 1<<63 - 1, Valid: true}},
		{"max", bytes.Repeat([]byte{0xab}, 255), sql.NullInt64{Int64: 42, Valid: true}},
	}
	for _, tt := range tests {
		if _, err := ins.ExecContext(ctx, tt.k, tt.v, tt.n); err != nil {
			t.Fatalf("insert %s: %v", tt.k, err)
		}
	}
	for _, tt := range tests {
		t.Run(tt.k, func(t *testing.T) {
			var v []byte
			var n sql.NullInt64
			if err := sel.QueryRowContext(ctx, tt.k).Scan(&v, &n); err != nil {
				t.Fatal(err)
			}
			if (v == nil) != (tt.v == nil) || !bytes.Equal(v, tt.v) || n != tt.n {
				t.Errorf("got (%x, %v); want (%x, %v)", v, n, tt.v, tt.n)
			}
		})
	}
	var missing []byte
	if err := sel.QueryRowContext(ctx, "absent").Scan(&missing, new(sql.NullInt64)); !errors.Is(err, sql.ErrNoRows) {
		t.Errorf("select of an absent key: %v; want sql.ErrNoRows", err)
	}
}

func TestTransactions(t *testing.T) {
	cfg := serverConfig(t)
	ctx := ctxT(t)
	db := openOutbound(t, cfg)
	table := newTable(t, db, "id INT PRIMARY KEY") + " "

	tests := []struct {
		name   string
		id     int
		commit bool
	}{
		{"commit", 1, true},
		{"rollback", 2, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, "INSERT INTO "+table+"(id) VALUES (?)", tt.id); err != nil {
				tx.Rollback()
				t.Fatal(err)
			}
			// Inside the transaction the row is visible; outside it is not yet.
			var inside, outside int
			if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table+"WHERE id = ?", tt.id).Scan(&inside); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table+"WHERE id = ?", tt.id).Scan(&outside); err != nil {
				t.Fatal(err)
			}
			if inside != 1 || outside != 0 {
				t.Errorf("before the end: %d rows inside the transaction, %d outside; want 1 and 0", inside, outside)
			}
			if tt.commit {
				err = tx.Commit()
			} else {
				err = tx.Rollback()
			}
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			if tt.commit {
				want = 1
			}
			var after int
			if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table+"WHERE id = ?", tt.id).Scan(&after); err != nil {
				t.Fatal(err)
			}
			if after != want {
				t.Errorf("after %s: %d rows; want %d", tt.name, after, want)
			}
		})
	}
}

// blobSize is the BLOB of the issue: 16 MiB.
const blobSize = 16 << 20

// ensureMaxAllowedPacket raises the server's max_allowed_packet (a global
// setting; the session value is read-only) when it cannot carry a
// statement or a row holding n bytes. New connections see the new value.
func ensureMaxAllowedPacket(t *testing.T, admin *sql.DB, n int) {
	t.Helper()
	ctx := ctxT(t)
	var cur int
	if err := admin.QueryRowContext(ctx, "SELECT @@GLOBAL.max_allowed_packet").Scan(&cur); err != nil {
		t.Fatal(err)
	}
	need := n + 1<<20 // room for the statement, the row header and the protocol
	if cur >= need {
		return
	}
	// 1 GiB is the server's maximum; 64 MiB is plenty for a 16 MiB value.
	want := max(need, 64<<20)
	if _, err := admin.ExecContext(ctx, "SET GLOBAL max_allowed_packet = "+strconv.Itoa(want)); err != nil {
		t.Fatalf("max_allowed_packet is %d, too small for a %d-byte BLOB, and raising it failed: %v (set max_allowed_packet=64M in the server's configuration)", cur, n, err)
	}
	t.Logf("raised the server's global max_allowed_packet from %d to %d for a %d-byte BLOB", cur, want, n)
}

func TestBlob16MiB(t *testing.T) {
	cfg := serverConfig(t)
	ctx := ctxT(t)
	ensureMaxAllowedPacket(t, openAdmin(t, cfg), blobSize)
	db := openOutbound(t, cfg)
	table := newTable(t, db, "id INT PRIMARY KEY, b LONGBLOB NOT NULL")

	blob := make([]byte, blobSize)
	rand.Read(blob)
	sum := sha256.Sum256(blob)

	if _, err := db.ExecContext(ctx, "INSERT INTO "+table+" (id, b) VALUES (1, ?)", blob); err != nil {
		t.Fatalf("INSERT of a %d-byte BLOB: %v", len(blob), err)
	}
	// The server's own checksum proves the bytes arrived intact...
	var serverLen int
	var serverSum string
	if err := db.QueryRowContext(ctx, "SELECT LENGTH(b), SHA2(b, 256) FROM "+table+" WHERE id = 1").Scan(&serverLen, &serverSum); err != nil {
		t.Fatal(err)
	}
	if serverLen != blobSize || serverSum != hex.EncodeToString(sum[:]) {
		t.Fatalf("server holds %d bytes with SHA-256 %s; sent %d bytes with %x", serverLen, serverSum, blobSize, sum)
	}
	// ...and reading them back proves the way back.
	var got []byte
	if err := db.QueryRowContext(ctx, "SELECT b FROM "+table+" WHERE id = 1").Scan(&got); err != nil {
		t.Fatalf("SELECT of a %d-byte BLOB: %v", blobSize, err)
	}
	if gotSum := sha256.Sum256(got); len(got) != blobSize || gotSum != sum {
		t.Fatalf("read back %d bytes with SHA-256 %x; want %d bytes with %x", len(got), gotSum, blobSize, sum)
	}
}

func TestConcurrentPool(t *testing.T) {
	const (
		goroutines = 200
		poolSize   = 20
		queries    = 5 // per goroutine
	)
	cfg := serverConfig(t)
	ctx := ctxT(t)
	var rec recorder
	db := openRecorded(t, cfg, nil, &rec)
	db.SetMaxOpenConns(poolSize)
	db.SetMaxIdleConns(poolSize)

	var (
		wg       sync.WaitGroup
		failures atomic.Int64
		firstErr sync.Once
		errMsg   string
		maxOpen  atomic.Int64
	)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q := range queries {
				want := fmt.Sprintf("g%d-q%d", g, q)
				var got string
				var id int64
				err := db.QueryRowContext(ctx, "SELECT ?, CONNECTION_ID()", want).Scan(&got, &id)
				if err == nil && got != want {
					err = fmt.Errorf("got %q; want %q", got, want)
				}
				if err != nil {
					failures.Add(1)
					firstErr.Do(func() { errMsg = err.Error() })
				}
				if n := int64(db.Stats().OpenConnections); n > maxOpen.Load() {
					maxOpen.Store(n) // a racy maximum is enough: it only ever errs low
				}
			}
		}()
	}
	wg.Wait()
	if n := failures.Load(); n > 0 {
		t.Fatalf("%d of %d queries failed; first: %s", n, goroutines*queries, errMsg)
	}
	socks := rec.sockets(t)
	if len(socks) == 0 || len(socks) > poolSize {
		t.Errorf("%d outbound sockets dialled; want 1 to %d (the pool size)", len(socks), poolSize)
	}
	if m := maxOpen.Load(); m > poolSize {
		t.Errorf("the pool had %d connections open; want at most %d", m, poolSize)
	}
	if st := db.Stats(); st.OpenConnections > poolSize {
		t.Errorf("Stats: %+v; want at most %d open", st, poolSize)
	}
	for _, s := range socks {
		if s.Err() != nil {
			t.Errorf("socket %v failed: %v", s.LocalAddr(), s.Err())
		}
	}
}

// killAndWait kills connection id from admin and waits until the server has
// dropped it.
func killAndWait(t *testing.T, ctx context.Context, admin *sql.DB, id int64) {
	t.Helper()
	if _, err := admin.ExecContext(ctx, "KILL CONNECTION "+strconv.FormatInt(id, 10)); err != nil {
		t.Fatalf("KILL CONNECTION %d: %v", id, err)
	}
	for {
		var n int
		if err := admin.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("connection %d still listed after KILL CONNECTION", id)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestKillConnectionMidQuery(t *testing.T) {
	cfg := serverConfig(t)
	ctx := ctxT(t)
	admin := openAdmin(t, cfg)
	var rec recorder
	db := openRecorded(t, cfg, nil, &rec)
	db.SetMaxOpenConns(1) // so that the recorded sockets are, in order, the killed one and its replacement

	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := conn.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
		t.Fatal(err)
	}
	victim := rec.sockets(t)[0]

	queryErr := make(chan error, 1)
	go func() {
		var slept int
		queryErr <- conn.QueryRowContext(ctx, "SELECT SLEEP(10)").Scan(&slept)
	}()
	// Kill once the server shows the query running.
	for {
		var n int
		if err := admin.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ? AND INFO LIKE 'SELECT SLEEP%'", id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	killAndWait(t, ctx, admin, id)

	err = <-queryErr
	if err == nil {
		t.Fatal("the killed query succeeded")
	}
	// The driver reports either the server's farewell (ER_CONNECTION_KILLED)
	// or, when the connection just ends, its invalid-connection error.
	var myErr *gomysql.MySQLError
	switch {
	case errors.As(err, &myErr) && myErr.Number == 1927:
	case errors.Is(err, gomysql.ErrInvalidConn), errors.Is(err, driver.ErrBadConn):
	default:
		t.Fatalf("killed query: %v (%T); want ER_CONNECTION_KILLED or the driver's invalid-connection error", err, err)
	}
	t.Logf("killed query: %v", err)
	waitClosed(t, victim, 10*time.Second)
	if err := victim.Err(); err != nil {
		t.Logf("killed socket ended with: %v", err)
	}
	conn.Close()

	// The pool recovers: a new connection, on a new socket.
	var id2 int64
	if err := db.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id2); err != nil {
		t.Fatalf("query after the kill: %v", err)
	}
	if id2 == id {
		t.Errorf("the pool reused killed connection %d", id)
	}
	if socks := rec.sockets(t); len(socks) != 2 {
		t.Errorf("%d sockets dialled; want 2 (the killed one and its replacement)", len(socks))
	}
}

// TestIdleConnectionKilled kills a pooled connection while it is idle. The
// driver's liveness check notices that before reuse when it can reach the
// connection's file descriptor (see the package documentation): then the next
// query succeeds on a new connection. When it cannot, the next query fails
// with the driver's invalid-connection error and the one after succeeds.
// Either way the killed connection's socket ends and the pool recovers.
func TestIdleConnectionKilled(t *testing.T) {
	cfg := serverConfig(t)
	admin := openAdmin(t, cfg)
	tests := []struct {
		name string
		opts *sockets.Options
	}{
		{"default options", nil},
		{"caller's Dial", &sockets.Options{Dial: (&net.Dialer{}).DialContext}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			var rec recorder
			db := openRecorded(t, cfg, tt.opts, &rec)
			db.SetMaxOpenConns(1)

			var id int64
			if err := db.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id); err != nil {
				t.Fatal(err)
			}
			rec.mu.Lock()
			_, checked := rec.conns[0].(syscall.Conn)
			rec.mu.Unlock()
			if !checked {
				t.Fatal("the connection is not a syscall.Conn: the driver would skip its liveness check")
			}
			idle := rec.sockets(t)[0]
			killAndWait(t, ctx, admin, id)

			var id2 int64
			err := db.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id2)
			switch {
			case checked && err != nil:
				t.Fatalf("first query after the idle connection was killed: %v; want the liveness check to replace the connection", err)
			case !checked && !errors.Is(err, gomysql.ErrInvalidConn):
				t.Fatalf("first query after the idle connection was killed, without the liveness check: %v; want the driver's ErrInvalidConn", err)
			case !checked:
				t.Logf("without the liveness check the first query fails: %v", err)
				if err := db.QueryRowContext(ctx, "SELECT CONNECTION_ID()").Scan(&id2); err != nil {
					t.Fatalf("second query after the idle connection was killed: %v", err)
				}
			}
			if id2 == id {
				t.Fatalf("query ran on killed connection %d", id)
			}
			waitClosed(t, idle, 10*time.Second)
			if socks := rec.sockets(t); len(socks) != 2 {
				t.Errorf("%d sockets dialled; want 2", len(socks))
			}
		})
	}
}

func TestRegister(t *testing.T) {
	cfg := serverConfig(t)
	ctx := ctxT(t)
	const network = "outbound-test-register"
	var dials atomic.Int64
	opts := &sockets.Options{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	if err := outmysql.Register(network, dialerOpts(opts)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gomysql.DeregisterDialContext(network) })

	tests := []struct {
		name      string
		params    string
		encrypted bool
	}{
		{"plain", "", false},
		{"tls=skip-verify", "?tls=skip-verify", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := dials.Load()
			c := cfg.Clone()
			c.Net = network
			dsn := c.FormatDSN() + tt.params
			db, err := sql.Open("mysql", dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			cipher, err := sessionCipher(ctx, db)
			if err != nil {
				t.Fatalf("DSN %q: %v", dsn, err)
			}
			if (cipher != "") != tt.encrypted {
				t.Errorf("DSN %q: server reports Ssl_cipher %q; want encrypted=%t", dsn, cipher, tt.encrypted)
			}
			if dials.Load() == before {
				t.Errorf("DSN %q did not connect through the registered socket options", dsn)
			}
		})
	}
}

func TestDenied(t *testing.T) {
	denyLoopbackMySQL, err := egress.NewPolicy(egress.PolicyConfig{Rules: []egress.Rule{
		{Name: "no-local-mysql", Action: egress.Deny, Addrs: []string{"loopback"}, Ports: []string{"3306"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		addr string
		opts *sockets.Options
		want string // in the error message
	}{
		// Port 25 is refused by the default policy (as on Workers).
		{"default policy, port 25", "127.0.0.1:25", nil, "port 25"},
		// An IP literal is decided when the driver connects, before any traffic.
		{"address rule, IP literal", "127.0.0.1:3306", &sockets.Options{Policy: denyLoopbackMySQL}, "no-local-mysql"},
		// A name is resolved and each of its addresses decided at dial time.
		{"address rule, hostname", "localhost:3306", &sockets.Options{Policy: denyLoopbackMySQL}, "no-local-mysql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			cfg := gomysql.NewConfig()
			cfg.User = "root"
			cfg.Net = "tcp"
			cfg.Addr = tt.addr
			var rec recorder
			db := openRecorded(t, cfg, tt.opts, &rec)
			err := db.PingContext(ctx)
			if !errors.Is(err, sockets.ErrDenied) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Ping of %s: %v; want an error wrapping sockets.ErrDenied that names %q", cfg.Addr, err, tt.want)
			}
			var se *sockets.SocketError
			if !errors.As(err, &se) || se.Op != "connect" {
				t.Errorf("error %v is not a connect *sockets.SocketError", err)
			}
			t.Logf("denied: %v", err)
			if n := len(rec.sockets(t)); n != 0 {
				t.Errorf("%d sockets opened to a denied address", n)
			}
		})
	}
}

// directProxy is an egress "proxy" that dials directly and counts its dials.
type directProxy struct{ dials atomic.Int64 }

func (p *directProxy) ProxyFor(sockets.Address) (sockets.DialFunc, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		p.dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}, nil
}

// TestProxy checks that the socket options' Proxy carries the driver's
// connections (this package must not set Options.Dial, which excludes Proxy).
func TestProxy(t *testing.T) {
	cfg := serverConfig(t)
	ctx := ctxT(t)
	var p directProxy
	db, err := outmysql.OpenDB(cfg, dialerOpts(&sockets.Options{Proxy: &p}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		t.Fatalf("SELECT 1 through a Proxy: %v", err)
	}
	if p.dials.Load() == 0 {
		t.Error("the connection did not go through the Proxy")
	}
}
