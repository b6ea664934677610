package main

import (
	"bufio"
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

	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"

	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fileVars are the variables that name files a demo needs.
func fileVars() []string {
	var names []string
	for name := range madeBy {
		names = append(names, name)
	}
	return names
}

// serverDemos returns the names of the demos of real servers, and a -run
// pattern for them.
func serverDemos() (names []string, pattern string) {
	for _, d := range allDemos() {
		if d.server != nil {
			names = append(names, d.name)
		}
	}
	return names, "^(" + strings.Join(names, "|") + ")$"
}

// row finds the table row of demo name in the tour's stdout.
func row(t *testing.T, stdout, name string) string {
	t.Helper()
	for _, line := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(line, name+" ") {
			return line
		}
	}
	t.Fatalf("no row for %s in\n%s", name, stdout)
	return ""
}

// needsFile reports whether demo d reads a file variable, by calling its args.
func needsFile(d demo) []string {
	if d.args == nil {
		return nil
	}
	var used []string
	tg := &target{lookup: func(name string) string {
		if _, ok := madeBy[name]; ok {
			used = append(used, name)
		}
		return "x"
	}}
	d.args(tg)
	return used
}

// TestMachineStates runs the tour in the three states a newcomer's machine
// is in: no servers; servers but no certificates (a fresh clone: .ci/certs is
// git-ignored), shown with an empty certificate directory; and everything.
// In-process demos need neither servers nor files, so the last two states
// run the real-server demos only.
func TestMachineStates(t *testing.T) {
	t.Run("no servers", func(t *testing.T) {
		t.Setenv(testenv.RequireVar, "")
		down, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		refused := down.Addr().String()
		down.Close()
		for _, v := range []string{"OUTBOUND_TEST_MQTT", "OUTBOUND_TEST_REDIS", "OUTBOUND_TEST_SMTP", "OUTBOUND_TEST_SSH", "OUTBOUND_TEST_FTP", "OUTBOUND_TEST_IRC"} {
			t.Setenv(v, refused)
		}
		t.Setenv("OUTBOUND_TEST_POSTGRES", "postgres://postgres@"+refused+"/test")
		t.Setenv("OUTBOUND_TEST_MYSQL", "root@tcp("+refused+")/test")
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), nil, &stdout, &stderr); err != nil {
			t.Fatalf("run: %v (want success: nothing that ran failed)\n%s\n%s", err, stdout.String(), stderr.String())
		}
		var ok, skipped int
		for _, d := range allDemos() {
			r := row(t, stdout.String(), d.name)
			if d.server == nil {
				ok++
				if !regexp.MustCompile(`^` + regexp.QuoteMeta(d.name) + ` +in-process peer +` + regexp.QuoteMeta(d.tls) + ` +ok$`).MatchString(r) {
					t.Errorf("in-process demo %s: row %q, want ok", d.name, r)
				}
				continue
			}
			skipped++
			want := "skipped: nothing answers: start it with `docker compose up -d --wait ci` (or, as root on Debian, `bash .ci/setup/" + d.server.script + "`)"
			if !strings.HasSuffix(r, want) || !strings.Contains(r, refused) {
				t.Errorf("demo %s: row %q, want a skip at %s ending %q", d.name, r, refused, want)
			}
		}
		if want := "\n" + strconv.Itoa(ok) + " ok, 0 failed, " + strconv.Itoa(skipped) + " skipped\n"; !strings.HasSuffix(stdout.String(), want) {
			t.Errorf("summary: want %q in\n%s", want, stdout.String())
		}
	})

	t.Run("servers without certificates", func(t *testing.T) {
		names, pattern := serverDemos()
		for _, d := range allDemos() {
			if d.server != nil {
				t.Setenv(d.server.envVar, testenv.Get(t, d.server.envVar))
			}
		}
		t.Setenv(testenv.RequireVar, "")
		empty := t.TempDir()
		for _, v := range fileVars() {
			t.Setenv(v, filepath.Join(empty, filepath.Base(defaultOf(v))))
		}
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"-run", pattern}, &stdout, &stderr); err != nil {
			t.Fatalf("run: %v (want success: a missing certificate is a skip)\n%s\n%s", err, stdout.String(), stderr.String())
		}
		var ok, skipped int
		for _, d := range allDemos() {
			if d.server == nil {
				continue
			}
			r := row(t, stdout.String(), d.name)
			vars := needsFile(d)
			if len(vars) == 0 {
				ok++
				if !strings.HasSuffix(r, " ok") {
					t.Errorf("demo %s needs no file: row %q, want ok", d.name, r)
				}
				continue
			}
			skipped++
			for _, v := range vars {
				want := "no " + filepath.Join(empty, filepath.Base(defaultOf(v))) + " (" + v + "): make it with `docker compose up -d --wait ci` (or, as root on Debian, `bash .ci/setup/" + madeBy[v] + "`), or set " + v
				if !strings.Contains(r, "skipped: ") || !strings.Contains(r, want) {
					t.Errorf("demo %s: row %q, want a skip naming %q", d.name, r, want)
				}
			}
		}
		if skipped == 0 || ok == 0 {
			t.Errorf("%d skipped, %d ok of %v: the state should show both", skipped, ok, names)
		}
		if want := "\n" + strconv.Itoa(ok) + " ok, 0 failed, " + strconv.Itoa(skipped) + " skipped\n"; !strings.HasSuffix(stdout.String(), want) {
			t.Errorf("summary: want %q in\n%s", want, stdout.String())
		}
	})

	t.Run("everything", func(t *testing.T) {
		names, pattern := serverDemos()
		for _, d := range allDemos() {
			if d.server != nil {
				t.Setenv(d.server.envVar, testenv.Get(t, d.server.envVar))
			}
		}
		for _, v := range append(fileVars(), "OUTBOUND_TEST_SSH_USER", "OUTBOUND_TEST_FTP_USER", "OUTBOUND_TEST_FTP_PASSWORD") {
			t.Setenv(v, testenv.Get(t, v))
		}
		var stdout, stderr bytes.Buffer
		if err := run(context.Background(), []string{"-run", pattern}, &stdout, &stderr); err != nil {
			t.Fatalf("run: %v\n%s\n%s", err, stdout.String(), stderr.String())
		}
		for _, name := range names {
			if r := row(t, stdout.String(), name); !strings.HasSuffix(r, " ok") {
				t.Errorf("row %q, want ok", r)
			}
		}
		if want := "\n" + strconv.Itoa(len(names)) + " ok, 0 failed, 0 skipped\n"; !strings.HasSuffix(stdout.String(), want) {
			t.Errorf("summary: want %q in\n%s", want, stdout.String())
		}
	})
}

