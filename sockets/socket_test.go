package sockets_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestPendingStateIOIsNotLost(t *testing.T) {
	srv := echo(t)
	g := newGate()
	s := connect(t, srv.Addr(), &sockets.Options{Dial: g.dial})
	<-g.started

	// Pending: Opened does not return yet.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := s.Opened(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Opened on a pending socket = %v, want context.DeadlineExceeded", err)
	}
	if got, ok := s.RemoteAddr().(*net.TCPAddr); !ok || got.String() != srv.Addr() {
		t.Fatalf("RemoteAddr while pending = %#v, want the requested %q as a *net.TCPAddr", s.RemoteAddr(), srv.Addr())
	}
	if s.LocalAddr() == nil {
		t.Fatal("LocalAddr is nil while pending")
	}

	// A write and a read issued before the socket opens wait for it.
	wrote := make(chan error, 1)
	go func() { _, err := s.Write([]byte("early bytes")); wrote <- err }()
	read := make(chan string, 1)
	go func() {
		b := make([]byte, len("early bytes"))
		_, err := io.ReadFull(s, b)
		if err != nil {
			read <- "error: " + err.Error()
			return
		}
		read <- string(b)
	}()
	select {
	case err := <-wrote:
		t.Fatalf("Write returned before the socket opened: %v", err)
	case <-time.After(30 * time.Millisecond):
	}
	close(g.release)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	if got := <-read; got != "early bytes" {
		t.Fatalf("echo of pending write = %q", got)
	}
	info := opened(t, s)
	if info.RemoteAddress != srv.Addr() || info.LocalAddress == "" || info.ALPN != "" {
		t.Fatalf("SocketInfo = %+v", info)
	}
	if s.RemoteAddr().String() != srv.Addr() {
		t.Fatalf("RemoteAddr = %v", s.RemoteAddr())
	}
}

func TestConnectFailuresSurfaceEverywhere(t *testing.T) {
	unreach := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.EHOSTUNREACH)}
	dnsErr := &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}
	cases := []struct {
		name  string
		addr  string
		dial  sockets.DialFunc
		check func(error) bool
	}{
		{"refused", freePort(t), nil, func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
		{"unreachable", "192.0.2.1:80", func(context.Context, string, string) (net.Conn, error) { return nil, unreach }, func(err error) bool { return errors.Is(err, syscall.EHOSTUNREACH) }},
		{"dns", "nowhere.invalid:80", func(context.Context, string, string) (net.Conn, error) { return nil, dnsErr }, func(err error) bool {
			var d *net.DNSError
			return errors.As(err, &d) && d.IsNotFound
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, op := range []string{"opened", "read", "write", "err"} {
				s := connect(t, c.addr, &sockets.Options{Dial: c.dial})
				var err error
				switch op {
				case "opened":
					_, err = s.Opened(ctxT(t))
				case "read":
					_, err = s.Read(make([]byte, 1))
				case "write":
					_, err = s.Write([]byte("x"))
				case "err":
					waitClosed(t, s)
					err = s.Err()
				}
				if err == nil || !c.check(err) {
					t.Fatalf("%s: error = %v, want the connect error", op, err)
				}
				var se *sockets.SocketError
				if !errors.As(err, &se) || se.Op != "connect" || se.Addr != c.addr {
					t.Fatalf("%s: error %v is not a *SocketError{Op: connect, Addr: %s}", op, err, c.addr)
				}
				waitClosed(t, s)
				if !c.check(s.Err()) {
					t.Fatalf("Err() = %v", s.Err())
				}
				if err := s.Close(); err != nil {
					t.Fatalf("Close after a failed connect = %v", err)
				}
			}
		})
	}
}

