// Command tour runs every example of outbound in turn and prints a table of
// what ran, against what, with which TLS, and how it went:
//
//	go run ./examples/tour
//	go run ./examples/tour -run 'gopher|starttls'   # only the demos whose name matches
//	go run ./examples/tour -inprocess               # only the demos with in-process peers
//
// The tour runs the examples themselves, not copies: each row calls the Run
// function of an example's package (examples/<name>/<name>demo, the code that
// `go run ./examples/<name>` runs), either with no flags, against the
// example's in-process peer (a Gopher server, a web server, an echo server, a
// STARTTLS line protocol, an SMTP server, an MQTT broker, SSH with SFTP, IRC,
// a Redis and a MongoDB stand-in, an FTP server with AUTH TLS), or with the
// flags that point it at a real server — PostgreSQL, MariaDB, Mosquitto, an
// MTA, Redis, OpenSSH, vsftpd, ngIRCd — found through the integration tests'
// variables (OUTBOUND_TEST_POSTGRES and so on; see internal/testenv and
// .ci/README.md), defaulting to the ports compose.yaml and .ci/setup use and
// to the files in .ci/certs.
//
// A real server that does not answer is a skip naming the command that
// starts it; one that answers while a file its demo needs (a CA, the SSH key)
// is missing is a skip naming what makes that file. Either way the demo is
// not run half-configured (no TLS without verification in place of a missing
// CA). Under OUTBOUND_TEST_REQUIRE (as in CI) both are failures. The exit
// status is 1 only when a demo that ran failed (or, under
// OUTBOUND_TEST_REQUIRE, was not run). Progress, with what each example
// prints, goes to stderr; the table to stdout.
//
// Adding a demo is one line in allDemos (tour.go): the example's Run, its TLS
// column, and for a real server its variable and the flags it takes. Flags
// every example shares are declared once, in examples/internal/example, so
// the tour passes them like any other flag.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"regexp"
	"time"

	"github.com/outboundhq/outbound/internal/testenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tour:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tour", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pattern := fs.String("run", "", "run only the demos whose name matches this `regexp`")
	inProcess := fs.Bool("inprocess", false, "run only the demos whose peers run inside this program")
	timeout := fs.Duration("timeout", time.Minute, "time limit of each demo")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var re *regexp.Regexp
	if *pattern != "" {
		var err error
		if re, err = regexp.Compile(*pattern); err != nil {
			return fmt.Errorf("-run: %w", err)
		}
	}
	var selected []demo
	for _, d := range allDemos() {
		if (re != nil && !re.MatchString(d.name)) || (*inProcess && d.server != nil) {
			continue
		}
		selected = append(selected, d)
	}
	if len(selected) == 0 {
		return errors.New("no demo matches -run " + *pattern)
	}

	t := &tour{
		progress: stderr,
		timeout:  *timeout,
		require:  os.Getenv(testenv.RequireVar) != "",
		lookup:   os.Getenv,
		root:     repoRoot(),
	}
	results := t.run(ctx, selected)
	printTable(stdout, results)
	failed := 0
	for _, r := range results {
		if r.failed {
			failed++
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d demos failed", failed, len(results))
	}
	return nil
}
