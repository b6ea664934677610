package capture

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// Sides of a flow.
const (
	local  = 0 // this end: the client, which sent the SYN
	remote = 1 // the peer
)

const (
	// holdMax bounds the packets a flow holds back waiting for TLS secrets.
	holdMax = 1 << 20
	// holdFor bounds how long it holds them (checked as traffic passes).
	holdFor = 5 * time.Second
	// ackEvery is how many unacknowledged bytes one side may send before
	// the other side gets a pure ACK, so that tools see no window overrun.
	ackEvery = 1 << 20
)

// flow is the TCP flow of one captured connection. Its fields are guarded
// by the capture's mutex.
type flow struct {
	c      *Capture
	ends   [2]netip.AddrPort // local, remote
	seq    [2]uint32         // next sequence number of each side
	acked  [2]uint32         // the last ack each side sent
	ipID   [2]uint16
	fin    [2]bool // each side has sent FIN
	failed bool    // an I/O error other than EOF, a timeout or a local close
	tlsing bool    // the socket's TLS handshake has started and not yet succeeded
	done   bool    // ended (RST or closed): nothing more is recorded

	// TLS: packets held until the key log names this handshake's secrets.
	holding   bool
	random    [32]byte
	secrets   uint8 // TLS 1.3 traffic secrets seen: 1 client, 2 server
	held      []byte
	heldSince time.Time
}

// handshakeLocked records SYN, SYN-ACK and ACK.
func (f *flow) handshakeLocked(t time.Time) {
	f.segLocked(local, tcpSYN, nil, t)
	f.seq[local]++
	f.segLocked(remote, tcpSYN|tcpACK, nil, t)
	f.seq[remote]++
	f.segLocked(local, tcpACK, nil, t)
}

// segLocked records one segment from side, acknowledging all the other
// side has sent.
func (f *flow) segLocked(side int, flags uint8, payload []byte, t time.Time) {
	other := 1 - side
	seg := segment{src: f.ends[side], dst: f.ends[other], seq: f.seq[side], flags: flags, ipID: f.ipID[side], payload: payload, t: t}
	if flags&tcpACK != 0 {
		seg.ack = f.seq[other]
		f.acked[side] = seg.ack
	}
	f.ipID[side]++
	c := f.c
	if f.holding {
		f.held = appendEPB(f.held, &seg)
		return
	}
	c.writeLocked(appendEPB(c.buf[:0], &seg))
}

// data records b, sent by side, as segments of at most maxSegment bytes.
func (f *flow) data(side int, b []byte) {
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.done || !c.live() {
		return
	}
	t := time.Now()
	if side == local {
		f.sniffLocked(b, t)
	}
	if f.holding && (len(f.held) > holdMax || t.Sub(f.heldSince) > holdFor) {
		f.releaseLocked() // no secrets for this one
	}
	for len(b) > 0 {
		n := min(len(b), maxSegment)
		flags := uint8(tcpACK)
		if n == len(b) {
			flags |= tcpPSH
		}
		f.segLocked(side, flags, b[:n], t)
		f.seq[side] += uint32(n)
		b = b[n:]
		if other := 1 - side; f.seq[side]-f.acked[other] > ackEvery {
			f.segLocked(other, tcpACK, nil, t)
		}
	}
}

// sniffLocked starts holding the flow's packets when b is a TLS ClientHello
// (a handshake record whose first message is client_hello), keyed by its
// client random, which every key log line names.
func (f *flow) sniffLocked(b []byte, t time.Time) {
	// record: type 22, version 3.x, length; handshake: type 1, length (3),
	// client_version 3.x, random (32).
	if len(b) < 43 || b[0] != 22 || b[1] != 3 || b[5] != 1 || b[9] != 3 {
		return
	}
	var random [32]byte
	copy(random[:], b[11:43])
	c := f.c
	if f.holding {
		if f.random == random {
			return // a second ClientHello after a HelloRetryRequest
		}
		f.releaseLocked()
	}
	f.holding, f.random, f.secrets, f.heldSince = true, random, 0, t
	c.held[random] = f
}

