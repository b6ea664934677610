package smtp_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/netip"
	"strings"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/smtp"
	"github.com/outboundhq/outbound/smtp/smtptest"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// exampleServer starts an in-process submission server with STARTTLS (or
// implicit TLS) and AUTH for user alice, and returns it with client options
// that trust its certificate.
func exampleServer(implicitTLS bool) (*smtptest.Server, *smtp.Options) {
	ca, err := sockettest.NewCA()
	if err != nil {
		log.Fatal(err)
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		log.Fatal(err)
	}
	srv, err := smtptest.NewServer(&smtptest.Options{
		TLSConfig:   cfg,
		ImplicitTLS: implicitTLS,
		Users:       map[string]string{"alice": "secret"},
		RequireAuth: true,
		Rcpt: func(to string) error {
			if to == "nobody@example.com" {
				return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
			}
			return nil
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	return srv, &smtp.Options{TLSConfig: ca.ClientConfig()}
}

func ExampleSendMail() {
	srv, opts := exampleServer(false)
	defer srv.Close()

	msg := "From: alice@example.com\r\n" +
		"To: bob@example.com\r\n" +
		"Subject: hello\r\n" +
		"\r\n" +
		"Hello, Bob.\r\n"
	auth := sasl.NewPlainClient("", "alice", "secret")
	err := smtp.SendMail(context.Background(), srv.Addr(), auth,
		"alice@example.com", []string{"bob@example.com"}, strings.NewReader(msg), opts)
	if err != nil {
		log.Fatal(err)
	}

	m := srv.Messages()[0]
	fmt.Printf("from %s to %v as %s, TLS %v\n", m.From, m.To, m.User, m.TLS)
	// Output: from alice@example.com to [bob@example.com] as alice, TLS true
}

// A refused recipient keeps go-smtp's *SMTPError: its code says whether to
// try again later.
func ExampleSendMail_errors() {
	srv, opts := exampleServer(false)
	defer srv.Close()

	auth := sasl.NewLoginClient("alice", "secret")
	err := smtp.SendMail(context.Background(), srv.Addr(), auth,
		"alice@example.com", []string{"nobody@example.com"}, strings.NewReader("Subject: hi\r\n\r\nhi\r\n"), opts)
	var se *gosmtp.SMTPError
	if errors.As(err, &se) {
		fmt.Println(se.Code, se.EnhancedCode, se.Message, "temporary:", se.Temporary())
	}
	// Output: 550 [5 1 1] no such user temporary: false
}

func ExampleDialStartTLS() {
	srv, opts := exampleServer(false)
	defer srv.Close()

	c, err := smtp.DialStartTLS(context.Background(), srv.Addr(), opts)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "alice", "secret")); err != nil {
		log.Fatal(err)
	}
	if err := c.SendMail("alice@example.com", []string{"bob@example.com"}, strings.NewReader("Subject: hi\r\n\r\nhi\r\n")); err != nil {
		log.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		log.Fatal(err)
	}
	_, tls := c.TLSConnectionState()
	fmt.Println("sent:", len(srv.Messages()), "go-smtp did TLS:", tls)
	// Output: sent: 1 go-smtp did TLS: true
}

// STARTTLS the Workers way: the socket is upgraded by Socket.StartTLS.
func ExampleDialSocketStartTLS() {
	srv, opts := exampleServer(false)
	defer srv.Close()

	c, err := smtp.DialSocketStartTLS(context.Background(), srv.Addr(), opts)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", "alice", "secret")); err != nil {
		log.Fatal(err)
	}
	if err := c.SendMail("alice@example.com", []string{"bob@example.com"}, strings.NewReader("Subject: hi\r\n\r\nhi\r\n")); err != nil {
		log.Fatal(err)
	}
	c.Quit()
	fmt.Println("over TLS:", srv.Messages()[0].TLS)
	// Output: over TLS: true
}

func ExampleDialTLS() {
	srv, opts := exampleServer(true) // TLS from the first byte, as on port 465
	defer srv.Close()

	c, err := smtp.DialTLS(context.Background(), srv.Addr(), opts)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	ok, mechs := c.Extension("AUTH")
	fmt.Println("AUTH offered:", ok, mechs)
	// Output: AUTH offered: true PLAIN LOGIN
}

// Plaintext needs an explicit opt-in.
func ExampleDial() {
	srv, err := smtptest.NewServer(nil) // no TLS at all
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	_, err = smtp.Dial(context.Background(), srv.Addr(), nil)
	fmt.Println(errors.Is(err, smtp.ErrPlaintext))

	c, err := smtp.Dial(context.Background(), srv.Addr(), &smtp.Options{AllowPlaintext: true})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println(c.Noop())
	// Output:
	// true
	// <nil>
}

// Port 25 is refused unless the egress policy has a rule that lists it.
func ExampleDialStartTLS_port25() {
	_, err := smtp.DialStartTLS(context.Background(), "mx.example.com:25", nil)
	fmt.Println(errors.Is(err, sockets.ErrDenied))

	// The rule the error message suggests; with it, the same call connects.
	p, err := egress.NewPolicy(egress.PolicyConfig{Rules: []egress.Rule{
		{Name: "mail-relay", Action: egress.Allow, Hosts: []string{"mx.example.com"}, Ports: []string{"25"}},
	}})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(p.Decide("mx.example.com", netip.Addr{}, 25).Allowed)
	// Output:
	// true
	// true
}