// TestRequire checks that under OUTBOUND_TEST_REQUIRE neither an unreachable
// server nor a missing file passes as a skip.
func TestRequire(t *testing.T) {
	t.Setenv(testenv.RequireVar, "1")
	down, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := down.Addr().String()
	down.Close()
	t.Setenv("OUTBOUND_TEST_REDIS", refused)
	var stdout bytes.Buffer
	err = run(context.Background(), []string{"-run", "^redis-server$"}, &stdout, io.Discard)
	if err == nil || !strings.Contains(row(t, stdout.String(), "redis-server"), "FAIL: unreachable") {
		t.Errorf("run = %v, want a failure:\n%s", err, stdout.String())
	}

	// A reachable server and a missing CA.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tr := &tour{progress: io.Discard, timeout: time.Second, require: true, lookup: func(name string) string {
		return map[string]string{"UP": ln.Addr().String(), "CA": filepath.Join(t.TempDir(), "ca.pem")}[name]
	}}
	ran := false
	d := demo{name: "x", tls: "on", server: &server{envVar: "UP", script: "10-certs.sh", addr: plainAddr},
		run:  func(context.Context, []string, io.Writer) error { ran = true; return nil },
		args: func(t *target) []string { return []string{"-ca", t.File("CA")} }}
	r := tr.runOne(context.Background(), d)
	if ran || !r.failed || !strings.Contains(r.outcome, "(CA): set CA, and "+testenv.RequireVar+" is set") {
		t.Errorf("ran=%t, result %+v; want a failure naming CA", ran, r)
	}
}

// TestRunnerOutcomes checks how the tour reports each kind of outcome.
func TestRunnerOutcomes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	up := ln.Addr().String()
	fake := func(envVar string) *server {
		return &server{envVar: envVar, script: "99-fake.sh", addr: func(v string) (string, error) {
			if !strings.Contains(v, ":") {
				return "", errors.New("no port in " + v)
			}
			return v, nil
		}}
	}
	vars := map[string]string{"UP": up, "BAD": "nonsense", "SECRET": "s3"}
	var sawArgs []string
	var sawEnv string
	demos := []demo{
		{name: "pass", tls: "none", run: func(_ context.Context, _ []string, w io.Writer) error {
			io.WriteString(w, "one\ntwo") // the last line has no newline
			return nil
		}},
		{name: "fail", tls: "on", run: func(context.Context, []string, io.Writer) error { return errors.New("it broke\nbadly") }},
		{name: "up", tls: "driver", server: fake("UP"),
			args: func(t *target) []string {
				t.Setenv("TOUR_TEST_SECRET", t.Get("SECRET"))
				return []string{"-addr", t.Addr}
			},
			run: func(_ context.Context, args []string, _ io.Writer) error {
				sawArgs, sawEnv = args, os.Getenv("TOUR_TEST_SECRET")
				return nil
			}},
		{name: "bad", tls: "none", server: fake("BAD"), run: func(context.Context, []string, io.Writer) error { return nil }},
		{name: "panics", tls: "none", run: func(context.Context, []string, io.Writer) error { panic("oops") }},
	}
	var progress bytes.Buffer
	tr := &tour{progress: &progress, timeout: 5 * time.Second, lookup: func(k string) string { return vars[k] }}
	got := tr.run(context.Background(), demos)
	want := []result{
		{"pass", "in-process peer", "none", "ok", false},
		{"fail", "in-process peer", "on", "FAIL: it broke badly", true},
		{"up", "real server at " + up, "driver", "ok", false},
		{"bad", "BAD=nonsense", "none", "FAIL: no port in nonsense", true},
		{"panics", "in-process peer", "none", "FAIL: panic: oops", true},
	}
	for i, w := range want {
		if got[i] != w {
			t.Errorf("result %d = %+v, want %+v", i, got[i], w)
		}
	}
	if strings.Join(sawArgs, " ") != "-addr "+up || sawEnv != "s3" {
		t.Errorf("the demo got args %q and TOUR_TEST_SECRET %q", sawArgs, sawEnv)
	}
	if _, set := os.LookupEnv("TOUR_TEST_SECRET"); set {
		t.Error("TOUR_TEST_SECRET is still set after the demo")
	}
	if !strings.Contains(progress.String(), "    pass: one\n    pass: two\n") {
		t.Errorf("progress does not carry the example's output:\n%s", progress.String())
	}
}

