package smtp_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/smtp"
	"github.com/outboundhq/outbound/smtp/smtptest"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

var errConnRefused = syscall.ECONNREFUSED

type dialFunc func(context.Context, string, *smtp.Options) (*gosmtp.Client, error)

var dials = []struct {
	name string
	sec  smtp.Security
	dial dialFunc
}{
	{"DialStartTLS", smtp.SecurityStartTLS, smtp.DialStartTLS},
	{"DialSocketStartTLS", smtp.SecuritySocketStartTLS, smtp.DialSocketStartTLS},
	{"DialTLS", smtp.SecurityTLS, smtp.DialTLS},
}

// Every Dial function returns a client that can send right away.
func TestDialReady(t *testing.T) {
	for _, d := range dials {
		t.Run(d.name, func(t *testing.T) {
			srv, opts := tlsServer(t, d.sec, smtptest.Options{})
			c, err := d.dial(context.Background(), srv.Addr(), opts)
			if err != nil {
				t.Fatalf("%s: %v", d.name, err)
			}
			defer c.Close()
			if err := c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader("Subject: hi\r\n\r\nhi\r\n")); err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			if err := c.Quit(); err != nil {
				t.Fatalf("Quit: %v", err)
			}
			got := srv.Messages()
			if len(got) != 1 || !got[0].TLS {
				t.Fatalf("server messages = %+v; want one, over TLS", got)
			}
			// go-smtp reports TLS only when it did the handshake itself.
			if _, ok := c.TLSConnectionState(); ok != (d.sec == smtp.SecurityStartTLS) {
				t.Errorf("TLSConnectionState ok = %v", ok)
			}
		})
	}
}

func TestDialPlaintext(t *testing.T) {
	srv := newServer(t, nil)
	_, err := smtp.Dial(context.Background(), srv.Addr(), nil)
	if !errors.Is(err, smtp.ErrPlaintext) || !strings.Contains(err.Error(), "AllowPlaintext") {
		t.Fatalf("Dial without AllowPlaintext: err = %v; want ErrPlaintext naming Options.AllowPlaintext", err)
	}
	if n := srv.Sessions(); n != 0 {
		t.Errorf("Dial connected anyway (%d sessions)", n)
	}
	c, err := smtp.Dial(context.Background(), srv.Addr(), &smtp.Options{AllowPlaintext: true})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Close()
	if err := c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader("x\r\n")); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	if got := srv.Messages(); len(got) != 1 || got[0].TLS {
		t.Fatalf("messages = %+v; want one, plaintext", got)
	}
}

// STARTTLS is required unless the caller allows plaintext.
func TestDialNoStartTLS(t *testing.T) {
	srv := newServer(t, nil) // offers no STARTTLS
	for _, d := range dials[:2] {
		t.Run(d.name, func(t *testing.T) {
			_, err := d.dial(context.Background(), srv.Addr(), nil)
			if !errors.Is(err, smtp.ErrNoStartTLS) {
				t.Fatalf("err = %v; want ErrNoStartTLS", err)
			}
			for _, hint := range []string{"DialTLS", "AllowPlaintext"} {
				if !strings.Contains(err.Error(), hint) {
					t.Errorf("error %q does not mention %s", err, hint)
				}
			}
			c, err := d.dial(context.Background(), srv.Addr(), &smtp.Options{AllowPlaintext: true})
			if err != nil {
				t.Fatalf("with AllowPlaintext: %v", err)
			}
			defer c.Close()
			if err := c.SendMail("a@example.com", []string{"b@example.com"}, strings.NewReader("x\r\n")); err != nil {
				t.Fatalf("SendMail in plaintext: %v", err)
			}
			c.Quit()
		})
	}
	for _, m := range srv.Messages() {
		if m.TLS {
			t.Errorf("message over TLS from a server without TLS: %+v", m)
		}
	}
	if n := len(srv.Messages()); n != 2 {
		t.Errorf("server accepted %d messages, want 2", n)
	}
}

