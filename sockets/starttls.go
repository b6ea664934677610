package sockets

import (
	"context"
	"crypto/tls"
	"net"
	"time"
)

// StartTLSOptions are the options of [Socket.StartTLS], the Sockets API's
// TlsOptions. A nil *StartTLSOptions means the defaults.
type StartTLSOptions struct {
	// ExpectedServerHostname is the name the server's certificate must
	// cover. It defaults to the hostname given to Connect (or to
	// TLSConfig.ServerName when that is set).
	ExpectedServerHostname string

	// TLSConfig replaces the TLSConfig given to Connect for this upgrade.
	// It is cloned, never modified.
	TLSConfig *tls.Config

	// NoServerName sends no server name (SNI) in the handshake, as
	// crypto/tls does for an empty ServerName (libpq's sslsni=0). No name
	// is then checked, so it needs TLSConfig.InsecureSkipVerify (with
	// VerifyPeerCertificate or VerifyConnection for a check of the
	// caller's own) and no ExpectedServerHostname or TLSConfig.ServerName;
	// otherwise StartTLS fails with [ErrInvalidOptions].
	NoServerName bool

	// Context bounds the handshake, as Connect's ctx bounds its attempt:
	// if it is done before the handshake ends, the new socket fails with
	// its error; once the socket is open it has no effect. [Socket.Opened]
	// with this context (or one that is never done) runs the handshake in
	// the caller's goroutine, as Dial does, instead of in one of the
	// socket's. Nil means only the new socket's Close bounds it.
	Context context.Context
}

// StartTLS upgrades a socket opened with SecureTransport "starttls" to TLS
// and returns the new, secure socket. It returns at once: the handshake runs
// behind the new socket, whose Opened reports its result.
//
// Misuse is refused with [ErrStartTLS] (or [ErrClosed]), checked in this
// order: the socket already uses TLS; it is closed; it was not opened with
// "starttls"; StartTLS was already called.
//
// On success this socket ends cleanly (Closed fires, Err is nil, Upgraded
// reports true) and its readers and writers fail from then on; a read or
// write in progress is interrupted. Bytes the peer sent after the upgrade
// point and before the handshake are never handed on: if any are waiting
// when the handshake starts, the new socket fails with
// [ErrPlaintextInjection]. A reader that buffers ahead (a bufio.Reader over
// the socket) must check it holds nothing before calling StartTLS.
//
// The handshake is bounded by the new socket's Close and by
// StartTLSOptions.Context; [Socket.Opened] with another context bounds only
// the wait for it. [Socket.UpgradeTLS] is StartTLS with the handshake run,
// and its error returned, in the caller's goroutine.
func (s *Socket) StartTLS(opts *StartTLSOptions) (*Socket, error) {
	return s.startTLS(opts, false)
}

// UpgradeTLS is [Socket.StartTLS] followed by waiting for the handshake,
// which runs in the caller's goroutine: the form drivers and dial
// functions want, where certificate errors must surface at the upgrade
// (as [Dial] is to [Connect]). StartTLSOptions.Context bounds the
// handshake. On error the new socket has ended and nothing is left open;
// this socket has ended too, as after StartTLS, unless the upgrade was
// refused before it began (the errors StartTLS returns).
func (s *Socket) UpgradeTLS(opts *StartTLSOptions) (*Socket, error) {
	return s.startTLS(opts, true)
}

