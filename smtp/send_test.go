package smtp_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/smtp"
	"github.com/outboundhq/outbound/smtp/smtptest"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

var users = map[string]string{"alice": "correct horse battery staple"}

// tlsServers starts, for a security mode, a server that matches it.
func tlsServer(t *testing.T, sec smtp.Security, o smtptest.Options) (*smtptest.Server, *smtp.Options) {
	t.Helper()
	ca := mustCA(t)
	o.TLSConfig = serverTLS(t, ca)
	o.ImplicitTLS = sec == smtp.SecurityTLS
	if o.Users == nil {
		o.Users = users
	}
	return newServer(t, &o), &smtp.Options{Security: sec, TLSConfig: ca.ClientConfig()}
}

var secureModes = []smtp.Security{smtp.SecurityStartTLS, smtp.SecuritySocketStartTLS, smtp.SecurityTLS}

func TestSendMailAttachmentsRecipientsAuth(t *testing.T) {
	pdf := make([]byte, 100<<10)
	rand.Read(pdf)
	atts := []attachment{
		{Name: "report.pdf", Type: "application/pdf", Data: pdf},
		{Name: "notes.txt", Type: "text/plain; charset=utf-8", Data: []byte("line one\r\nline two\r\n.\r\nnot the end\r\n")},
	}
	to := []string{"bob@example.com", "carol@example.com", "dave@example.org"}
	auths := map[string]func() sasl.Client{
		"PLAIN": func() sasl.Client { return sasl.NewPlainClient("", "alice", users["alice"]) },
		"LOGIN": func() sasl.Client { return sasl.NewLoginClient("alice", users["alice"]) },
	}
	for _, sec := range secureModes {
		for mech, auth := range auths {
			t.Run(string(sec)+"/"+mech, func(t *testing.T) {
				srv, opts := tlsServer(t, sec, smtptest.Options{RequireAuth: true})
				body := "Hello Bob,\n\nthe report is attached.\n.\nA line with only a dot, above.\n"
				msg := buildMessage("alice@example.com", to, "Report ✓", body, atts...)
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				if err := smtp.SendMail(ctx, srv.Addr(), auth(), "alice@example.com", to, bytes.NewReader(msg), opts); err != nil {
					t.Fatalf("SendMail: %v", err)
				}
				got := srv.Messages()
				if len(got) != 1 {
					t.Fatalf("server accepted %d messages, want 1", len(got))
				}
				m := got[0]
				if m.From != "alice@example.com" || !slices.Equal(m.To, to) || m.User != "alice" || !m.TLS {
					t.Errorf("envelope = from %q to %q user %q tls %v; want alice@example.com, %q, alice, true", m.From, m.To, m.User, m.TLS, to)
				}
				if !bytes.Equal(m.Data, msg) {
					t.Errorf("message changed in transit: got %d bytes, sent %d", len(m.Data), len(msg))
				}
				gotBody, gotAtts := parseMessage(t, m.Data)
				if want := strings.ReplaceAll(body, "\n", "\r\n"); gotBody != want {
					t.Errorf("body = %q, want %q", gotBody, want)
				}
				if len(gotAtts) != len(atts) {
					t.Fatalf("got %d attachments, want %d", len(gotAtts), len(atts))
				}
				for i := range atts {
					if gotAtts[i].Name != atts[i].Name || gotAtts[i].Type != atts[i].Type || !bytes.Equal(gotAtts[i].Data, atts[i].Data) {
						t.Errorf("attachment %d = %s %s (%d bytes), want %s %s (%d bytes)", i, gotAtts[i].Name, gotAtts[i].Type, len(gotAtts[i].Data), atts[i].Name, atts[i].Type, len(atts[i].Data))
					}
				}
			})
		}
	}
}

func TestSendMail10MiB(t *testing.T) {
	// 10 MiB of base64 text lines, as a large attachment would be sent.
	raw := make([]byte, 10<<20/4*3)
	rand.Read(raw)
	msg := buildMessage("alice@example.com", []string{"bob@example.com"}, "big", "see attachment", attachment{Name: "big.bin", Type: "application/octet-stream", Data: raw})
	if len(msg) < 10<<20 {
		t.Fatalf("test message is %d bytes, want at least 10 MiB", len(msg))
	}
	for _, sec := range []smtp.Security{smtp.SecurityStartTLS, smtp.SecuritySocketStartTLS} {
		t.Run(string(sec), func(t *testing.T) {
			srv, opts := tlsServer(t, sec, smtptest.Options{MaxMessageBytes: 16 << 20})
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			auth := sasl.NewPlainClient("", "alice", users["alice"])
			if err := smtp.SendMail(ctx, srv.Addr(), auth, "alice@example.com", []string{"bob@example.com"}, bytes.NewReader(msg), opts); err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			got := srv.Messages()
			if len(got) != 1 || !bytes.Equal(got[0].Data, msg) {
				t.Fatalf("server got %d messages; want 1 equal to the %d bytes sent", len(got), len(msg))
			}
		})
	}
}