func TestCloseIsIdempotentAndIOAfterCloseFails(t *testing.T) {
	s := connect(t, echo(t).Addr(), nil)
	opened(t, s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	waitClosed(t, s)
	if s.Err() != nil {
		t.Fatalf("Err after Close = %v, want nil", s.Err())
	}
	if _, err := s.Read(make([]byte, 1)); !isClosedErr(err) {
		t.Fatalf("Read after Close = %v", err)
	}
	if _, err := s.Write([]byte("x")); !isClosedErr(err) {
		t.Fatalf("Write after Close = %v", err)
	}
	if err := s.SetDeadline(time.Now()); !isClosedErr(err) {
		t.Fatalf("SetDeadline after Close = %v", err)
	}
	if _, err := s.Opened(ctxT(t)); err != nil {
		t.Fatalf("Opened after a clean Close of an open socket = %v, want its info", err)
	}
}

func TestCloseWhilePending(t *testing.T) {
	g := newGate()
	s := connect(t, echo(t).Addr(), &sockets.Options{Dial: g.dial})
	<-g.started
	done := make(chan error, 2)
	go func() { _, err := s.Read(make([]byte, 1)); done <- err }()
	go func() { _, err := s.Opened(context.Background()); done <- err }()
	time.Sleep(10 * time.Millisecond)
	s.Close()
	for i := 0; i < 2; i++ {
		if err := <-done; !isClosedErr(err) {
			t.Fatalf("pending call after Close = %v, want ErrClosed", err)
		}
	}
	if s.Err() != nil {
		t.Fatalf("Err = %v, want nil for a Close", s.Err())
	}
}

func TestCloseUnblocksReadAndWrite(t *testing.T) {
	// A server that never reads nor writes: Read blocks, and Write blocks once
	// the kernel buffers are full.
	hold := make(chan struct{})
	srv := serve(t)(sockettest.NewServer(func(c net.Conn) { <-hold }))
	defer close(hold)
	s := connect(t, srv.Addr(), nil)
	opened(t, s)
	errs := make(chan error, 2)
	go func() { _, err := s.Read(make([]byte, 1)); errs <- err }()
	go func() {
		buf := make([]byte, 1<<20)
		for {
			if _, err := s.Write(buf); err != nil {
				errs <- err
				return
			}
		}
	}()
	time.Sleep(100 * time.Millisecond)
	s.Close()
	for i := 0; i < 2; i++ {
		select {
		case err := <-errs:
			if !isClosedErr(err) {
				t.Fatalf("blocked call after Close = %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close did not unblock Read/Write")
		}
	}
}

func TestHalfOpen(t *testing.T) {
	t.Run("false: peer EOF closes cleanly", func(t *testing.T) {
		srv := serve(t)(sockettest.NewScripted(sockettest.Send("bye"), sockettest.CloseWrite(), sockettest.ExpectEOF()))
		s := connect(t, srv.Addr(), nil)
		got, err := io.ReadAll(s)
		if err != nil || string(got) != "bye" {
			t.Fatalf("ReadAll = %q, %v", got, err)
		}
		waitClosed(t, s)
		if s.Err() != nil {
			t.Fatalf("Err = %v, want nil", s.Err())
		}
		if _, err := s.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("Read after peer EOF = %v, want io.EOF", err)
		}
		if _, err := s.Write([]byte("late")); !isClosedErr(err) {
			t.Fatalf("Write after peer EOF = %v, want ErrClosed", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close after peer EOF = %v, want nil", err)
		}
		if s.Err() != nil {
			t.Fatalf("Err after Close = %v", s.Err())
		}
		<-srv.Done()
		if errs := srv.Errs(); len(errs) > 0 {
			t.Fatalf("server: %v (the socket must have shut its write side)", errs)
		}
	})
	t.Run("true: writes work after peer EOF; closes when both sides are done", func(t *testing.T) {
		srv := serve(t)(sockettest.NewScripted(sockettest.Send("hi"), sockettest.CloseWrite(), sockettest.Expect("still here"), sockettest.ExpectEOF()))
		s := connect(t, srv.Addr(), &sockets.Options{AllowHalfOpen: true})
		got, err := io.ReadAll(s)
		if err != nil || string(got) != "hi" {
			t.Fatalf("ReadAll = %q, %v", got, err)
		}
		if _, err := s.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("second Read = %v, want io.EOF", err)
		}
		notClosed(t, s)
		if _, err := s.Write([]byte("still here")); err != nil {
			t.Fatal(err)
		}
		if err := s.Writable().Close(); err != nil {
			t.Fatal(err)
		}
		waitClosed(t, s)
		if s.Err() != nil {
			t.Fatalf("Err = %v", s.Err())
		}
		<-srv.Done()
		if errs := srv.Errs(); len(errs) > 0 {
			t.Fatal(errs)
		}
	})
	t.Run("true: CloseWrite first, then peer EOF", func(t *testing.T) {
		srv := serve(t)(sockettest.NewScripted(sockettest.Expect("req"), sockettest.ExpectEOF(), sockettest.Send("resp"), sockettest.CloseWrite()))
		s := connect(t, srv.Addr(), &sockets.Options{AllowHalfOpen: true})
		s.Write([]byte("req"))
		if err := s.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		if err := s.CloseWrite(); err != nil {
			t.Fatalf("second CloseWrite = %v", err)
		}
		if _, err := s.Write([]byte("x")); !errors.Is(err, sockets.ErrClosed) {
			t.Fatalf("Write after CloseWrite = %v", err)
		}
		notClosed(t, s)
		got, err := io.ReadAll(s)
		if err != nil || string(got) != "resp" {
			t.Fatalf("ReadAll = %q, %v", got, err)
		}
		waitClosed(t, s)
		if s.Err() != nil {
			t.Fatal(s.Err())
		}
	})
	t.Run("false: Close after peer EOF before reading it", func(t *testing.T) {
		srv := serve(t)(sockettest.NewScripted(sockettest.CloseWrite(), sockettest.ExpectEOF()))
		s := connect(t, srv.Addr(), nil)
		opened(t, s)
		time.Sleep(20 * time.Millisecond)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if s.Err() != nil {
			t.Fatalf("Err = %v", s.Err())
		}
	})
}

func TestReadableCloseCancelsReading(t *testing.T) {
	srv := serve(t)(sockettest.NewScripted(sockettest.Expect("ping"), sockettest.Send("pong"), sockettest.ExpectEOF()))
	s := connect(t, srv.Addr(), &sockets.Options{AllowHalfOpen: true})
	r := s.Readable()
	blocked := make(chan error, 1)
	go func() { _, err := r.Read(make([]byte, 1)); blocked <- err }()
	time.Sleep(20 * time.Millisecond)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-blocked; !errors.Is(err, sockets.ErrClosed) {
		t.Fatalf("pending read after Readable().Close = %v", err)
	}
	if _, err := s.Read(make([]byte, 1)); !errors.Is(err, sockets.ErrClosed) || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("Read after cancel = %v", err)
	}
	// Writing still works; closing it ends the socket.
	if _, err := s.Writable().Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	notClosed(t, s)
	s.Writable().Close()
	waitClosed(t, s)
	if s.Err() != nil {
		t.Fatal(s.Err())
	}
}

