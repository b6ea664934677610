package sshdial

import (
	"context"
	"fmt"
	"net"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/outboundhq/outbound/dialers"
)

// Dial opens an outbound socket to addr with d (nil means the zero
// Dialer) and runs the SSH client handshake over it with cfg, as [ssh.Dial]
// does over a net.Conn. addr is also the name given to cfg.HostKeyCallback,
// so known_hosts entries for "[host]:port" match.
//
// ctx bounds the connect and the handshake, not the client's life: once Dial
// returns, cancelling ctx has no effect. cfg.Timeout, when set, bounds the
// connect alone, as in ssh.Dial. A scope in ctx ([sockets.WithScope]) owns
// the socket: ending the scope closes the client. The returned client is
// the caller's to Close.
func Dial(ctx context.Context, d *dialers.Dialer, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	if cfg == nil {
		return nil, fmt.Errorf("sshdial: dial %s: nil *ssh.ClientConfig; give a User, Auth methods and a HostKeyCallback", addr)
	}
	if d == nil {
		d = &dialers.Dialer{}
	}
	dialCtx := ctx
	if cfg.Timeout > 0 {
		var cancel context.CancelFunc
		dialCtx, cancel = context.WithTimeout(ctx, cfg.Timeout)
		defer cancel()
	}
	conn, err := d.DialContext(dialCtx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return NewClient(ctx, conn, addr, cfg)
}

// NewClient runs the SSH client handshake over conn, an open connection such
// as a [sockets.Socket], and returns the client. addr is the name given to
// cfg.HostKeyCallback ("host:port"). ctx bounds the handshake only.
// On failure conn is closed; on success it belongs to the client, whose
// Close closes it.
func NewClient(ctx context.Context, conn net.Conn, addr string, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	if cfg == nil {
		conn.Close()
		return nil, fmt.Errorf("sshdial: handshake with %s: nil *ssh.ClientConfig; give a User, Auth methods and a HostKeyCallback", addr)
	}
	// x/crypto/ssh has no context: a deadline in the past interrupts the
	// handshake's I/O when ctx is done.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if !stop() {
		// ctx ended during the handshake (or just after it succeeded).
		if err == nil {
			c.Close()
		} else {
			conn.Close()
		}
		return nil, fmt.Errorf("sshdial: handshake with %s: %w", addr, context.Cause(ctx))
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("sshdial: handshake with %s: %w", addr, err)
	}
	return ssh.NewClient(c, chans, reqs), nil
}