func TestSendMailWrongPassword(t *testing.T) {
	for _, sec := range secureModes {
		for _, auth := range []sasl.Client{sasl.NewPlainClient("", "alice", "wrong"), sasl.NewLoginClient("alice", "wrong"), sasl.NewPlainClient("", "mallory", "x")} {
			t.Run(string(sec), func(t *testing.T) {
				srv, opts := tlsServer(t, sec, smtptest.Options{RequireAuth: true})
				err := smtp.SendMail(context.Background(), srv.Addr(), auth, "alice@example.com", []string{"bob@example.com"}, strings.NewReader("Subject: x\r\n\r\nx\r\n"), opts)
				var se *gosmtp.SMTPError
				if !errors.As(err, &se) || se.Code != 535 || se.EnhancedCode != (gosmtp.EnhancedCode{5, 7, 8}) {
					t.Fatalf("err = %v; want an SMTPError 535 5.7.8", err)
				}
				var e *smtp.Error
				if !errors.As(err, &e) || e.Op != "AUTH" || e.Temporary() {
					t.Errorf("err = %#v; want *smtp.Error with Op AUTH, not temporary", err)
				}
				if n := len(srv.Messages()); n != 0 {
					t.Errorf("server accepted %d messages after a failed AUTH", n)
				}
			})
		}
	}
}

// AUTH must never leave the client before TLS, whatever the server offers.
func TestSendMailNoAuthBeforeTLS(t *testing.T) {
	// A server with no TLS that would happily take credentials in plaintext.
	srv := newServer(t, &smtptest.Options{Users: users, AllowInsecureAuth: true})
	auth := sasl.NewPlainClient("", "alice", users["alice"])
	for _, sec := range []smtp.Security{smtp.SecurityStartTLS, smtp.SecuritySocketStartTLS, smtp.SecurityPlaintext} {
		t.Run(string(sec), func(t *testing.T) {
			opts := &smtp.Options{Security: sec, AllowPlaintext: true}
			err := smtp.SendMail(context.Background(), srv.Addr(), auth, "alice@example.com", []string{"bob@example.com"}, strings.NewReader("Subject: x\r\n\r\nx\r\n"), opts)
			if !errors.Is(err, smtp.ErrInsecureAuth) {
				t.Fatalf("err = %v; want ErrInsecureAuth", err)
			}
			if n := srv.AuthAttempts(); n != 0 {
				t.Errorf("server saw %d AUTH attempts; want none", n)
			}
			if n := len(srv.Messages()); n != 0 {
				t.Errorf("server accepted %d messages", n)
			}
		})
	}
	// Without AllowPlaintext the connection stops at STARTTLS.
	for _, sec := range []smtp.Security{smtp.SecurityStartTLS, smtp.SecuritySocketStartTLS} {
		err := smtp.SendMail(context.Background(), srv.Addr(), auth, "alice@example.com", []string{"bob@example.com"}, strings.NewReader("x\r\n"), &smtp.Options{Security: sec})
		if !errors.Is(err, smtp.ErrNoStartTLS) {
			t.Errorf("%s: err = %v; want ErrNoStartTLS", sec, err)
		}
	}
	if n := srv.AuthAttempts(); n != 0 {
		t.Errorf("server saw %d AUTH attempts; want none", n)
	}
}

