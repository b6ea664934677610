package capture

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/outboundhq/outbound/sockets"
)

// A Capture writes the traffic of every socket it is a Layer of to one
// pcapng stream: one TCP flow per connection, TLS session secrets included.
// Put it in [sockets.Options.Layers] (directly, or through a
// dialers.Dialer's Options). It is safe for concurrent use by any number
// of sockets; Close may be called while they still run, and what they send
// afterwards is not recorded.
type Capture struct {
	mu      sync.Mutex
	w       *bufio.Writer
	file    io.Closer // the file Create opened, or nil
	buf     []byte    // scratch for one block
	err     error     // the first write error: nothing more is written
	closed  bool
	held    map[[32]byte]*flow // flows holding their packets until their TLS secrets come
	flows   map[*flow]struct{} // open flows, finished on Close
	partial []byte             // a key log line not yet ended by '\n'
}

var (
	_ sockets.Layer    = (*Capture)(nil)
	_ sockets.TLSLayer = (*Capture)(nil)
)

// New starts a capture that writes pcapng to w. It writes the file header
// at once and returns its error. Close flushes what is buffered; it does
// not close w.
func New(w io.Writer) (*Capture, error) {
	c := &Capture{
		w:     bufio.NewWriterSize(w, 64<<10),
		held:  make(map[[32]byte]*flow),
		flows: make(map[*flow]struct{}),
	}
	c.w.Write(header())
	if err := c.w.Flush(); err != nil {
		return nil, err
	}
	return c, nil
}

// Create starts a capture into the file name (created or truncated). Close
// closes the file.
func Create(name string) (*Capture, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	c, err := New(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	c.file = f
	return c, nil
}

// Close writes out the packets held back for TLS secrets, flushes the
// stream and, for [Create], closes the file. Sockets may keep running: their later traffic is not
// recorded. A second Close returns nil.
func (c *Capture) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	for f := range c.flows {
		f.releaseLocked()
	}
	c.closed = true
	c.held, c.flows = nil, nil
	if c.err == nil {
		c.err = c.w.Flush()
	}
	err := c.err
	if c.file != nil {
		if cerr := c.file.Close(); err == nil {
			err = cerr
		}
	}
	if errors.Is(err, errClosed) {
		err = nil
	}
	c.err = errClosed
	return err
}

var errClosed = errors.New("capture: closed")

// Dial implements [sockets.Layer]: it records the connection next opens as
// a TCP flow, starting with a synthesised three-way handshake.
func (c *Capture) Dial(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error) {
	conn, err := next(ctx)
	if err != nil {
		return nil, err
	}
	local, remote := endpoints(conn, a)
	f := &flow{c: c, ends: [2]netip.AddrPort{local, remote}}
	f.seq[0], f.seq[1] = rand.Uint32(), rand.Uint32()
	c.mu.Lock()
	if c.live() {
		c.flows[f] = struct{}{}
		f.handshakeLocked(time.Now())
	} else {
		f.done = true
	}
	c.mu.Unlock()
	return &capConn{Conn: conn, f: f}, nil
}

// HandshakeTLS implements [sockets.TLSLayer]: the socket's TLS session
// secrets go into the capture, so tools that read it decrypt the flow. A
// KeyLogWriter already in the configuration keeps getting them too. A
// connection closed before its handshake succeeded ends with an RST.
func (c *Capture) HandshakeTLS(conn net.Conn, cfg *tls.Config) func(net.Conn) net.Conn {
	if cfg.KeyLogWriter != nil {
		cfg.KeyLogWriter = io.MultiWriter(c.KeyLogWriter(), cfg.KeyLogWriter)
	} else {
		cfg.KeyLogWriter = c.KeyLogWriter()
	}
	cc, ok := conn.(*capConn)
	if !ok {
		return nil
	}
	cc.f.handshaking(true)
	return func(plain net.Conn) net.Conn {
		cc.f.handshaking(false)
		return plain
	}
}

