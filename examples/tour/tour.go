package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/outboundhq/outbound/examples/close/closedemo"
	"github.com/outboundhq/outbound/examples/egress/egressdemo"
	"github.com/outboundhq/outbound/examples/ftp/ftpdemo"
	"github.com/outboundhq/outbound/examples/gopher/gopherdemo"
	"github.com/outboundhq/outbound/examples/halfopen/halfopendemo"
	"github.com/outboundhq/outbound/examples/http/httpdemo"
	"github.com/outboundhq/outbound/examples/httpget/httpgetdemo"
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/examples/irc/ircdemo"
	"github.com/outboundhq/outbound/examples/mail/maildemo"
	"github.com/outboundhq/outbound/examples/mongodb/mongodbdemo"
	"github.com/outboundhq/outbound/examples/mqtt/mqttdemo"
	"github.com/outboundhq/outbound/examples/mysql/mysqldemo"
	"github.com/outboundhq/outbound/examples/pop3/pop3demo"
	"github.com/outboundhq/outbound/examples/postgres/postgresdemo"
	"github.com/outboundhq/outbound/examples/redis/redisdemo"
	"github.com/outboundhq/outbound/examples/smtp/smtpdemo"
	"github.com/outboundhq/outbound/examples/ssh/sshdemo"
	"github.com/outboundhq/outbound/examples/starttls/starttlsdemo"
	"github.com/outboundhq/outbound/examples/telemetry/telemetrydemo"
	"github.com/outboundhq/outbound/internal/testenv"
)

// allDemos is the tour, in the order it runs: one line per demo, each the
// Run function of an example (examples/<name>/<name>demo). A demo without
// args runs the example as `go run ./examples/<name>` does, against its
// in-process peer; one with a server runs it against that real server, with
// the flags args makes from the integration tests' variables.
func allDemos() []demo {
	return []demo{
		{name: "gopher", tls: "none", run: gopherdemo.Run, args: fixed("-once")},
		{name: "httpget", tls: "none", run: httpgetdemo.Run, args: fixed("-once")},
		{name: "close", tls: "none", run: closedemo.Run},
		{name: "starttls", tls: "starttls", run: starttlsdemo.Run},
		{name: "halfopen", tls: "none", run: halfopendemo.Run},
		{name: "egress", tls: "none", run: egressdemo.Run},
		{name: "http", tls: "driver", run: httpdemo.Run},
		{name: "smtp", tls: "starttls", run: smtpdemo.Run, args: fixed("-security", "socket-starttls")},
		{name: "mqtt", tls: "none", run: mqttdemo.Run},
		{name: "ssh", tls: "ssh", run: sshdemo.Run},
		{name: "irc", tls: "on", run: ircdemo.Run, args: fixed("-tls")},
		{name: "redis", tls: "on", run: redisdemo.Run},
		{name: "ftp", tls: ftpTLS, run: ftpdemo.Run},
		{name: "mongodb", tls: "none", run: mongodbdemo.Run},
		{name: "telemetry", tls: "none", run: telemetrydemo.Run},
		{name: "mail", tls: "driver+on", run: maildemo.Run},
		{name: "pop3", tls: "starttls", run: pop3demo.Run},
		{name: "postgres", tls: "starttls, not verified", server: postgres, run: postgresdemo.Run, args: func(t *target) []string {
			// CI's PostgreSQL has Debian's self-signed snakeoil certificate.
			return []string{"-url", t.Value, "-sslmode", "require"}
		}},
		{name: "mysql", tls: "driver", server: mariadb, run: mysqldemo.Run, args: func(t *target) []string {
			return []string{"-dsn", t.Value, "-ca", t.File("OUTBOUND_TEST_MYSQL_CA")}
		}},
		{name: "mosquitto", tls: "none", server: mosquitto, run: mqttdemo.Run, args: func(t *target) []string {
			return []string{"-broker", "mqtt://" + t.Addr, "-topic", t.Unique("outbound/tour/")}
		}},
		{name: "smtp-mta", tls: "starttls", server: mta, run: smtpdemo.Run, args: func(t *target) []string {
			return []string{"-addr", t.Addr, "-user", "", "-from", "tour@example.com", "-to", "outbound@localhost", "-ca", t.File("OUTBOUND_TEST_SMTP_CA")}
		}},
		{name: "redis-server", tls: "none", server: redisServer, run: redisdemo.Run, args: func(t *target) []string {
			return []string{"-addr", t.Addr, "-prefix", t.Unique("outbound:tour:") + ":"}
		}},
		{name: "openssh", tls: "ssh", server: openSSH, run: sshdemo.Run, args: func(t *target) []string {
			return []string{"-addr", t.Addr, "-user", t.Get("OUTBOUND_TEST_SSH_USER"), "-key", t.File("OUTBOUND_TEST_SSH_KEY"),
				"-known-hosts", t.File("OUTBOUND_TEST_SSH_KNOWN_HOSTS"), "-size", "65536", "-remote", t.Unique("outbound-tour-") + ".bin"}
		}},
		{name: "vsftpd", tls: ftpTLS, server: vsftpd, run: ftpdemo.Run, args: func(t *target) []string {
			t.Setenv("FTP_PASSWORD", t.Get("OUTBOUND_TEST_FTP_PASSWORD"))
			return []string{"-addr", t.Addr, "-user", t.Get("OUTBOUND_TEST_FTP_USER"), "-ca", t.File("OUTBOUND_TEST_FTP_CA"),
				"-size", "65536", "-remote", t.Unique("outbound-tour-") + ".bin"}
		}},
		{name: "ngircd", tls: "none", server: ngIRCd, run: ircdemo.Run, args: func(t *target) []string {
			return []string{"-server", t.Addr, "-channel", "#" + t.Unique("tour")}
		}},
	}
}