func TestTableAndExitStatus(t *testing.T) {
	var out bytes.Buffer
	printTable(&out, []result{
		{"a", "in-process peer", "none", "ok", false},
		{"bb", "real server at 127.0.0.1:5432", "driver", "skipped: nothing answers", false},
		{"c", "in-process peer", "on", "FAIL: x", true},
	})
	want := `DEMO  AGAINST                        TLS     RESULT
a     in-process peer                none    ok
bb    real server at 127.0.0.1:5432  driver  skipped: nothing answers
c     in-process peer                on      FAIL: x

1 ok, 1 failed, 1 skipped
`
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
	if err := run(context.Background(), []string{"-run", "^nothing matches$"}, io.Discard, io.Discard); err == nil {
		t.Error("run with a -run pattern that matches nothing succeeded")
	}
	if err := run(context.Background(), []string{"stray"}, io.Discard, io.Discard); err == nil {
		t.Error("run with a stray argument succeeded")
	}
}

// TestDemosAreExamples checks that every demo is the Run of an example
// whose command exists, and that its TLS column is a documented value.
func TestDemosAreExamples(t *testing.T) {
	tlsColumn := regexp.MustCompile(`^(none|on|starttls|driver|ssh)(\+(on|starttls|driver))?(, not verified)?$`)
	seen := map[string]bool{}
	for _, d := range allDemos() {
		if seen[d.name] {
			t.Errorf("demo %s twice", d.name)
		}
		seen[d.name] = true
		if !tlsColumn.MatchString(d.tls) {
			t.Errorf("demo %s: TLS column %q is none of the documented values", d.name, d.tls)
		}
		var f example.Func = d.run
		if f == nil {
			t.Errorf("demo %s runs nothing", d.name)
		}
	}
	dirs, err := filepath.Glob(filepath.Join(repoRootRel, "examples", "*", "*demo"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no example packages: %v", err)
	}
	for _, dir := range dirs {
		name := strings.TrimSuffix(filepath.Base(dir), "demo")
		if _, err := os.Stat(filepath.Join(dir, "..", "main.go")); err != nil {
			t.Errorf("example %s has a package but no command: %v", name, err)
		}
		if !seen[name] {
			t.Errorf("example %s is not in the tour: add a line to allDemos", name)
		}
	}
}

// repoRootRel is the repository's root, seen from this package's directory.
const repoRootRel = "../.."

// TestStartCommands checks that what the skip messages name exists: the
// compose.yaml service and the .ci/setup scripts.
func TestStartCommands(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRootRel, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	if _, ok := compose.Services[composeService]; !ok {
		t.Errorf("compose.yaml has no service %q", composeService)
	}
	scripts := map[string]bool{}
	for _, d := range allDemos() {
		if d.server != nil {
			scripts[d.server.script] = true
		}
	}
	for _, s := range madeBy {
		scripts[s] = true
	}
	for s := range scripts {
		if _, err := os.Stat(filepath.Join(repoRootRel, ".ci/setup", s)); err != nil {
			t.Error(err)
		}
	}
	if root := repoRoot(); root == "" || !isFile(filepath.Join(root, ".ci/run")) {
		t.Errorf("repoRoot() = %q, want the directory of .ci/run", root)
	}
}

// TestExtraDefaults checks the tour's defaults of the variables testenv
// does not list against what .ci/run exports.
func TestExtraDefaults(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRootRel, ".ci/run"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exported := map[string]string{}
	export := regexp.MustCompile(`^export (OUTBOUND_TEST_[A-Z0-9_]+)="([^"]*)"$`)
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if m := export.FindStringSubmatch(sc.Text()); m != nil {
			exported[m[1]] = strings.TrimPrefix(m[2], "$root/")
		}
	}
	for name, want := range extraDefaults {
		if got, ok := exported[name]; !ok || got != want {
			t.Errorf("%s: .ci/run exports %q (relative to the root), the tour defaults to %q", name, got, want)
		}
	}
	for name := range madeBy {
		if defaultOf(name) == "" {
			t.Errorf("%s has no default", name)
		}
	}
}
