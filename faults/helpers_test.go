package faults_test

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/outboundhq/outbound/faults"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func echo(t *testing.T) *sockettest.Server {
	t.Helper()
	s, err := sockettest.NewEcho()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func opts(in *faults.Injector) *sockets.Options {
	return &sockets.Options{Layers: []sockets.Layer{in}, AllowHalfOpen: true}
}

// dial opens a socket to addr through in.
func dial(t *testing.T, in *faults.Injector, addr string) *sockets.Socket {
	t.Helper()
	s, err := sockets.Dial(ctxT(t), addr, opts(in))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func add(t *testing.T, in *faults.Injector, r faults.Rule) {
	t.Helper()
	if err := in.Add(r); err != nil {
		t.Fatal(err)
	}
}

// pair is a connection through the injector and the server's end of it.
type pair struct {
	c   *sockets.Socket
	srv net.Conn
}

// connect listens on 127.0.0.1:0, dials it through in and returns both ends.
func connect(t *testing.T, in *faults.Injector) pair {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			c = nil
		}
		acc <- c
	}()
	c := dial(t, in, l.Addr().String())
	srv := <-acc
	if srv == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { srv.Close() })
	return pair{c, srv}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNRESET) && errors.As(err, &op)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() && errors.Is(err, os.ErrDeadlineExceeded)
}

// readAll reads from c until an error, with a deadline of d, and returns
// what it read and the error.
func readAll(c net.Conn, d time.Duration) ([]byte, error) {
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		out = append(out, buf[:n]...)
		if err != nil {
			if err == io.EOF {
				return out, io.EOF
			}
			return out, err
		}
	}
}

// roundTrip writes msg and reads it back from an echo server, returning
// how long it took.
func roundTrip(t *testing.T, c net.Conn, msg string) time.Duration {
	t.Helper()
	start := time.Now()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if string(buf) != msg {
		t.Fatalf("echo %q, want %q", buf, msg)
	}
	return time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

// sleepFor measures a sleep of d: the reference for the toxics' delays.
func sleepFor(d time.Duration) time.Duration {
	start := time.Now()
	time.Sleep(d)
	return time.Since(start)
}
