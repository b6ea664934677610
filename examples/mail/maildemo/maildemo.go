// Package maildemo is the mail example, run by `go run ./examples/mail` and by
// the tour. The example sends a message with SMTP and reads it back with IMAP, both
// over outbound sockets under one egress policy: outbound's smtp package
// submits it (STARTTLS), outbound's imap package finds it by its Message-ID
// (SEARCH) and fetches it (FETCH BODY.PEEK[]), and the program checks that
// what arrived is, byte for byte, what was sent.
//
//	go run ./examples/mail          # in-process SMTP and IMAP servers: the MTA delivers into the IMAP server
//	go run ./examples/mail -smtp 127.0.0.1:2587 -imap 127.0.0.1:2993 -ca .ci/certs/ca.pem \
//		-user outbound -password outbound -to outbound@localhost   # Postfix and Dovecot
//
// The policy allows exactly the two servers (host and port) and denies the
// rest, so the program also shows a third connection, to port 25 of the
// same host, refused before anything is dialled.
//
// This is the "did my mail arrive" check of an app that sends mail: a bounce
// processor or a support inbox reads the same way. A real MTA adds trace
// headers (Received, Return-Path, Delivered-To) on top of the message, so
// the check is that the fetched message ends with the bytes that were sent.
package maildemo

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/imap"
	"github.com/outboundhq/outbound/imap/imaptest"
	"github.com/outboundhq/outbound/smtp"
	"github.com/outboundhq/outbound/smtp/smtptest"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("mail")
	smtpAddr := fs.String("smtp", "", "SMTP submission server `host:port` with STARTTLS (default: in-process servers)")
	imapAddr := fs.String("imap", "", "IMAP server `host:port`, implicit TLS unless -imap-starttls (with -smtp)")
	imapStartTLS := fs.Bool("imap-starttls", false, "the IMAP server is on a STARTTLS port (143): upgrade with Socket.StartTLS")
	caFile := fs.String("ca", "", "PEM `file` of the certificate authority to trust (default: the system roots)")
	user := fs.String("user", "outbound", "IMAP login `name`")
	password := fs.String("password", "outbound", "IMAP `password`")
	from := fs.String("from", "outbound@localhost", "sender `address`")
	to := fs.String("to", "outbound@localhost", "recipient `address`, whose INBOX the IMAP login reads")
	wait := fs.Duration("wait", 15*time.Second, "how long to look for the message before giving up")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()
	if (*smtpAddr == "") != (*imapAddr == "") {
		return errors.New("give both -smtp and -imap, or neither (for in-process servers)")
	}

	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		tlsConfig.RootCAs = x509.NewCertPool()
		if !tlsConfig.RootCAs.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", *caFile)
		}
	}
	if *smtpAddr == "" {
		servers, err := startServers(*user, *password, *to)
		if err != nil {
			return err
		}
		defer servers.Close()
		*smtpAddr, *imapAddr = servers.smtp.Addr(), servers.imap.Addr()
		tlsConfig.RootCAs = servers.roots
		fmt.Fprintf(stdout, "in-process SMTP server on %s delivers into the in-process IMAP server on %s\n", *smtpAddr, *imapAddr)
	}

	// One egress policy for both: the two servers, nothing else.
	policy, err := allowOnly(*smtpAddr, *imapAddr)
	if err != nil {
		return err
	}
	dialer := fs.Dialer() // the common flags' options (-capture, -trace), then this example's
	dialer.Options.Policy, dialer.Options.TLSConfig = policy, tlsConfig
	fmt.Fprintf(stdout, "egress policy: allow %s and %s, deny the rest\n", *smtpAddr, *imapAddr)

	ctx, cancel := context.WithTimeout(ctx, *wait+15*time.Second)
	defer cancel()

	// The policy refuses anything else before dialling it.
	host, _, _ := net.SplitHostPort(*smtpAddr)
	if _, err := dialer.DialContext(ctx, "tcp", net.JoinHostPort(host, "25")); errors.Is(err, sockets.ErrDenied) {
		fmt.Fprintf(stdout, "policy check: %s is refused before dialling\n", net.JoinHostPort(host, "25"))
	} else {
		return fmt.Errorf("the policy let a connection to port 25 through: %v", err)
	}

	// 1. Send with SMTP (STARTTLS by go-smtp, over an outbound socket).
	msg, id := compose(*from, *to)
	err = smtp.SendMail(ctx, *smtpAddr, nil, *from, []string{*to}, bytes.NewReader(msg),
		&smtp.Options{TLSConfig: tlsConfig, Dialer: dialer})
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	fmt.Fprintf(stdout, "sent %d bytes with Message-ID %s through %s (STARTTLS)\n", len(msg), id, *smtpAddr)

	// 2. Read with IMAP over the same dialer.
	opts := &imap.Options{Dialer: dialer}
	dial, how := imap.DialTLS, "implicit TLS"
	if *imapStartTLS {
		dial, how = imap.DialSocketStartTLS, "STARTTLS by Socket.StartTLS"
	}
	c, err := dial(ctx, *imapAddr, opts)
	if err != nil {
		return fmt.Errorf("imap: %w", err)
	}
	defer c.Close()
	if err := c.Login(*user, *password).Wait(); err != nil {
		return fmt.Errorf("imap LOGIN: %w", err)
	}
	fmt.Fprintf(stdout, "logged in to %s (%s) as %s\n", *imapAddr, how, *user)

	uid, err := find(ctx, c, id, *wait)
	if err != nil {
		return err
	}
	var got bytes.Buffer
	n, err := imap.FetchBody(ctx, c, uid, &got)
	if err != nil {
		return fmt.Errorf("imap FETCH: %w", err)
	}
	if !bytes.HasSuffix(got.Bytes(), msg) {
		return fmt.Errorf("the fetched message (%d bytes) does not end with the %d bytes sent", n, len(msg))
	}
	fmt.Fprintf(stdout, "found it by Message-ID and fetched %d bytes: the %d bytes sent arrived intact (%d bytes of trace headers on top)\n",
		n, len(msg), n-int64(len(msg)))
	if err := c.Logout().Wait(); err != nil {
		return fmt.Errorf("imap LOGOUT: %w", err)
	}
	return nil
}

