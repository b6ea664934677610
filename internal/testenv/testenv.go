// Package testenv gives integration tests the addresses of the real servers
// they run against, and decides what happens when one is not configured.
//
// Each server is named by an environment variable (see [Vars]). When a variable
// is unset the test is skipped with a message naming the variable and the
// compose.yaml service that serves it ([Service]); when OUTBOUND_TEST_REQUIRE
// is set (as .ci/run does) the same situation fails the test instead, so CI
// can never pass by skipping.
//
// `go test ./...` shows nothing of a package whose tests pass, skips
// included, so each skip is also written, as one line naming the package,
// the test and what enables it, to the terminal (/dev/tty) when there is one:
// a newcomer sees what was not tested. With no terminal (CI, an editor) the
// line goes nowhere else; `go test -v` shows the skip messages as usual.
package testenv

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// RequireVar is the switch under which a missing server fails a test instead of skipping it.
const RequireVar = "OUTBOUND_TEST_REQUIRE"

// Vars lists every variable an integration test reads, with what it holds and
// the value .ci/run and compose.yaml agree on.
var Vars = []Var{
	{"OUTBOUND_TEST_POSTGRES", "PostgreSQL URL (trust auth, TLS on)", "postgres://postgres@127.0.0.1:5432/test"},
	{"OUTBOUND_TEST_MYSQL", "go-sql-driver/mysql DSN for MariaDB (root, no password)", "root@tcp(127.0.0.1:3306)/test"},
	{"OUTBOUND_TEST_MYSQL_CA", "PEM file of the CA that signed MariaDB's TLS certificate", ".ci/certs/ca.pem"},
	{"OUTBOUND_TEST_MQTT", "Mosquitto host:port (anonymous)", "127.0.0.1:1883"},
	{"OUTBOUND_TEST_REDIS", "Redis host:port", "127.0.0.1:6379"},
	{"OUTBOUND_TEST_SMTP", "MTA submission host:port with STARTTLS", "127.0.0.1:2587"},
	{"OUTBOUND_TEST_SMTP_CA", "PEM file of the CA that signed the MTA's certificate", ".ci/certs/ca.pem"},
	{"OUTBOUND_TEST_SMTP_MAILBOX", "mbox file the MTA delivers the test recipient's mail to", "/var/mail/outbound"},
	{"OUTBOUND_TEST_SOCKS5", "SOCKS5 proxy host:port", "127.0.0.1:1080"},
	{"OUTBOUND_TEST_HTTP_PROXY", "HTTP CONNECT proxy host:port", "127.0.0.1:8888"},
	{"OUTBOUND_TEST_SSH", "OpenSSH server host:port", "127.0.0.1:2222"},
	{"OUTBOUND_TEST_FTP", "FTP server with AUTH TLS host:port", "127.0.0.1:2121"},
	{"OUTBOUND_TEST_IRC", "IRC server host:port", "127.0.0.1:6667"},
	{"OUTBOUND_TEST_SMOKESCREEN", "smokescreen egress proxy host:port (HTTP CONNECT over TLS, roles from client certificates)", "127.0.0.1:4750"},
	{"OUTBOUND_TEST_IMAP", "Dovecot IMAP host:port with STARTTLS", "127.0.0.1:2143"},
	{"OUTBOUND_TEST_IMAPS", "Dovecot IMAP host:port with implicit TLS", "127.0.0.1:2993"},
	{"OUTBOUND_TEST_POP3", "Dovecot POP3 host:port with STLS", "127.0.0.1:2110"},
	{"OUTBOUND_TEST_POP3S", "Dovecot POP3 host:port with implicit TLS", "127.0.0.1:2995"},
	{"OUTBOUND_TEST_MAIL_USER", "Dovecot login whose INBOX is OUTBOUND_TEST_SMTP_MAILBOX", "outbound"},
	{"OUTBOUND_TEST_MAIL_PASSWORD", "password of OUTBOUND_TEST_MAIL_USER", "outbound"},
	{"OUTBOUND_TEST_MAIL_CA", "PEM file of the CA that signed Dovecot's certificate", ".ci/certs/ca.pem"},
	{"OUTBOUND_TEST_TSHARK", "tshark program (a path, or a name on PATH) that reads the captures of package capture", "tshark"},
	{"OUTBOUND_TEST_MONGODB", "MongoDB URL (compose.yaml only; no Debian package)", "mongodb://127.0.0.1:27017"},
}

// Var is one integration-test variable.
type Var struct {
	Name    string // environment variable
	What    string // what it holds
	Default string // the value .ci/run exports and compose.yaml serves
}

// Get returns the value of the variable name, skipping the test (or failing it
// under OUTBOUND_TEST_REQUIRE) when it is unset.
func Get(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	msg := fmt.Sprintf("%s is not set: serve it with `docker compose up -d --wait %s` and export the variables of .ci/README.md", name, Service(name))
	if os.Getenv(RequireVar) != "" {
		t.Fatalf("%s; %s is set, so a missing server fails this test", msg, RequireVar)
	}
	noteSkip(t, name)
	t.Skip(msg)
	return ""
}

// Service returns the compose.yaml service that serves the server of the
// variable name: mongodb for MongoDB, which has no Debian package, and ci
// (the Debian image that runs .ci/setup, as CI does) for every other one.
func Service(name string) string {
	if name == "OUTBOUND_TEST_MONGODB" {
		return "mongodb"
	}
	return "ci"
}

// skipNotes is where the one-line notes of skipped tests go.
var skipNotes struct {
	sync.Mutex
	w    io.Writer // nil: not opened yet
	seen map[string]bool
}

// noteSkip writes one line for a test that skips for want of name: once per
// top-level test and variable, to the terminal.
func noteSkip(t testing.TB, name string) {
	test, _, _ := strings.Cut(t.Name(), "/")
	skipNotes.Lock()
	defer skipNotes.Unlock()
	if skipNotes.w == nil {
		skipNotes.w = io.Discard
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			skipNotes.w = tty // kept open for the life of the test binary
		}
	}
	if skipNotes.seen == nil {
		skipNotes.seen = map[string]bool{}
	}
	if key := test + "\x00" + name; !skipNotes.seen[key] {
		skipNotes.seen[key] = true
		fmt.Fprintf(skipNotes.w, "skipped %s %s: needs %s (docker compose up -d --wait %s)\n", packageName(), test, name, Service(name))
	}
}

// packageName is the directory of the package under test, relative to the
// module's root (go test runs a package's tests in its directory).
func packageName() string {
	dir, err := os.Getwd()
	if err != nil {
		return "?"
	}
	for d := dir; ; {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			if rel, err := filepath.Rel(d, dir); err == nil {
				return "./" + filepath.ToSlash(rel)
			}
			return dir
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
}

// Optional returns the value of name or "" without skipping; for servers that
// .ci/run cannot provide (MongoDB), whose tests skip even under OUTBOUND_TEST_REQUIRE.
func Optional(name string) string { return os.Getenv(name) }
