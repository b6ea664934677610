package mqtt

import (
	"net"
	"sync"
	"sync/atomic"
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
// pipe, the socket's Err tells why). Writes while no goroutine holds the
// lock go straight to the socket. Reads always do.
//
// While a goroutine holds the lock, only that goroutine may write: this is
// how paho.golang uses it, and what any Locker-guarded connection needs for
// its packets to stay whole. (Guarding against other writers would cost each
// write two atomic operations, a measurable share of a small QoS 0 publish;
// the race detector reports such a writer.) Writes while no goroutine holds
// the lock, reads, Close and the deadline methods are safe for concurrent
// use. [Conn.Socket] gives the socket itself, for its Closed channel, Err
// and TLS state.
type Conn struct {
	s  *sockets.Socket
	mu sync.Mutex // Lock and Unlock: one packet at a time

	locked atomic.Bool           // a goroutine holds mu: gather its writes
	werr   atomic.Pointer[error] // a failed gathered write, returned by later writes
	buf    []byte                // owned by the goroutine holding mu
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
	c.locked.Store(true)
}

// Unlock sends the writes gathered since Lock and releases the write lock.
func (c *Conn) Unlock() {
	c.flush()
	c.locked.Store(false)
	c.mu.Unlock()
}

// flush sends the gathered bytes; the caller holds mu.
func (c *Conn) flush() {
	if len(c.buf) == 0 {
		return
	}
	if c.werr.Load() == nil {
		if _, err := c.s.Write(c.buf); err != nil {
			c.fail(err)
		}
	}
	if cap(c.buf) > gatherKeep {
		c.buf = nil
	} else {
		c.buf = c.buf[:0]
	}
}

// fail records a failed gathered write and closes the socket: part of a
// packet may have been sent, so the stream cannot go on.
func (c *Conn) fail(err error) {
	c.werr.Store(&err)
	c.s.Close()
}

// Read reads from the socket; see [sockets.Socket.Read].
func (c *Conn) Read(b []byte) (int, error) { return c.s.Read(b) }

// Write writes to the socket; see [sockets.Socket.Write]. Between Lock and
// Unlock it gathers b to be sent by Unlock (see [Conn]).
func (c *Conn) Write(b []byte) (int, error) {
	if e := c.werr.Load(); e != nil {
		return 0, *e
	}
	if !c.locked.Load() {
		return c.s.Write(b)
	}
	if len(c.buf)+len(b) <= gatherMax {
		c.buf = append(c.buf, b...)
		return len(b), nil
	}
	// Too large to gather: send what is gathered, then b itself.
	c.flush()
	if e := c.werr.Load(); e != nil {
		return 0, *e
	}
	n, err := c.s.Write(b)
	if err != nil {
		c.fail(err)
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