func TestPeerResetIsAFailedEnding(t *testing.T) {
	srv := serve(t)(sockettest.NewScripted(sockettest.Expect("x"), sockettest.Reset()))
	s := connect(t, srv.Addr(), nil)
	s.Write([]byte("x"))
	_, err := s.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read after reset = %v, want ECONNRESET", err)
	}
	waitClosed(t, s)
	if !errors.Is(s.Err(), syscall.ECONNRESET) {
		t.Fatalf("Err = %v, want ECONNRESET", s.Err())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDeadlines(t *testing.T) {
	t.Run("read deadline while pending", func(t *testing.T) {
		g := newGate()
		s := connect(t, echo(t).Addr(), &sockets.Options{Dial: g.dial})
		<-g.started
		s.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		_, err := s.Read(make([]byte, 1))
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read = %v, want a timeout", err)
		}
		// The deadline set while pending applies once open.
		close(g.release)
		opened(t, s)
		if _, err := s.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read after open = %v, want the past deadline to hold", err)
		}
		notClosed(t, s)
		s.SetReadDeadline(time.Time{})
		s.Write([]byte("z"))
		if got := readN(t, s, 1); got != "z" {
			t.Fatal(got)
		}
	})
	t.Run("timeout is not an ending", func(t *testing.T) {
		s := connect(t, echo(t).Addr(), nil)
		s.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		_, err := s.Read(make([]byte, 1))
		var se *sockets.SocketError
		if !errors.As(err, &se) || !se.Timeout() || se.Op != "read" {
			t.Fatalf("Read = %v", err)
		}
		notClosed(t, s)
	})
	// SetDeadline on an open socket is one SetDeadline on the connection
	// (the runtime keeps one timer for equal read and write deadlines; two
	// calls arm and disarm a second one), and bounds both directions.
	t.Run("SetDeadline sets both in one call", func(t *testing.T) {
		dial, made := logDeadlines(plainDial)
		s := connect(t, echo(t).Addr(), &sockets.Options{Dial: dial})
		opened(t, s)
		l := <-made
		l.take()
		at := time.Now().Add(20 * time.Millisecond)
		if err := s.SetDeadline(at); err != nil {
			t.Fatal(err)
		}
		if got, want := l.take(), []string{"both " + at.Format(time.RFC3339Nano)}; !slices.Equal(got, want) {
			t.Fatalf("the transport saw %q, want %q", got, want)
		}
		if _, err := s.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Read after SetDeadline = %v, want a timeout", err)
		}
		if _, err := s.Write([]byte("x")); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Write after SetDeadline = %v, want a timeout", err)
		}
		notClosed(t, s)
		if err := s.SetDeadline(time.Time{}); err != nil {
			t.Fatal(err)
		}
		if got, want := l.take(), []string{"both " + (time.Time{}).Format(time.RFC3339Nano)}; !slices.Equal(got, want) {
			t.Fatalf("clearing: the transport saw %q, want %q", got, want)
		}
		s.Write([]byte("z"))
		if got := readN(t, s, 1); got != "z" {
			t.Fatalf("after clearing the deadline read %q, want the echo", got)
		}
	})
	// Deadlines set while pending reach the connection once it opens: in
	// one call when they are equal, one call each when they differ.
	t.Run("deadlines set while pending", func(t *testing.T) {
		far := time.Now().Add(time.Hour)
		for _, c := range []struct {
			name string
			set  func(*sockets.Socket)
			want []string
		}{
			{"SetDeadline", func(s *sockets.Socket) { s.SetDeadline(far) }, []string{"both " + far.Format(time.RFC3339Nano)}},
			{"different", func(s *sockets.Socket) {
				s.SetReadDeadline(far)
				s.SetWriteDeadline(far.Add(time.Second))
			}, []string{"read " + far.Format(time.RFC3339Nano), "write " + far.Add(time.Second).Format(time.RFC3339Nano)}},
			{"read only", func(s *sockets.Socket) { s.SetReadDeadline(far) }, []string{"read " + far.Format(time.RFC3339Nano)}},
		} {
			t.Run(c.name, func(t *testing.T) {
				g := newGate()
				dial, made := logDeadlines(g.dial)
				s := connect(t, echo(t).Addr(), &sockets.Options{Dial: dial})
				<-g.started
				c.set(s)
				close(g.release)
				opened(t, s)
				if got := (<-made).take(); !slices.Equal(got, c.want) {
					t.Fatalf("the transport saw %q, want %q", got, c.want)
				}
			})
		}
	})
}

