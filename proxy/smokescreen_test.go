package proxy_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/pg"
	"github.com/outboundhq/outbound/proxy"
	"github.com/outboundhq/outbound/sockets"
)

// smokescreen returns the HTTPProxy for Stripe's smokescreen on
// OUTBOUND_TEST_SMOKESCREEN, presenting the client certificate of role (its
// common name is the role smokescreen reads), or none when role is "".
func smokescreen(t *testing.T, role string) *proxy.HTTP {
	t.Helper()
	addr := testenv.Get(t, "OUTBOUND_TEST_SMOKESCREEN")
	certs := repoPath(testenv.Get(t, "OUTBOUND_TEST_SMOKESCREEN_CERTS"))
	pem, err := os.ReadFile(filepath.Join(certs, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	cfg := &tls.Config{RootCAs: roots}
	if role != "" {
		cert, err := tls.LoadX509KeyPair(filepath.Join(certs, "smokescreen-"+role+".pem"), filepath.Join(certs, "smokescreen-"+role+".key"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return &proxy.HTTP{Addr: addr, TLSConfig: cfg}
}

func repoPath(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join("..", p)
}

// countingListener counts the connections that reach it.
func countingListener(t *testing.T) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			n.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String(), &n
}

func TestSmokescreenAllowsAndDenies(t *testing.T) {
	redisAddr := testenv.Get(t, "OUTBOUND_TEST_REDIS")
	_, redisPort, _ := net.SplitHostPort(redisAddr)
	p := smokescreen(t, "outbound-enforce")
	d := &dialers.Dialer{Options: &sockets.Options{Proxy: p}}

	// An allowed domain passes: go-redis through smokescreen.
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:" + redisPort, Dialer: dialers.RedisDialer(d, nil)})
	defer rdb.Close()
	key := "outbound:smokescreen:" + strconv.FormatInt(time.Now().UnixNano(), 36)
	if err := rdb.Set(ctxT(t), key, "through smokescreen", time.Minute).Err(); err != nil {
		t.Fatalf("SET through smokescreen: %v", err)
	}
	if v, err := rdb.Get(ctxT(t), key).Result(); err != nil || v != "through smokescreen" {
		t.Fatalf("GET through smokescreen: %q, %v", v, err)
	}

	// A domain the role may not reach is refused by smokescreen, as a denial
	// a program reads as it reads a local one.
	_, err := d.DialContext(ctxT(t), "tcp", "denied.example:443")
	checkFleetDenial(t, err, "denied.example", "egress proxying is denied")

	// An allowed domain that resolves to a private address: refused, and
	// nothing reaches the target.
	target, hits := countingListener(t)
	_, port, _ := net.SplitHostPort(target)
	_, err = d.DialContext(ctxT(t), "tcp", "localhost:"+port)
	checkFleetDenial(t, err, "localhost", "not global unicast")
	time.Sleep(100 * time.Millisecond)
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d connections reached the private target smokescreen refused", n)
	}

	// Without a role the default rule refuses everything.
	anon := &dialers.Dialer{Options: &sockets.Options{Proxy: smokescreen(t, "")}}
	_, err = anon.DialContext(ctxT(t), "tcp", "localhost:"+redisPort)
	checkFleetDenial(t, err, "localhost", "")
}

// checkFleetDenial asserts err is smokescreen's refusal as a denial: it
// matches sockets.ErrDenied, carries an *egress.DeniedError whose decision
// names the proxy as where it was made and smokescreen's reason, and the
// message is one line.
func checkFleetDenial(t *testing.T, err error, host, reason string) {
	t.Helper()
	if !errors.Is(err, sockets.ErrDenied) {
		t.Fatalf("refusal of %s: %v, want it to match sockets.ErrDenied", host, err)
	}
	var de *egress.DeniedError
	if !errors.As(err, &de) {
		t.Fatalf("refusal of %s: %v (%T), want an *egress.DeniedError in the chain", host, err, err)
	}
	if de.Decision.Host != host || !strings.HasPrefix(de.Decision.By, "https://") {
		t.Fatalf("decision %+v: want host %q made by the proxy", de.Decision, host)
	}
	if reason != "" && !strings.Contains(strings.ToLower(de.Decision.Rule+" "+de.Error()), reason) {
		t.Fatalf("refusal of %s: %q does not give smokescreen's reason (%q)", host, de.Error(), reason)
	}
	if strings.ContainsAny(err.Error(), "\r\n") {
		t.Fatalf("refusal message spans lines: %q", err.Error())
	}
}

func TestSmokescreenReportMode(t *testing.T) {
	redisAddr := testenv.Get(t, "OUTBOUND_TEST_REDIS")
	_, redisPort, _ := net.SplitHostPort(redisAddr)
	log := testenv.Get(t, "OUTBOUND_TEST_SMOKESCREEN_LOG")
	p := smokescreen(t, "outbound-report")
	d := &dialers.Dialer{Options: &sockets.Options{Proxy: p}}
	// 127.0.0.1 is not among the role's allowed domains: report mode lets it
	// through and smokescreen logs that enforce mode would have denied it.
	c, err := d.DialContext(ctxT(t), "tcp", "127.0.0.1:"+redisPort)
	if err != nil {
		t.Fatalf("report role: %v, want the connection let through", err)
	}
	c.Write([]byte("PING\r\n"))
	buf := make([]byte, 7)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(buf); err != nil || !strings.HasPrefix(string(buf), "+PONG") {
		t.Fatalf("PING through smokescreen: %q, %v", buf, err)
	}
	local := c.LocalAddr().String()
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, `"inbound_remote_addr":"`+local+`"`) && strings.Contains(line, "CANONICAL-PROXY-DECISION") {
				if !strings.Contains(line, `"enforce_would_deny":true`) || !strings.Contains(line, `"role":"outbound-report"`) {
					t.Fatalf("smokescreen's decision for the report role: %s", line)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no smokescreen decision for %s in %s", local, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSmokescreenPostgres(t *testing.T) {
	url := testenv.Get(t, "OUTBOUND_TEST_POSTGRES")
	// Through smokescreen, the name goes to the proxy: "localhost", the
	// domain the role may reach.
	url = strings.Replace(url, "@127.0.0.1:", "@localhost:", 1)
	d := &dialers.Dialer{Options: &sockets.Options{Proxy: smokescreen(t, "outbound-enforce")}}
	ctx := ctxT(t)
	for _, socketTLS := range []bool{false, true} {
		conn, err := pg.Connect(ctx, url, &pg.Options{Dialer: d, SocketTLS: socketTLS})
		if err != nil {
			t.Fatalf("pg.Connect through smokescreen (socketTLS %v): %v", socketTLS, err)
		}
		var one int
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Fatalf("SELECT 1 through smokescreen: %d, %v", one, err)
		}
		conn.Close(ctx)
	}
}
