// Command tour runs every demonstration of outbound in turn and prints a
// table of what ran, against what, with which TLS, and how it went:
//
//	go run ./examples/tour
//	go run ./examples/tour -run 'gopher|starttls'   # only the demos whose name matches
//	go run ./examples/tour -inprocess               # only the demos with in-process peers
//
// Most demos need nothing but this program: their peers (a Gopher server, a
// web server, an echo server, a STARTTLS line protocol, an SMTP server, an
// MQTT broker, SSH with SFTP, IRC, a Redis and a MongoDB stand-in, an HTTP/2
// server, an FTP server with AUTH TLS) run inside it. The others talk to
// real servers — PostgreSQL, MariaDB, Mosquitto, an MTA, Redis, OpenSSH,
// vsftpd, ngIRCd — found through the same variables as the integration tests
// (OUTBOUND_TEST_POSTGRES and so on; see internal/testenv and .ci/README.md),
// defaulting to the ports compose.yaml and .ci/setup use. A server that does
// not answer is reported as skipped, with the command that starts it
// (a compose.yaml service, or for SSH, FTP and IRC, which compose.yaml does
// not provide, a .ci/setup script); it counts neither as a pass nor as a
// failure, unless OUTBOUND_TEST_REQUIRE is set (as in CI), where it fails.
//
// The exit status is 1 if any demo that ran failed. Progress goes to stderr,
// the table to stdout.
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
