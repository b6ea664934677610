package mysql

import (
	"context"
	"net"
	"sync"
	"syscall"

	"github.com/outboundhq/outbound/sockets"
)

// The driver checks an idle connection before database/sql reuses it
// (Config.CheckConnLiveness, on by default) with a non-blocking read on the
// connection's file descriptor, which it reaches through syscall.Conn. A
// connection that is not a syscall.Conn is never checked, so a connection the
// server closed while idle would fail the next query with "invalid
// connection" instead of being replaced.
//
// *sockets.Socket does not implement syscall.Conn. Where the caller's
// Options.Dial opens the TCP connection, this package wraps that Dial to
// keep the connection it returns and hands the driver a conn whose
// SyscallConn reaches it. Without a caller's Dial it cannot do that: setting
// Options.Dial changes what the socket layer does (the egress policy leaves
// the address checks of a hostname to Dial, and Dial excludes Proxy), so the
// socket is returned as it is and the driver skips the check. Should
// *sockets.Socket implement syscall.Conn itself, the socket is always
// returned as it is and none of this runs.

// socketHasSyscallConn reports whether *sockets.Socket is a syscall.Conn.
var socketHasSyscallConn = func() bool {
	_, ok := any((*sockets.Socket)(nil)).(syscall.Conn)
	return ok
}()

// conn is an open plain socket with a way to its file descriptor for the
// driver's liveness check. Everything else is the socket's.
type conn struct {
	*sockets.Socket
	raw syscall.Conn
}

var (
	_ net.Conn     = (*conn)(nil)
	_ syscall.Conn = (*conn)(nil)
)

// newConn returns s, or s wrapped with raw's file descriptor when there is one.
func newConn(s *sockets.Socket, raw net.Conn) net.Conn {
	sc, ok := raw.(syscall.Conn)
	if !ok {
		return s
	}
	return &conn{Socket: s, raw: sc}
}

// SyscallConn gives the file descriptor of the TCP connection under the
// socket. The driver only peeks at it, while the connection is idle.
func (c *conn) SyscallConn() (syscall.RawConn, error) { return c.raw.SyscallConn() }

// rawCapture records the transport that a socket's Options.Dial opened.
type rawCapture struct {
	mu  sync.Mutex
	raw net.Conn
}

// options returns a copy of o whose Dial, o.Dial wrapped, records the
// connection it opens. o.Dial must not be nil.
func (r *rawCapture) options(o *sockets.Options) *sockets.Options {
	c := *o
	next := o.Dial
	c.Dial = func(ctx context.Context, network, address string) (net.Conn, error) {
		nc, err := next(ctx, network, address)
		if err == nil {
			r.mu.Lock()
			r.raw = nc
			r.mu.Unlock()
		}
		return nc, err
	}
	return &c
}

func (r *rawCapture) conn() net.Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.raw
}
