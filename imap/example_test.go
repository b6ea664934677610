package imap_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/outboundhq/outbound/imap"
	"github.com/outboundhq/outbound/imap/imaptest"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// Find a message by its Message-ID and fetch it, over implicit TLS. The
// in-process server stands in for imap.example.com:993.
func ExampleDialTLS() {
	ca, _ := sockettest.NewCA()
	cfg, _ := ca.ServerConfig()
	srv, _ := imaptest.NewServer(&imaptest.Options{TLSConfig: cfg, ImplicitTLS: true, Users: map[string]string{"alice": "pw"}})
	defer srv.Close()
	srv.Deliver("alice", []byte("Message-ID: <1@example.com>\r\nSubject: hi\r\n\r\nhello\r\n"))

	ctx := context.Background()
	c, err := imap.DialTLS(ctx, srv.Addr(), &imap.Options{TLSConfig: ca.ClientConfig()})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.Login("alice", "pw").Wait(); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		fmt.Println(err)
		return
	}
	uids, _ := imap.FindMessageID(ctx, c, "<1@example.com>")
	var msg bytes.Buffer
	n, err := imap.FetchBody(ctx, c, uids[0], &msg)
	fmt.Println(len(uids), n, err)
	c.Logout().Wait()
	// Output: 1 51 <nil>
}

// On a connection that is not TLS, credentials are refused before they are
// sent, unless Options.AllowInsecureAuth is set.
func ExampleIsInsecureAuth() {
	srv, _ := imaptest.NewServer(&imaptest.Options{InsecureAuth: true, Users: map[string]string{"alice": "pw"}})
	defer srv.Close()
	c, err := imap.Dial(context.Background(), srv.Addr(), &imap.Options{AllowPlaintext: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	err = c.Login("alice", "pw").Wait()
	fmt.Println(imap.IsInsecureAuth(err), srv.Logins())
	// Output: true 0
}