// ftpTLS is the TLS column of the FTP demos: jlaffaye/ftp upgrades the
// control connection itself after AUTH TLS, the socket upgrades each data
// connection (Socket.StartTLS).
const ftpTLS = "driver+starttls"

// The real servers, named by the integration tests' variables. compose.yaml
// serves them all from its service ci (the Debian image that runs the same
// .ci/setup scripts as CI); on a Debian machine the script starts each.
var (
	postgres    = &server{envVar: "OUTBOUND_TEST_POSTGRES", script: "20-postgres.sh", addr: pgAddr}
	mariadb     = &server{envVar: "OUTBOUND_TEST_MYSQL", script: "21-mariadb.sh", addr: mysqlAddr}
	mosquitto   = &server{envVar: "OUTBOUND_TEST_MQTT", script: "22-mosquitto.sh", addr: plainAddr}
	redisServer = &server{envVar: "OUTBOUND_TEST_REDIS", script: "23-redis.sh", addr: plainAddr}
	mta         = &server{envVar: "OUTBOUND_TEST_SMTP", script: "30-smtp.sh", addr: plainAddr}
	openSSH     = &server{envVar: "OUTBOUND_TEST_SSH", script: "50-ssh.sh", addr: plainAddr}
	vsftpd      = &server{envVar: "OUTBOUND_TEST_FTP", script: "51-ftp.sh", addr: plainAddr}
	ngIRCd      = &server{envVar: "OUTBOUND_TEST_IRC", script: "52-irc.sh", addr: plainAddr}
)

// composeService is the compose.yaml service that serves every real server
// of the tour and writes .ci/certs.
const composeService = "ci"

// madeBy names the .ci/setup script that makes the file each variable
// points at (the compose service ci runs it too).
var madeBy = map[string]string{
	"OUTBOUND_TEST_MYSQL_CA":        "10-certs.sh",
	"OUTBOUND_TEST_SMTP_CA":         "10-certs.sh",
	"OUTBOUND_TEST_FTP_CA":          "10-certs.sh",
	"OUTBOUND_TEST_SSH_KEY":         "50-ssh.sh",
	"OUTBOUND_TEST_SSH_KNOWN_HOSTS": "50-ssh.sh",
}

