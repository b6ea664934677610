package capture

import (
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/outboundhq/outbound/sockets"
)

// A Trace writes what crosses every socket it is a Layer of as text, for a
// terminal or a file (`2>trace.txt`): one numbered line per event, each
// direction marked ("> " sent, "< " received) and timestamped, with a
// hexdump and ASCII of the bytes. For sockets that do TLS themselves
// (SecureTransport "on", StartTLS) it shows the plaintext; for TLS a driver
// does over a plain socket it can only show the records as they crossed.
//
//	15:04:05.000001 #1 connected to 127.0.0.1:5432 from 127.0.0.1:50112 ("localhost:5432")
//	15:04:05.000102 #1 > 8 bytes
//	  00000000  00 00 00 08 04 d2 16 2f                           |......./|
//
// A Trace is safe for concurrent use by any number of sockets; lines of
// different sockets interleave whole. Close stops it.
type Trace struct {
	mu     sync.Mutex
	w      io.Writer
	closed bool
	next   atomic.Int64
}

var (
	_ sockets.Layer    = (*Trace)(nil)
	_ sockets.TLSLayer = (*Trace)(nil)
)

// NewTrace returns a Trace that writes to w (os.Stderr, say). Write errors
// are ignored: a trace never fails a socket.
func NewTrace(w io.Writer) *Trace { return &Trace{w: w} }

// Close stops the trace; it does not close the writer. Sockets may keep
// running: nothing more is written for them.
func (t *Trace) Close() error {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	return nil
}

// Dial implements [sockets.Layer].
func (t *Trace) Dial(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error) {
	id := t.next.Add(1)
	conn, err := next(ctx)
	if err != nil {
		t.printf(id, "connect to %q failed: %v", a.String(), err)
		return nil, err
	}
	t.printf(id, "connected to %s from %s (%q)", addrString(conn.RemoteAddr()), addrString(conn.LocalAddr()), a.String())
	return &traceConn{Conn: conn, t: t, id: id}, nil
}

// HandshakeTLS implements [sockets.TLSLayer]: from the handshake on, the
// trace shows the socket's plaintext instead of the TLS records.
func (t *Trace) HandshakeTLS(conn net.Conn, cfg *tls.Config) func(net.Conn) net.Conn {
	tc, ok := conn.(*traceConn)
	if !ok {
		return nil
	}
	tc.tls.Store(true)
	tc.hsOut.Store(0)
	tc.hsIn.Store(0)
	t.printf(tc.id, "TLS handshake, server name %q", cfg.ServerName)
	return func(plain net.Conn) net.Conn {
		var state string
		if cs, ok := plain.(interface{ ConnectionState() tls.ConnectionState }); ok {
			st := cs.ConnectionState()
			state = tls.VersionName(st.Version) + ", " + tls.CipherSuiteName(st.CipherSuite)
			if st.NegotiatedProtocol != "" {
				state += fmt.Sprintf(", ALPN %q", st.NegotiatedProtocol)
			}
		}
		t.printf(tc.id, "TLS up: %s (handshake: %d bytes sent, %d received); plaintext follows", state, tc.hsOut.Load(), tc.hsIn.Load())
		return &tracePlain{Conn: plain, c: tc}
	}
}

func addrString(a net.Addr) string {
	if a == nil {
		return "?"
	}
	return a.String()
}

// printf writes one event line for socket id.
func (t *Trace) printf(id int64, format string, args ...any) {
	t.write(id, fmt.Sprintf(format, args...), nil)
}

// write writes one event line and, when data is not nil, its hexdump.
func (t *Trace) write(id int64, event string, data []byte) {
	var b strings.Builder
	b.WriteString(time.Now().Format("15:04:05.000000"))
	fmt.Fprintf(&b, " #%d %s\n", id, event)
	if len(data) > 0 {
		for line := range strings.Lines(hex.Dump(data)) {
			b.WriteString("  ")
			b.WriteString(line)
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.closed {
		io.WriteString(t.w, b.String())
	}
}

// traceConn traces the bytes on the wire until TLS starts, then counts them.
type traceConn struct {
	net.Conn
	t           *Trace
	id          int64
	tls         atomic.Bool
	hsOut, hsIn atomic.Int64 // TLS bytes while the trace shows plaintext
	sent, recvd atomic.Int64 // everything on the wire
	closeOnce   sync.Once
}

func (c *traceConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.recvd.Add(int64(n))
	if c.tls.Load() {
		c.hsIn.Add(int64(n))
	} else if n > 0 {
		c.t.write(c.id, plural("< %d byte", n), b[:n])
	}
	c.traceErr("read", err)
	return n, err
}

func (c *traceConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.sent.Add(int64(n))
	if c.tls.Load() {
		c.hsOut.Add(int64(n))
	} else if n > 0 {
		c.t.write(c.id, plural("> %d byte", n), b[:n])
	}
	c.traceErr("write", err)
	return n, err
}

func (c *traceConn) traceErr(op string, err error) {
	switch {
	case err == nil:
	case err == io.EOF:
		c.t.printf(c.id, "< EOF")
	case errors.Is(err, net.ErrClosed):
		// this end closed it: Close says so
	default:
		c.t.printf(c.id, "%s: %v", op, err)
	}
}

// CloseWrite shuts the write side, when the connection has one.
func (c *traceConn) CloseWrite() error {
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok {
		return nil
	}
	err := cw.CloseWrite()
	if err == nil {
		c.t.printf(c.id, "> FIN (write side closed)")
	}
	return err
}

func (c *traceConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() {
		c.t.printf(c.id, "closed: %d bytes sent, %d received on the wire", c.sent.Load(), c.recvd.Load())
	})
	return err
}

// NetConn returns the connection below (see capConn.NetConn).
func (c *traceConn) NetConn() net.Conn { return c.Conn }

// SyscallConn gives the descriptor of the connection below (see
// capConn.SyscallConn).
func (c *traceConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.New("capture: the connection has no descriptor")
}

// tracePlain traces the plaintext of a TLS socket.
type tracePlain struct {
	net.Conn
	c *traceConn
}

func (p *tracePlain) Read(b []byte) (int, error) {
	n, err := p.Conn.Read(b)
	if n > 0 {
		p.c.t.write(p.c.id, plural("< %d byte", n)+" (TLS plaintext)", b[:n])
	}
	p.c.traceErr("read", err)
	return n, err
}

func (p *tracePlain) Write(b []byte) (int, error) {
	n, err := p.Conn.Write(b)
	if n > 0 {
		p.c.t.write(p.c.id, plural("> %d byte", n)+" (TLS plaintext)", b[:n])
	}
	p.c.traceErr("write", err)
	return n, err
}

// ConnectionState reports the TLS state of the connection below.
func (p *tracePlain) ConnectionState() tls.ConnectionState {
	if cs, ok := p.Conn.(interface{ ConnectionState() tls.ConnectionState }); ok {
		return cs.ConnectionState()
	}
	return tls.ConnectionState{}
}

func plural(format string, n int) string {
	s := fmt.Sprintf(format, n)
	if n != 1 {
		s += "s"
	}
	return s
}
