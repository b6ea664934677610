package sockettest_test

import (
	"io"
	"net"
	"strconv"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestServerAddr(t *testing.T) {
	s := serve(t)(sockettest.NewServer(func(net.Conn) {}))
	if s.Host() != "127.0.0.1" {
		t.Errorf("Host() = %q", s.Host())
	}
	if s.Port() == 0 {
		t.Error("Port() = 0")
	}
	if want := net.JoinHostPort(s.Host(), strconv.Itoa(int(s.Port()))); s.Addr() != want {
		t.Errorf("Addr() = %q, want %q", s.Addr(), want)
	}
}

func TestServerClosesConnAfterHandler(t *testing.T) {
	s := serve(t)(sockettest.NewServer(func(c net.Conn) {
		io.WriteString(c, "hi")
	}))
	b, err := io.ReadAll(dial(t, s))
	if err != nil || string(b) != "hi" {
		t.Fatalf("read %q, %v; want %q then EOF", b, err, "hi")
	}
	waitDone(t, s)
	if s.Accepted() != 1 {
		t.Errorf("Accepted() = %d, want 1", s.Accepted())
	}
	noErrs(t, s)
}

func TestServerCloseIdempotent(t *testing.T) {
	s, err := sockettest.NewEcho()
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s)
	write(t, c, "x")
	io.ReadFull(c, make([]byte, 1))
	// The echo handler is now blocked reading; Close must end it.
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after Close")
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Error("listener still accepting after Close")
	}
	select {
	case <-s.Done():
	default:
		t.Error("Done() not closed after Close")
	}
	noErrs(t, s)
	goleak.VerifyNone(t)
}

func TestCloseInterruptsScript(t *testing.T) {
	s, err := sockettest.NewScripted(sockettest.Sleep(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	dial(t, s)
	for s.Accepted() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	s.Close()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close took %v", d)
	}
	errs := s.Errs()
	if len(errs) != 1 {
		t.Fatalf("Errs() = %v, want the interrupted Sleep", errs)
	}
	goleak.VerifyNone(t)
}

func TestCloseWithoutConnections(t *testing.T) {
	s, err := sockettest.NewServer(func(net.Conn) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-s.Done()
	if s.Accepted() != 0 {
		t.Errorf("Accepted() = %d", s.Accepted())
	}
}

func TestNilArguments(t *testing.T) {
	if _, err := sockettest.NewServer(nil); err == nil {
		t.Error("NewServer(nil) succeeded")
	}
	if _, err := sockettest.NewTLSServer(nil, func(net.Conn) {}); err == nil {
		t.Error("NewTLSServer(nil, ...) succeeded")
	}
	if _, err := sockettest.NewTLSEcho(nil); err == nil {
		t.Error("NewTLSEcho(nil) succeeded")
	}
	if _, err := sockettest.NewTLSScripted(nil); err == nil {
		t.Error("NewTLSScripted(nil) succeeded")
	}
}
