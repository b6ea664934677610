// Package testenv gives integration tests the addresses of the real servers
// they run against, and decides what happens when one is not configured.
//
// Each server is named by an environment variable (see [Vars]). When a variable
// is unset the test is skipped with a message naming the variable and the
// command that starts the servers on a laptop; when OUTBOUND_TEST_REQUIRE is set
// (as .ci/run does) the same situation fails the test instead, so CI can never
// pass by skipping.
package testenv

import (
	"os"
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
	msg := name + " is not set: start the servers with `docker compose up -d` and export the variables listed in the README (Integration tests)"
	if os.Getenv(RequireVar) != "" {
		t.Fatalf("%s; %s is set, so a missing server fails this test", msg, RequireVar)
	}
	t.Skip(msg)
	return ""
}

// Optional returns the value of name or "" without skipping; for servers that
// .ci/run cannot provide (MongoDB), whose tests skip even under OUTBOUND_TEST_REQUIRE.
func Optional(name string) string { return os.Getenv(name) }