// TLS settings are checked: a server whose certificate the client does not
// trust is refused, in every TLS mode.
func TestDialUntrustedCertificate(t *testing.T) {
	for _, d := range dials {
		t.Run(d.name, func(t *testing.T) {
			srv, _ := tlsServer(t, d.sec, smtptest.Options{})
			other := mustCA(t)
			_, err := d.dial(context.Background(), srv.Addr(), &smtp.Options{TLSConfig: other.ClientConfig()})
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("err = %v; want a certificate error", err)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Fatal("message sent")
			}
			// The expected host name is checked too.
			ca := mustCA(t)
			cfg, err := ca.ServerConfig("mail.example.com")
			if err != nil {
				t.Fatal(err)
			}
			srv2 := newServer(t, &smtptest.Options{TLSConfig: cfg, ImplicitTLS: d.sec == smtp.SecurityTLS})
			_, err = d.dial(context.Background(), srv2.Addr(), &smtp.Options{TLSConfig: ca.ClientConfig()})
			if err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
				t.Fatalf("err = %v; want a host name mismatch naming 127.0.0.1", err)
			}
			cc := ca.ClientConfig()
			cc.ServerName = "mail.example.com"
			c, err := d.dial(context.Background(), srv2.Addr(), &smtp.Options{TLSConfig: cc})
			if err != nil {
				t.Fatalf("with ServerName mail.example.com: %v", err)
			}
			c.Close()
		})
	}
}

// STARTTLS injection: the server's reply to STARTTLS is followed, in the same
// write, by plaintext that a careless client would read as if it came over
// TLS. DialSocketStartTLS finds it with the reply and refuses it before
// calling Socket.StartTLS (bytes that come later are the socket's to refuse,
// which the sockets tests prove); no TLS handshake may start.
func TestSocketStartTLSInjection(t *testing.T) {
	ca := mustCA(t)
	var got atomic.Int64
	srv := scripted(t,
		sockettest.Send("220 mx ESMTP\r\n"),
		sockettest.ExpectLine("EHLO localhost"),
		sockettest.Send("250-mx\r\n250 STARTTLS\r\n"),
		sockettest.ExpectLine("STARTTLS"),
		sockettest.Send("220 go ahead\r\n250 injected\r\n"),
		sockettest.Func(func(c net.Conn) error {
			n, _ := io.Copy(io.Discard, c) // until the client closes (or resets)
			got.Store(n)
			return nil
		}),
	)
	_, err := smtp.DialSocketStartTLS(context.Background(), srv.Addr(), &smtp.Options{TLSConfig: ca.ClientConfig()})
	if !errors.Is(err, sockets.ErrPlaintextInjection) {
		t.Fatalf("err = %v; want ErrPlaintextInjection", err)
	}
	var e *smtp.Error
	if !errors.As(err, &e) || e.Op != "STARTTLS" {
		t.Errorf("err = %v; want *smtp.Error at STARTTLS", err)
	}
	scriptErrs(t, srv)
	if n := got.Load(); n != 0 {
		t.Errorf("client sent %d bytes after the injected reply; want none (no ClientHello)", n)
	}
}

// Bytes the server pushes after its EHLO reply, unasked, are refused before
// STARTTLS is sent.
func TestSocketStartTLSUnaskedData(t *testing.T) {
	srv := scripted(t,
		sockettest.Send("220 mx ESMTP\r\n"),
		sockettest.ExpectLine("EHLO localhost"),
		sockettest.Send("250-mx\r\n250 STARTTLS\r\n220 go ahead\r\n"),
		sockettest.Func(func(c net.Conn) error {
			b, _ := io.ReadAll(c)
			if len(b) != 0 {
				return errors.New("client sent " + string(b))
			}
			return nil
		}),
	)
	_, err := smtp.DialSocketStartTLS(context.Background(), srv.Addr(), nil)
	if !errors.Is(err, sockets.ErrPlaintextInjection) {
		t.Fatalf("err = %v; want ErrPlaintextInjection", err)
	}
	scriptErrs(t, srv)
}