// deadlineLog records the deadline calls made on a connection.
type deadlineLog struct {
	net.Conn
	mu    sync.Mutex
	calls []string
}

func (d *deadlineLog) log(kind string, t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, kind+" "+t.Format(time.RFC3339Nano))
}

// take returns the calls logged so far and forgets them.
func (d *deadlineLog) take() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.calls
	d.calls = nil
	return c
}

func (d *deadlineLog) SetDeadline(t time.Time) error {
	d.log("both", t)
	return d.Conn.SetDeadline(t)
}

func (d *deadlineLog) SetReadDeadline(t time.Time) error {
	d.log("read", t)
	return d.Conn.SetReadDeadline(t)
}

func (d *deadlineLog) SetWriteDeadline(t time.Time) error {
	d.log("write", t)
	return d.Conn.SetWriteDeadline(t)
}

// logDeadlines wraps the connections dial makes in a deadlineLog, sent on
// the returned channel.
func logDeadlines(dial sockets.DialFunc) (sockets.DialFunc, <-chan *deadlineLog) {
	made := make(chan *deadlineLog, 1)
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		l := &deadlineLog{Conn: c}
		made <- l
		return l, nil
	}, made
}

func plainDial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func TestOptionsAreCopied(t *testing.T) {
	ca := newCA(t)
	srv := serve(t)(sockettest.NewTLSEcho(serverTLS(t, ca)))
	cfg := ca.ClientConfig()
	o := &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: cfg}
	s := connect(t, srv.Addr(), o)
	o.SecureTransport = "bogus"
	opened(t, s)
	if cfg.ServerName != "" || cfg.MinVersion != tls.VersionTLS12 {
		t.Fatalf("caller's tls.Config was modified: ServerName=%q MinVersion=%x", cfg.ServerName, cfg.MinVersion)
	}
	if s.SecureTransport() != sockets.SecureTransportOn {
		t.Fatal(s.SecureTransport())
	}
	st := s.ConnectionState()
	if !st.HandshakeComplete || st.Version < tls.VersionTLS12 {
		t.Fatalf("ConnectionState = %+v", st)
	}
}

