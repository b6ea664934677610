package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/outboundhq/outbound/smtp"
	"github.com/outboundhq/outbound/smtp/smtptest"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// smtpServer is the MTA of the integration tests: submission with STARTTLS.
var smtpServer = &server{
	envVar: "OUTBOUND_TEST_SMTP",
	start:  "docker compose up -d --wait smtp",
	addr:   plainAddr,
}

// demoSMTP sends one message with AUTH to an in-process submission server,
// upgrading the way the Workers docs show: the socket is opened with
// secureTransport "starttls", the client speaks SMTP up to the 220 reply to
// STARTTLS, and Socket.StartTLS does the handshake (smtp.SecuritySocketStartTLS).
func demoSMTP(ctx context.Context, e *env) error {
	ca, err := sockettest.NewCA()
	if err != nil {
		return err
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		return err
	}
	srv, err := smtptest.NewServer(&smtptest.Options{
		TLSConfig:   cfg,
		Users:       map[string]string{"alice": "secret"},
		RequireAuth: true,
	})
	if err != nil {
		return err
	}
	defer srv.Close()

	opts := &smtp.Options{Security: smtp.SecuritySocketStartTLS, TLSConfig: &tls.Config{RootCAs: ca.Pool()}}
	e.step("SendMail to %s: EHLO, STARTTLS, Socket.StartTLS, AUTH PLAIN, MAIL, RCPT, DATA", srv.Addr())
	err = smtp.SendMail(ctx, srv.Addr(), sasl.NewPlainClient("", "alice", "secret"),
		"alice@example.com", []string{"bob@example.com"}, strings.NewReader(mailMessage("bob@example.com")), opts)
	if err != nil {
		return err
	}
	msgs := srv.Messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != "alice" {
		return fmt.Errorf("the server recorded %+v, want one message from alice over TLS", msgs)
	}
	return nil
}

// demoSMTPMTA sends one message through the real MTA with STARTTLS, its
// certificate verified against OUTBOUND_TEST_SMTP_CA.
func demoSMTPMTA(ctx context.Context, e *env) error {
	roots, err := loadCA(e.lookup("OUTBOUND_TEST_SMTP_CA"))
	if err != nil {
		return err
	}
	opts := &smtp.Options{Security: smtp.SecurityStartTLS, TLSConfig: &tls.Config{RootCAs: roots}}
	e.step("SendMail to %s with STARTTLS", e.addr)
	return smtp.SendMail(ctx, e.addr, nil, "tour@example.com", []string{"outbound@localhost"},
		strings.NewReader(mailMessage("outbound@localhost")), opts)
}

func mailMessage(to string) string {
	return "From: tour@example.com\r\n" +
		"To: " + to + "\r\n" +
		"Subject: outbound tour\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
		"\r\n" +
		"Sent by go run ./examples/tour through an outbound socket.\r\n"
}