// startTLS is StartTLS; with wait it runs the handshake in the caller's
// goroutine and returns its error.
func (s *Socket) startTLS(opts *StartTLSOptions, wait bool) (*Socket, error) {
	fail := func(err error) (*Socket, error) {
		return nil, &SocketError{Op: "starttls", Addr: s.given, Err: err}
	}
	s.mu.Lock()
	f := s.flags.Load()
	switch {
	case s.secure == secureOn:
		s.mu.Unlock()
		return fail(errorf(ErrStartTLS, "the socket already uses TLS"))
	case f&fClosed != 0 && f&fUpgraded == 0, s.zero(): // the zero Socket has ended
		s.mu.Unlock()
		return fail(&detailError{kind: ErrClosed, msg: "cannot upgrade a closed socket"})
	case s.secure != secureStartTLS:
		s.mu.Unlock()
		return fail(errorf(ErrStartTLS, "the socket was opened with SecureTransport "+quote(string(s.SecureTransport()))+"; connect with SecureTransport \"starttls\" to upgrade it later"))
	case f&fUpgraded != 0:
		s.mu.Unlock()
		return fail(errorf(ErrStartTLS, "StartTLS was already called on this socket; use the socket it returned"))
	}
	s.mu.Unlock()

	var base *tls.Config
	host := s.addr.Hostname
	if opts != nil {
		base = opts.TLSConfig
	}
	if base == nil {
		base = s.opts.TLSConfig
	}
	cfg := tlsConfig(base, host)
	if opts != nil && opts.ExpectedServerHostname != "" {
		cfg.ServerName = opts.ExpectedServerHostname
	}
	name := cfg.ServerName // for errors
	if opts != nil && opts.NoServerName {
		if opts.ExpectedServerHostname != "" || (base != nil && base.ServerName != "") || !cfg.InsecureSkipVerify {
			return fail(errorf(ErrInvalidOptions, "NoServerName leaves the certificate's name unchecked: it needs TLSConfig.InsecureSkipVerify (with VerifyPeerCertificate or VerifyConnection to check the chain) and no ExpectedServerHostname or TLSConfig.ServerName"))
		}
		cfg.ServerName = ""
	}
	o := Options{SecureTransport: SecureTransportOn, AllowHalfOpen: s.halfOpen, eg: s.opts.eg}
	ns := newSocket(s.addr, s.given, &o, nil)
	ns.taps = s.taps.upgraded()
	bound := context.Background()
	if opts != nil && opts.Context != nil {
		bound = opts.Context
	}
	ctx, cancel := context.WithCancel(bound)
	ns.prepare(ctx, cancel, func(ctx context.Context) (net.Conn, *tls.Conn, error) {
		raw, err := s.handOver(ctx)
		if err != nil {
			return nil, nil, err
		}
		tc := ns.tlsClient(raw, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			raw.Close()
			return nil, nil, tlsError(s.addr.String(), name, true, err)
		}
		return raw, tc, nil
	})
	p := ns.pend
	p.ctxDone = bound.Done()
	s.handOff(ns)
	s.end(nil, fUpgraded)
	// Interrupt a read or write in progress: they see fUpgraded and fail.
	s.mu.Lock()
	if s.opened.Load() {
		s.conn().SetDeadline(aLongTimeAgo)
	}
	s.mu.Unlock()
	if !wait {
		schedule(p)
		return ns, nil
	}
	if err := p.runAndWait("starttls"); err != nil {
		return nil, err
	}
	return ns, nil
}

// handOver waits for the upgraded socket's connection, drains its readers
// and writers, refuses plaintext already waiting, and returns the transport
// for the TLS client.
func (s *Socket) handOver(ctx context.Context) (net.Conn, error) {
	p := s.pending()
	if p != nil {
		p.runHere() // the old socket's attempt, if nothing has started it
		ready, _ := p.waitChans()
		select {
		case <-ready:
		case <-ctx.Done():
			// The new socket was closed while the old one was still
			// connecting: stop that attempt and close what it produced.
			p.cancel()
			<-ready
			if s.opened.Load() {
				s.raw.Close()
			}
			return nil, ctx.Err()
		}
	}
	if err := s.connFailure(p); err != nil {
		return nil, err.(*SocketError).Err
	}
	if !s.opened.Load() {
		return nil, ErrClosed
	}
	raw := s.raw
	s.mu.Lock()
	raw.SetDeadline(aLongTimeAgo)
	s.mu.Unlock()
	s.rmu.Lock()
	s.wmu.Lock()
	raw.SetDeadline(time.Time{})
	s.wmu.Unlock()
	s.rmu.Unlock()
	if n := pendingBytes(raw); n > 0 {
		raw.Close()
		return nil, ErrPlaintextInjection
	}
	if ctx.Err() != nil {
		raw.Close()
		return nil, ctx.Err()
	}
	return raw, nil
}