func TestBadOptions(t *testing.T) {
	cases := []struct {
		o    sockets.Options
		want string
	}{
		{sockets.Options{SecureTransport: "tls"}, `SecureTransport "tls" is not one of`},
		{sockets.Options{TLSConfig: &tls.Config{}}, `TLSConfig is set but SecureTransport is "off"`},
	}
	for _, c := range cases {
		_, err := sockets.Connect(context.Background(), "example.com:443", &c.o)
		if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Connect(%+v) = %v, want ErrInvalidOptions mentioning %q", c.o, err, c.want)
		}
	}
}

func TestPort25DeniedByDefault(t *testing.T) {
	_, err := sockets.Connect(context.Background(), "mail.example.com:25", nil)
	if !errors.Is(err, sockets.ErrDenied) {
		t.Fatalf("Connect to port 25 = %v, want ErrDenied", err)
	}
	if !strings.Contains(err.Error(), "port 25") || !strings.Contains(err.Error(), "allow") {
		t.Fatalf("message does not say how to allow port 25: %v", err)
	}
}

func TestTLSOnALPNAndInfo(t *testing.T) {
	ca := newCA(t)
	scfg := serverTLS(t, ca)
	scfg.NextProtos = []string{"postgresql"}
	srv := serve(t)(sockettest.NewTLSEcho(scfg))
	cfg := ca.ClientConfig()
	cfg.NextProtos = []string{"postgresql"}
	s := connect(t, "localhost:"+strings.Split(srv.Addr(), ":")[1], &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: cfg})
	info := opened(t, s)
	if info.ALPN != "postgresql" {
		t.Fatalf("ALPN = %q", info.ALPN)
	}
	s.Write([]byte("hello"))
	if got := readN(t, s, 5); got != "hello" {
		t.Fatal(got)
	}
}

func TestTLSHandshakeFailuresOnOpened(t *testing.T) {
	ca := newCA(t)
	other := newCA(t)
	expiredCert, err := ca.Issue(sockettest.CertOptions{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		server *tls.Config
		client *tls.Config
		host   string
		want   string
		check  func(error) bool
	}{
		{"wrong hostname", serverTLS(t, ca, "db.internal"), ca.ClientConfig(), "127.0.0.1", "not valid for", func(err error) bool {
			var h x509HostnameError
			return errors.As(err, &h)
		}},
		{"unknown CA", serverTLS(t, other), ca.ClientConfig(), "127.0.0.1", "unknown authority; add the CA", nil},
		{"expired", &tls.Config{Certificates: []tls.Certificate{expiredCert}}, ca.ClientConfig(), "127.0.0.1", "expired", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := serve(t)(sockettest.NewTLSEcho(c.server))
			s := connect(t, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: c.client})
			_, err := s.Opened(ctxT(t))
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "TLS handshake with 127.0.0.1:") {
				t.Fatalf("Opened = %v, want a TLS error mentioning %q and the host", err, c.want)
			}
			if c.check != nil && !c.check(err) {
				t.Fatalf("error %v does not unwrap to the x509 cause", err)
			}
			waitClosed(t, s)
			if s.Err() == nil {
				t.Fatal("Err is nil after a failed handshake")
			}
		})
	}
}