// The same, on the wire: after EHLO offers AUTH in plaintext, the next line
// from the client is QUIT.
func TestSendMailNoAuthBeforeTLSWire(t *testing.T) {
	srv := scripted(t,
		sockettest.Send("220 mx ESMTP\r\n"),
		sockettest.ExpectLine("EHLO localhost"),
		sockettest.Send("250-mx\r\n250 AUTH PLAIN LOGIN\r\n"),
		sockettest.ExpectLine("QUIT"),
		sockettest.Send("221 bye\r\n"),
	)
	auth := sasl.NewPlainClient("", "alice", "secret")
	err := smtp.SendMail(context.Background(), srv.Addr(), auth, "a@example.com", []string{"b@example.com"}, strings.NewReader("x\r\n"), &smtp.Options{Security: smtp.SecurityPlaintext, AllowPlaintext: true})
	if !errors.Is(err, smtp.ErrInsecureAuth) {
		t.Fatalf("err = %v; want ErrInsecureAuth", err)
	}
	scriptErrs(t, srv)
}

func TestSendMailNoAuthOffered(t *testing.T) {
	for _, sec := range secureModes {
		t.Run(string(sec), func(t *testing.T) {
			srv, opts := tlsServer(t, sec, smtptest.Options{Users: map[string]string{}})
			err := smtp.SendMail(context.Background(), srv.Addr(), sasl.NewPlainClient("", "alice", "x"), "a@example.com", []string{"b@example.com"}, strings.NewReader("x\r\n"), opts)
			if !errors.Is(err, smtp.ErrNoAuth) {
				t.Fatalf("err = %v; want ErrNoAuth", err)
			}
			// And without credentials the same server takes the message.
			if err := smtp.SendMail(context.Background(), srv.Addr(), nil, "a@example.com", []string{"b@example.com"}, strings.NewReader("x\r\n"), opts); err != nil {
				t.Fatalf("SendMail without auth: %v", err)
			}
			if n := srv.AuthAttempts(); n != 0 {
				t.Errorf("server saw %d AUTH attempts", n)
			}
		})
	}
}

// Replies from the server keep go-smtp's *SMTPError: a permanent 550 at RCPT
// and a temporary 451 at DATA.
func TestSendMailServerErrors(t *testing.T) {
	rcpt := func(to string) error {
		switch to {
		case "nobody@example.com":
			return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
		case "busy@example.com":
			return &gosmtp.SMTPError{Code: 450, EnhancedCode: gosmtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy"}
		}
		return nil
	}
	data := func(m smtptest.Message) error {
		if bytes.Contains(m.Data, []byte("greylist me")) {
			return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 7, 1}, Message: "try again later"}
		}
		return nil
	}
	tests := []struct {
		name     string
		to       []string
		body     string
		op       string
		code     int
		enhanced gosmtp.EnhancedCode
		temp     bool
	}{
		{"rcpt 550", []string{"bob@example.com", "nobody@example.com"}, "hi", "RCPT TO <nobody@example.com>", 550, gosmtp.EnhancedCode{5, 1, 1}, false},
		{"rcpt 450", []string{"busy@example.com"}, "hi", "RCPT TO <busy@example.com>", 450, gosmtp.EnhancedCode{4, 2, 1}, true},
		{"data 451", []string{"bob@example.com"}, "greylist me", "DATA", 451, gosmtp.EnhancedCode{4, 7, 1}, true},
	}
	for _, sec := range secureModes {
		srv, opts := tlsServer(t, sec, smtptest.Options{Rcpt: rcpt, Data: data})
		for _, tt := range tests {
			t.Run(string(sec)+"/"+tt.name, func(t *testing.T) {
				err := smtp.SendMail(context.Background(), srv.Addr(), nil, "alice@example.com", tt.to, strings.NewReader("Subject: x\r\n\r\n"+tt.body+"\r\n"), opts)
				var se *gosmtp.SMTPError
				if !errors.As(err, &se) {
					t.Fatalf("err = %v; want an *SMTPError in the chain", err)
				}
				if se.Code != tt.code || se.EnhancedCode != tt.enhanced || se.Temporary() != tt.temp {
					t.Errorf("SMTPError = %d %v temporary %v; want %d %v temporary %v", se.Code, se.EnhancedCode, se.Temporary(), tt.code, tt.enhanced, tt.temp)
				}
				var e *smtp.Error
				if !errors.As(err, &e) || e.Op != tt.op || e.Addr != srv.Addr() || e.Temporary() != tt.temp {
					t.Errorf("err = %v; want *smtp.Error op %q addr %s temporary %v", err, tt.op, srv.Addr(), tt.temp)
				}
			})
		}
		if n := len(srv.Messages()); n != 0 {
			t.Errorf("%s: server accepted %d messages; every one was refused", sec, n)
		}
	}
}

