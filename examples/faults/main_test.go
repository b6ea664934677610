package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/internal/exampletest"
	"github.com/outboundhq/outbound/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	url := testenv.Get(t, "OUTBOUND_TEST_POSTGRES")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-url", url}, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	exampletest.MatchLines(t, out.String(), []string{
		`^pool of 4 connections to 127\.0\.0\.1:5432 through one dialer with a fault injector$`,
		`^baseline: +\d+ queries, median \d+\.\dms, 0 errors$`,
		`^latency 50ms: +\d+ queries, median (5\d|[6-9]\d|1\d\d)\.\dms, 0 errors$`,
		`^reset: +\d+ queries, median \d+\.\dms, [1-9]\d* errors$`,
		`^  first error: .*connection reset by peer`,
		`^  the pool opened [1-9]\d* new connections to recover$`,
		`^after: +\d+ queries, median \d+\.\dms, 0 errors$`,
	})
}

func TestNoServer(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"-url", "postgres://postgres@127.0.0.1:1/test"}, &out)
	var skip errNoServer
	if !errors.As(err, &skip) || !strings.Contains(err.Error(), "docker compose up -d postgres") {
		t.Fatalf("run against a closed port: %v, want the command that starts a server", err)
	}
}
