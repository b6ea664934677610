// Package halfopendemo is the halfopen example, run by `go run ./examples/halfopen`
// and by the tour. It contrasts the Sockets API's allowHalfOpen false and
// true against an in-process peer that says "bye" and shuts its write side
// first:
//
//   - false (the Sockets API default): reading the peer's EOF closes the
//     socket cleanly; a later write fails with ErrClosed.
//   - true: the socket stays writable after the peer's EOF, the peer still
//     receives a late reply, and the socket closes once its own write side is
//     closed too.
//
// Then it checks the other direction against an echo server: after this
// side's CloseWrite, the whole echo still arrives, then EOF.
//
//	go run ./examples/halfopen
package halfopendemo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// Run runs the example (it takes no flags but the common ones), reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("halfopen")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()
	opts := fs.Options
	// allowHalfOpen: false
	peer, err := sockettest.NewScripted(
		sockettest.Send("bye\n"),
		sockettest.CloseWrite(),
		sockettest.ExpectEOF(),
	)
	if err != nil {
		return err
	}
	defer peer.Close()
	s, err := sockets.Connect(ctx, peer.Addr(), with(opts(), false))
	if err != nil {
		return err
	}
	defer s.Close()
	if got, err := io.ReadAll(s); err != nil || string(got) != "bye\n" {
		return fmt.Errorf("allowHalfOpen false: read %q, %v; want \"bye\\n\" then EOF", got, err)
	}
	if err := waitClosed(ctx, s); err != nil {
		return fmt.Errorf("allowHalfOpen false: %w", err)
	}
	if _, err := io.WriteString(s, "late reply\n"); !errors.Is(err, sockets.ErrClosed) {
		return fmt.Errorf("allowHalfOpen false: a write after the peer's EOF returned %v, want ErrClosed", err)
	}
	fmt.Fprintln(stdout, "allowHalfOpen false: the peer's EOF closed the socket; a later write fails with ErrClosed")

	// allowHalfOpen: true
	peer2, err := sockettest.NewScripted(
		sockettest.Send("bye\n"),
		sockettest.CloseWrite(),
		sockettest.ExpectLine("late reply"),
		sockettest.ExpectEOF(),
	)
	if err != nil {
		return err
	}
	defer peer2.Close()
	s2, err := sockets.Connect(ctx, peer2.Addr(), with(opts(), true))
	if err != nil {
		return err
	}
	defer s2.Close()
	if got, err := io.ReadAll(s2); err != nil || string(got) != "bye\n" {
		return fmt.Errorf("allowHalfOpen true: read %q, %v; want \"bye\\n\" then EOF", got, err)
	}
	select {
	case <-s2.Closed():
		return errors.New("allowHalfOpen true: the socket closed at the peer's EOF; it should stay writable")
	default:
	}
	if _, err := io.WriteString(s2, "late reply\n"); err != nil {
		return fmt.Errorf("allowHalfOpen true: writing after the peer's EOF: %w", err)
	}
	if err := s2.CloseWrite(); err != nil {
		return err
	}
	if err := waitClosed(ctx, s2); err != nil {
		return fmt.Errorf("allowHalfOpen true: after CloseWrite: %w", err)
	}
	<-peer2.Done()
	if errs := peer2.Errs(); len(errs) > 0 {
		return fmt.Errorf("allowHalfOpen true: the peer: %v", errs[0])
	}
	fmt.Fprintln(stdout, "allowHalfOpen true: wrote after the peer's EOF; the socket closed once both sides were done")

	// Our side half-closes first: the echo still comes back in full.
	echo, err := sockettest.NewEcho()
	if err != nil {
		return err
	}
	defer echo.Close()
	s3, err := sockets.Connect(ctx, echo.Addr(), opts())
	if err != nil {
		return err
	}
	defer s3.Close()
	if _, err := io.WriteString(s3, "ping\n"); err != nil {
		return err
	}
	if err := s3.Writable().Close(); err != nil {
		return err
	}
	got, err := io.ReadAll(bufio.NewReader(s3))
	if err != nil || string(got) != "ping\n" {
		return fmt.Errorf("after CloseWrite, the echo read %q, %v; want \"ping\\n\" then EOF", got, err)
	}
	if err := waitClosed(ctx, s3); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "CloseWrite on our side: the echo still came back in full, then EOF")
	return nil
}

// waitClosed waits for Closed and checks that the ending was clean.
func waitClosed(ctx context.Context, s *sockets.Socket) error {
	select {
	case <-s.Closed():
	case <-ctx.Done():
		return errors.New("Closed() did not fire")
	}
	if err := s.Err(); err != nil {
		return fmt.Errorf("closed with error %w, want a clean ending", err)
	}
	return nil
}

// with sets AllowHalfOpen on o.
func with(o *sockets.Options, allowHalfOpen bool) *sockets.Options {
	o.AllowHalfOpen = allowHalfOpen
	return o
}
