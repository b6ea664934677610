package imap_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/imap"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

type dialFunc func(context.Context, string, *imap.Options) (*imapclient.Client, error)

var secureDials = []struct {
	name     string
	dial     dialFunc
	implicit bool
}{
	{"DialTLS", imap.DialTLS, true},
	{"DialStartTLS", imap.DialStartTLS, false},
	{"DialSocketStartTLS", imap.DialSocketStartTLS, false},
}

// Each secure way in: log in, find a delivered message by its Message-ID and
// fetch it byte for byte.
func TestDialFindFetch(t *testing.T) {
	for _, d := range secureDials {
		t.Run(d.name, func(t *testing.T) {
			p := newInproc(t, d.implicit)
			msg, id := message(t, "hello from "+d.name)
			if err := p.srv.Deliver("alice", msg); err != nil {
				t.Fatal(err)
			}
			c, err := d.dial(ctx(t), p.srv.Addr(), &imap.Options{TLSConfig: p.tls})
			if err != nil {
				t.Fatal(err)
			}
			closeClient(t, c)
			login(t, c, "alice", "wonderland")
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			uids, err := imap.FindMessageID(ctx(t), c, id)
			if err != nil || len(uids) != 1 {
				t.Fatalf("FindMessageID = %v, %v; want one UID", uids, err)
			}
			var got bytes.Buffer
			n, err := imap.FetchBody(ctx(t), c, uids[0], &got)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), msg) || n != int64(len(msg)) {
				t.Fatalf("fetched %d bytes %q, want %q", n, got.Bytes(), msg)
			}
			if _, err := imap.FetchBody(ctx(t), c, uids[0]+100, &got); !errors.Is(err, imap.ErrNotFound) {
				t.Fatalf("FetchBody of a missing UID: %v, want ErrNotFound", err)
			}
			if uids, err := imap.FindMessageID(ctx(t), c, "<nobody@nowhere>"); err != nil || len(uids) != 0 {
				t.Fatalf("FindMessageID(missing) = %v, %v", uids, err)
			}
		})
	}
}

// The Dialer's TLS roots serve when Options.TLSConfig is nil.
func TestDialerTLSRoots(t *testing.T) {
	p := newInproc(t, true)
	d := &dialers.Dialer{Options: &sockets.Options{TLSConfig: p.tls}}
	c, err := imap.DialTLS(ctx(t), p.srv.Addr(), &imap.Options{Dialer: d})
	if err != nil {
		t.Fatal(err)
	}
	closeClient(t, c)
	login(t, c, "alice", "wonderland")
}

func TestPlaintextNeedsOptIn(t *testing.T) {
	p := newInproc(t, false)
	_, err := imap.Dial(ctx(t), p.srv.Addr(), nil)
	if !errors.Is(err, imap.ErrPlaintext) {
		t.Fatalf("Dial without AllowPlaintext: %v, want ErrPlaintext", err)
	}
	errContains(t, err, "AllowPlaintext")
}

