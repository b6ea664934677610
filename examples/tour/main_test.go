package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outboundhq/outbound/internal/testenv"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestInProcessDemos runs the tour as a newcomer with no servers would, and
// checks that every in-process demo shows up as ok.
func TestInProcessDemos(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"-inprocess"}, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	var demos []demo
	for _, d := range allDemos() {
		if d.server == nil {
			demos = append(demos, d)
		}
	}
	lines := strings.Split(stdout.String(), "\n")
	if !regexp.MustCompile(`^DEMO +AGAINST +TLS +RESULT$`).MatchString(lines[0]) {
		t.Errorf("header = %q", lines[0])
	}
	tlsColumn := regexp.MustCompile(`^(none|on|starttls|driver|ssh)(\+(on|starttls|driver))?$`)
	for i, d := range demos {
		if !tlsColumn.MatchString(d.tls) {
			t.Errorf("demo %s: TLS column %q is none of the documented values", d.name, d.tls)
		}
		row := regexp.MustCompile(`^` + regexp.QuoteMeta(d.name) + ` +(in-process peer|127\.0\.0\.1:25, never dialled) +` + regexp.QuoteMeta(d.tls) + ` +ok$`)
		if i+1 >= len(lines) || !row.MatchString(lines[i+1]) {
			t.Errorf("row %d is not an ok row for %s with TLS %s:\n%s", i+1, d.name, d.tls, stdout.String())
		}
		if !strings.Contains(stderr.String(), "] "+d.name+"\n") {
			t.Errorf("no progress line for %s on stderr", d.name)
		}
	}
	if want := "\n" + strconv.Itoa(len(demos)) + " ok, 0 failed, 0 skipped\n"; !strings.HasSuffix(stdout.String(), want) {
		t.Errorf("summary: want %q in\n%s", want, stdout.String())
	}
}

// TestRunnerOutcomes checks how the tour reports each kind of outcome: a
// pass, a failure, a real server that is reachable, one that is not (skipped
// with the command that starts it, or failed under OUTBOUND_TEST_REQUIRE), a
// bad server variable and a panicking demo.
func TestRunnerOutcomes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	up := ln.Addr().String()
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := down.Addr().String()
	down.Close()

	fake := func(envVar string) *server {
		return &server{
			envVar: envVar,
			start:  "docker compose up -d --wait fake",
			addr: func(v string) (string, error) {
				if !strings.Contains(v, ":") {
					return "", errors.New("no port in " + v)
				}
				return v, nil
			},
		}
	}
	vars := map[string]string{"UP": up, "DOWN": refused, "BAD": "nonsense"}
	var sawAddr string
	demos := []demo{
		{name: "pass", tls: "none", run: func(context.Context, *env) error { return nil }},
		{name: "fail", tls: "on", run: func(context.Context, *env) error { return errors.New("it broke\nbadly") }},
		{name: "up", tls: "driver", server: fake("UP"), run: func(_ context.Context, e *env) error { sawAddr = e.addr; return nil }},
		{name: "down", tls: "driver", server: fake("DOWN"), run: func(context.Context, *env) error { t.Error("the demo of an unreachable server ran"); return nil }},
		{name: "bad", tls: "none", server: fake("BAD"), run: func(context.Context, *env) error { return nil }},
		{name: "panics", tls: "none", run: func(context.Context, *env) error { panic("oops") }},
	}
	tests := []struct {
		require bool
		want    []result
	}{
		{false, []result{
			{"pass", "in-process peer", "none", "ok", false},
			{"fail", "in-process peer", "on", "FAIL: it broke badly", true},
			{"up", "real server at " + up, "driver", "ok", false},
			{"down", "real server at " + refused, "driver", "skipped: docker compose up -d --wait fake", false},
			{"bad", "BAD=nonsense", "none", "FAIL: no port in nonsense", true},
			{"panics", "in-process peer", "none", "FAIL: panic: oops", true},
		}},
		{true, []result{
			{"pass", "in-process peer", "none", "ok", false},
			{"fail", "in-process peer", "on", "FAIL: it broke badly", true},
			{"up", "real server at " + up, "driver", "ok", false},
			{"down", "real server at " + refused, "driver", "FAIL: unreachable", true},
			{"bad", "BAD=nonsense", "none", "FAIL: no port in nonsense", true},
			{"panics", "in-process peer", "none", "FAIL: panic: oops", true},
		}},
	}
	for _, tt := range tests {
		tr := &tour{progress: io.Discard, timeout: 5 * time.Second, require: tt.require, lookup: func(k string) string { return vars[k] }}
		got := tr.run(context.Background(), demos)
		if len(got) != len(tt.want) {
			t.Fatalf("require=%t: %d results, want %d", tt.require, len(got), len(tt.want))
		}
		for i, w := range tt.want {
			g := got[i]
			if g.demo != w.demo || g.against != w.against || g.tls != w.tls || g.failed != w.failed || !strings.HasPrefix(g.outcome, w.outcome) {
				t.Errorf("require=%t: result %d = %+v, want %+v", tt.require, i, g, w)
			}
		}
		if sawAddr != up {
			t.Errorf("the reachable demo got addr %q, want %q", sawAddr, up)
		}
	}
}

