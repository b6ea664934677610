package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/outboundhq/outbound/internal/testenv"
)

// allDemos is the tour, in the order it runs. Each demo is a function in
// its own file of this package (demo_*.go).
func allDemos() []demo {
	return []demo{
		{name: "gopher", tls: "none", run: demoGopher},
		{name: "httpget", tls: "none", run: demoHTTPGet},
		{name: "close", tls: "none", run: demoClose},
		{name: "starttls", tls: "starttls", run: demoStartTLS},
		{name: "half-open", tls: "none", run: demoHalfOpen},
		{name: "policy", tls: "none", run: demoPolicy, against: "127.0.0.1:25, never dialled"},
		{name: "net/http", tls: "on", run: demoNetHTTP},
		{name: "smtp", tls: "starttls", run: demoSMTP},
		{name: "mqtt", tls: "none", run: demoMQTT},
		{name: "ssh", tls: "ssh", run: demoSSH},
		{name: "irc", tls: "on", run: demoIRC},
		{name: "redis", tls: "on", run: demoRedis},
		{name: "http2", tls: "driver", run: demoHTTP2},
		{name: "egress", tls: "none", run: demoEgress},
		{name: "ftp", tls: ftpTLS, run: demoFTP},
		{name: "mongodb", tls: "none", run: demoMongoDB},
		{name: "postgres", tls: "driver", server: postgres, run: demoPostgres},
		{name: "postgres-starttls", tls: "starttls", server: postgres, run: demoPostgresStartTLS},
		{name: "mysql", tls: "driver", server: mariadb, run: demoMySQL},
		{name: "mosquitto", tls: "none", server: mosquitto, run: demoMosquitto},
		{name: "smtp-mta", tls: "starttls", server: smtpServer, run: demoSMTPMTA},
		{name: "redis-server", tls: "none", server: redisServer, run: demoRedisServer},
		{name: "openssh", tls: "ssh", server: openSSH, run: demoOpenSSH},
		{name: "vsftpd", tls: ftpTLS, server: vsftpd, run: demoVsftpd},
		{name: "ngircd", tls: "none", server: ngIRCd, run: demoNgIRCd},
	}
}

// demo is one demonstration.
type demo struct {
	name string
	// tls says who encrypts: "none", "on" (the socket, from the first
	// byte), "starttls" (the socket, after an upgrade), "driver" (the
	// client library — database driver, HTTP transport — over a plain
	// socket), "ssh" (SSH's own encryption, over a plain socket), or two
	// of these joined by "+" when a protocol's connections differ (FTP).
	tls string
	// server is the real server the demo needs; nil when its peer runs in
	// this program.
	server *server
	// against overrides what the table shows in the "against" column.
	against string
	run     func(ctx context.Context, e *env) error
}

// server is a real server, named by the integration tests' variable.
type server struct {
	envVar string // such as OUTBOUND_TEST_POSTGRES
	start  string // the one command that starts it on a laptop
	// addr extracts host:port from the variable's value (a URL, a DSN).
	addr func(value string) (string, error)
}

// env is what a demo receives.
type env struct {
	// value is the server variable's value (or its default), and addr the
	// host:port in it; both empty for an in-process demo.
	value, addr string
	// lookup returns an integration-test variable, or its default when unset.
	lookup   func(name string) string
	name     string
	progress io.Writer
	// tls, when a demo sets it, replaces the demo's TLS column (to say
	// that TLS ran without verification, for example).
	tls string
}

// step reports progress of a long demo on stderr.
func (e *env) step(format string, args ...any) {
	fmt.Fprintf(e.progress, "    %s: %s\n", e.name, fmt.Sprintf(format, args...))
}

// tour runs demos and collects their results.
type tour struct {
	progress io.Writer
	timeout  time.Duration // per demo
	require  bool          // an unreachable server fails instead of being skipped
	lookup   func(string) string
	dialWait time.Duration // reachability check; 0 means one second
}

