package mqtt_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	pahov3 "github.com/eclipse/paho.mqtt.golang"
	"golang.org/x/net/nettest"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/mqtt"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// errRecorded stops a dial once its address has been recorded.
var errRecorded = errors.New("address recorded")

// TestSchemes checks which address and secure transport each broker URL
// gets, by recording what the socket layer is asked to dial.
func TestSchemes(t *testing.T) {
	cases := []struct {
		url     string
		addr    string // "" when the URL is refused before dialling
		wantErr error
	}{
		{"tcp://127.0.0.1:1234", "127.0.0.1:1234", nil},
		{"mqtt://127.0.0.1:1234", "127.0.0.1:1234", nil},
		{"TCP://127.0.0.1:1234", "127.0.0.1:1234", nil},
		{"mqtt://127.0.0.1", "127.0.0.1:1883", nil},
		{"mqtts://127.0.0.1", "127.0.0.1:8883", nil},
		{"ssl://localhost", "localhost:8883", nil},
		{"tls://[::1]:9000", "[::1]:9000", nil},
		{"tcps://[::1]", "[::1]:8883", nil},
		{"mqtt+ssl://127.0.0.1:1", "127.0.0.1:1", nil},
		{"mqtt://user:secret@127.0.0.1:1234", "127.0.0.1:1234", nil},
		{"ws://127.0.0.1:80/mqtt", "", mqtt.ErrUnsupportedScheme},
		{"wss://127.0.0.1:443/mqtt", "", mqtt.ErrUnsupportedScheme},
		{"unix:///run/mqtt.sock", "", mqtt.ErrUnsupportedScheme},
		{"http://127.0.0.1:1883", "", mqtt.ErrUnsupportedScheme},
		{"tcp://:1883", "", sockets.ErrInvalidAddress},
		{"mqtt://127.0.0.1:0", "", sockets.ErrInvalidAddress},
		{"mqtt://127.0.0.1:25", "", sockets.ErrDenied},
	}
	for _, tc := range cases {
		t.Run(tc.url, func(t *testing.T) {
			var dialled []string
			o := &mqtt.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{
				Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
					dialled = append(dialled, addr)
					return nil, errRecorded
				},
			}}}
			_, err := mqtt.Dial(context.Background(), mustURL(t, tc.url), o)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Dial(%s) error %v, want %v", tc.url, err, tc.wantErr)
				}
				if len(dialled) != 0 {
					t.Fatalf("dialled %v for a refused URL", dialled)
				}
				return
			}
			if !errors.Is(err, errRecorded) {
				t.Fatalf("Dial(%s) error %v, want the recording dial's error", tc.url, err)
			}
			if len(dialled) != 1 || dialled[0] != tc.addr {
				t.Fatalf("dialled %v, want [%s]", dialled, tc.addr)
			}
		})
	}
	t.Run("nil URL", func(t *testing.T) {
		if _, err := mqtt.Dial(context.Background(), nil, nil); !errors.Is(err, sockets.ErrInvalidAddress) {
			t.Fatalf("Dial(nil) error %v, want ErrInvalidAddress", err)
		}
	})
}

