package faults_test

// Tests against the real servers that .ci/run starts (PostgreSQL, MariaDB,
// Redis, Mosquitto). Each skips when its variable is unset, and fails then
// under OUTBOUND_TEST_REQUIRE.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pahov3 "github.com/eclipse/paho.mqtt.golang"
	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/faults"
	"github.com/outboundhq/outbound/internal/testenv"
	outmqtt "github.com/outboundhq/outbound/mqtt"
	outmysql "github.com/outboundhq/outbound/mysql"
	"github.com/outboundhq/outbound/pg"
	"github.com/outboundhq/outbound/sockets"
)

// dialerWith returns the one dialer with in as its only Layer.
func dialerWith(in *faults.Injector) *dialers.Dialer {
	return &dialers.Dialer{Options: &sockets.Options{Layers: []sockets.Layer{in}}}
}

func pgPool(t *testing.T, in *faults.Injector, maxConns int) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testenv.Get(t, "OUTBOUND_TEST_POSTGRES"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = int32(maxConns)
	cfg.MinConns = 0
	if err := pg.ConfigurePool(cfg, &pg.Options{Dialer: dialerWith(in)}); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctxT(t), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func backendPID(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var pid int
	if err := pool.QueryRow(ctxT(t), "select pg_backend_pid()").Scan(&pid); err != nil {
		t.Fatal(err)
	}
	return pid
}

// TestPgxpoolResetMidQuery: a reset during a query fails that query with
// ECONNRESET; the pool drops the connection and the next query succeeds
// on a new one.
func TestPgxpoolResetMidQuery(t *testing.T) {
	in := faults.New(&faults.Options{AlwaysWrap: true})
	pool := pgPool(t, in, 1)
	pid := backendPID(t, pool)

	errc := make(chan error, 1)
	go func() {
		var v string
		errc <- pool.QueryRow(context.Background(), "select pg_sleep($1)::text", 5).Scan(&v)
	}()
	// Wait until the query is running on the server.
	waitFor(t, func() bool {
		var n int
		conn, err := pgPlain(t).Query(ctxT(t), "select count(*) from pg_stat_activity where pid = $1 and query like 'select pg_sleep%'", pid)
		if err != nil {
			return false
		}
		defer conn.Close()
		for conn.Next() {
			conn.Scan(&n)
		}
		return n == 1
	})
	add(t, in, faults.Rule{Name: "rst", Match: faults.Match{Port: 5432}, Toxic: faults.ResetPeer{}})
	in.Remove("rst")
	err := <-errc
	if !isReset(err) {
		for e := err; e != nil; e = errors.Unwrap(e) {
			t.Logf("%T %v", e, e)
		}
		t.Fatalf("query during the reset: %v, want ECONNRESET in a *net.OpError", err)
	}
	pid2 := backendPID(t, pool)
	if pid2 == pid {
		t.Fatalf("the next query ran on backend %d, the reset connection's", pid)
	}
	if st := pool.Stat(); st.TotalConns() != 1 {
		t.Fatalf("pool holds %d connections, want the one new connection", st.TotalConns())
	}
	// The server saw the RST: the old backend goes away.
	waitFor(t, func() bool {
		var n int
		pgPlain(t).QueryRow(ctxT(t), "select count(*) from pg_stat_activity where pid = $1", pid).Scan(&n)
		return n == 0
	})
}

var plainPools sync.Map

// pgPlain is a pool with no faults, to watch the server from outside.
func pgPlain(t *testing.T) *pgxpool.Pool {
	t.Helper()
	if p, ok := plainPools.Load(t); ok {
		return p.(*pgxpool.Pool)
	}
	p := pgPool(t, faults.New(nil), 1)
	plainPools.Store(t, p)
	t.Cleanup(func() { plainPools.Delete(t) })
	return p
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPgxpoolLatency: 50 ms of downstream latency shows in the measured
// round trips of "select 1", as a ratio of the added time to a measured
// 50 ms sleep (so a loaded machine's late wake-ups cancel out).
func TestPgxpoolLatency(t *testing.T) {
	const lat = 50 * time.Millisecond
	in := faults.New(&faults.Options{AlwaysWrap: true})
	pool := pgPool(t, in, 1)
	rt := func() time.Duration {
		start := time.Now()
		var one int
		if err := pool.QueryRow(ctxT(t), "select 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("select 1: %d, %v", one, err)
		}
		return time.Since(start)
	}
	rt() // prepare and cache the statement
	var base, slow, ref []time.Duration
	for range 7 {
		base = append(base, rt())
	}
	add(t, in, faults.Rule{Name: "lat", Match: faults.Match{Port: 5432}, Toxic: faults.Latency{Latency: lat}})
	for range 7 {
		slow = append(slow, rt())
		ref = append(ref, sleepFor(lat))
	}
	in.Remove("lat")
	added := median(slow) - median(base)
	ratio := float64(added) / float64(median(ref))
	t.Logf("select 1: %v without, %v with 50ms latency; added/sleep = %.2f", median(base), median(slow), ratio)
	if median(slow) < lat || ratio < 0.9 || ratio > 1.6 {
		t.Fatalf("added %v per round trip (ratio %.2f to a measured sleep), want one 50ms delay (0.9-1.6)", added, ratio)
	}
	if d := rt(); d > median(base)+lat/2 {
		t.Fatalf("round trip after removing the latency took %v", d)
	}
}

// logger records the driver's log lines.
type logger struct {
	mu    sync.Mutex
	lines []string
}

func (l *logger) Print(v ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprint(v...))
	l.mu.Unlock()
}

func (l *logger) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// TestMySQLResetIdleConnection: a reset of an idle pooled connection is
// caught by go-sql-driver/mysql's liveness check, which reads the
// connection's descriptor (through syscall.Conn) before reusing it, sees
// ECONNRESET, and returns driver.ErrBadConn, so database/sql retries on a
// new connection and the query succeeds.
func TestMySQLResetIdleConnection(t *testing.T) {
	cfg, err := gomysql.ParseDSN(testenv.Get(t, "OUTBOUND_TEST_MYSQL"))
	if err != nil {
		t.Fatal(err)
	}
	in := faults.New(&faults.Options{AlwaysWrap: true})
	d := dialerWith(in)
	log := &logger{}
	cfg.Logger = log
	cfg.CheckConnLiveness = true
	// The adapter's connections expose their descriptor, so the driver's
	// liveness check reads it before reusing an idle connection.
	conn, err := outmysql.NewConnector(cfg, &outmysql.Options{Dialer: d})
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	var id1, id2 int64
	if err := db.QueryRowContext(ctxT(t), "select connection_id()").Scan(&id1); err != nil {
		t.Fatal(err)
	}
	// The connection is idle in the pool now: reset it.
	add(t, in, faults.Rule{Name: "rst", Match: faults.Match{Port: 3306}, Toxic: faults.ResetPeer{}})
	in.Remove("rst")
	if err := db.QueryRowContext(ctxT(t), "select connection_id()").Scan(&id2); err != nil {
		t.Fatalf("query after the idle connection was reset: %v", err)
	}
	if id2 == id1 {
		t.Fatalf("the query ran on connection %d, the reset one", id1)
	}
	if got := log.text(); !strings.Contains(got, "closing bad idle connection: ") || !strings.Contains(got, "connection reset by peer") {
		t.Fatalf("driver log %q: want its liveness check to report the reset (\"closing bad idle connection: connection reset by peer\")", got)
	}
}

// TestRedisTimeout: a downstream Timeout makes go-redis's commands fail
// with a timeout; removing it restores service on the same client.
func TestRedisTimeout(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_REDIS")
	in := faults.New(&faults.Options{AlwaysWrap: true})
	rdb := redis.NewClient(&redis.Options{
		Addr:         addr,
		Dialer:       dialers.RedisDialer(dialerWith(in), nil),
		ReadTimeout:  200 * time.Millisecond,
		WriteTimeout: 200 * time.Millisecond,
		MaxRetries:   -1,
		PoolSize:     2,
	})
	defer rdb.Close()
	key := fmt.Sprintf("outbound:faults:%d", time.Now().UnixNano())
	defer rdb.Del(context.Background(), key)
	if err := rdb.Set(ctxT(t), key, "v1", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	add(t, in, faults.Rule{Name: "stall", Match: faults.Match{Port: portOf(t, addr)}, Toxic: faults.Timeout{}})
	for range 3 {
		err := rdb.Get(ctxT(t), key).Err()
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("GET under the timeout toxic: %v, want a timeout (net.Error, os.ErrDeadlineExceeded)", err)
		}
	}
	in.Remove("stall")
	v, err := rdb.Get(ctxT(t), key).Result()
	if err != nil || v != "v1" {
		t.Fatalf("GET after removing the toxic: %q, %v", v, err)
	}
}

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	fmt.Sscan(p, &n)
	return n
}

