// Package sockets is the Sockets API of Cloudflare Workers (connect() from
// "cloudflare:sockets", standardised as the WinterTC Sockets API draft) for
// Go programs.
//
// [Connect] returns a [*Socket] at once, in the pending state; the TCP
// connect (and, for SecureTransport "on", the TLS handshake) runs behind it.
// [Socket.Opened] waits for it and reports a [SocketInfo]. A Socket is a
// [net.Conn]: Read and Write go straight to the connection, and I/O issued
// before the socket opens waits for it and is not lost.
//
//	s, err := sockets.Connect(ctx, "example.com:443", &sockets.Options{SecureTransport: sockets.SecureTransportOn})
//	if err != nil {
//		return err // bad address, bad options, or denied by policy
//	}
//	defer s.Close()
//	if _, err := s.Opened(ctx); err != nil {
//		return err // connect or TLS handshake failed
//	}
//
// # How the Sockets API maps to Go
//
//   - connect(address, options): [Connect] and [ConnectAddress]; [Options].
//   - secureTransport: [Options.SecureTransport] "off", "on", "starttls";
//     TLS settings in [Options.TLSConfig] (cloned, never modified).
//   - allowHalfOpen: [Options.AllowHalfOpen]. False: a read that sees the
//     peer's EOF shuts the write side and closes the socket cleanly. True:
//     reads keep returning io.EOF, writes keep working, and the socket closes
//     once its write side is closed too ([Socket.CloseWrite]) or on Close.
//   - opened: [Socket.Opened] and [SocketInfo].
//   - readable, writable: the Socket itself, or [Socket.Readable] and
//     [Socket.Writable] whose Close cancels reading and sends FIN.
//   - closed: [Socket.Closed] and [Socket.Err]. Clean endings give a nil Err.
//   - close(): [Socket.Close], idempotent.
//   - startTls(options): [Socket.StartTLS] and [StartTLSOptions].
//
// # Errors
//
// Errors are [*SocketError] (operation, address, cause) wrapping one of the
// sentinels [ErrInvalidAddress], [ErrInvalidOptions], [ErrDenied],
// [ErrStartTLS], [ErrClosed] (which also matches [net.ErrClosed]),
// [ErrLimit] and [ErrPlaintextInjection]. Deadline errors satisfy
// [net.Error] with Timeout() true and wrap [os.ErrDeadlineExceeded].
//
// # Workers' rules and the egress policy
//
// Every connect goes through an egress policy: [Options].Policy takes any
// [Policy], the small interface that package egress implements (rules,
// address classes, presets such as egress.PublicInternetOnly, atomic
// swaps, metrics; policy files in egress/policyfile). A nil policy refuses
// only port 25, as on Workers. Address rules are checked on every resolved
// IP at dial time. [Scope] and [WithScope] give request scopes (at most 6
// open sockets by default, all closed when the scope ends);
// [Options].Proxy routes through an egress proxy ([Proxy]; package proxy
// has SOCKS5, HTTP CONNECT and the proxy environment variables). Package
// sockets itself uses the standard library only.
//
// [Dial] is Connect followed by waiting for the socket to open, in the
// caller's goroutine: the form for dial functions. [Socket.UpgradeTLS] is
// StartTLS followed by waiting for the handshake, in the same way.
//
// # Performance
//
// A Socket's connect attempt runs in the goroutine that first waits for it
// (Opened with the Connect context, or a Read or Write with no deadline),
// as a dial would; only a socket that something else watches, or that
// nothing waits on for about a millisecond, connects in a goroutine of its
// own. An open socket has no goroutine and, beyond its connection, one
// 176-byte allocation.
// Plain sockets implement [io.ReaderFrom] and [io.WriterTo], so io.Copy
// between two of them keeps the kernel's splice path.
package sockets
