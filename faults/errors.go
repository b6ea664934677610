package faults

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"syscall"
)

// dialAddr is the destination as a net.Addr for dial errors.
func dialAddr(d dest, c net.Conn) net.Addr {
	if c != nil {
		return c.RemoteAddr()
	}
	if d.ip.IsValid() {
		return &net.TCPAddr{IP: d.ip.AsSlice(), Port: d.port}
	}
	return hostAddr(net.JoinHostPort(d.host, strconv.Itoa(d.port)))
}

type hostAddr string

func (hostAddr) Network() string  { return "tcp" }
func (a hostAddr) String() string { return string(a) }

// refusedError is what a dial to a closed port returns.
func refusedError(d dest, c net.Conn) error {
	return &net.OpError{Op: "dial", Net: "tcp", Addr: dialAddr(d, c), Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
}

// dialCtxError is what a dial returns when ctx ends first: a timeout for a
// deadline, the cancellation otherwise.
func dialCtxError(ctx context.Context, d dest, c net.Conn) error {
	err := ctx.Err()
	if errors.Is(err, context.DeadlineExceeded) {
		err = connectTimeout{}
	}
	return &net.OpError{Op: "dial", Net: "tcp", Addr: dialAddr(d, c), Err: err}
}

// connectTimeout is the "i/o timeout" of a dial whose context's deadline
// passed: a net.Error with Timeout true, matching both
// context.DeadlineExceeded and os.ErrDeadlineExceeded.
type connectTimeout struct{}

func (connectTimeout) Error() string   { return "i/o timeout" }
func (connectTimeout) Timeout() bool   { return true }
func (connectTimeout) Temporary() bool { return true }
func (connectTimeout) Is(err error) bool {
	return err == context.DeadlineExceeded || err == os.ErrDeadlineExceeded
}
