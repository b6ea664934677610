// Package smtp sends mail with [emersion/go-smtp] over outbound sockets: the
// SMTP client connects through [sockets.Connect], so it obeys the egress
// policy (port 25 is refused by default, as on Cloudflare Workers) and the
// request scope, and its TLS follows the Sockets API.
//
// Four ways to connect, each returning a ready *smtp.Client of go-smtp
// (greeting and EHLO done):
//
//   - [DialStartTLS]: submission on port 587; go-smtp's client sends
//     STARTTLS over a plain socket and does the TLS handshake.
//   - [DialSocketStartTLS]: port 587 the Workers docs' way; the socket is
//     opened with secureTransport "starttls", this package speaks SMTP up to
//     the 220 reply to STARTTLS and [sockets.Socket.StartTLS] upgrades it.
//     Plaintext the server sends after that reply is refused
//     ([sockets.ErrPlaintextInjection]).
//   - [DialTLS]: implicit TLS on port 465, secureTransport "on".
//   - [Dial]: plaintext, only with [Options.AllowPlaintext].
//
// STARTTLS is required: a server that does not offer it is refused with
// [ErrNoStartTLS] unless the caller sets [Options.AllowPlaintext].
//
// [SendMail] does the whole exchange in one call (connect, TLS, AUTH with a
// go-sasl client such as sasl.NewPlainClient or sasl.NewLoginClient, MAIL,
// RCPT, DATA, QUIT) and never sends credentials before TLS.
//
//	auth := sasl.NewPlainClient("", "alice", password)
//	err := smtp.SendMail(ctx, "smtp.example.com:587", auth,
//		"alice@example.com", []string{"bob@example.com"}, msg, nil)
//
// [Options].Dialer is "the one dialer" ([dialers.Dialer]) that the
// program's other adapters (pg, mysql, mqtt, net/http) take the same way:
// its Options carry the egress policy, a proxy and layers, and its
// TLSConfig gives the TLS roots when [Options].TLSConfig is nil.
//
// # Port 25
//
// Port 25 is refused by default, before any connection, with [sockets.ErrDenied]
// and a message that spells out the rule that would allow it. Submission
// (587, 465) is what a program normally wants; to relay on port 25 anyway,
// give the socket a policy with an allow rule that lists port 25 for the host:
//
//	p, err := egress.NewPolicy(egress.PolicyConfig{Rules: []egress.Rule{
//		{Name: "mail-relay", Action: egress.Allow, Hosts: []string{"mx.example.com"}, Ports: []string{"25"}},
//	}})
//	...
//	c, err := smtp.DialStartTLS(ctx, "mx.example.com:25", &smtp.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{Policy: p}}})
//
// # Errors
//
// Errors are *[Error] (the step, the server, the cause). Replies from the
// server stay go-smtp's *smtp.SMTPError in the chain, so errors.As gives the
// reply code and enhanced code, and SMTPError.Temporary (or
// [Error.Temporary]) tells a transient 4xx failure, worth retrying later,
// from a permanent 5xx one. Policy refusals wrap [sockets.ErrDenied].
//
// [emersion/go-smtp]: https://pkg.go.dev/github.com/emersion/go-smtp
package smtp
