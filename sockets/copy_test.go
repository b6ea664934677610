package sockets_test

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// io.Copy between two sockets dispatches to the Socket's WriterTo/ReaderFrom,
// which hand the copy to *net.TCPConn (splice on Linux). The relay below
// proves the bytes arrive intact and the half-open bookkeeping still happens.
func TestRelayBetweenSockets(t *testing.T) {
	payload := bytes.Repeat([]byte("outbound splice "), 1<<16) // 1 MiB
	src := serve(t)(sockettest.NewServer(func(c net.Conn) {
		c.Write(payload)
		c.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, c)
	}))
	got := make(chan []byte, 1)
	dst := serve(t)(sockettest.NewServer(func(c net.Conn) {
		b, _ := io.ReadAll(c)
		got <- b
	}))
	for _, mode := range []string{"socket-to-socket", "limited", "to-tcpconn"} {
		t.Run(mode, func(t *testing.T) {
			in := connect(t, src.Addr(), &sockets.Options{AllowHalfOpen: true})
			var out *sockets.Socket
			if mode != "to-tcpconn" {
				out = connect(t, dst.Addr(), &sockets.Options{AllowHalfOpen: true})
			}
			var n int64
			var err error
			switch mode {
			case "socket-to-socket":
				n, err = io.Copy(out, in)
			case "limited":
				lr := &io.LimitedReader{R: in, N: int64(len(payload))}
				n, err = out.ReadFrom(lr)
				if lr.N != 0 {
					t.Fatalf("LimitedReader.N = %d after copy, want 0", lr.N)
				}
			case "to-tcpconn":
				raw, derr := net.Dial("tcp", dst.Addr())
				if derr != nil {
					t.Fatal(derr)
				}
				n, err = in.WriteTo(raw)
				raw.(*net.TCPConn).CloseWrite()
				defer raw.Close()
			}
			if err != nil || n != int64(len(payload)) {
				t.Fatalf("copy = %d, %v; want %d", n, err, len(payload))
			}
			if out != nil {
				out.CloseWrite()
			}
			if b := <-got; !bytes.Equal(b, payload) {
				t.Fatalf("relayed %d bytes, not equal to the %d sent", len(b), len(payload))
			}
			if mode != "limited" {
				// The source's EOF was seen by the copy: with AllowHalfOpen its
				// read side is done, and after CloseWrite it ends cleanly.
				if _, err := in.Read(make([]byte, 1)); err != io.EOF {
					t.Fatalf("source Read after relay = %v, want io.EOF", err)
				}
			}
		})
	}
}

func TestCopyOverTLSFallsBack(t *testing.T) {
	ca := newCA(t)
	srv := serve(t)(sockettest.NewTLSEcho(serverTLS(t, ca)))
	s := connect(t, srv.Addr(), &sockets.Options{AllowHalfOpen: true, SecureTransport: sockets.SecureTransportOn, TLSConfig: ca.ClientConfig()})
	payload := bytes.Repeat([]byte("x"), 100000)
	if n, err := s.ReadFrom(bytes.NewReader(payload)); err != nil || n != int64(len(payload)) {
		t.Fatalf("ReadFrom = %d, %v", n, err)
	}
	s.CloseWrite()
	var buf bytes.Buffer
	if n, err := s.WriteTo(&buf); err != nil || n != int64(len(payload)) {
		t.Fatalf("WriteTo = %d, %v", n, err)
	}
	if !bytes.Equal(buf.Bytes(), payload) {
		t.Fatal("echo differs")
	}
}