func TestDataIntegrity256MiB(t *testing.T) {
	ca := newCA(t)
	for _, tc := range []struct {
		name string
		srv  func() (*sockettest.Server, error)
		o    *sockets.Options
	}{
		{"plain", sockettest.NewEcho, &sockets.Options{AllowHalfOpen: true}},
		{"tls", func() (*sockettest.Server, error) { return sockettest.NewTLSEcho(serverTLS(t, ca)) },
			&sockets.Options{AllowHalfOpen: true, SecureTransport: sockets.SecureTransportOn, TLSConfig: ca.ClientConfig()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t)(tc.srv())
			s := connect(t, srv.Addr(), tc.o)
			const total = 256 << 20
			var sent, recv hashSink
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				rnd := newRand(1)
				buf := make([]byte, 256<<10)
				for n := 0; n < total; {
					k := 1 + rnd.Intn(len(buf))
					if k > total-n {
						k = total - n
					}
					rnd.Fill(buf[:k])
					sent.Write(buf[:k])
					if _, err := s.Write(buf[:k]); err != nil {
						t.Errorf("write: %v", err)
						return
					}
					n += k
				}
				if err := s.CloseWrite(); err != nil {
					t.Errorf("CloseWrite: %v", err)
				}
			}()
			rnd := newRand(2)
			buf := make([]byte, 256<<10)
			n := 0
			for {
				k, err := s.Read(buf[:1+rnd.Intn(len(buf))])
				recv.Write(buf[:k])
				n += k
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("read after %d bytes: %v", n, err)
				}
			}
			wg.Wait()
			if n != total || !bytes.Equal(sent.Sum(), recv.Sum()) {
				t.Fatalf("received %d of %d bytes; checksums equal: %v", n, total, bytes.Equal(sent.Sum(), recv.Sum()))
			}
			waitClosed(t, s)
			if s.Err() != nil {
				t.Fatal(s.Err())
			}
		})
	}
}

func TestRawConn(t *testing.T) {
	s := connect(t, echo(t).Addr(), nil)
	g := newGate()
	pending := connect(t, echo(t).Addr(), &sockets.Options{Dial: g.dial})
	<-g.started
	if _, err := pending.RawConn(); err == nil {
		t.Fatal("RawConn on a pending socket succeeded")
	}
	close(g.release)
	opened(t, s)
	if _, ok := any(s).(syscall.Conn); ok {
		t.Fatal("*Socket is a syscall.Conn: pools would drop its TLS form after each use")
	}
	rc, err := s.RawConn()
	if err != nil {
		t.Fatal(err)
	}
	// The descriptor is the socket's: a non-blocking peek sees the echo.
	s.Write([]byte("p"))
	time.Sleep(20 * time.Millisecond)
	var n int
	rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, _ = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true
	})
	if n != 1 {
		t.Fatalf("peek through RawConn = %d bytes, want 1", n)
	}
	s.Close()
	if _, err := s.RawConn(); !errors.Is(err, sockets.ErrClosed) {
		t.Fatalf("RawConn after Close = %v", err)
	}
}

func TestDialWaitsAndReportsAtOnce(t *testing.T) {
	srv := echo(t)
	s, err := sockets.Dial(ctxT(t), srv.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case <-s.Closed():
		t.Fatal("closed")
	default:
	}
	if s.RemoteAddr().String() != srv.Addr() {
		t.Fatalf("Dial returned before the socket opened: RemoteAddr = %v", s.RemoteAddr())
	}
	_, err = sockets.Dial(ctxT(t), freePort(t), nil)
	var se *sockets.SocketError
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &se) || se.Op != "connect" {
		t.Fatalf("Dial to a closed port = %v", err)
	}
	if _, err := sockets.Dial(ctxT(t), "x:25", nil); !errors.Is(err, sockets.ErrDenied) {
		t.Fatalf("Dial to port 25 = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := sockets.Dial(ctx, srv.Addr(), nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("Dial with a cancelled ctx = %v", err)
	}
}

