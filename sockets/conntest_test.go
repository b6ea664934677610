package sockets_test

import (
	"crypto/tls"
	"net"
	"testing"

	"golang.org/x/net/nettest"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// pipe returns a MakePipe for nettest.TestConn: c1 is an outbound Socket made
// by open, c2 the server's end of the same connection (wrapped by wrap).
func pipe(t *testing.T, wrap func(net.Conn) (net.Conn, error), open func(addr string) (*sockets.Socket, error)) nettest.MakePipe {
	return func() (c1, c2 net.Conn, stop func(), err error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, nil, err
		}
		defer l.Close()
		type res struct {
			c   net.Conn
			err error
		}
		accepted := make(chan res, 1)
		go func() {
			c, err := l.Accept()
			if err == nil && wrap != nil {
				c, err = wrap(c)
			}
			accepted <- res{c, err}
		}()
		s, err := open(l.Addr().String())
		if err != nil {
			return nil, nil, nil, err
		}
		// Open and (for TLS) handshake concurrently with the server side.
		opened := make(chan error, 1)
		go func() { _, err := s.Opened(ctxT(t)); opened <- err }()
		r := <-accepted
		if err := <-opened; err != nil {
			return nil, nil, nil, err
		}
		if r.err != nil {
			s.Close()
			return nil, nil, nil, r.err
		}
		return s, r.c, func() { s.Close(); r.c.Close() }, nil
	}
}

func tlsServerWrap(cfg *tls.Config) func(net.Conn) (net.Conn, error) {
	return func(c net.Conn) (net.Conn, error) {
		tc := tls.Server(c, cfg)
		return tc, tc.Handshake()
	}
}

func TestNetConnPlain(t *testing.T) {
	nettest.TestConn(t, pipe(t, nil, func(addr string) (*sockets.Socket, error) {
		return sockets.Connect(ctxT(t), addr, nil)
	}))
}

func TestNetConnTLS(t *testing.T) {
	ca := newCA(t)
	scfg := serverTLS(t, ca)
	nettest.TestConn(t, pipe(t, tlsServerWrap(scfg), func(addr string) (*sockets.Socket, error) {
		return sockets.Connect(ctxT(t), addr, &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: ca.ClientConfig()})
	}))
}

func TestNetConnUpgraded(t *testing.T) {
	ca := newCA(t)
	scfg := serverTLS(t, ca)
	wrap := func(c net.Conn) (net.Conn, error) {
		// The server's half of a one-line STARTTLS exchange, then TLS.
		if _, err := c.Write([]byte("GO\n")); err != nil {
			return nil, err
		}
		return tlsServerWrap(scfg)(c)
	}
	nettest.TestConn(t, pipe(t, wrap, func(addr string) (*sockets.Socket, error) {
		s, err := sockets.Connect(ctxT(t), addr, &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: ca.ClientConfig()})
		if err != nil {
			return nil, err
		}
		b := make([]byte, 3)
		if _, err := s.Read(b); err != nil || string(b) != "GO\n" {
			s.Close()
			return nil, err
		}
		return s.StartTLS(nil)
	}))
}

// The server's side as c1 and the Socket as c2 exercises the other direction
// of every nettest case.
func TestNetConnPlainReversed(t *testing.T) {
	mp := pipe(t, nil, func(addr string) (*sockets.Socket, error) { return sockets.Connect(ctxT(t), addr, nil) })
	nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
		c1, c2, stop, err = mp()
		return c2, c1, stop, err
	})
}

var _ = sockettest.NewEcho
