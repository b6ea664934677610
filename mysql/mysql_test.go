package mysql_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/outboundhq/outbound/dialers"
	outmysql "github.com/outboundhq/outbound/mysql"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestOptionsRefused(t *testing.T) {
	tests := []struct {
		name string
		opts *outmysql.Options
		hint string // what the message tells the caller to do
	}{
		{"secureTransport on", dialerOpts(&sockets.Options{SecureTransport: sockets.SecureTransportOn}), "tls=true"},
		{"secureTransport starttls", dialerOpts(&sockets.Options{SecureTransport: sockets.SecureTransportStartTLS}), "leave SecureTransport empty"},
		{"secureTransport off", dialerOpts(&sockets.Options{SecureTransport: sockets.SecureTransportOff}), "leave SecureTransport empty"},
		{"TLSConfig", dialerOpts(&sockets.Options{TLSConfig: &tls.Config{}}), "Config.TLS"},
		{"TLSConfig names the fix", dialerOpts(&sockets.Options{TLSConfig: &tls.Config{}}), "Dialer without TLSConfig"},
		{"half-open both ways", &outmysql.Options{Dialer: &dialers.Dialer{NoHalfOpen: true, Options: &sockets.Options{AllowHalfOpen: true}}}, "drop one of them"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			check := func(what string, err error) {
				t.Helper()
				if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), tt.hint) {
					t.Errorf("%s: %v; want sockets.ErrInvalidOptions saying %q", what, err, tt.hint)
				}
			}
			_, err := outmysql.NewConnector(gomysql.NewConfig(), tt.opts)
			check("NewConnector", err)
			_, err = outmysql.OpenDB(gomysql.NewConfig(), tt.opts)
			check("OpenDB", err)
			_, err = outmysql.Open("root@tcp(127.0.0.1:3306)/test", tt.opts)
			check("Open", err)
			check("Register", outmysql.Register("outbound-refused", tt.opts))
			c, err := outmysql.DialFunc(tt.opts)(context.Background(), "tcp", "127.0.0.1:3306")
			if c != nil {
				c.Close()
			}
			check("DialFunc", err)
		})
	}
}

func TestNetworkRefused(t *testing.T) {
	tests := []struct {
		name string
		dsn  string
	}{
		{"unix socket", "root@unix(/run/mysqld/mysqld.sock)/test"},
		{"a registered protocol", "root@outbound(127.0.0.1:3306)/test"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := outmysql.Open(tt.dsn, nil)
			if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), "use tcp(host:port)") {
				t.Errorf("Open(%q): %v; want sockets.ErrInvalidOptions saying to use tcp(host:port)", tt.dsn, err)
			}
		})
	}
	_, err := outmysql.DialFunc(nil)(context.Background(), "unix", "/run/mysqld/mysqld.sock")
	if !errors.Is(err, sockets.ErrInvalidOptions) {
		t.Errorf("DialFunc(unix): %v; want sockets.ErrInvalidOptions", err)
	}
	if err := outmysql.Register("", nil); !errors.Is(err, sockets.ErrInvalidOptions) {
		t.Errorf("Register(\"\"): %v; want sockets.ErrInvalidOptions", err)
	}
	if _, err := outmysql.Open("not a dsn", nil); err == nil {
		t.Error("Open of a malformed DSN succeeded")
	}
}

func TestNewConnectorDoesNotModifyConfig(t *testing.T) {
	cfg := gomysql.NewConfig()
	cfg.Addr = "127.0.0.1:3306"
	if _, err := outmysql.NewConnector(cfg, nil); err != nil {
		t.Fatal(err)
	}
	if cfg.DialFunc != nil || cfg.Net != "" {
		t.Errorf("NewConnector changed the caller's config: DialFunc set %v, Net %q", cfg.DialFunc != nil, cfg.Net)
	}
}

// TestDialFuncConn checks the connection DialFunc returns when the caller's
// Options.Dial opens the TCP connection, against an in-process echo server:
// it is an open outbound socket that honours the options, exposes a file
// descriptor for the driver's liveness check, and fires Closed when closed.
func TestDialFuncConn(t *testing.T) {
	echo, err := sockettest.NewEcho()
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	var dials atomic.Int64
	opts := &sockets.Options{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := outmysql.DialFunc(dialerOpts(opts))(ctx, "tcp", echo.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if dials.Load() != 1 {
		t.Errorf("Options.Dial called %d times; want 1", dials.Load())
	}
	s, ok := outmysql.SocketOf(c)
	if !ok {
		t.Fatalf("SocketOf(%T) = false", c)
	}
	if _, err := s.Opened(ctx); err != nil {
		t.Fatal(err)
	}
	if c.RemoteAddr().String() != echo.Addr() {
		t.Errorf("RemoteAddr %v; want %s", c.RemoteAddr(), echo.Addr())
	}

	// The driver's liveness check: a non-blocking read on the descriptor
	// finds nothing to read on a healthy idle connection.
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("%T is not a syscall.Conn: the driver would skip its liveness check", c)
	}
	if got := peek(t, sc); got != syscall.EAGAIN {
		t.Errorf("peek on an idle connection: %v; want EAGAIN", got)
	}

	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitClosed(t, s, 5*time.Second)
	if s.Err() != nil {
		t.Errorf("Err after Close: %v; want nil", s.Err())
	}
}

// TestDialFuncDefault checks that with default options DialFunc returns the
// socket with its descriptor exposed for the driver's liveness check.
func TestDialFuncDefault(t *testing.T) {
	echo, err := sockettest.NewEcho()
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := outmysql.DialFunc(nil)(ctx, "tcp", echo.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sc, ok := c.(syscall.Conn)
	if !ok {
		t.Fatalf("DialFunc(nil) returned a %T, not a syscall.Conn: the liveness check would be skipped", c)
	}
	if err := peek(t, sc); !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("liveness peek on an idle open connection = %v, want EAGAIN", err)
	}
	if s, ok := outmysql.SocketOf(c); !ok || s == nil || s.RemoteAddr().String() != echo.Addr() {
		t.Errorf("SocketOf = %v, %v", s, ok)
	}
}

// peek does what the driver's liveness check does and returns what the
// one-byte non-blocking read saw: EAGAIN, io.EOF, or another error.
func peek(t *testing.T, sc syscall.Conn) error {
	t.Helper()
	rc, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var seen error
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, err := syscall.Read(int(fd), b[:])
		switch {
		case n == 0 && err == nil:
			seen = io.EOF
		case n > 0:
			seen = errors.New("unexpected byte")
		default:
			seen = err
		}
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return seen
}

func TestDialFuncConnectError(t *testing.T) {
	// A port nothing listens on: the error surfaces at dial time.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := outmysql.DialFunc(nil)(ctx, "tcp", addr)
	if err == nil {
		c.Close()
		t.Fatal("dial to a closed port succeeded")
	}
	var se *sockets.SocketError
	if !errors.As(err, &se) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial: %v; want a *sockets.SocketError wrapping ECONNREFUSED", err)
	}
}

func TestSocketOf(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if s, ok := outmysql.SocketOf(a); ok || s != nil {
		t.Errorf("SocketOf(net.Pipe) = %v, %v; want nil, false", s, ok)
	}
	if s, ok := outmysql.SocketOf(nil); ok || s != nil {
		t.Errorf("SocketOf(nil) = %v, %v; want nil, false", s, ok)
	}
}
