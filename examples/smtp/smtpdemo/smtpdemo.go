// Package smtpdemo is the smtp example, run by `go run ./examples/smtp` and by
// the tour. It sends one email with STARTTLS and AUTH through an outbound
// socket, with emersion/go-smtp as the SMTP client.
//
//	go run ./examples/smtp                           # against an in-process server
//	go run ./examples/smtp -security socket-starttls # STARTTLS by Socket.StartTLS
//	SMTP_PASSWORD=... go run ./examples/smtp -addr smtp.example.com:587 \
//		-user alice@example.com -from alice@example.com -to bob@example.com
//
// With no -addr it starts an in-process submission server (STARTTLS with a
// throwaway certificate authority, AUTH PLAIN and LOGIN for user alice) so
// it runs anywhere, and prints what that server received.
//
// The Cloudflare Workers docs name SMTP as a use of the socket API and show
// STARTTLS for mail servers; in JavaScript:
//
//	const socket = connect({ hostname, port: 587 }, { secureTransport: "starttls" });
//	// ... read the greeting, EHLO, STARTTLS, read "220" ...
//	const secureSocket = socket.startTls();
//
// With -security socket-starttls this program does exactly that
// (smtp.DialSocketStartTLS); the default, starttls, lets go-smtp's client
// send STARTTLS over a plain socket (smtp.DialStartTLS). Port 25 is refused
// by the egress policy by default, as on Workers: use a submission port.
package smtpdemo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/smtp"
	"github.com/outboundhq/outbound/smtp/smtptest"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("smtp")
	addr := fs.String("addr", "", "submission server `host:port` (default: an in-process server)")
	security := fs.String("security", "starttls", "how to secure the connection: starttls, socket-starttls or tls (implicit TLS, port 465)")
	user := fs.String("user", "alice", "AUTH user `name`; the password is read from $SMTP_PASSWORD (empty -user: no AUTH)")
	from := fs.String("from", "alice@example.com", "sender `address`")
	to := fs.String("to", "bob@example.com", "comma-separated recipient `addresses`")
	subject := fs.String("subject", "Hello from outbound", "message `subject`")
	caFile := fs.String("ca", "", "PEM `file` of the certificate authority to trust (default: the system roots)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()
	sec := smtp.Security(*security)
	opts := &smtp.Options{Security: sec, TLSConfig: &tls.Config{}, Dialer: fs.Dialer()}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		opts.TLSConfig.RootCAs = x509.NewCertPool()
		if !opts.TLSConfig.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", *caFile)
		}
	}
	password := os.Getenv("SMTP_PASSWORD")

	var srv *smtptest.Server
	if *addr == "" {
		var err error
		srv, password, err = startServer(sec, *user, opts)
		if err != nil {
			return err
		}
		defer srv.Close()
		*addr = srv.Addr()
		mode := "STARTTLS"
		if sec == smtp.SecurityTLS {
			mode = "implicit TLS"
		}
		fmt.Fprintf(stdout, "in-process SMTP server (%s, AUTH PLAIN LOGIN) on %s\n", mode, *addr)
	}

	var auth sasl.Client
	if *user != "" {
		auth = sasl.NewPlainClient("", *user, password)
	}
	rcpts := strings.Split(*to, ",")
	msg := "From: " + *from + "\r\n" +
		"To: " + strings.Join(rcpts, ", ") + "\r\n" +
		"Subject: " + *subject + "\r\n" +
		"Date: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
		"Message-ID: <" + fmt.Sprint(time.Now().UnixNano()) + ".outbound@example.com>\r\n" +
		"\r\n" +
		"Sent through an outbound socket.\r\n"

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := smtp.SendMail(ctx, *addr, auth, *from, rcpts, strings.NewReader(msg), opts); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sent %q from %s to %s with %s\n", *subject, *from, strings.Join(rcpts, ", "), sec)

	if srv != nil {
		for _, m := range srv.Messages() {
			fmt.Fprintf(stdout, "server received: from %s to %v, user %q, TLS %v\n", m.From, m.To, m.User, m.TLS)
		}
	}
	return nil
}

// startServer starts the in-process server: a throwaway CA signs its
// certificate and the client trusts that CA only.
func startServer(sec smtp.Security, user string, opts *smtp.Options) (*smtptest.Server, string, error) {
	ca, err := sockettest.NewCA()
	if err != nil {
		return nil, "", err
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		return nil, "", err
	}
	const password = "in-process-password"
	srv, err := smtptest.NewServer(&smtptest.Options{
		TLSConfig:   cfg,
		ImplicitTLS: sec == smtp.SecurityTLS,
		Users:       map[string]string{user: password},
		RequireAuth: user != "",
	})
	if err != nil {
		return nil, "", err
	}
	opts.TLSConfig.RootCAs = ca.Pool()
	return srv, password, nil
}