// On a plaintext connection LOGIN and AUTHENTICATE never reach the server
// unless the caller opts in, even though this server would accept them.
func TestCredentialsRefusedBeforeTLS(t *testing.T) {
	p := newInproc(t, false)
	steps := map[string]func(c *imapclient.Client) error{
		"LOGIN": func(c *imapclient.Client) error { return c.Login("alice", "wonderland").Wait() },
		"AUTHENTICATE": func(c *imapclient.Client) error {
			return c.Authenticate(sasl.NewPlainClient("", "alice", "wonderland"))
		},
	}
	for name, step := range steps {
		t.Run(name, func(t *testing.T) {
			c, err := imap.Dial(ctx(t), p.srv.Addr(), &imap.Options{AllowPlaintext: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			err = step(c)
			if !imap.IsInsecureAuth(err) {
				t.Fatalf("%s before TLS: %v, want the insecure-auth refusal", name, err)
			}
			errContains(t, err, "AllowInsecureAuth", name)
			// The client stays usable; the server never saw credentials.
			if err := c.Noop().Wait(); err != nil {
				t.Fatalf("NOOP after the refusal: %v", err)
			}
			if n := p.srv.Logins(); n != 0 {
				t.Fatalf("the server saw %d login attempts", n)
			}
		})
	}
}

func TestInsecureAuthOptIn(t *testing.T) {
	s := newInprocInsecure(t)
	c, err := imap.Dial(ctx(t), s.Addr(), &imap.Options{AllowPlaintext: true, AllowInsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	closeClient(t, c)
	login(t, c, "alice", "wonderland")
	if n := s.Logins(); n != 1 {
		t.Fatalf("Logins = %d, want 1", n)
	}
}

// A server without STARTTLS is refused unless plaintext is allowed.
func TestNoStartTLS(t *testing.T) {
	s := newInprocInsecure(t)
	for _, d := range secureDials[1:] {
		t.Run(d.name, func(t *testing.T) {
			_, err := d.dial(ctx(t), s.Addr(), nil)
			if !errors.Is(err, imap.ErrNoStartTLS) {
				t.Fatalf("%v, want ErrNoStartTLS", err)
			}
			c, err := d.dial(ctx(t), s.Addr(), &imap.Options{AllowPlaintext: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Login("alice", "wonderland").Wait(); !imap.IsInsecureAuth(err) {
				t.Fatalf("LOGIN on the plaintext fallback: %v, want ErrInsecureAuth", err)
			}
		})
	}
}

// injector is a scripted IMAP server that answers STARTTLS with OK and, in
// the same write (or a moment later), a forged untagged response: the
// STARTTLS injection. It reports what it read after the OK.
func injector(t *testing.T, late bool) *sockettest.Server {
	t.Helper()
	s, err := sockettest.NewServer(func(conn net.Conn) {
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		conn.Write([]byte("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n"))
		br := bufio.NewReader(conn)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			tag, cmd, _ := strings.Cut(strings.TrimSpace(line), " ")
			switch strings.ToUpper(cmd) {
			case "CAPABILITY":
				conn.Write([]byte("* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n" + tag + " OK done\r\n"))
			case "STARTTLS":
				forged := "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected in plaintext\r\n"
				if late {
					conn.Write([]byte(tag + " OK begin TLS\r\n"))
					time.Sleep(20 * time.Millisecond)
					conn.Write([]byte(forged))
				} else {
					conn.Write([]byte(tag + " OK begin TLS\r\n" + forged))
				}
				br.ReadByte() // the client hello, or the client closing
				return
			default:
				conn.Write([]byte(tag + " BAD unexpected\r\n"))
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStartTLSInjectionRefused(t *testing.T) {
	for _, d := range secureDials[1:] {
		t.Run(d.name, func(t *testing.T) {
			s := injector(t, false)
			c, err := d.dial(ctx(t), s.Addr(), nil)
			if err == nil {
				c.Close()
				t.Fatal("the dial succeeded over an injected STARTTLS reply")
			}
			if !errors.Is(err, sockets.ErrPlaintextInjection) {
				t.Fatalf("%v, want ErrPlaintextInjection", err)
			}
		})
	}
	// Bytes that come after the reply, before the handshake: the socket's
	// StartTLS refuses them, or the handshake fails on them; never read as
	// secure.
	t.Run("late", func(t *testing.T) {
		s := injector(t, true)
		c, err := imap.DialSocketStartTLS(ctx(t), s.Addr(), nil)
		if err == nil {
			c.Close()
			t.Fatal("the dial succeeded after an injection")
		}
	})
}

// The server hangs up in the middle of a message: FetchBody fails at once
// with a clear error and nothing hangs.
func TestServerClosesMidFetch(t *testing.T) {
	s, err := sockettest.NewServer(func(conn net.Conn) {
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		conn.Write([]byte("* OK [CAPABILITY IMAP4rev1] ready\r\n"))
		br := bufio.NewReader(conn)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			f := strings.Fields(line)
			if len(f) < 2 {
				return
			}
			switch strings.ToUpper(f[1]) {
			case "LOGIN":
				conn.Write([]byte(f[0] + " OK logged in\r\n"))
			case "SELECT":
				conn.Write([]byte("* 1 EXISTS\r\n* OK [UIDVALIDITY 1] ok\r\n" + f[0] + " OK [READ-WRITE] selected\r\n"))
			case "UID":
				conn.Write([]byte("* 1 FETCH (UID 7 BODY[] {100000}\r\n" + strings.Repeat("x", 5000)))
				return // and close
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, err := imap.Dial(ctx(t), s.Addr(), &imap.Options{AllowPlaintext: true, AllowInsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	login(t, c, "u", "p")
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var got bytes.Buffer
	n, err := imap.FetchBody(ctx(t), c, 7, &got)
	if err == nil {
		t.Fatalf("FetchBody of a cut message: %d bytes, no error", n)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("FetchBody took %v to notice the server hung up", d)
	}
	if !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("err = %v, want one that says the connection ended", err)
	}
	if n >= 100000 {
		t.Fatalf("copied %d bytes of a message cut at 5000", n)
	}
}

// A policy denial: nothing is dialled, and the error says why.
func TestPolicyDenied(t *testing.T) {
	var accepted atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	p, err := egress.NewPolicy(egress.PolicyConfig{Rules: []egress.Rule{
		{Name: "no-loopback-mail", Action: egress.Deny, Addrs: []string{"127.0.0.0/8"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	d := &dialers.Dialer{Options: &sockets.Options{Policy: p}}
	all := append(secureDials, struct {
		name     string
		dial     dialFunc
		implicit bool
	}{"Dial", imap.Dial, false})
	for _, dd := range all {
		_, err := dd.dial(ctx(t), ln.Addr().String(), &imap.Options{Dialer: d, AllowPlaintext: true})
		if !errors.Is(err, sockets.ErrDenied) {
			t.Errorf("%s: %v, want ErrDenied", dd.name, err)
		}
		var ie *imap.Error
		if !errors.As(err, &ie) || ie.Op != "dial" {
			t.Errorf("%s: %v, want an *imap.Error for dial", dd.name, err)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the listener accepted %d connections despite the policy", n)
	}
}

func TestInvalidOptions(t *testing.T) {
	p := newInproc(t, true)
	for name, o := range map[string]*imap.Options{
		"Client.TLSConfig":               {TLSConfig: p.tls, Client: &imapclient.Options{TLSConfig: p.tls}},
		"Dialer.Options.SecureTransport": {Dialer: &dialers.Dialer{Options: &sockets.Options{SecureTransport: sockets.SecureTransportOn}}},
	} {
		if _, err := imap.DialTLS(ctx(t), p.srv.Addr(), o); !errors.Is(err, sockets.ErrInvalidOptions) {
			t.Errorf("%s: %v, want ErrInvalidOptions", name, err)
		}
	}
}

// ctx bounds the dial: a server that never greets does not hold it.
func TestContextBoundsGreeting(t *testing.T) {
	s, err := sockettest.NewServer(func(conn net.Conn) {
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		conn.Read(make([]byte, 1))
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = imap.Dial(c, s.Addr(), &imap.Options{AllowPlaintext: true})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("took %v", d)
	}
}

var _ = goimap.UID(0)