// A Dial blocked in its dial ends when its context does, or, inside a
// scope, when the scope ends: nothing is left open either way.
func TestDialCancelledMidDial(t *testing.T) {
	srv := echo(t)
	t.Run("context", func(t *testing.T) {
		g := newGate()
		ctx, cancel := context.WithCancel(ctxT(t))
		errc := dialAsync(ctx, srv.Addr(), g)
		<-g.started
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Dial cancelled mid-dial = %v, want context.Canceled", err)
		}
	})
	t.Run("scope", func(t *testing.T) {
		g := newGate()
		sc := sockets.NewScope(context.Background(), nil)
		ctx := sockets.WithScope(ctxT(t), sc)
		errc := dialAsync(ctx, srv.Addr(), g)
		<-g.started
		sc.Close()
		select {
		case err := <-errc:
			if err == nil {
				t.Fatal("Dial whose scope ended mid-dial succeeded")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Dial whose scope ended mid-dial did not return")
		}
		if open, waiting := sc.Open(); open != 0 || waiting != 0 {
			t.Fatalf("scope after Dial failed: %d open, %d waiting", open, waiting)
		}
	})
}

// dialAsync runs sockets.Dial through g in a goroutine and sends its error
// (closing the socket if it opened).
func dialAsync(ctx context.Context, addr string, g *gate) <-chan error {
	errc := make(chan error, 1)
	go func() {
		s, err := sockets.Dial(ctx, addr, &sockets.Options{Dial: g.dial})
		if err == nil {
			s.Close()
		}
		errc <- err
	}()
	return errc
}

func TestAfterClose(t *testing.T) {
	srv := serve(t)(sockettest.NewScripted(sockettest.Expect("x"), sockettest.Reset()))
	s := connect(t, srv.Addr(), nil)
	got := make(chan error, 1)
	s.AfterClose(func() {
		select {
		case <-s.Closed():
		default:
			t.Error("AfterClose ran before Closed fired")
		}
		got <- s.Err()
	})
	s.Write([]byte("x"))
	s.Read(make([]byte, 1))
	select {
	case err := <-got:
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("Err seen by AfterClose = %v, want ECONNRESET", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("AfterClose did not run")
	}
	// On an ended socket it runs at once.
	ran := false
	s.AfterClose(func() { ran = true })
	if !ran {
		t.Fatal("AfterClose on an ended socket did not run at once")
	}
}

// The peer's EOF can arrive while CloseWrite is between the TLS
// close_notify and the TCP FIN: the peer answers close_notify by closing,
// the reader sees EOF, and the socket, done both ways, closes the
// connection. CloseWrite still succeeded in closing the write side.
func TestCloseWriteRacingPeerEOF(t *testing.T) {
	ca := newCA(t)
	srv := serve(t)(sockettest.NewTLSEcho(serverTLS(t, ca)))
	readEOF := make(chan struct{})
	slow := layerFunc(func(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error) {
		c, err := next(ctx)
		if err != nil {
			return nil, err
		}
		return &slowCloseWrite{Conn: c, wait: readEOF}, nil
	})
	s := connect(t, srv.Addr(), &sockets.Options{AllowHalfOpen: true, SecureTransport: sockets.SecureTransportOn, TLSConfig: ca.ClientConfig(), Layers: []sockets.Layer{slow}})
	if _, err := s.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(readEOF)
		io.Copy(io.Discard, s)
	}()
	if err := s.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v, want nil", err)
	}
	waitClosed(t, s)
	if err := s.Err(); err != nil {
		t.Fatalf("Err: %v, want nil (a clean ending)", err)
	}
}

// slowCloseWrite holds the TCP half-close until wait is closed.
type slowCloseWrite struct {
	net.Conn
	wait <-chan struct{}
}

func (c *slowCloseWrite) CloseWrite() error {
	select {
	case <-c.wait:
	case <-time.After(10 * time.Second):
	}
	return c.Conn.(*net.TCPConn).CloseWrite()
}