func TestTableAndExitStatus(t *testing.T) {
	var out bytes.Buffer
	printTable(&out, []result{
		{"a", "in-process peer", "none", "ok", false},
		{"bb", "real server at 127.0.0.1:5432", "driver", "skipped: docker compose up -d --wait postgres", false},
		{"c", "in-process peer", "on", "FAIL: x", true},
	})
	want := `DEMO  AGAINST                        TLS     RESULT
a     in-process peer                none    ok
bb    real server at 127.0.0.1:5432  driver  skipped: docker compose up -d --wait postgres
c     in-process peer                on      FAIL: x

1 ok, 1 failed, 1 skipped
`
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}

	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"-run", "^nothing matches$"}, &stdout, io.Discard); err == nil {
		t.Error("run with a -run pattern that matches nothing succeeded")
	}
}

// TestRealServerDemos runs each real-server demo against the server the
// integration tests use, when its variable is set.
func TestRealServerDemos(t *testing.T) {
	for _, d := range allDemos() {
		if d.server == nil {
			continue
		}
		t.Run(d.name, func(t *testing.T) {
			testenv.Get(t, d.server.envVar)
			tr := &tour{progress: io.Discard, timeout: time.Minute, lookup: os.Getenv}
			r := tr.runOne(context.Background(), d)
			if r.outcome != "ok" {
				t.Errorf("%s against %s: %s", d.name, r.against, r.outcome)
			}
		})
	}
}

func TestWithSSLMode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://postgres@127.0.0.1:5432/test", "postgres://postgres@127.0.0.1:5432/test?sslmode=require"},
		{"postgresql://u@h/db?connect_timeout=5", "postgresql://u@h/db?connect_timeout=5&sslmode=require"},
		{"postgres://u@h/db?sslmode=verify-full", "postgres://u@h/db?sslmode=verify-full"},
		{"host=h user=u dbname=db", "host=h user=u dbname=db sslmode=require"},
		{"host=h sslmode=disable", "host=h sslmode=disable"},
	}
	for _, tt := range tests {
		if got := withSSLMode(tt.in, "require"); got != tt.want {
			t.Errorf("withSSLMode(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestMySQLWithoutCA checks that the mysql demo says so in its TLS column
// when it has no CA file to verify the server with.
func TestMySQLWithoutCA(t *testing.T) {
	testenv.Get(t, mariadb.envVar)
	lookup := func(name string) string {
		if name == "OUTBOUND_TEST_MYSQL_CA" {
			return filepath.Join(t.TempDir(), "missing.pem")
		}
		return os.Getenv(name)
	}
	tr := &tour{progress: io.Discard, timeout: time.Minute, lookup: lookup}
	r := tr.runOne(context.Background(), demo{name: "mysql", tls: "driver", server: mariadb, run: demoMySQL})
	if r.outcome != "ok" || r.tls != "driver (unverified: no CA file)" {
		t.Errorf("result %+v, want ok with TLS %q", r, "driver (unverified: no CA file)")
	}
}
