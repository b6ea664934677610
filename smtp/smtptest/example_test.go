package smtptest_test

import (
	"fmt"
	"log"
	"strings"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/outboundhq/outbound/smtp/smtptest"
)

func ExampleNewServer() {
	srv, err := smtptest.NewServer(nil) // plaintext, no AUTH
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	c, err := gosmtp.Dial(srv.Addr())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	if err := c.SendMail("alice@example.com", []string{"bob@example.com"}, strings.NewReader("Subject: hi\r\n\r\nhi\r\n")); err != nil {
		log.Fatal(err)
	}
	c.Quit()

	for _, m := range srv.Messages() {
		fmt.Printf("%s -> %v: %q\n", m.From, m.To, m.Data)
	}
	// Output: alice@example.com -> [bob@example.com]: "Subject: hi\r\n\r\nhi\r\n"
}
