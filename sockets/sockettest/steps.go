package sockettest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"
)

// maxLine bounds the line an ExpectLine step reads.
const maxLine = 64 << 10

// Step is one action of a script run by [NewScripted] or [NewTLSScripted].
// Make steps with the functions of this package ([Send], [Expect],
// [ExpectLine], ...); the zero Step fails when run.
//
// Each step runs under a deadline of [DefaultStepTimeout] (see [Timeout]), so
// a peer that stops talking fails the script instead of hanging it.
type Step struct {
	name string
	run  func(s *scriptRun) error
}

// String describes the step as it was written, such as Send("220 ready\r\n").
func (st Step) String() string {
	if st.name == "" {
		return "Step{}"
	}
	return st.name
}

// Send writes s to the connection.
func Send(s string) Step {
	return Step{"Send(" + quote(s) + ")", func(r *scriptRun) error {
		_, err := io.WriteString(r.conn, s)
		return err
	}}
}

// Expect reads exactly len(want) bytes and fails, showing what it got and
// what it wanted, if they differ from want.
func Expect(want string) Step {
	return Step{"Expect(" + quote(want) + ")", func(r *scriptRun) error {
		buf := make([]byte, len(want))
		n, err := io.ReadFull(r.conn, buf)
		if err != nil {
			return fmt.Errorf("got %s then %w, want %s", quote(string(buf[:n])), err, quote(want))
		}
		if got := string(buf); got != want {
			return fmt.Errorf("got %s, want %s", quote(got), quote(want))
		}
		return nil
	}}
}

// ExpectLine reads one line, up to and including "\n", and fails unless it
// equals want once the line ending ("\r\n" or "\n") is removed from both.
// It reads one byte at a time so that no byte after the line is consumed.
func ExpectLine(want string) Step {
	want = trimEOL(want)
	return Step{"ExpectLine(" + quote(want) + ")", func(r *scriptRun) error {
		line, err := readLine(r.conn)
		if err != nil {
			return fmt.Errorf("got %s then %w, want line %s", quote(line), err, quote(want))
		}
		if got := trimEOL(line); got != want {
			return fmt.Errorf("got line %s, want %s", quote(got), quote(want))
		}
		return nil
	}}
}

// ExpectEOF reads until the peer ends its side of the stream (a TCP
// half-close or, over TLS, close_notify) and fails if any byte arrives first.
func ExpectEOF() Step {
	return Step{"ExpectEOF()", func(r *scriptRun) error {
		buf := make([]byte, 512)
		for {
			n, err := r.conn.Read(buf)
			if n > 0 {
				return fmt.Errorf("got %s, want EOF", quote(string(buf[:n])))
			}
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("want EOF: %w", err)
			}
		}
	}}
}

// CloseWrite half-closes the connection: the peer reads EOF while this side
// can still read. Over TLS it first sends close_notify, then shuts down the
// write side of the TCP connection.
func CloseWrite() Step {
	return Step{"CloseWrite()", func(r *scriptRun) error {
		return closeWrite(r.ci, r.conn)
	}}
}

// Reset closes the connection abortively and ends the script: it sets
// SO_LINGER to zero and closes the TCP connection, so the peer's next read or
// write fails with ECONNRESET. Over TLS no close_notify is sent.
func Reset() Step {
	return Step{"Reset()", func(r *scriptRun) error {
		if err := r.ci.raw.SetLinger(0); err != nil {
			return err
		}
		if err := r.ci.raw.Close(); err != nil {
			return err
		}
		return errStop
	}}
}

// CloseConn closes the connection normally (over TLS, after close_notify) and
// ends the script.
func CloseConn() Step {
	return Step{"CloseConn()", func(r *scriptRun) error {
		if err := r.conn.Close(); err != nil {
			return err
		}
		return errStop
	}}
}

// Sleep pauses the script for d. [Server.Close] cuts the pause short, which
// fails the step.
func Sleep(d time.Duration) Step {
	return Step{"Sleep(" + d.String() + ")", func(r *scriptRun) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-r.ci.closing:
			return errors.New("sleep cut short")
		}
	}}
}

// StartTLS plays the server side of a STARTTLS upgrade: it completes a TLS
// handshake with configuration cfg over the plain connection, and the steps
// after it run over TLS. It fails if the connection is already TLS.
func StartTLS(cfg *tls.Config) Step {
	return Step{"StartTLS()", func(r *scriptRun) error {
		if cfg == nil {
			return errors.New("nil tls.Config")
		}
		if _, ok := r.conn.(*tls.Conn); ok {
			return errors.New("connection is already TLS")
		}
		tc := tls.Server(r.conn, cfg)
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		r.conn = tc
		return nil
	}}
}

// Discard reads and drops exactly n bytes.
func Discard(n int) Step {
	return Step{"Discard(" + strconv.Itoa(n) + ")", func(r *scriptRun) error {
		if n < 0 {
			return errors.New("negative count")
		}
		got, err := io.CopyN(io.Discard, r.conn, int64(n))
		if err != nil {
			return fmt.Errorf("discarded %d of %d bytes: %w", got, n, err)
		}
		return nil
	}}
}

// Func runs f with the connection (a *tls.Conn after [StartTLS] or on a TLS
// server). f may read, write or set deadlines; the step's deadline is already
// set when f is called. A non-nil error fails the script.
func Func(f func(c net.Conn) error) Step {
	return Step{"Func()", func(r *scriptRun) error {
		if f == nil {
			return errors.New("nil func")
		}
		return f(r.conn)
	}}
}

// Timeout sets the deadline each later step of the script gets, replacing
// [DefaultStepTimeout]; d <= 0 removes the deadline.
func Timeout(d time.Duration) Step {
	return Step{"Timeout(" + d.String() + ")", func(r *scriptRun) error {
		r.timeout = d
		return nil
	}}
}

// readLine reads from r one byte at a time through the first '\n'. On error it
// returns what it read so far.
func readLine(r io.Reader) (string, error) {
	var line []byte
	var b [1]byte
	for len(line) < maxLine {
		n, err := r.Read(b[:])
		if n == 1 {
			line = append(line, b[0])
			if b[0] == '\n' {
				return string(line), nil
			}
			continue
		}
		if err == io.EOF {
			return string(line), io.ErrUnexpectedEOF
		}
		if err != nil {
			return string(line), err
		}
	}
	return string(line), fmt.Errorf("no newline in %d bytes", maxLine)
}

// trimEOL removes one trailing "\n" or "\r\n".
func trimEOL(s string) string {
	s = strings.TrimSuffix(s, "\n")
	return strings.TrimSuffix(s, "\r")
}

// quote quotes s for an error message, eliding the middle of long strings.
func quote(s string) string {
	const limit = 200
	if len(s) > limit {
		return strconv.Quote(s[:limit/2]) + "..." + strconv.Quote(s[len(s)-limit/2:])
	}
	return strconv.Quote(s)
}