// result is one row of the table.
type result struct {
	demo, against, tls, outcome string
	failed                      bool
}

func (t *tour) run(ctx context.Context, demos []demo) []result {
	var results []result
	for i, d := range demos {
		fmt.Fprintf(t.progress, "[%d/%d] %s\n", i+1, len(demos), d.name)
		start := time.Now()
		r := t.runOne(ctx, d)
		fmt.Fprintf(t.progress, "    %s: %s (%s)\n", d.name, r.outcome, time.Since(start).Round(time.Millisecond))
		results = append(results, r)
	}
	return results
}

func (t *tour) runOne(ctx context.Context, d demo) result {
	r := result{demo: d.name, tls: d.tls, against: "in-process peer"}
	if d.against != "" {
		r.against = d.against
	}
	e := &env{name: d.name, progress: t.progress, lookup: func(name string) string {
		if v := t.lookup(name); v != "" {
			return v
		}
		return defaultOf(name)
	}}
	if s := d.server; s != nil {
		e.value = e.lookup(s.envVar)
		addr, err := s.addr(e.value)
		if err != nil {
			r.against = s.envVar + "=" + e.value
			r.outcome, r.failed = "FAIL: "+err.Error(), true
			return r
		}
		e.addr = addr
		r.against = "real server at " + addr
		if err := t.reachable(ctx, addr); err != nil {
			if t.require {
				r.outcome, r.failed = fmt.Sprintf("FAIL: unreachable (%v) and %s is set", err, testenv.RequireVar), true
			} else {
				r.outcome = "skipped: " + s.start
			}
			return r
		}
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	err := safeRun(ctx, d, e)
	if e.tls != "" {
		r.tls = e.tls
	}
	if err != nil {
		r.outcome, r.failed = "FAIL: "+oneLine(err.Error()), true
		return r
	}
	r.outcome = "ok"
	return r
}

// safeRun runs the demo, turning a panic into an error so that one broken
// demo does not end the tour.
func safeRun(ctx context.Context, d demo, e *env) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return d.run(ctx, e)
}

// reachable dials addr with a short timeout.
func (t *tour) reachable(ctx context.Context, addr string) error {
	wait := t.dialWait
	if wait == 0 {
		wait = time.Second
	}
	d := net.Dialer{Timeout: wait}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// defaultOf returns testenv's default for variable name: the value .ci/run
// exports and compose.yaml serves; for the extra variables of the SSH and
// FTP tests, which testenv does not list, the value .ci/README.md gives.
func defaultOf(name string) string {
	for _, v := range testenv.Vars {
		if v.Name == name {
			return v.Default
		}
	}
	return extraDefaults[name]
}

// extraDefaults are the defaults of the variables that .ci/run exports
// besides testenv.Vars; the paths are relative to the repository's root,
// where "go run ./examples/tour" runs.
var extraDefaults = map[string]string{
	"OUTBOUND_TEST_SSH_USER":        "outbound",
	"OUTBOUND_TEST_SSH_KEY":         ".ci/certs/ssh_key",
	"OUTBOUND_TEST_SSH_KNOWN_HOSTS": ".ci/certs/ssh_known_hosts",
	"OUTBOUND_TEST_FTP_USER":        "outbound",
	"OUTBOUND_TEST_FTP_PASSWORD":    "outbound",
	"OUTBOUND_TEST_FTP_CA":          ".ci/certs/ca.pem",
}

// plainAddr is the address of a variable that holds host:port.
func plainAddr(v string) (string, error) {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return "", err
	}
	return v, nil
}

// loadCA reads a PEM file of CA certificates into a pool.
func loadCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func printTable(w io.Writer, results []result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DEMO\tAGAINST\tTLS\tRESULT")
	var ok, failed, skipped int
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.demo, r.against, r.tls, r.outcome)
		switch {
		case r.failed:
			failed++
		case r.outcome == "ok":
			ok++
		default:
			skipped++
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d ok, %d failed, %d skipped\n", ok, failed, skipped)
}