// TestSecureTransport opens real sockets to plain and TLS servers and checks
// the transport each scheme gets.
func TestSecureTransport(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	scfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := sockettest.NewEcho()
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	secure, err := sockettest.NewTLSEcho(scfg)
	if err != nil {
		t.Fatal(err)
	}
	defer secure.Close()
	tlsOpts := &mqtt.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{TLSConfig: ca.ClientConfig()}}}
	cases := []struct {
		scheme string
		addr   string
		want   sockets.SecureTransport
	}{
		{"tcp", plain.Addr(), sockets.SecureTransportOff},
		{"mqtt", plain.Addr(), sockets.SecureTransportOff},
		{"ssl", secure.Addr(), sockets.SecureTransportOn},
		{"tls", secure.Addr(), sockets.SecureTransportOn},
		{"mqtts", secure.Addr(), sockets.SecureTransportOn},
		{"tcps", secure.Addr(), sockets.SecureTransportOn},
		{"mqtt+ssl", secure.Addr(), sockets.SecureTransportOn},
	}
	for _, tc := range cases {
		t.Run(tc.scheme, func(t *testing.T) {
			ctx := testContext(t, 5*time.Second)
			u := mustURL(t, tc.scheme+"://"+tc.addr)
			// The TLS options are given to the plain schemes too: they are
			// dropped there, not refused.
			c, err := mqtt.Dial(ctx, u, tlsOpts)
			if err != nil {
				t.Fatalf("Dial(%s): %v", u, err)
			}
			defer c.Close()
			s := c.Socket()
			if got := s.SecureTransport(); got != tc.want {
				t.Errorf("secure transport %q, want %q", got, tc.want)
			}
			isTLS := s.ConnectionState().HandshakeComplete
			if isTLS != (tc.want == sockets.SecureTransportOn) {
				t.Errorf("TLS handshake complete = %v for %s", isTLS, tc.scheme)
			}
			if _, err := c.Write([]byte("ping")); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 4)
			if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
				t.Fatalf("echo: %q, %v", buf, err)
			}
		})
	}
}

// TestDenied checks that an address the egress policy refuses fails at
// connect, for every entry point and every client. Port 25 is denied by
// default, as on Workers.
func TestDenied(t *testing.T) {
	const denied = "mqtt://127.0.0.1:25"
	u := mustURL(t, denied)
	ctx := testContext(t, 10*time.Second)
	t.Run("Dial", func(t *testing.T) {
		if _, err := mqtt.Dial(ctx, u, nil); !errors.Is(err, sockets.ErrDenied) {
			t.Fatalf("error %v, want ErrDenied", err)
		}
	})
	t.Run("OpenConnection", func(t *testing.T) {
		if _, err := mqtt.OpenConnection(nil)(u, *pahov3.NewClientOptions()); !errors.Is(err, sockets.ErrDenied) {
			t.Fatalf("error %v, want ErrDenied", err)
		}
	})
	t.Run("AttemptConnection", func(t *testing.T) {
		if _, err := mqtt.AttemptConnection(nil)(ctx, autopaho.ClientConfig{}, u); !errors.Is(err, sockets.ErrDenied) {
			t.Fatalf("error %v, want ErrDenied", err)
		}
	})
	for _, kind := range clientKinds {
		t.Run(kind.name, func(t *testing.T) {
			c, err := kind.connect(ctx, clientConfig{URL: denied, ClientID: clientID(t, "denied")})
			if err == nil {
				c.Close()
				t.Fatal("connect succeeded")
			}
			if !errors.Is(err, sockets.ErrDenied) {
				t.Fatalf("error %v, want one wrapping ErrDenied", err)
			}
		})
	}
}

// TestConnectTimeout checks that the clients' connect timeouts bound the dial
// (paho's hook has no context of its own; autopaho passes its long-lived one).
func TestConnectTimeout(t *testing.T) {
	hang := &mqtt.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	}}}
	u := mustURL(t, "mqtt://127.0.0.1:1883")
	t.Run("OpenConnection", func(t *testing.T) {
		co := pahov3.NewClientOptions().SetConnectTimeout(20 * time.Millisecond)
		if _, err := mqtt.OpenConnection(hang)(u, *co); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want DeadlineExceeded", err)
		}
	})
	t.Run("AttemptConnection", func(t *testing.T) {
		cfg := autopaho.ClientConfig{ConnectTimeout: 20 * time.Millisecond}
		if _, err := mqtt.AttemptConnection(hang)(context.Background(), cfg, u); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("error %v, want DeadlineExceeded", err)
		}
	})
	t.Run("OpenConnectionContext", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		co := pahov3.NewClientOptions() // 30 s timeout: the cancelled parent ends the dial
		if _, err := mqtt.OpenConnectionContext(ctx, hang)(u, *co); !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want Canceled", err)
		}
	})
}

