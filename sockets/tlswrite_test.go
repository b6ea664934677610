package sockets_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/outboundhq/outbound/sockets"
)

// TestTLSWriteDeadlineKeepsOneRecord writes far more than the kernel buffers
// hold to a TLS peer that does not read, with a write deadline. Write must
// return near the deadline with n the plaintext really sent (not the whole
// buffer), keep at most about one record of ciphertext, and leave the socket
// usable: the peer, once it reads, gets exactly b[:n] and then what follows.
func TestTLSWriteDeadlineKeepsOneRecord(t *testing.T) {
	ca := newCA(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", serverTLS(t, ca))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	startReading := make(chan struct{})
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		if err := c.(*tls.Conn).Handshake(); err != nil {
			got <- nil
			return
		}
		<-startReading
		h := sha256.New()
		io.Copy(h, c)
		got <- h.Sum(nil)
	}()

	s := connect(t, ln.Addr().String(), &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: ca.ClientConfig()})
	opened(t, s)
	data := make([]byte, 16<<20)
	newRand(7).Fill(data)
	const wait = 300 * time.Millisecond
	s.SetWriteDeadline(time.Now().Add(wait))
	start := time.Now()
	n, err := s.Write(data)
	elapsed := time.Since(start)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		close(startReading)
		t.Fatalf("Write = %d, %v; want a timeout", n, err)
	}
	if n >= len(data) || n == 0 {
		close(startReading)
		t.Fatalf("Write returned n = %d of %d with a timeout; want the bytes that really went out", n, len(data))
	}
	if elapsed > wait+5*time.Second {
		t.Errorf("Write returned after %v, deadline was %v", elapsed, wait)
	}
	if kept := sockets.TLSPendingBytes(s); kept > 20<<10 {
		t.Errorf("after the timeout %d bytes of ciphertext are kept in memory; want at most about one TLS record", kept)
	}
	notClosed(t, s)
	// A second write while still past the deadline sends nothing.
	if m, err := s.Write(data[n:]); m != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("Write past the deadline = %d, %v; want 0 and a timeout", m, err)
	}

	// The socket stays usable: once the peer reads, the rest goes out after
	// what was reported sent, and nothing else.
	close(startReading)
	s.SetWriteDeadline(time.Time{})
	tail := []byte("after the timeout")
	if _, err := s.Write(tail); err != nil {
		t.Fatalf("Write after the timeout: %v", err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(append(append([]byte(nil), data[:n]...), tail...))
	select {
	case h := <-got:
		if !bytes.Equal(h, want[:]) {
			t.Fatalf("the peer did not receive exactly the %d bytes Write reported, then the tail", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the peer did not finish reading")
	}
}
