package sockets

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// Sentinel errors for the classes of failure a caller branches on. Every
// error the package returns wraps at most one of them; test with [errors.Is].
var (
	// ErrInvalidAddress: the address passed to [Connect] cannot be dialled as written.
	ErrInvalidAddress = errors.New("invalid address")
	// ErrInvalidOptions: [Options] (or [StartTLSOptions]) hold a value the API refuses.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrDenied: the egress policy refused the connection.
	ErrDenied = errors.New("denied by egress policy")
	// ErrStartTLS: [Socket.StartTLS] was called on a socket that cannot be upgraded.
	ErrStartTLS = errors.New("startTls not allowed")
	// ErrClosed: the socket is closed (by Close, by the peer, or by a StartTLS
	// upgrade). It matches [net.ErrClosed] too.
	ErrClosed = &closedError{}
	// ErrLimit: a connection limit (per scope or per process) was reached.
	ErrLimit = errors.New("connection limit reached")
	// ErrPlaintextInjection: bytes arrived after the STARTTLS upgrade point and
	// before the TLS handshake; they are refused rather than handed on.
	ErrPlaintextInjection = errors.New("plaintext received before the TLS handshake (possible STARTTLS injection)")
)

type closedError struct{}

func (*closedError) Error() string        { return "use of closed socket" }
func (*closedError) Is(target error) bool { return target == net.ErrClosed }

// SocketError is the error type of this package: which operation failed, on
// which address, and why. It implements [net.Error]; deadline failures report
// Timeout() == true and wrap [os.ErrDeadlineExceeded].
type SocketError struct {
	Op   string // "connect", "opened", "read", "write", "starttls", "closewrite"
	Addr string // the address as given to Connect ("host:port")
	Err  error  // the cause; never nil
}

// Error says "sockets: <op> <address>: <cause>".
func (e *SocketError) Error() string {
	var b strings.Builder
	b.WriteString("sockets: ")
	b.WriteString(e.Op)
	if e.Addr != "" {
		b.WriteByte(' ')
		if q := strconv.Quote(e.Addr); q[1:len(q)-1] != e.Addr {
			b.WriteString(q) // control bytes or quotes: escaped, never raw
		} else {
			b.WriteString(e.Addr)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the cause.
func (e *SocketError) Unwrap() error { return e.Err }

// Timeout reports whether the error is a deadline or timeout.
func (e *SocketError) Timeout() bool {
	if errors.Is(e.Err, os.ErrDeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// Temporary is deprecated in [net.Error]; it reports the same as Timeout.
func (e *SocketError) Temporary() bool { return e.Timeout() }

var _ net.Error = (*SocketError)(nil)

// detailError pairs a sentinel with a message that says what happened and
// what to change. errors.Is(err, kind) holds.
type detailError struct {
	kind error
	msg  string
}

func (e *detailError) Error() string { return e.kind.Error() + ": " + e.msg }
func (e *detailError) Unwrap() error { return e.kind }

func errorf(kind error, msg string) error { return &detailError{kind: kind, msg: msg} }

// upgradedError is what I/O on a socket replaced by StartTLS returns.
var errUpgraded = &detailError{kind: ErrClosed, msg: "the socket was upgraded by StartTLS; use the socket StartTLS returned"}

// errReadCancelled is what reading returns after Readable().Close.
var errReadCancelled = &detailError{kind: ErrClosed, msg: "reading was cancelled by Readable().Close"}

// errWriteClosed is what writing returns after CloseWrite or Writable().Close.
var errWriteClosed = &detailError{kind: ErrClosed, msg: "the write side was closed by CloseWrite"}

// tlsError explains a handshake failure with addr: the cause by name, the
// server name that was checked, and what to change. startTLS says the
// socket was upgraded by StartTLS, whose ExpectedServerHostname can set
// the name.
func tlsError(addr, serverName string, startTLS bool, err error) error {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		alert    tls.AlertError
		recHdr   tls.RecordHeaderError
	)
	hint := ""
	switch {
	case errors.As(err, &unknown):
		hint = "certificate signed by unknown authority; add the CA to Options.TLSConfig.RootCAs"
	case errors.As(err, &hostname):
		checked := hostname.Host
		if checked == "" {
			checked = serverName
		}
		hint = "certificate is not valid for " + quote(checked) + " (" + hostname.Error() + "); connect to a name the certificate covers, or set TLSConfig.ServerName"
		if startTLS {
			hint += " or StartTLSOptions.ExpectedServerHostname"
		}
		hint += " to a name it covers"
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		hint = "certificate has expired or is not yet valid (" + invalid.Error() + ")"
	case errors.As(err, &invalid):
		hint = "certificate is invalid (" + invalid.Error() + ")"
	case errors.As(err, &recHdr):
		hint = "the peer did not answer with TLS (its first bytes were " + strconv.Quote(string(recHdr.RecordHeader[:])) + "); check the port, and whether the protocol starts in plain text (SecureTransport \"starttls\" or \"off\")"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		hint = "the peer closed the connection during the TLS handshake; it may not speak TLS on this port (check the port, and whether the protocol starts in plain text)"
	case errors.As(err, &alert):
		hint = "the server refused the handshake (" + alert.Error() + ")"
	default:
		return &tlsHandshakeError{host: addr, msg: err.Error(), err: err}
	}
	return &tlsHandshakeError{host: addr, msg: hint, err: err}
}

type tlsHandshakeError struct {
	host string
	msg  string
	err  error
}

func (e *tlsHandshakeError) Error() string {
	return "TLS handshake with " + e.host + " failed: " + e.msg
}
func (e *tlsHandshakeError) Unwrap() error { return e.err }

func quote(s string) string { return strconv.Quote(s) }
