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
// connections).
//
// paho.golang writes a packet as several buffers (fixed header, variable
// header, payload); a *net.TCPConn sends them with one writev, a wrapped
// connection with one write each. Between Lock and Unlock, Conn gathers the
// packet's writes and sends them to the socket as one write when Unlock is
// called (pieces over 64 KiB go straight through, in order). So an error
// from that write cannot be returned by the Write calls that were gathered:
// it is returned by the next Write instead, and the socket is closed so that
// the client's reader sees the connection end (for a reset or a broken
// pipe, the socket's Err tells why). Writes outside Lock and Unlock go
// straight to the socket. Reads always do.
//
// A Conn is safe for concurrent use. [Conn.Socket] gives the socket itself,
// for its Closed channel, Err and TLS state.
type Conn struct {
	s  *sockets.Socket
	mu sync.Mutex // Lock and Unlock: one packet at a time

	bmu    sync.Mutex // guards the fields below
	locked bool       // between Lock and Unlock: gather writes
	buf    []byte
	werr   error // a failed gathered write, returned by the next Write
}

var (
	_ net.Conn    = (*Conn)(nil)
	_ sync.Locker = (*Conn)(nil)
)

const (
	gatherMax  = 64 << 10 // larger writes go straight to the socket
	gatherKeep = 16 << 10 // a larger buffer is dropped after use
)

func newConn(s *sockets.Socket) *Conn { return &Conn{s: s} }

// Socket returns the socket under c.
func (c *Conn) Socket() *sockets.Socket { return c.s }

// Lock takes the write lock that keeps an MQTT packet's writes together;
// writes until Unlock are gathered and sent as one.
func (c *Conn) Lock() {
	c.mu.Lock()
	c.bmu.Lock()
	c.locked = true
	c.bmu.Unlock()
}

// Unlock sends the writes gathered since Lock and releases the write lock.
func (c *Conn) Unlock() {
	c.bmu.Lock()
	c.locked = false
	c.flushLocked()
	c.bmu.Unlock()
	c.mu.Unlock()
}

// flushLocked sends the gathered bytes; c.bmu is held.
func (c *Conn) flushLocked() {
	if len(c.buf) == 0 {
		return
	}
	if c.werr == nil {
		if _, err := c.s.Write(c.buf); err != nil {
			c.failLocked(err)
		}
	}
	if cap(c.buf) > gatherKeep {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
}

// failLocked records a failed gathered write and closes the socket: part of
// a packet may have been sent, so the stream cannot go on.
func (c *Conn) failLocked(err error) {
	c.werr = err
	c.s.Close()
}

// Read reads from the socket; see [sockets.Socket.Read].
func (c *Conn) Read(b []byte) (int, error) { return c.s.Read(b) }

// Write writes to the socket; see [sockets.Socket.Write]. Between Lock and
// Unlock it gathers b to be sent by Unlock (see [Conn]).
func (c *Conn) Write(b []byte) (int, error) {
	c.bmu.Lock()
	if err := c.werr; err != nil {
		c.bmu.Unlock()
		return 0, err
	}
	if !c.locked {
		c.bmu.Unlock()
		return c.s.Write(b)
	}
	defer c.bmu.Unlock()
	if len(c.buf)+len(b) <= gatherMax {
		c.buf = append(c.buf, b...)
		return len(b), nil
	}
	// Too large to gather: send what is gathered, then b itself.
	c.flushLocked()
	if c.werr != nil {
		return 0, c.werr
	}
	n, err := c.s.Write(b)
	if err != nil {
		c.failLocked(err)
	}
	return n, err
}

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
