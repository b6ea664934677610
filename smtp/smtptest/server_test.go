package smtptest_test

import (
	"bufio"
	"encoding/base64"
	"errors"
	"net"
	"net/textproto"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"
	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/smtp/smtptest"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func start(t *testing.T, o *smtptest.Options) *smtptest.Server {
	t.Helper()
	s, err := smtptest.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestNewServerOptions(t *testing.T) {
	if _, err := smtptest.NewServer(&smtptest.Options{ImplicitTLS: true}); err == nil {
		t.Fatal("ImplicitTLS without TLSConfig accepted")
	}
}

// The server's features, seen from go-smtp's own client over net.Conn.
func TestServer(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]string{"alice": "pw"}
	tests := []struct {
		name   string
		opts   smtptest.Options
		dial   func(addr string) (*gosmtp.Client, error)
		auth   sasl.Client
		tls    bool
		user   string
		sendOK bool
	}{
		{"plain", smtptest.Options{}, gosmtp.Dial, nil, false, "", true},
		{"starttls+plain auth", smtptest.Options{TLSConfig: cfg, Users: users, RequireAuth: true},
			func(a string) (*gosmtp.Client, error) { return gosmtp.DialStartTLS(a, ca.ClientConfig()) },
			sasl.NewPlainClient("", "alice", "pw"), true, "alice", true},
		{"implicit tls+login auth", smtptest.Options{TLSConfig: cfg, ImplicitTLS: true, Users: users},
			func(a string) (*gosmtp.Client, error) {
				c := ca.ClientConfig()
				c.ServerName = "127.0.0.1"
				return gosmtp.DialTLS(a, c)
			},
			sasl.NewLoginClient("alice", "pw"), true, "alice", true},
		{"auth required", smtptest.Options{TLSConfig: cfg, Users: users, RequireAuth: true},
			func(a string) (*gosmtp.Client, error) { return gosmtp.DialStartTLS(a, ca.ClientConfig()) },
			nil, true, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := start(t, &tt.opts)
			c, err := tt.dial(s.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tt.auth != nil {
				if err := c.Auth(tt.auth); err != nil {
					t.Fatalf("Auth: %v", err)
				}
			}
			err = c.SendMail("a@example.com", []string{"b@example.com", "c@example.com"}, strings.NewReader("Subject: x\r\n\r\n.dot\r\n"))
			if tt.sendOK != (err == nil) {
				t.Fatalf("SendMail: %v", err)
			}
			c.Quit()
			got := s.Messages()
			if !tt.sendOK {
				var se *gosmtp.SMTPError
				if !errors.As(err, &se) || se.Code != 502 || len(got) != 0 {
					t.Fatalf("err = %v, %d messages; want 502 and none", err, len(got))
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%d messages", len(got))
			}
			m := got[0]
			if m.From != "a@example.com" || len(m.To) != 2 || string(m.Data) != "Subject: x\r\n\r\n.dot\r\n" || m.TLS != tt.tls || m.User != tt.user {
				t.Errorf("message = %+v %q", m, m.Data)
			}
		})
	}
}

// AUTH LOGIN without an initial response: "Username:" then "Password:".
func TestLoginWithoutInitialResponse(t *testing.T) {
	s := start(t, &smtptest.Options{Users: map[string]string{"alice": "pw"}, AllowInsecureAuth: true})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	tc := textproto.NewConn(conn)
	step := func(cmd string, code int, want string) {
		t.Helper()
		if cmd != "" {
			if err := tc.PrintfLine("%s", cmd); err != nil {
				t.Fatal(err)
			}
		}
		_, msg, err := tc.ReadResponse(code)
		if err != nil {
			t.Fatalf("%q: %v", cmd, err)
		}
		if want != "" && msg != want {
			t.Fatalf("%q: reply %q, want %q", cmd, msg, want)
		}
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	step("", 220, "")
	step("EHLO test", 250, "")
	step("AUTH LOGIN", 334, b64("Username:"))
	step(b64("alice"), 334, b64("Password:"))
	step(b64("pw"), 235, "")
	if s.AuthAttempts() != 1 {
		t.Errorf("AuthAttempts = %d", s.AuthAttempts())
	}
}

func TestDiscard(t *testing.T) {
	var seen atomic.Int32
	s := start(t, &smtptest.Options{Discard: true, Data: func(smtptest.Message) error { seen.Add(1); return nil }})
	c, err := gosmtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader("x\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	if n := len(s.Messages()); n != 0 || seen.Load() != 1 {
		t.Fatalf("Messages() has %d, Data hook saw %d; want 0 and 1", n, seen.Load())
	}
}

func TestMaxMessageBytes(t *testing.T) {
	s := start(t, &smtptest.Options{MaxMessageBytes: 100})
	c, err := gosmtp.Dial(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader(strings.Repeat("x", 200)+"\r\n"))
	var se *gosmtp.SMTPError
	if !errors.As(err, &se) || se.Code != 552 {
		t.Fatalf("err = %v; want 552", err)
	}
}

// Close ends open connections and leaves no goroutine (checked by goleak).
func TestCloseWithOpenConnection(t *testing.T) {
	s, err := smtptest.NewServer(nil)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection still open after Close")
	}
}
