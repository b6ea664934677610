package telemetry

import (
	"context"
	"net"
	"sync/atomic"
	"syscall"
)

// conn counts the bytes that cross a connection and the connection's end.
// It keeps the methods outbound and drivers look for on a transport:
// CloseWrite (half-close) and SyscallConn (a pool's liveness check).
type conn struct {
	net.Conn
	t      *Telemetry
	closed atomic.Bool
}

func newConn(c net.Conn, t *Telemetry) net.Conn {
	tc := &conn{Conn: c, t: t}
	if _, ok := c.(syscall.Conn); ok {
		return &sysConn{tc}
	}
	return tc
}

func (c *conn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.t.bytes.Add(context.Background(), int64(n), dirReceive)
	}
	return n, err
}

func (c *conn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.t.bytes.Add(context.Background(), int64(n), dirTransmit)
	}
	return n, err
}

func (c *conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.t.open.Add(context.Background(), -1)
	}
	return c.Conn.Close()
}

// CloseWrite half-closes the connection when the transport can.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// sysConn is a conn whose transport has a descriptor.
type sysConn struct{ *conn }

func (c *sysConn) SyscallConn() (syscall.RawConn, error) {
	return c.Conn.(syscall.Conn).SyscallConn()
}
