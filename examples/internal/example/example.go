// Package example is the shape every program under examples/ shares, so that
// an example's own command and the tour (examples/tour) run one piece of code.
//
// An example named X keeps its logic in package examples/X/Xdemo as one
// function of type [Func]:
//
//	func Run(ctx context.Context, args []string, stdout io.Writer) error
//
// Run parses args (the example's flags, from [NewFlagSet]), talks to its
// peer, writes what it did to stdout and returns an error when anything did
// not go as shown. With no arguments it starts its own in-process peer where
// it has one, so it runs anywhere. The command, examples/X/main.go, is one
// line:
//
//	func main() { example.Main("X", Xdemo.Run) }
//
// and the tour lists the same Run in one line of its table (see the
// examples/tour package doc), with the flags that point it at a real server.
//
// Flags that every example has are declared once, in [NewFlagSet], and take
// effect through [FlagSet.Options] and [FlagSet.Dialer], which the examples
// use for the sockets they open: adding a common flag is one line here.
package example

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/outboundhq/outbound/capture"
	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/sockets"
)

// Func is an example's logic: args are its command-line arguments (without
// the program name), stdout receives its report. ctx bounds the whole run.
type Func func(ctx context.Context, args []string, stdout io.Writer) error

// Main runs f as the example's command: with os.Args, os.Stdout and a
// context cancelled by an interrupt. An error is printed to stderr after the
// example's name and the program exits with status 1 (2 for bad flags).
func Main(name string, f Func) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := f(ctx, os.Args[1:], os.Stdout)
	stop()
	os.Exit(exitCode(name, err, os.Stderr))
}

// exitCode reports err on w and returns the exit status for it.
func exitCode(name string, err error, w io.Writer) int {
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, new(*flagError)):
		fmt.Fprintf(w, "%s: %v\n", name, err)
		return 2
	default:
		fmt.Fprintf(w, "%s: %v\n", name, err)
		return 1
	}
}

// FlagSet is an example's command-line flags: its own, declared on the
// embedded flag.FlagSet, and those every example shares.
type FlagSet struct {
	*flag.FlagSet
	wire   *capture.Flags  // -capture FILE.pcapng, -trace
	layers []sockets.Layer // what the common flags put around every socket
}

// NewFlagSet returns the flags of the example name, with the common flags
// already declared. Errors are returned by Parse, not fatal.
func NewFlagSet(name string) *FlagSet {
	fs := &FlagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError)}
	// The flags every example shares are declared here, one line each, and
	// applied in Options.
	fs.wire = capture.RegisterFlags(fs.FlagSet) // -capture FILE.pcapng, -trace
	return fs
}

// Parse parses args; a bad flag is an error that names it (and makes [Main] exit with status 2).
func (f *FlagSet) Parse(args []string) error {
	if err := f.FlagSet.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &flagError{err}
	}
	layers, err := f.wire.Layers()
	if err != nil {
		return &flagError{err}
	}
	f.layers = layers
	return nil
}

// Close finishes what the common flags opened (the -capture file). Call it,
// deferred, after Parse.
func (f *FlagSet) Close() error { return f.wire.Close() }

// KeyLogWriter is where TLS that a driver does itself (pgx's, MySQL's,
// net/http's) must write its session secrets (tls.Config.KeyLogWriter), so
// that -capture can decrypt it too; nil when -capture is off.
func (f *FlagSet) KeyLogWriter() io.Writer { return f.wire.KeyLogWriter() }

// Options returns new socket options with what the common flags ask for;
// the example sets its own fields (policy, TLS) on top. Call it after Parse.
func (f *FlagSet) Options() *sockets.Options {
	return &sockets.Options{Layers: append([]sockets.Layer(nil), f.layers...)}
}

// Dialer returns a dialer for the drivers with [FlagSet.Options].
func (f *FlagSet) Dialer() *dialers.Dialer {
	return &dialers.Dialer{Options: f.Options()}
}

// flagError is a bad command line.
type flagError struct{ err error }

func (e *flagError) Error() string { return e.err.Error() }
func (e *flagError) Unwrap() error { return e.err }

// LoadCA reads a PEM file of CA certificates, for the examples' -ca flags.
func LoadCA(path string) (*x509.CertPool, error) {
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
