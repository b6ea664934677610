package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// demoClose is examples/close, the Workers docs' "Close TCP connections"
// example: after socket.close(), reading from socket.readable fails, with an
// error that matches net.ErrClosed and sockets.ErrClosed; Closed fires with
// no error, and a second Close is harmless.
func demoClose(ctx context.Context, e *env) error {
	echo, err := sockettest.NewEcho()
	if err != nil {
		return err
	}
	defer echo.Close()

	socket, err := sockets.Connect(ctx, echo.Addr(), nil)
	if err != nil {
		return err
	}
	defer socket.Close()
	if _, err := io.WriteString(socket, "hello"); err != nil {
		return err
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(socket, buf); err != nil {
		return fmt.Errorf("reading the echo: %w", err)
	}

	reader := socket.Readable()
	socket.Close()
	select {
	case <-socket.Closed():
	case <-ctx.Done():
		return errors.New("Closed() did not fire after Close")
	}
	if err := socket.Err(); err != nil {
		return fmt.Errorf("Err() after Close = %v, want nil (a clean close)", err)
	}
	_, err = reader.Read(buf)
	if !errors.Is(err, net.ErrClosed) || !errors.Is(err, sockets.ErrClosed) {
		return fmt.Errorf("read after Close returned %v, want an error matching net.ErrClosed and sockets.ErrClosed", err)
	}
	e.step("read after Close: %v", err)
	if err := socket.Close(); err != nil {
		return fmt.Errorf("a second Close returned %v, want nil", err)
	}
	return nil
}
