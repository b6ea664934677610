package smtp

import (
	"errors"
	"net/textproto"
	"strconv"
	"strings"

	gosmtp "github.com/emersion/go-smtp"
)

// Sentinel errors for the refusals of this package. Test with [errors.Is].
// Replies from the server are not wrapped in these: they stay go-smtp's
// *smtp.SMTPError, reachable with [errors.As].
var (
	// ErrNoStartTLS: the server does not offer STARTTLS, and the caller did
	// not allow plaintext.
	ErrNoStartTLS = errors.New("server does not offer STARTTLS")

	// ErrPlaintext: a plaintext connection was asked for without
	// Options.AllowPlaintext.
	ErrPlaintext = errors.New("plaintext SMTP not allowed")

	// ErrInsecureAuth: SendMail refused to send credentials over a
	// connection that is not TLS. Nothing was sent.
	ErrInsecureAuth = errors.New("credentials are only sent over TLS")

	// ErrNoAuth: SendMail was given credentials but the server does not
	// offer AUTH.
	ErrNoAuth = errors.New("server does not offer AUTH")
)

// Error is the error type of this package: which step of the SMTP exchange
// failed, with which server, and why. The cause is go-smtp's *smtp.SMTPError
// for a reply from the server (so [errors.As] gives the code and enhanced
// code, and SMTPError.Temporary tells a 4xx from a 5xx), a
// *sockets.SocketError for the connection, or one of this package's
// sentinels.
type Error struct {
	Op   string // the step: "dial", "STARTTLS", "EHLO", "AUTH", "MAIL FROM", "RCPT TO <addr>", "DATA", ...
	Addr string // the server's address as given ("host:port")
	Err  error  // the cause; never nil
}

// Error says which step failed against which server, and why.
func (e *Error) Error() string {
	return "smtp " + e.Addr + ": " + e.Op + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Temporary reports whether the server answered with a transient (4xx)
// failure, after which the same message may be tried again later.
func (e *Error) Temporary() bool {
	var se *gosmtp.SMTPError
	return errors.As(e.Err, &se) && se.Temporary()
}

// detailError pairs a sentinel with a message that says what to change.
type detailError struct {
	kind error
	msg  string
}

func (e *detailError) Error() string { return e.msg }
func (e *detailError) Unwrap() error { return e.kind }

func errorf(kind error, msg string) error {
	return &detailError{kind: kind, msg: kind.Error() + ": " + msg}
}

// smtpErr converts a textproto reply error to go-smtp's *SMTPError, parsing
// the enhanced status code as go-smtp's client does.
func smtpErr(err error) error {
	var pe *textproto.Error
	if !errors.As(err, &pe) {
		return err
	}
	se := &gosmtp.SMTPError{Code: pe.Code, Message: pe.Msg}
	first, rest, ok := strings.Cut(pe.Msg, " ")
	if !ok {
		return se
	}
	parts := strings.Split(first, ".")
	if len(parts) != 3 {
		return se
	}
	var code gosmtp.EnhancedCode
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return se
		}
		code[i] = n
	}
	se.EnhancedCode = code
	se.Message = strings.ReplaceAll(rest, "\n"+first+" ", "\n")
	return se
}
