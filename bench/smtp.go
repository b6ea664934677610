package main

import (
	"context"
	"crypto/tls"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/outboundhq/outbound/smtp"
	"github.com/outboundhq/outbound/smtp/smtptest"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// smtp messages/s: one message per connection, the whole submission each
// time (connect, greeting, EHLO, STARTTLS and TLS handshake, EHLO, AUTH
// PLAIN, MAIL, RCPT, DATA, QUIT), against an in-process go-smtp server with a
// certificate from a throwaway CA. Raw is go-smtp's own dial
// (smtp.DialStartTLS of emersion/go-smtp, then Auth, SendMail, Quit, as its
// SendMail does); outbound is smtp.SendMail over an outbound socket, with
// STARTTLS by go-smtp's client (the first row) or by Socket.StartTLS (the
// second).
func init() {
	var (
		srv     *smtptest.Server
		cliTLS  *tls.Config
		message = "From: alice@example.com\r\nTo: bob@example.com\r\nSubject: bench\r\n\r\n" + strings.Repeat("The quick brown fox jumps over the lazy dog.\r\n", 20)
	)
	setup := func(ctx context.Context) (func(), error) {
		ca, err := sockettest.NewCA()
		if err != nil {
			return nil, err
		}
		cfg, err := ca.ServerConfig()
		if err != nil {
			return nil, err
		}
		srv, err = smtptest.NewServer(&smtptest.Options{
			TLSConfig:   cfg,
			Users:       map[string]string{"alice": "secret"},
			RequireAuth: true,
			Discard:     true, // keep no message in memory

		})
		if err != nil {
			return nil, err
		}
		cliTLS = ca.ClientConfig()
		return func() { srv.Close() }, nil
	}
	raw := func() error {
		c, err := gosmtp.DialStartTLS(srv.Addr(), cliTLS)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.Auth(sasl.NewPlainClient("", "alice", "secret")); err != nil {
			return err
		}
		if err := c.SendMail("alice@example.com", []string{"bob@example.com"}, strings.NewReader(message)); err != nil {
			return err
		}
		return c.Quit()
	}
	out := func(ctx context.Context, sec smtp.Security) error {
		return smtp.SendMail(ctx, srv.Addr(), sasl.NewPlainClient("", "alice", "secret"),
			"alice@example.com", []string{"bob@example.com"}, strings.NewReader(message),
			&smtp.Options{Security: sec, TLSConfig: cliTLS})
	}
	for _, w := range []struct {
		name   string
		sec    smtp.Security
		target float64
	}{
		{"smtp messages/s (STARTTLS)", smtp.SecurityStartTLS, 0.95},
		{"smtp messages/s (Socket.StartTLS)", smtp.SecuritySocketStartTLS, 0.97},
	} {
		register(Workload{
			Name:   w.name,
			Unit:   "msg/s",
			Target: Target{AtLeast: w.target},
			Setup:  setup,
			Paired: func(ctx context.Context) (Pair, error) {
				// 48 batches of 5 messages a side, interleaved; the
				// figure comes from the batch at the 25th percentile of
				// duration, so pauses caused by other processes on a
				// shared machine (which fall in the slow batches) count
				// for neither side. The server is in-process: CPU counts
				// both ends.
				const (
					batches = 48
					batch   = 5
				)
				rd, od, rc, oc, err := interleaved(ctx, batches, 0.25, func(outbound bool) (time.Duration, error) {
					for range batch {
						var err error
						if outbound {
							err = out(ctx, w.sec)
						} else {
							err = raw()
						}
						if err != nil {
							return 0, err
						}
					}
					return 0, nil
				})
				if err != nil {
					return Pair{}, err
				}
				return Pair{Raw: batch / rd.Seconds(), Outbound: batch / od.Seconds(), RawCPU: perOp(rc, batch), OutboundCPU: perOp(oc, batch)}, nil
			},
		})
	}
}