// demo is one demonstration: an example's Run, and how to call it.
type demo struct {
	name string
	// tls says who encrypts: "none", "on" (the socket, from the first
	// byte), "starttls" (the socket, after an upgrade), "driver" (the
	// client library — database driver, HTTP transport — over a plain
	// socket), "ssh" (SSH's own encryption, over a plain socket), or two
	// of these joined by "+" when a protocol's connections differ (FTP);
	// ", not verified" when the certificate is not checked.
	tls string
	// server is the real server the demo needs; nil when the example's
	// peer runs in this program.
	server *server
	run    example.Func
	// args returns the example's flags; nil means none.
	args func(t *target) []string
}

// fixed returns an args function that always gives args.
func fixed(args ...string) func(*target) []string {
	return func(*target) []string { return args }
}

// server is a real server, named by the integration tests' variable.
type server struct {
	envVar string // such as OUTBOUND_TEST_POSTGRES
	script string // the .ci/setup script that starts it on Debian
	// addr extracts host:port from the variable's value (a URL, a DSN).
	addr func(value string) (string, error)
}

// start says how to start the server.
func (s *server) start() string {
	return fmt.Sprintf("start it with `docker compose up -d --wait %s` (or, as root on Debian, `bash .ci/setup/%s`)", composeService, s.script)
}

// target is what a demo's args function reads: the server's variable and
// address, other variables, and the files they name. A file that is not
// there makes the demo a skip (a failure under OUTBOUND_TEST_REQUIRE) that
// says what makes it, instead of running without it.
type target struct {
	Value, Addr string // the server variable's value and the host:port in it
	lookup      func(name string) string
	missing     []string
	env         map[string]string
}

// Get returns the variable name, or its default when unset.
func (t *target) Get(name string) string { return t.lookup(name) }

// File returns the path the variable name holds (relative defaults are under
// the repository's root); when no such file exists it records what makes it.
func (t *target) File(name string) string {
	path := t.lookup(name)
	if _, err := os.Stat(path); err != nil {
		how := "set " + name
		if script, ok := madeBy[name]; ok {
			how = fmt.Sprintf("make it with `docker compose up -d --wait %s` (or, as root on Debian, `bash .ci/setup/%s`), or set %s", composeService, script, name)
		}
		t.missing = append(t.missing, fmt.Sprintf("no %s (%s): %s", path, name, how))
	}
	return path
}

// Setenv sets an environment variable while the example runs (the examples
// read passwords from the environment, not from flags).
func (t *target) Setenv(name, value string) {
	if t.env == nil {
		t.env = map[string]string{}
	}
	t.env[name] = value
}

// Unique returns prefix followed by a name no other run uses, for keys,
// topics and files on servers that others use at the same time.
func (t *target) Unique(prefix string) string {
	return prefix + strconv.FormatInt(time.Now().UnixNano(), 36)
}

// tour runs demos and collects their results.
type tour struct {
	progress io.Writer
	timeout  time.Duration // per demo
	require  bool          // an unreachable server or a missing file fails instead of being skipped
	lookup   func(string) string
	root     string        // where relative defaults are; "" is the working directory
	dialWait time.Duration // reachability check; 0 means one second
}

// result is one row of the table.
type result struct {
	demo, against, tls, outcome string
	failed                      bool
}

// skipped reports whether the row is a skip.
func (r result) skipped() bool { return strings.HasPrefix(r.outcome, "skipped") }

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

// get returns the variable name, or its default (a relative path resolved
// under t.root).
func (t *tour) get(name string) string {
	if v := t.lookup(name); v != "" {
		return v
	}
	v := defaultOf(name)
	if strings.HasPrefix(v, ".ci/") && t.root != "" {
		v = filepath.Join(t.root, v)
	}
	return v
}

