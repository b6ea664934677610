package smtp

import (
	"context"
	"errors"
	"io"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/outboundhq/outbound/sockets"
)

// SendMail connects to the SMTP server at addr, secures the connection as
// [Options.Security] says (STARTTLS by default), authenticates with auth
// when it is not nil, and sends the message msg from the envelope address
// from to the envelope addresses to.
//
// Credentials are never sent before TLS: when the connection is plaintext
// (only possible with [Options.AllowPlaintext]) and auth is not nil,
// SendMail fails with [ErrInsecureAuth] without sending them. It fails with
// [ErrNoAuth] when the server does not offer AUTH.
//
// msg is an RFC 5322 message (headers, a blank line, the body) with CRLF
// line endings; it is read to its end. The message counts as sent only once
// the server has accepted it (250 after the data): a nil error means that.
// Any failure before (a refused recipient, a dropped connection mid-DATA,
// an error reading msg) returns an error and the server discards the
// partial message. A failure of the final QUIT is not reported, since the
// server already took the message.
//
// Replies from the server keep go-smtp's *smtp.SMTPError in the chain
// (errors.As gives the code and enhanced code; see [Error.Temporary]).
//
// ctx bounds the whole exchange: when it ends, the connection is closed and
// SendMail returns an error wrapping ctx's error.
func SendMail(ctx context.Context, addr string, auth sasl.Client, from string, to []string, msg io.Reader, opts *Options) error {
	o := options(opts)
	if len(to) == 0 {
		return &Error{Op: "RCPT TO", Addr: addr, Err: errors.New("no recipients: pass at least one address in to")}
	}
	var (
		c      *gosmtp.Client
		secure bool
		err    error
	)
	switch o.Security {
	case "", SecurityStartTLS:
		c, secure, err = dialStartTLS(ctx, addr, o)
	case SecuritySocketStartTLS:
		c, secure, err = dialSocketStartTLS(ctx, addr, o)
	case SecurityTLS:
		c, err = DialTLS(ctx, addr, o)
		secure = true
	case SecurityPlaintext:
		c, secure, err = dialPlain(ctx, addr, o)
	default:
		return &Error{Op: "dial", Addr: addr, Err: errorf(sockets.ErrInvalidOptions, "Options.Security is "+quote(string(o.Security))+"; use SecurityStartTLS, SecuritySocketStartTLS, SecurityTLS or SecurityPlaintext")}
	}
	if err != nil {
		return err
	}
	defer c.Close()
	w := watch(ctx, closerFunc(c.Close))
	fail := func(op string, err error) error { return w.fail(ctx, op, addr, err) }

	if auth != nil {
		if !secure {
			w.Stop()
			c.Quit()
			return &Error{Op: "AUTH", Addr: addr, Err: errorf(ErrInsecureAuth, "the connection is not encrypted (the server did not offer STARTTLS and Options.AllowPlaintext is set); credentials were not sent. Use a server or port that offers TLS")}
		}
		if ok, _ := c.Extension("AUTH"); !ok {
			w.Stop()
			c.Quit()
			return &Error{Op: "AUTH", Addr: addr, Err: errorf(ErrNoAuth, "the server's EHLO reply lists no AUTH mechanism; check the port (submission is 587 or 465), or pass a nil auth to send without authenticating")}
		}
		if err := c.Auth(auth); err != nil {
			return fail("AUTH", err)
		}
	}

	var mo *gosmtp.MailOptions
	if !isASCII(from) || !allASCII(to) {
		mo = &gosmtp.MailOptions{UTF8: true}
	}
	if err := c.Mail(from, mo); err != nil {
		return fail("MAIL FROM", err)
	}
	for _, rcpt := range to {
		if err := c.Rcpt(rcpt, nil); err != nil {
			return fail("RCPT TO <"+rcpt+">", err)
		}
	}
	wc, err := c.Data()
	if err != nil {
		return fail("DATA", err)
	}
	if _, err := io.Copy(wc, msg); err != nil {
		// Do not close wc: its final dot would have the server accept a
		// truncated message. Closing the connection makes it discard it.
		return fail("DATA", err)
	}
	if err := wc.Close(); err != nil {
		return fail("DATA", err)
	}
	// The server has the message; a failed QUIT changes nothing.
	w.Stop()
	c.Quit()
	return nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func quote(s string) string { return "\"" + s + "\"" }

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func allASCII(ss []string) bool {
	for _, s := range ss {
		if !isASCII(s) {
			return false
		}
	}
	return true
}