// TestOptionsCopied checks that changing Options after the call has no effect.
func TestOptionsCopied(t *testing.T) {
	srv, err := sockettest.NewEcho()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var mu sync.Mutex
	var calls []string
	hook := func(name string) func(*sockets.Socket) {
		return func(*sockets.Socket) { mu.Lock(); calls = append(calls, name); mu.Unlock() }
	}
	so := &sockets.Options{}
	o := &mqtt.Options{Dialer: &dialers.Dialer{Options: so}, OnSocketOpened: hook("first")}
	open := mqtt.OpenConnection(o)
	o.OnSocketOpened = hook("second")
	so.Dial = func(context.Context, string, string) (net.Conn, error) { return nil, errRecorded }
	c, err := open(mustURL(t, "tcp://"+srv.Addr()), *pahov3.NewClientOptions())
	if err != nil {
		t.Fatalf("open after changing the options: %v", err)
	}
	c.Close()
	if len(calls) != 1 || calls[0] != "first" {
		t.Fatalf("hooks called: %v, want [first]", calls)
	}
}

// TestSocketHooks checks OnSocketOpened and OnSocketClosed, and that the
// closed hook reports why the socket ended.
func TestSocketHooks(t *testing.T) {
	cases := []struct {
		name    string
		handler func(net.Conn)       // the server's side
		client  func(c *mqtt.Conn)   // what the client does
		check   func(err error) bool // on the error OnSocketClosed reports
		want    string
	}{
		{
			name:    "client Close",
			handler: func(c net.Conn) { io.Copy(io.Discard, c) },
			client:  func(c *mqtt.Conn) { c.Close() },
			check:   func(err error) bool { return err == nil },
			want:    "nil",
		},
		{
			name:    "broker closes",
			handler: func(c net.Conn) {},
			client:  func(c *mqtt.Conn) { io.Copy(io.Discard, c) },
			check:   func(err error) bool { return err == nil },
			want:    "nil (the broker's EOF is a clean ending)",
		},
		{
			name: "broker resets",
			handler: func(c net.Conn) {
				// Reset once the client has sent something, so the reset
				// cannot race the client's connect.
				c.Read(make([]byte, 1))
				c.(*net.TCPConn).SetLinger(0)
			},
			client: func(c *mqtt.Conn) { c.Write([]byte{0xc0}); io.Copy(io.Discard, c) },
			check:  func(err error) bool { return errors.Is(err, syscall.ECONNRESET) },
			want:   "ECONNRESET",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, err := sockettest.NewServer(tc.handler)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			var opened *sockets.Socket
			type ending struct {
				s   *sockets.Socket
				err error
			}
			closed := make(chan ending, 1)
			o := &mqtt.Options{
				OnSocketOpened: func(s *sockets.Socket) { opened = s },
				OnSocketClosed: func(s *sockets.Socket, err error) { closed <- ending{s, err} },
			}
			ctx := testContext(t, 5*time.Second)
			c, err := mqtt.Dial(ctx, mustURL(t, "mqtt://"+srv.Addr()), o)
			if err != nil {
				t.Fatal(err)
			}
			if opened != c.Socket() {
				t.Fatalf("OnSocketOpened got %p, Dial returned socket %p", opened, c.Socket())
			}
			tc.client(c)
			select {
			case e := <-closed:
				if e.s != c.Socket() {
					t.Errorf("OnSocketClosed got socket %p, want %p", e.s, c.Socket())
				}
				if !tc.check(e.err) {
					t.Errorf("OnSocketClosed error %v, want %s", e.err, tc.want)
				}
			case <-ctx.Done():
				t.Fatal("OnSocketClosed not called")
			}
			c.Close()
		})
	}
}

// TestConnConformance runs the net.Conn conformance suite on a Conn.
func TestConnConformance(t *testing.T) {
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, nil, err
		}
		defer l.Close()
		c, err := mqtt.Dial(context.Background(), mustURL(t, "mqtt://"+l.Addr().String()), nil)
		if err != nil {
			return nil, nil, nil, err
		}
		p, err := l.Accept()
		if err != nil {
			c.Close()
			return nil, nil, nil, err
		}
		return c, p, func() { c.Close(); p.Close() }, nil
	})
}