// releaseLocked writes out the packets held for TLS secrets.
func (f *flow) releaseLocked() {
	if !f.holding {
		return
	}
	c := f.c
	f.holding = false
	if c.held[f.random] == f {
		delete(c.held, f.random)
	}
	if c.err == nil && len(f.held) > 0 {
		if _, err := c.w.Write(f.held); err != nil {
			c.err = err
		}
	}
	f.held = nil
}

// finLocked records side's FIN.
func (f *flow) finLocked(side int, t time.Time) {
	if f.fin[side] {
		return
	}
	f.segLocked(side, tcpFIN|tcpACK, nil, t)
	f.seq[side]++
	f.fin[side] = true
}

// ioErr records what an error from the connection says about the flow:
// the peer's FIN at EOF, its RST at a reset, a failure otherwise.
func (f *flow) ioErr(err error) {
	switch {
	case err == nil, errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, net.ErrClosed):
		return
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return
	}
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.done || !c.live() {
		return
	}
	t := time.Now()
	switch {
	case err == io.EOF:
		f.finLocked(remote, t)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		f.resetLocked(remote, t)
	default:
		f.failed = true
	}
}

// resetLocked records side's RST and ends the flow.
func (f *flow) resetLocked(side int, t time.Time) {
	f.releaseLocked()
	f.segLocked(side, tcpRST|tcpACK, nil, t)
	f.endLocked()
}

func (f *flow) endLocked() {
	f.done = true
	delete(f.c.flows, f)
}

// handshaking records that the socket's TLS handshake has started (on) or
// succeeded (off).
func (f *flow) handshaking(on bool) {
	f.c.mu.Lock()
	f.tlsing = on
	f.c.mu.Unlock()
}

// closeWrite records this end's FIN.
func (f *flow) closeWrite() {
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.done || !c.live() {
		return
	}
	f.finLocked(local, time.Now())
}

// close records the end of the connection: this end's FIN and the peer's
// ACK of it, or this end's RST after a failure.
func (f *flow) close() {
	c := f.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.done || !c.live() {
		return
	}
	t := time.Now()
	f.releaseLocked()
	if f.failed || f.tlsing {
		f.resetLocked(local, t)
	} else {
		f.finLocked(local, t)
		if f.acked[remote] != f.seq[local] {
			f.segLocked(remote, tcpACK, nil, t)
		}
		f.endLocked()
	}
	if c.err == nil {
		c.err = c.w.Flush() // a finished connection is on disk
	}
}

// capConn is a captured connection.
type capConn struct {
	net.Conn
	f *flow
}

func (c *capConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.f.data(remote, b[:n])
	}
	if err != nil {
		c.f.ioErr(err)
	}
	return n, err
}

func (c *capConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.f.data(local, b[:n])
	}
	if err != nil {
		c.f.ioErr(err)
	}
	return n, err
}

// CloseWrite shuts the write side, when the connection has one.
func (c *capConn) CloseWrite() error {
	cw, ok := c.Conn.(interface{ CloseWrite() error })
	if !ok {
		return nil
	}
	err := cw.CloseWrite()
	if err == nil {
		c.f.closeWrite()
	}
	return err
}

func (c *capConn) Close() error {
	err := c.Conn.Close()
	c.f.close()
	return err
}

// NetConn returns the connection below, for checks that look through
// wrappers (StartTLS's refusal of plaintext sent ahead of the handshake).
func (c *capConn) NetConn() net.Conn { return c.Conn }

// SyscallConn gives the descriptor of the connection below, so that the
// socket's checks that peek at it (StartTLS's refusal of plaintext sent
// ahead of the handshake) work through a capture.
func (c *capConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.New("capture: the connection has no descriptor")
}
