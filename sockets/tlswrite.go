package sockets

import (
	"net"
	"sync"
	"time"
)

// tlsTransport sits between a *tls.Conn and the TCP connection. crypto/tls
// treats a write timeout as fatal ("the TLS state is corrupt"), because a
// record may have been half written. A net.Conn must survive a write
// deadline, so when the transport times out mid-record it keeps the rest of
// the record and tells TLS the write went through; the socket reports the
// timeout to its caller and sends the rest before anything else.
type tlsTransport struct {
	net.Conn
	mu       sync.Mutex
	pending  []byte // the unsent tail of a record
	timedOut error  // the timeout hit by the last write, until taken
}

func (t *tlsTransport) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) > 0 {
		if err := t.flushLocked(); err != nil {
			if !isTimeout(err) {
				return 0, err
			}
			t.pending = append(t.pending, p...)
			t.timedOut = err
			return len(p), nil
		}
	}
	n, err := t.Conn.Write(p)
	if err != nil && isTimeout(err) {
		t.pending = append(t.pending[:0], p[n:]...)
		t.timedOut = err
		return len(p), nil
	}
	return n, err
}

func (t *tlsTransport) flushLocked() error {
	for len(t.pending) > 0 {
		n, err := t.Conn.Write(t.pending)
		t.pending = t.pending[n:]
		if err != nil {
			return err
		}
	}
	t.pending = nil
	return nil
}

// flush sends what an earlier timed-out write left behind.
func (t *tlsTransport) flush() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.pending) == 0 {
		return nil
	}
	return t.flushLocked()
}

// takeTimeout returns and clears the timeout hit during the last write.
func (t *tlsTransport) takeTimeout() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	err := t.timedOut
	t.timedOut = nil
	return err
}

// tlsChunk is how much plaintext tlsWrite hands crypto/tls at a time: one
// full TLS record. The transport keeps back at most what one such call
// produced, so a write that times out leaves about one record of ciphertext
// in memory, however large b was.
const tlsChunk = 16 << 10

// tlsWrite writes b over TLS, honouring the write deadline without
// corrupting the TLS stream. It hands b to TLS one record at a time and
// stops at the first timeout: n counts the plaintext of the records sent or
// committed (the unsent tail of the last one goes out before anything else
// on the next write), never data that only sits in memory.
func (s *Socket) tlsWrite(b []byte) (int, error) {
	tt := s.transport()
	if err := tt.flush(); err != nil {
		return 0, err
	}
	n := 0
	for {
		if d := s.wdl64.Load(); d != 0 && time.Now().UnixNano() >= d {
			return n, &net.OpError{Op: "write", Net: "tcp", Source: s.raw.LocalAddr(), Addr: s.raw.RemoteAddr(), Err: osErrDeadline}
		}
		chunk := b[n:]
		if len(chunk) > tlsChunk {
			chunk = chunk[:tlsChunk]
		}
		m, err := s.conn().Write(chunk) // the *tls.Conn, or a TLSLayer's view of it
		n += m
		if err == nil {
			err = tt.takeTimeout()
		}
		if err != nil || n == len(b) {
			return n, err
		}
	}
}
