package smtp_test

import (
	"context"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/outboundhq/outbound/smtp"
	"github.com/outboundhq/outbound/smtp/smtptest"
)

// BenchmarkSendMail is one message per connection, the whole submission
// with STARTTLS and AUTH PLAIN, against an in-process server: go-smtp's own
// dial (raw), then SendMail with go-smtp doing STARTTLS, then with
// Socket.StartTLS doing it. CPU and allocations count both ends.
func BenchmarkSendMail(b *testing.B) {
	ca := mustCA(b)
	srv := newServer(b, &smtptest.Options{
		TLSConfig:   serverTLS(b, ca),
		Users:       map[string]string{"alice": "secret"},
		RequireAuth: true,
		Discard:     true,
	})
	cli := ca.ClientConfig()
	msg := "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: bench\r\n\r\n" + strings.Repeat("The quick brown fox jumps over the lazy dog.\r\n", 20)
	to := []string{"bob@example.com"}
	b.Run("raw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, err := gosmtp.DialStartTLS(srv.Addr(), cli)
			if err != nil {
				b.Fatal(err)
			}
			if err := c.Auth(sasl.NewPlainClient("", "alice", "secret")); err != nil {
				b.Fatal(err)
			}
			if err := c.SendMail("alice@example.com", to, strings.NewReader(msg)); err != nil {
				b.Fatal(err)
			}
			if err := c.Quit(); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, sec := range []smtp.Security{smtp.SecurityStartTLS, smtp.SecuritySocketStartTLS} {
		b.Run(string(sec), func(b *testing.B) {
			b.ReportAllocs()
			ctx := context.Background()
			o := &smtp.Options{Security: sec, TLSConfig: cli}
			for b.Loop() {
				if err := smtp.SendMail(ctx, srv.Addr(), sasl.NewPlainClient("", "alice", "secret"), "alice@example.com", to, strings.NewReader(msg), o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
