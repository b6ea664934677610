package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// demoStartTLS is examples/starttls: a line protocol that upgrades with
// STARTTLS (HELLO, STARTTLS, the upgrade, then PING and PONG over TLS)
// against an in-process server whose certificate comes from a throwaway CA.
// After the upgrade, a read still waiting on the old socket fails, the old
// socket's Closed fires cleanly, and the new socket reports TLS.
func demoStartTLS(ctx context.Context, e *env) error {
	ca, err := sockettest.NewCA()
	if err != nil {
		return err
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		return err
	}
	srv, err := sockettest.NewScripted(
		sockettest.ExpectLine("HELLO outbound"),
		sockettest.Send("HELLO outbound, STARTTLS available\r\n"),
		sockettest.ExpectLine("STARTTLS"),
		sockettest.Send("GO AHEAD\r\n"),
		sockettest.StartTLS(cfg),
		sockettest.ExpectLine("PING"),
		sockettest.Send("PONG\r\n"),
	)
	if err != nil {
		return err
	}
	defer srv.Close()

	socket, err := sockets.Connect(ctx, srv.Addr(), &sockets.Options{
		SecureTransport: sockets.SecureTransportStartTLS,
		TLSConfig:       &tls.Config{RootCAs: ca.Pool()},
	})
	if err != nil {
		return err
	}
	defer socket.Close()
	plain := bufio.NewReader(socket)
	if err := say(socket, plain, "HELLO outbound", "HELLO outbound, STARTTLS available"); err != nil {
		return err
	}
	if err := say(socket, plain, "STARTTLS", "GO AHEAD"); err != nil {
		return err
	}
	if plain.Buffered() != 0 {
		return errors.New("the server sent data after GO AHEAD, before the handshake; refusing to upgrade")
	}

	oldRead := make(chan error, 1)
	go func() {
		_, err := socket.Read(make([]byte, 1))
		oldRead <- err
	}()
	secure, err := socket.StartTLS(nil)
	if err != nil {
		return err
	}
	defer secure.Close()

	if err := <-oldRead; !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("the old socket's reader got %v after the upgrade, want an error matching net.ErrClosed", err)
	}
	select {
	case <-socket.Closed():
	case <-ctx.Done():
		return errors.New("the old socket's Closed() did not fire after StartTLS")
	}
	if err := socket.Err(); err != nil || !socket.Upgraded() {
		return fmt.Errorf("old socket: Err() = %v, Upgraded() = %t; want nil and true", err, socket.Upgraded())
	}
	if _, err := secure.Opened(ctx); err != nil {
		return err
	}
	state := secure.ConnectionState()
	if !state.HandshakeComplete {
		return errors.New("the upgraded socket reports no TLS state")
	}
	e.step("upgraded to %s; the old socket closed cleanly and its reader failed", tls.VersionName(state.Version))
	return say(secure, bufio.NewReader(secure), "PING", "PONG")
}

// say sends one line and checks the reply line.
func say(w io.Writer, r *bufio.Reader, send, want string) error {
	if _, err := io.WriteString(w, send+"\r\n"); err != nil {
		return err
	}
	line, err := r.ReadString('\n')
	if err != nil {
		return fmt.Errorf("waiting for %q: %w", want, err)
	}
	if got := strings.TrimRight(line, "\r\n"); got != want {
		return fmt.Errorf("the server answered %q to %s, want %q", got, send, want)
	}
	return nil
}