// go-smtp's own STARTTLS drops what its plaintext buffer holds, so an
// injected reply is never read as if it came over TLS: here the client's
// view of the EHLO reply over TLS is the server's real one (SIZE 1234), not
// "250 injected".
func TestStartTLSInjectionGoSMTP(t *testing.T) {
	ca := mustCA(t)
	srv := scripted(t,
		sockettest.Send("220 mx ESMTP\r\n"),
		sockettest.ExpectLine("EHLO localhost"),
		sockettest.Send("250-mx\r\n250 STARTTLS\r\n"),
		sockettest.ExpectLine("STARTTLS"),
		sockettest.Send("220 go ahead\r\n250 injected\r\n"),
		sockettest.StartTLS(serverTLS(t, ca)),
		sockettest.ExpectLine("EHLO localhost"),
		sockettest.Send("250-mx\r\n250 SIZE 1234\r\n"),
		sockettest.ExpectLine("NOOP"),
		sockettest.Send("250 ok\r\n"),
	)
	c, err := smtp.DialStartTLS(context.Background(), srv.Addr(), &smtp.Options{TLSConfig: ca.ClientConfig()})
	if err != nil {
		// Had the injected bytes reached the handshake instead, it fails: safe too.
		t.Logf("DialStartTLS: %v", err)
		return
	}
	defer c.Close()
	if size, ok := c.MaxMessageSize(); !ok || size != 1234 {
		t.Errorf("MaxMessageSize = %d, %v; want 1234 from the EHLO reply over TLS", size, ok)
	}
	if err := c.Noop(); err != nil {
		t.Errorf("Noop: %v", err)
	}
	scriptErrs(t, srv)
}

// Port 25 is refused by default, before any connection is made, with a
// message that says how to allow it.
func TestPort25DeniedByDefault(t *testing.T) {
	var dialled atomic.Int32
	so := &sockets.Options{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialled.Add(1)
		return nil, errors.New("must not dial")
	}}
	for _, d := range append(dials, struct {
		name string
		sec  smtp.Security
		dial dialFunc
	}{"Dial", smtp.SecurityPlaintext, smtp.Dial}) {
		t.Run(d.name, func(t *testing.T) {
			_, err := d.dial(context.Background(), "mx.example.com:25", &smtp.Options{Dialer: &dialers.Dialer{Options: so}, AllowPlaintext: true})
			if !errors.Is(err, sockets.ErrDenied) {
				t.Fatalf("err = %v; want ErrDenied", err)
			}
			if msg := err.Error(); !strings.Contains(msg, "port 25") || !strings.Contains(msg, "policy") || !strings.Contains(msg, "587") {
				t.Errorf("message %q does not name port 25, the policy rule to allow it and the submission ports", msg)
			}
			err = smtp.SendMail(context.Background(), "mx.example.com:25", nil, "a@example.com", []string{"b@example.com"}, strings.NewReader("x\r\n"), &smtp.Options{Security: d.sec, Dialer: &dialers.Dialer{Options: so}, AllowPlaintext: true})
			if !errors.Is(err, sockets.ErrDenied) {
				t.Fatalf("SendMail: err = %v; want ErrDenied", err)
			}
		})
	}
	if n := dialled.Load(); n != 0 {
		t.Errorf("dialled %d times; port 25 must be refused before dialling", n)
	}
}

// ctx bounds the dial: a server that accepts and never greets.
func TestDialContextDeadline(t *testing.T) {
	srv := scripted(t, sockettest.Sleep(10*time.Second))
	for _, d := range dials {
		t.Run(d.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := d.dial(ctx, srv.Addr(), &smtp.Options{TLSConfig: mustCA(t).ClientConfig()})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err = %v; want context.DeadlineExceeded", err)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("returned after %v", el)
			}
		})
	}
	// SendMail too, and ctx covers the exchange after the dial.
	srv2, opts := tlsServer(t, smtp.SecurityStartTLS, smtptest.Options{Data: func(smtptest.Message) error {
		time.Sleep(2 * time.Second)
		return nil
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err := smtp.SendMail(ctx, srv2.Addr(), nil, "a@example.com", []string{"b@example.com"}, strings.NewReader("x\r\n"), opts)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendMail: err = %v; want context.DeadlineExceeded", err)
	}
}

// Cancelling ctx after the dial returned has no effect on the client.
func TestDialContextNotLifetime(t *testing.T) {
	for _, d := range dials {
		t.Run(d.name, func(t *testing.T) {
			srv, opts := tlsServer(t, d.sec, smtptest.Options{})
			ctx, cancel := context.WithCancel(context.Background())
			c, err := d.dial(ctx, srv.Addr(), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			cancel()
			if err := c.Noop(); err != nil {
				t.Fatalf("Noop after cancel: %v", err)
			}
		})
	}
}

func TestLocalNameValidated(t *testing.T) {
	srv, opts := tlsServer(t, smtp.SecuritySocketStartTLS, smtptest.Options{})
	opts.LocalName = "evil\r\nRCPT TO:<x@y>"
	for _, d := range dials {
		if _, err := d.dial(context.Background(), srv.Addr(), opts); err == nil {
			t.Errorf("%s accepted a LocalName with CRLF", d.name)
		}
	}
}
