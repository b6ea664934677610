package sshbastion

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// tunnel is a net.Conn over an SSH channel, with the read deadlines SSH
// channels lack: one goroutine moves the channel's data into buf, and Read
// waits for data, the end, Close or the deadline.
type tunnel struct {
	ch      net.Conn
	link    *link
	bastion string

	mu     sync.Mutex
	cond   sync.Cond
	buf    []byte
	rerr   error // the read side's end: io.EOF, a LostError, or another error
	closed bool
	rdl    time.Time
	rtimer *time.Timer
	wdl    time.Time
}

const (
	readChunk   = 32 << 10
	maxBuffered = 256 << 10
)

func newTunnel(ch net.Conn, l *link, bastion string) *tunnel {
	t := &tunnel{ch: ch, link: l, bastion: bastion}
	t.cond.L = &t.mu
	go t.fill()
	return t
}

// fill moves the channel's data into buf until the channel ends. Its
// back-pressure is the SSH channel window: it stops reading while buf is full.
func (t *tunnel) fill() {
	chunk := make([]byte, readChunk)
	for {
		n, err := t.ch.Read(chunk)
		var end error
		if err != nil {
			end = t.readEnd(err)
		}
		t.mu.Lock()
		for len(t.buf) >= maxBuffered && !t.closed {
			t.cond.Wait()
		}
		if t.closed {
			t.mu.Unlock()
			return
		}
		t.buf = append(t.buf, chunk[:n]...)
		if err != nil {
			t.rerr = end
		}
		t.cond.Broadcast()
		t.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// readEnd turns the channel's read error into what the caller sees: a
// LostError when the SSH connection under it ended, else err.
func (t *tunnel) readEnd(err error) error {
	if !errors.Is(err, io.EOF) {
		return err
	}
	// A channel ends with EOF both when the target closed it and when the
	// SSH connection dropped; the connection's end follows at once.
	select {
	case <-t.link.done:
	case <-time.After(50 * time.Millisecond):
		return io.EOF
	}
	return &LostError{Bastion: t.bastion, Cause: t.link.cause}
}

func (t *tunnel) Read(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.buf) == 0 && t.rerr == nil && !t.closed {
		if !t.rdl.IsZero() && !time.Now().Before(t.rdl) {
			return 0, os.ErrDeadlineExceeded
		}
		t.cond.Wait()
	}
	if t.closed {
		return 0, net.ErrClosed
	}
	if len(t.buf) == 0 {
		return 0, t.rerr
	}
	n := copy(b, t.buf)
	t.buf = t.buf[n:]
	if len(t.buf) == 0 {
		t.buf = nil
	}
	t.cond.Broadcast() // room for fill
	return n, nil
}

// Write writes to the channel. A write deadline that has passed fails the
// write at once; one that passes while the channel's window is full does not
// interrupt it (SSH channels have no write deadline).
func (t *tunnel) Write(b []byte) (int, error) {
	t.mu.Lock()
	closed, wdl := t.closed, t.wdl
	t.mu.Unlock()
	if closed {
		return 0, net.ErrClosed
	}
	if !wdl.IsZero() && !time.Now().Before(wdl) {
		return 0, os.ErrDeadlineExceeded
	}
	n, err := t.ch.Write(b)
	if err != nil {
		select {
		case <-t.link.done:
			err = &LostError{Bastion: t.bastion, Cause: t.link.cause}
		default:
		}
	}
	return n, err
}

// CloseWrite sends EOF on the channel; reading goes on.
func (t *tunnel) CloseWrite() error {
	if cw, ok := t.ch.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (t *tunnel) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	if t.rtimer != nil {
		t.rtimer.Stop()
	}
	t.cond.Broadcast()
	t.mu.Unlock()
	return t.ch.Close()
}

func (t *tunnel) LocalAddr() net.Addr  { return t.link.client.LocalAddr() }
func (t *tunnel) RemoteAddr() net.Addr { return t.link.client.RemoteAddr() }

func (t *tunnel) SetDeadline(d time.Time) error {
	t.SetReadDeadline(d)
	return t.SetWriteDeadline(d)
}

func (t *tunnel) SetReadDeadline(d time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rdl = d
	if t.rtimer != nil {
		t.rtimer.Stop()
		t.rtimer = nil
	}
	if !d.IsZero() {
		t.rtimer = time.AfterFunc(time.Until(d), func() {
			t.mu.Lock()
			t.cond.Broadcast()
			t.mu.Unlock()
		})
	}
	t.cond.Broadcast()
	return nil
}

func (t *tunnel) SetWriteDeadline(d time.Time) error {
	t.mu.Lock()
	t.wdl = d
	t.mu.Unlock()
	return nil
}
