package dialers

import (
	"net"
	"syscall"

	"github.com/outboundhq/outbound/sockets"
)

// WithDescriptor returns s with a SyscallConn method when s is an open plain
// socket, and s itself otherwise. Connection pools that check an idle
// connection's health through [syscall.Conn] (go-sql-driver/mysql,
// go-redis) then run their check on plain sockets, and skip it on TLS
// sockets, as they do for a *tls.Conn. Use [SocketOf] to get s back.
func WithDescriptor(s *sockets.Socket) net.Conn {
	if _, err := s.RawConn(); err != nil {
		return s
	}
	return descConn{s}
}

// descConn is a plain socket that exposes its descriptor as syscall.Conn.
type descConn struct{ *sockets.Socket }

var _ syscall.Conn = descConn{}

// SyscallConn returns the descriptor of the TCP connection under the socket.
func (c descConn) SyscallConn() (syscall.RawConn, error) { return c.Socket.RawConn() }

// SocketOf returns the socket under c: a *sockets.Socket itself, one wrapped
// by [WithDescriptor], or any connection with a Socket() *sockets.Socket
// method. ok is false for any other net.Conn.
func SocketOf(c net.Conn) (s *sockets.Socket, ok bool) {
	switch c := c.(type) {
	case *sockets.Socket:
		return c, c != nil
	case descConn:
		return c.Socket, true
	case interface{ Socket() *sockets.Socket }:
		s := c.Socket()
		return s, s != nil
	}
	return nil, false
}
