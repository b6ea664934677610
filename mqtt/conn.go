package mqtt

import (
	"net"
	"sync"
	"time"

	"github.com/outboundhq/outbound/sockets"
)

// Conn is an open outbound socket prepared for paho.golang (MQTT 5): it is a
// [net.Conn] that also implements [sync.Locker], which paho.golang's packet
// writer takes around each packet, so that packets written by different
// goroutines never interleave (what packets.NewThreadSafeConn does for other
// connections). Reads and writes go straight to the socket.
//
// A Conn is safe for concurrent use. [Conn.Socket] gives the socket itself,
// for its Closed channel, Err and TLS state.
type Conn struct {
	s  *sockets.Socket
	mu sync.Mutex
}

var (
	_ net.Conn    = (*Conn)(nil)
	_ sync.Locker = (*Conn)(nil)
)

func newConn(s *sockets.Socket) *Conn { return &Conn{s: s} }

// Socket returns the socket under c.
func (c *Conn) Socket() *sockets.Socket { return c.s }

// Lock takes the write lock that serialises whole MQTT packets.
func (c *Conn) Lock() { c.mu.Lock() }

// Unlock releases the write lock taken by Lock.
func (c *Conn) Unlock() { c.mu.Unlock() }

// Read reads from the socket; see [sockets.Socket.Read].
func (c *Conn) Read(b []byte) (int, error) { return c.s.Read(b) }

// Write writes to the socket; see [sockets.Socket.Write].
func (c *Conn) Write(b []byte) (int, error) { return c.s.Write(b) }

// Close closes the socket; see [sockets.Socket.Close].
func (c *Conn) Close() error { return c.s.Close() }

// LocalAddr returns the socket's local address.
func (c *Conn) LocalAddr() net.Addr { return c.s.LocalAddr() }

// RemoteAddr returns the broker's address.
func (c *Conn) RemoteAddr() net.Addr { return c.s.RemoteAddr() }

// SetDeadline sets the socket's read and write deadlines; see [net.Conn].
func (c *Conn) SetDeadline(t time.Time) error { return c.s.SetDeadline(t) }

// SetReadDeadline sets the socket's read deadline; see [net.Conn].
func (c *Conn) SetReadDeadline(t time.Time) error { return c.s.SetReadDeadline(t) }

// SetWriteDeadline sets the socket's write deadline; see [net.Conn].
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.s.SetWriteDeadline(t) }