// TestPahoReconnectsAfterReset: a reset of the broker connection makes
// paho lose it (with ECONNRESET) and reconnect through the same dialer;
// messages flow again. QoS 0: paho.mqtt.golang v1.5.1 races with itself
// (under -race) when it resends stored QoS 1 packets on a reconnect
// (client.resume sets Dup while the new connection's writer packs them).
func TestPahoReconnectsAfterReset(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_MQTT")
	in := faults.New(&faults.Options{AlwaysWrap: true})
	d := dialerWith(in)
	var dials atomic.Int32
	adapter := outmqtt.OpenConnection(&outmqtt.Options{Dialer: d})
	open := func(u *url.URL, o pahov3.ClientOptions) (net.Conn, error) {
		dials.Add(1)
		return adapter(u, o)
	}
	topic := fmt.Sprintf("outbound/faults/%d", time.Now().UnixNano())
	got := make(chan string, 16)
	connected := make(chan struct{}, 4)
	lost := make(chan error, 4)
	o := pahov3.NewClientOptions().
		AddBroker("tcp://" + addr).
		SetClientID(fmt.Sprintf("outbound-faults-%d", time.Now().UnixNano()%1e9)).
		SetCustomOpenConnectionFn(open).
		SetAutoReconnect(true).
		SetConnectRetry(false).
		SetMaxReconnectInterval(100 * time.Millisecond).
		SetConnectTimeout(5 * time.Second).
		SetKeepAlive(30 * time.Second).
		SetOnConnectHandler(func(c pahov3.Client) {
			c.Subscribe(topic, 0, func(_ pahov3.Client, m pahov3.Message) { got <- string(m.Payload()) }).Wait()
			connected <- struct{}{}
		}).
		SetConnectionLostHandler(func(_ pahov3.Client, err error) { lost <- err })
	c := pahov3.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	recv := func(want string) {
		t.Helper()
		if tok := c.Publish(topic, 0, false, want); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
		select {
		case m := <-got:
			if m != want {
				t.Fatalf("got %q, want %q", m, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no message %q", want)
		}
	}
	<-connected
	recv("before")

	add(t, in, faults.Rule{Name: "rst", Match: faults.Match{Port: portOf(t, addr)}, Toxic: faults.ResetPeer{}})
	in.Remove("rst")
	select {
	case err := <-lost:
		if !isReset(err) {
			t.Fatalf("connection lost with %v, want ECONNRESET", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("paho did not notice the reset")
	}
	select {
	case <-connected:
	case <-time.After(10 * time.Second):
		t.Fatal("paho did not reconnect")
	}
	// At least 2: a reconnect between the Add and the Remove is reset too.
	if n := dials.Load(); n < 2 {
		t.Fatalf("%d dials through the dialer, want the first connect and a reconnect", n)
	}
	recv("after")
}