// find looks for the message until it has arrived (a real MTA delivers a
// moment after accepting it), re-opening INBOX read-only to see new mail.
func find(ctx context.Context, c *imapclient.Client, id string, wait time.Duration) (goimap.UID, error) {
	deadline := time.Now().Add(wait)
	for {
		if _, err := c.Select("INBOX", &goimap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			return 0, fmt.Errorf("imap EXAMINE INBOX: %w", err)
		}
		uids, err := imap.FindMessageID(ctx, c, id)
		if err != nil {
			return 0, fmt.Errorf("imap SEARCH: %w", err)
		}
		if len(uids) > 0 {
			return uids[len(uids)-1], nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("no message with Message-ID %s in INBOX after %v", id, wait)
		}
		select {
		case <-ctx.Done():
			return 0, context.Cause(ctx)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// compose writes a message with a Message-ID of its own.
func compose(from, to string) ([]byte, string) {
	var b [8]byte
	rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	id := "<" + tok + "@mail.example.outbound>"
	var m strings.Builder
	fmt.Fprintf(&m, "From: %s\r\nTo: %s\r\nSubject: round trip %s\r\nMessage-ID: %s\r\nDate: %s\r\n", from, to, tok, id, time.Now().Format(time.RFC1123Z))
	m.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	m.WriteString("Sent with outbound's smtp, read back with its imap.\r\n")
	m.WriteString("Non-ASCII survives too: gr\u00fc\u00dfe, \u65e5\u672c.\r\n")
	return []byte(m.String()), id
}

// allowOnly is a policy that allows the given host:port pairs only.
func allowOnly(addrs ...string) (*egress.Policy, error) {
	cfg := egress.PolicyConfig{Default: egress.Deny}
	for i, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			return nil, err
		}
		r := egress.Rule{Name: fmt.Sprintf("mail-server-%d", i+1), Action: egress.Allow, Ports: []string{port}}
		if ip := net.ParseIP(host); ip != nil {
			r.Addrs = []string{host}
		} else {
			r.Hosts = []string{host}
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	return egress.NewPolicy(cfg)
}

// servers are the in-process SMTP and IMAP servers; the SMTP server
// delivers every message it accepts into the IMAP server's INBOX.
type servers struct {
	smtp  *smtptest.Server
	imap  *imaptest.Server
	roots *x509.CertPool
}

func startServers(user, password, to string) (*servers, error) {
	ca, err := sockettest.NewCA()
	if err != nil {
		return nil, err
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		return nil, err
	}
	is, err := imaptest.NewServer(&imaptest.Options{TLSConfig: cfg, ImplicitTLS: true, Users: map[string]string{user: password}})
	if err != nil {
		return nil, err
	}
	ss, err := smtptest.NewServer(&smtptest.Options{TLSConfig: cfg, Discard: true, Data: func(m smtptest.Message) error {
		for _, rcpt := range m.To {
			if strings.EqualFold(rcpt, to) {
				return is.Deliver(user, m.Data)
			}
		}
		return nil
	}})
	if err != nil {
		is.Close()
		return nil, err
	}
	return &servers{smtp: ss, imap: is, roots: ca.Pool()}, nil
}

func (s *servers) Close() {
	s.smtp.Close()
	s.imap.Close()
}
