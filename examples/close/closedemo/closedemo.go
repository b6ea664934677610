// Package closedemo is the close example, run by `go run ./examples/close` and by
// the tour. It is the "Close TCP connections" example of the Cloudflare
// Workers "TCP sockets" page, in Go: after a socket is closed, reading from
// it fails, with an error that says so.
//
//	go run ./examples/close                      # against an in-process echo server
//	go run ./examples/close -addr tcpbin.com:4242  # against a real echo server
//
// The Workers docs show it in JavaScript:
//
//	const socket = connect({ hostname: "my-url.com", port: 70 });
//	const reader = socket.readable.getReader();
//	socket.close();
//	// After close() is called, you can no longer read from the readable stream.
//	await reader.read(); // rejects
//
// In Go the closed socket's Read returns an error that matches both
// net.ErrClosed (as every closed net.Conn does) and sockets.ErrClosed.
package closedemo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("close")
	addr := fs.String("addr", "", "`host:port` of a real echo server (default: start an in-process one)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()
	if *addr == "" {
		echo, err := sockettest.NewEcho()
		if err != nil {
			return err
		}
		defer echo.Close()
		*addr = echo.Addr()
		fmt.Fprintln(stdout, "started an in-process echo server")
	}

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	// connect(address): the socket starts pending; Opened waits for it.
	socket, err := sockets.Connect(ctx, *addr, fs.Options())
	if err != nil {
		return err
	}
	defer socket.Close() // a second Close is harmless: Close is idempotent
	if _, err := socket.Opened(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "connected to %s\n", *addr)

	// Some traffic first, so there is something to close: write a line and
	// read the echo back.
	socket.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(socket, "hello\n"); err != nil {
		return err
	}
	buf := make([]byte, 64)
	n, err := socket.Read(buf)
	if err != nil {
		return fmt.Errorf("reading the echo: %w", err)
	}
	fmt.Fprintf(stdout, "wrote %q, read back %q\n", "hello\n", buf[:n])

	// const reader = socket.readable.getReader(): the readable side.
	reader := socket.Readable()

	// socket.close(): closes both directions and fires closed.
	if err := socket.Close(); err != nil {
		return err
	}
	select {
	case <-socket.Closed():
		fmt.Fprintf(stdout, "closed: Closed() has fired, Err() = %v (a clean close)\n", socket.Err())
	case <-ctx.Done():
		return errors.New("Closed() did not fire after Close")
	}

	// await reader.read(): fails, because the socket is closed.
	_, err = reader.Read(buf)
	if err == nil {
		return errors.New("reading after Close succeeded; it should fail")
	}
	fmt.Fprintf(stdout, "read after Close: %v\n", err)
	fmt.Fprintf(stdout, "errors.Is(err, net.ErrClosed) = %t\n", errors.Is(err, net.ErrClosed))
	fmt.Fprintf(stdout, "errors.Is(err, sockets.ErrClosed) = %t\n", errors.Is(err, sockets.ErrClosed))

	// Writing fails the same way, and closing again is not an error.
	_, werr := socket.Write([]byte("too late"))
	fmt.Fprintf(stdout, "write after Close: %v\n", werr)
	fmt.Fprintf(stdout, "Close again: %v\n", socket.Close())
	return nil
}