func (t *tour) runOne(ctx context.Context, d demo) result {
	r := result{demo: d.name, tls: d.tls, against: "in-process peer"}
	tg := &target{lookup: t.get}
	if s := d.server; s != nil {
		tg.Value = t.get(s.envVar)
		addr, err := s.addr(tg.Value)
		if err != nil {
			r.against = s.envVar + "=" + tg.Value
			r.outcome, r.failed = "FAIL: "+err.Error(), true
			return r
		}
		tg.Addr = addr
		r.against = "real server at " + addr
		if err := t.reachable(ctx, addr); err != nil {
			r.outcome = "skipped: nothing answers: " + s.start()
			if t.require {
				r.outcome, r.failed = fmt.Sprintf("FAIL: unreachable (%v) and %s is set", err, testenv.RequireVar), true
			}
			return r
		}
	}
	var args []string
	if d.args != nil {
		args = d.args(tg)
	}
	if len(tg.missing) > 0 {
		r.outcome = "skipped: " + strings.Join(tg.missing, "; ")
		if t.require {
			r.outcome, r.failed = fmt.Sprintf("FAIL: %s, and %s is set", strings.Join(tg.missing, "; "), testenv.RequireVar), true
		}
		return r
	}
	restore := setenv(tg.env)
	defer restore()
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	out := &prefixWriter{w: t.progress, prefix: "    " + d.name + ": "}
	err := safeRun(ctx, d, args, out)
	out.flush()
	if err != nil {
		r.outcome, r.failed = "FAIL: "+oneLine(err.Error()), true
		return r
	}
	r.outcome = "ok"
	return r
}

// setenv sets the variables of env and returns what restores them.
func setenv(env map[string]string) (restore func()) {
	var undo []func()
	for k, v := range env {
		old, had := os.LookupEnv(k)
		os.Setenv(k, v)
		undo = append(undo, func() {
			if had {
				os.Setenv(k, old)
			} else {
				os.Unsetenv(k)
			}
		})
	}
	return func() {
		for _, f := range undo {
			f()
		}
	}
}

// safeRun runs the demo, turning a panic into an error so that one broken
// demo does not end the tour.
func safeRun(ctx context.Context, d demo, args []string, w io.Writer) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return d.run(ctx, args, w)
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

// prefixWriter writes each complete line of what an example reports to w,
// after prefix: the tour's progress.
type prefixWriter struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		if _, err := fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf[:i]); err != nil {
			return len(b), err
		}
		p.buf = p.buf[i+1:]
	}
}

// flush writes a last line that had no newline.
func (p *prefixWriter) flush() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.buf) > 0 {
		fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf)
		p.buf = nil
	}
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
// besides testenv.Vars; paths are relative to the repository's root.
var extraDefaults = map[string]string{
	"OUTBOUND_TEST_SSH_USER":        "outbound",
	"OUTBOUND_TEST_SSH_KEY":         ".ci/certs/ssh_key",
	"OUTBOUND_TEST_SSH_KNOWN_HOSTS": ".ci/certs/ssh_known_hosts",
	"OUTBOUND_TEST_FTP_USER":        "outbound",
	"OUTBOUND_TEST_FTP_PASSWORD":    "outbound",
	"OUTBOUND_TEST_FTP_CA":          ".ci/certs/ca.pem",
}

// repoRoot returns the repository's root: the closest directory at or above
// the working directory that holds go.mod and .ci; "" when there is none.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if isFile(filepath.Join(dir, "go.mod")) && isDir(filepath.Join(dir, ".ci")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func isFile(p string) bool { st, err := os.Stat(p); return err == nil && st.Mode().IsRegular() }
func isDir(p string) bool  { st, err := os.Stat(p); return err == nil && st.IsDir() }

// plainAddr is the address of a variable that holds host:port.
func plainAddr(v string) (string, error) {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return "", err
	}
	return v, nil
}

func pgAddr(v string) (string, error) {
	cfg, err := pgx.ParseConfig(v)
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), nil
}

func mysqlAddr(v string) (string, error) {
	cfg, err := gomysql.ParseDSN(v)
	if err != nil {
		return "", err
	}
	if cfg.Net != "tcp" {
		return "", errors.New("the DSN's network is " + strconv.Quote(cfg.Net) + ", want tcp")
	}
	return cfg.Addr, nil
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
		case r.skipped():
			skipped++
		default:
			ok++
		}
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d ok, %d failed, %d skipped\n", ok, failed, skipped)
}