// KeyLogWriter returns a writer for [tls.Config.KeyLogWriter] that puts the
// secrets into the capture as Decryption Secrets Blocks. Sockets that do
// TLS themselves (SecureTransport "on", StartTLS) get it automatically;
// give it to the configuration of a driver that does TLS over a plain
// socket (pgx, go-sql-driver/mysql, net/http, go-smtp's STARTTLS) to
// decrypt that too.
//
// The packets of a captured connection that sends a TLS ClientHello are
// held back until the key log has named that handshake's secrets (or for
// at most 5 seconds, or 1 MiB), so that the secrets come first in the file,
// where Wireshark needs them.
func (c *Capture) KeyLogWriter() io.Writer { return keyLog{c} }

type keyLog struct{ c *Capture }

func (k keyLog) Write(p []byte) (int, error) {
	c := k.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live() {
		return len(p), nil
	}
	c.partial = append(c.partial, p...)
	end := bytes.LastIndexByte(c.partial, '\n')
	if end < 0 {
		if len(c.partial) > 64<<10 {
			c.partial = c.partial[:0] // not a key log
		}
		return len(p), nil
	}
	lines := c.partial[:end+1]
	c.writeLocked(appendDSB(c.buf[:0], lines))
	for line := range bytes.Lines(lines) {
		c.secretLocked(line)
	}
	c.partial = append(c.partial[:0], c.partial[end+1:]...)
	return len(p), nil
}

// secretLocked notes one key log line ("LABEL clientrandom secret") for the
// flow whose handshake it belongs to, releasing its packets once the
// secrets that decrypt the rest of the session are in the file.
func (c *Capture) secretLocked(line []byte) {
	label, rest, ok := bytes.Cut(bytes.TrimSpace(line), []byte(" "))
	if !ok {
		return
	}
	hexRandom, _, _ := bytes.Cut(rest, []byte(" "))
	var random [32]byte
	if n, err := hex.Decode(random[:], hexRandom); err != nil || n != 32 {
		return
	}
	f := c.held[random]
	if f == nil {
		return
	}
	switch string(label) {
	case "CLIENT_RANDOM": // TLS 1.2: the one secret there is
		f.releaseLocked()
	case "CLIENT_TRAFFIC_SECRET_0":
		f.secrets |= 1
	case "SERVER_TRAFFIC_SECRET_0":
		f.secrets |= 2
	}
	if f.secrets == 3 { // TLS 1.3: the handshake's secrets came before these
		f.releaseLocked()
	}
}

// live reports whether the capture still records.
func (c *Capture) live() bool { return c.err == nil }

// writeLocked writes one block.
func (c *Capture) writeLocked(b []byte) {
	c.buf = b[:0]
	if c.err != nil {
		return
	}
	if _, err := c.w.Write(b); err != nil {
		c.err = err
	}
}

// endpoints returns the local and remote address of conn, or made-up ones
// of the right family when conn is not an IP connection.
func endpoints(conn net.Conn, a sockets.Address) (local, remote netip.AddrPort) {
	local, lok := addrPort(conn.LocalAddr())
	remote, rok := addrPort(conn.RemoteAddr())
	if lok && rok && local.Addr().Is4() == remote.Addr().Is4() {
		return local, remote
	}
	ip, err := netip.ParseAddr(a.Hostname)
	if err != nil {
		ip = netip.AddrFrom4([4]byte{192, 0, 2, 1}) // TEST-NET-1: a name we cannot place
	}
	ip = ip.Unmap()
	remote = netip.AddrPortFrom(ip, uint16(a.Port))
	lip := netip.AddrFrom4([4]byte{127, 0, 0, 1})
	if ip.Is6() {
		lip = netip.IPv6Loopback()
	}
	return netip.AddrPortFrom(lip, uint16(49152+rand.IntN(16384))), remote
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	if a == nil {
		return netip.AddrPort{}, false
	}
	var ap netip.AddrPort
	switch a := a.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	default:
		var err error
		if ap, err = netip.ParseAddrPort(a.String()); err != nil {
			return netip.AddrPort{}, false
		}
	}
	if !ap.IsValid() {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port()), true
}
