package main

import (
	"bytes"
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/internal/exampletest"
	"github.com/outboundhq/outbound/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// want is the output, with where each server is.
func want(pg, mysql, smtp, mqtt, to string) []string {
	return []string{
		`^one dialer: policy "no-metadata", "local-services" \(loopback\), default deny, scope required$`,
		`^pg: SELECT 6 \* 7 = 42 \(` + pg + ` at \S+:\d+, pgx\)$`,
		`^mysql: SELECT 6 \* 7 = 42 \(` + mysql + ` at \S+:\d+, go-sql-driver/mysql\)$`,
		`^smtp: sent a message with STARTTLS to ` + to + ` \(` + smtp + ` at \S+:\d+, go-smtp\)$`,
		`^mqtt: published and received "hello" at QoS 1 \(` + mqtt + ` at \S+:\d+, paho\.golang\)$`,
		`^http: GET / = 200 "hello from net/http" \(in-process server at \S+:\d+, net/http\)$`,
		`^http: GET http://169\.254\.169\.254/ refused by the policy: true$`,
		`^pg: a connection outside a scope refused: true$`,
		// One connection per adapter, all through the dialer's layer; the
		// two left idle in the pools close when the scope ends.
		`^the dialer's layer saw 5 connections; 2 still open \(idle in the mysql and http pools\) close with the scope$`,
	}
}

// TestRun runs the program against its in-process servers, whatever the
// environment says.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-postgres=", "-mysql=", "-smtp=", "-mqtt="}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	exampletest.MatchLines(t, out.String(), want("in-process PostgreSQL", "in-process MySQL", "in-process SMTP server", "in-process broker", `bob@example\.com`))
}

// TestRunRealServers runs it against the real servers named by the
// OUTBOUND_TEST_* variables, which are the flags' defaults.
func TestRunRealServers(t *testing.T) {
	for _, v := range []string{"OUTBOUND_TEST_POSTGRES", "OUTBOUND_TEST_MYSQL", "OUTBOUND_TEST_SMTP", "OUTBOUND_TEST_SMTP_CA", "OUTBOUND_TEST_MQTT"} {
		testenv.Get(t, v)
	}
	var out bytes.Buffer
	if err := run(context.Background(), nil, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	exampletest.MatchLines(t, out.String(), want("PostgreSQL", "MySQL", "SMTP server", "broker", `outbound@localhost`))
}

func TestRunBadFlag(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-no-such-flag"}, &out); err == nil {
		t.Fatal("run accepted an unknown flag")
	}
}
