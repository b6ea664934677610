package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"strings"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/outboundhq/outbound/imap"
	"github.com/outboundhq/outbound/imap/imaptest"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// imap FETCH msg/s: one FETCH 1:1000 (UID, BODY.PEEK[]) of 1,000 small
// messages (about 1 KiB each) over one logged-in IMAPS connection, bodies
// streamed and discarded, against go-imap's own in-process server
// (imaptest) with a certificate from a throwaway CA. Raw is go-imap's own
// dialer (imapclient.DialTLS); outbound is imap.DialTLS over an outbound
// socket (TLS by the socket, secureTransport "on").
func init() {
	const messages = 1000
	var (
		srv     *imaptest.Server
		cliTLS  *tls.Config
		clients [2]*imapclient.Client // raw, outbound
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
		srv, err = imaptest.NewServer(&imaptest.Options{TLSConfig: cfg, ImplicitTLS: true, Users: map[string]string{"alice": "secret"}})
		if err != nil {
			return nil, err
		}
		body := strings.Repeat("The quick brown fox jumps over the lazy dog.\r\n", 20)
		for i := range messages {
			msg := fmt.Sprintf("From: alice@example.com\r\nTo: bob@example.com\r\nSubject: bench %d\r\nMessage-ID: <%d@bench.outbound>\r\n\r\n%s", i, i, body)
			if err := srv.Deliver("alice", []byte(msg)); err != nil {
				srv.Close()
				return nil, err
			}
		}
		cliTLS = ca.ClientConfig()
		cleanup := func() {
			for i, c := range clients {
				if c != nil {
					c.Close()
					clients[i] = nil
				}
			}
			srv.Close()
		}
		for i, outbound := range []bool{false, true} {
			var c *imapclient.Client
			if outbound {
				c, err = imap.DialTLS(ctx, srv.Addr(), &imap.Options{TLSConfig: cliTLS})
			} else {
				c, err = imapclient.DialTLS(srv.Addr(), &imapclient.Options{TLSConfig: cliTLS})
			}
			if err == nil {
				clients[i] = c
				err = c.Login("alice", "secret").Wait()
			}
			if err == nil {
				_, err = c.Select("INBOX", &goimap.SelectOptions{ReadOnly: true}).Wait()
			}
			if err != nil {
				cleanup()
				return nil, err
			}
		}
		return cleanup, nil
	}
	fetchAll := func(c *imapclient.Client) error {
		var all goimap.SeqSet
		all.AddRange(1, messages)
		cmd := c.Fetch(all, &goimap.FetchOptions{
			UID:         true,
			BodySection: []*goimap.FetchItemBodySection{{Peek: true}},
		})
		n := 0
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			for item := msg.Next(); item != nil; item = msg.Next() {
				if b, ok := item.(imapclient.FetchItemDataBodySection); ok && b.Literal != nil {
					if _, err := io.Copy(io.Discard, b.Literal); err != nil {
						return err
					}
					n++
				}
			}
		}
		if err := cmd.Close(); err != nil {
			return err
		}
		if n != messages {
			return fmt.Errorf("fetched %d messages, want %d", n, messages)
		}
		return nil
	}
	register(Workload{
		Name:   "imap FETCH msg/s (1,000 messages, IMAPS)",
		Unit:   "msg/s",
		Target: Target{AtLeast: 0.95},
		Setup:  setup,
		Paired: func(ctx context.Context) (Pair, error) {
			// FETCHes of all the messages, the sides interleaved for two
			// seconds; the figure comes from the one at the 25th
			// percentile of duration (see ratePaired).
			return ratePaired(ctx, 2*time.Second, messages, func(outbound bool) error {
				c := clients[0]
				if outbound {
					c = clients[1]
				}
				return fetchAll(c)
			})
		},
	})
}
