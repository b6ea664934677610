// Package imap reads mail with [emersion/go-imap] (v2) over outbound
// sockets: the IMAP client connects through the one [dialers.Dialer] of
// [Options.Dialer], so it obeys the egress policy, the request scope, the
// proxy and the layers (capture, faults) like every adapter of this module,
// and its TLS follows the Sockets API.
//
// Four ways to connect, each returning go-imap's *imapclient.Client with the
// greeting received:
//
//   - [DialTLS]: implicit TLS on port 993, secureTransport "on".
//   - [DialStartTLS]: port 143; go-imap's client sends STARTTLS over a plain
//     socket and does the TLS handshake.
//   - [DialSocketStartTLS]: port 143 the Workers docs' way; the socket is
//     opened with secureTransport "starttls", this package speaks IMAP up to
//     the OK reply to STARTTLS and [sockets.Socket.StartTLS] upgrades it.
//   - [Dial]: plaintext, only with [Options.AllowPlaintext].
//
// On both STARTTLS paths, plaintext the server sends after its OK reply and
// before the TLS handshake (a STARTTLS injection, the class of
// CVE-2021-33515) is never read as if it were secure: bytes that come with
// the reply fail the upgrade with [sockets.ErrPlaintextInjection]; later
// ones are refused by [sockets.Socket.StartTLS] (DialSocketStartTLS) or
// break the handshake (DialStartTLS). STARTTLS is required: a server that does not
// offer it is refused with [ErrNoStartTLS] unless the caller sets
// [Options.AllowPlaintext]. Credentials never cross a connection that is not
// TLS: on one, LOGIN and AUTHENTICATE fail with [ErrInsecureAuth] before a
// byte of them is sent, whichever go-imap method sends them, unless the
// caller sets [Options.AllowInsecureAuth].
//
//	d := &dialers.Dialer{Options: &sockets.Options{Policy: policy}}
//	c, err := imap.DialTLS(ctx, "imap.example.com:993", &imap.Options{Dialer: d})
//	if err != nil { ... }
//	defer c.Close()
//	if err := c.Login("alice", password).Wait(); err != nil { ... }
//
// [FindMessageID] and [FetchBody] are the two steps a program that checks
// "did my mail arrive" needs: SEARCH by Message-ID, FETCH the raw message.
//
// # Why go-imap v2
//
// This package builds on go-imap v2 (pinned at v2.0.0-beta.8), not the
// v1.2.1 stable line: v1 is no longer developed (its README points to v2),
// reads every literal into memory, drops bytes buffered at STARTTLS without
// a word, and its in-process server has one fixed user; v2 streams message
// bodies, refuses PREAUTH on STARTTLS, and ships the in-process server
// (imapserver, imapmemserver) the tests and examples use. The cost is a
// beta API: what this package exposes of it is *imapclient.Client and
// *imapclient.Options, so an API change in go-imap can reach callers.
//
// # Errors
//
// Errors of the Dial functions are *[Error] (the step, the server, the
// cause). NO and BAD replies stay go-imap's *imap.Error in the chain; policy
// refusals wrap [sockets.ErrDenied]. Errors of commands sent through the
// returned client are go-imap's, with this package's refusals (such as
// [ErrInsecureAuth]) in their chain.
//
// [emersion/go-imap]: https://pkg.go.dev/github.com/emersion/go-imap/v2
package imap