// A server that drops the connection in the middle of DATA: SendMail fails
// with a clear error (nothing is reported as sent).
func TestSendMailDropMidData(t *testing.T) {
	ca := mustCA(t)
	srvCfg := serverTLS(t, ca)
	// go-smtp's STARTTLS says "EHLO localhost" before TLS; DialSocketStartTLS
	// uses LocalName throughout.
	script := func(firstEHLO string) *sockettest.Server {
		return scripted(t,
			sockettest.Send("220 mx ESMTP\r\n"),
			sockettest.ExpectLine("EHLO "+firstEHLO),
			sockettest.Send("250-mx\r\n250 STARTTLS\r\n"),
			sockettest.ExpectLine("STARTTLS"),
			sockettest.Send("220 go ahead\r\n"),
			sockettest.StartTLS(srvCfg),
			sockettest.ExpectLine("EHLO client.example.org"),
			sockettest.Send("250-mx\r\n250 8BITMIME\r\n"),
			sockettest.ExpectLine("MAIL FROM:<alice@example.com> BODY=8BITMIME"),
			sockettest.Send("250 ok\r\n"),
			sockettest.ExpectLine("RCPT TO:<bob@example.com>"),
			sockettest.Send("250 ok\r\n"),
			sockettest.ExpectLine("DATA"),
			sockettest.Send("354 go on\r\n"),
			sockettest.Discard(64<<10),
			sockettest.Reset(),
		)
	}
	msg := buildMessage("alice@example.com", []string{"bob@example.com"}, "x", "x", attachment{Name: "a.bin", Type: "application/octet-stream", Data: make([]byte, 1<<20)})
	for sec, first := range map[smtp.Security]string{smtp.SecurityStartTLS: "localhost", smtp.SecuritySocketStartTLS: "client.example.org"} {
		t.Run(string(sec), func(t *testing.T) {
			srv := script(first)
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			opts := &smtp.Options{Security: sec, TLSConfig: ca.ClientConfig(), LocalName: "client.example.org"}
			err := smtp.SendMail(ctx, srv.Addr(), nil, "alice@example.com", []string{"bob@example.com"}, bytes.NewReader(msg), opts)
			var e *smtp.Error
			if !errors.As(err, &e) || e.Op != "DATA" {
				t.Fatalf("err = %v; want an *smtp.Error at DATA", err)
			}
			if ctx.Err() != nil {
				t.Fatalf("SendMail only returned when ctx expired: %v", err)
			}
			if e.Temporary() {
				t.Errorf("a dropped connection is not an SMTP 4xx reply: %v", err)
			}
			scriptErrs(t, srv)
		})
	}
}

// A failing message reader must not let the server accept a truncated message.
func TestSendMailReaderError(t *testing.T) {
	srv, opts := tlsServer(t, smtp.SecurityStartTLS, smtptest.Options{})
	boom := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader("Subject: half\r\n\r\nfirst half\r\n"), errReader{boom})
	err := smtp.SendMail(context.Background(), srv.Addr(), nil, "a@example.com", []string{"b@example.com"}, r, opts)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v; want the reader's error", err)
	}
	// The server discards the partial message when the connection closes.
	time.Sleep(50 * time.Millisecond)
	if n := len(srv.Messages()); n != 0 {
		t.Errorf("server accepted %d messages from a failed reader", n)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func TestSendMailInvalid(t *testing.T) {
	tests := []struct {
		name string
		to   []string
		opts *smtp.Options
		want error
	}{
		{"no recipients", nil, nil, nil},
		{"unknown security", []string{"b@example.com"}, &smtp.Options{Security: "ssl"}, sockets.ErrInvalidOptions},
		{"plaintext not allowed", []string{"b@example.com"}, &smtp.Options{Security: smtp.SecurityPlaintext}, smtp.ErrPlaintext},
		{"socket transport set", []string{"b@example.com"}, &smtp.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{SecureTransport: sockets.SecureTransportOn}}}, sockets.ErrInvalidOptions},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Nothing listens here: each error must come before any dial.
			err := smtp.SendMail(context.Background(), "127.0.0.1:1", nil, "a@example.com", tt.to, strings.NewReader("x\r\n"), tt.opts)
			var e *smtp.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v; want *smtp.Error", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("err = %v; want %v", err, tt.want)
			}
			if errors.Is(err, errConnRefused) {
				t.Errorf("err = %v: SendMail dialled before checking its arguments", err)
			}
		})
	}
}
