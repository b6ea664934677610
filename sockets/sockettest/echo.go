package sockettest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// NewEcho starts a plain TCP server that writes back every byte it reads.
// When the peer half-closes its write side, the server finishes echoing what
// it has read and then half-closes its own write side (CloseWrite), so a
// client can test half-open behaviour: after its own CloseWrite it still
// reads the whole echo followed by EOF.
//
// I/O errors are recorded in [Server.Errs], except those that only mean the
// peer went away (connection reset, broken pipe) and those caused by
// [Server.Close].
func NewEcho() (*Server, error) {
	return newServer(nil, echo)
}

// NewTLSEcho is like [NewEcho] over TLS with configuration cfg. When the peer
// ends its side of the stream (close_notify, or a bare TCP half-close), the
// server finishes echoing, sends its own close_notify (tls.Conn.CloseWrite)
// and then half-closes the underlying TCP connection.
func NewTLSEcho(cfg *tls.Config) (*Server, error) {
	if cfg == nil {
		return nil, errors.New("sockettest: NewTLSEcho: nil tls.Config")
	}
	return newServer(cfg, echo)
}

// echo copies conn to itself until EOF, then half-closes the write side.
func echo(ci *connInfo, conn net.Conn) error {
	err := echoCopy(conn)
	if err == nil {
		err = closeWrite(ci, conn)
	}
	if err == nil || isClosed(ci) || peerGone(err) {
		return nil
	}
	return fmt.Errorf("sockettest: %s echo: %w", connName(ci), err)
}

// echoCopy writes back everything read from conn until EOF. It uses its own
// loop rather than io.Copy so that no ReaderFrom fast path is taken with the
// same socket on both ends.
func echoCopy(conn net.Conn) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := conn.Read(buf)
		if n > 0 {
			if _, werr := conn.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// closeWrite half-closes conn: for TLS it sends close_notify first, then it
// shuts down the write side of the TCP connection underneath.
func closeWrite(ci *connInfo, conn net.Conn) error {
	if tc, ok := conn.(*tls.Conn); ok {
		if err := tc.CloseWrite(); err != nil {
			return fmt.Errorf("TLS CloseWrite: %w", err)
		}
	}
	return ci.raw.CloseWrite()
}

// peerGone reports whether err means the peer closed or reset the connection.
func peerGone(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.ECONNABORTED)
}
