package sshbastion

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/outboundhq/outbound/sockets"
)

// Bastion dials every connection as a direct-tcpip channel of one shared SSH
// client connection to the bastion at Addr. It is a proxy for
// [sockets.Options].Proxy, and its DialContext fits anything that takes a
// dial function. The SSH connection is made on the first dial and made again
// on the next dial after it drops; connections tunnelled through a dropped
// one fail with a [*LostError]. A Bastion is safe for concurrent use.
type Bastion struct {
	addr string
	cfg  *ssh.ClientConfig
	dial sockets.DialFunc

	mu     sync.Mutex
	cur    *link // the current SSH connection, or the one being made
	closed bool
}

// link is one SSH client connection to the bastion.
type link struct {
	ready  chan struct{} // closed once client or err is set
	client *ssh.Client
	err    error
	done   chan struct{} // closed once the SSH connection has ended
	cause  error         // why it ended (set before done is closed)
}

// Options are the optional settings of [New].
type Options struct {
	// Dial reaches the bastion itself; nil means a [net.Dialer]. It may be an
	// outbound dialer (dialers.Dialer.DialContext), so that the connection to
	// the bastion passes the egress policy too.
	Dial sockets.DialFunc
}

// New returns a Bastion for the SSH server at addr ("host:port"), logging in
// with cfg (cloned). cfg must check host keys: a nil HostKeyCallback is an
// error (use [KnownHosts]). Nothing is dialled until the first connection.
func New(addr string, cfg *ssh.ClientConfig, opts *Options) (*Bastion, error) {
	if _, err := sockets.ParseAddress(addr); err != nil {
		return nil, fmt.Errorf("ssh bastion address: %w", err)
	}
	if cfg == nil {
		return nil, fmt.Errorf("ssh bastion %q: no ssh.ClientConfig; give one with User, Auth and HostKeyCallback: %w", addr, sockets.ErrInvalidOptions)
	}
	if cfg.HostKeyCallback == nil {
		return nil, fmt.Errorf("ssh bastion %q: HostKeyCallback is nil; check host keys with sshbastion.KnownHosts(file) or ssh.FixedHostKey: %w", addr, sockets.ErrInvalidOptions)
	}
	c := *cfg
	b := &Bastion{addr: addr, cfg: &c}
	if opts != nil {
		b.dial = opts.Dial
	}
	return b, nil
}

// KnownHosts returns a host key callback that accepts only the keys listed
// for the host in the OpenSSH known_hosts files.
func KnownHosts(files ...string) (ssh.HostKeyCallback, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("sshbastion.KnownHosts: no known_hosts file given: %w", sockets.ErrInvalidOptions)
	}
	return knownhosts.New(files...)
}

// Addr is the bastion's "host:port".
func (b *Bastion) Addr() string { return b.addr }

// ProxyFor returns b.DialContext for every address.
func (b *Bastion) ProxyFor(sockets.Address) (sockets.DialFunc, error) { return b.DialContext, nil }

// DialContext connects to address ("host:port"; a name is resolved by the
// bastion) through the bastion. network must be "tcp", "tcp4" or "tcp6".
// ctx bounds the SSH connection (when one has to be made) and opening the
// channel, not the connection's life.
func (b *Bastion) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
	default:
		return nil, fmt.Errorf("ssh bastion: network %q is not supported; use \"tcp\": %w", network, sockets.ErrInvalidOptions)
	}
	a, err := sockets.ParseAddress(address)
	if err != nil {
		return nil, fmt.Errorf("ssh bastion: target: %w", err)
	}
	target := net.JoinHostPort(a.Hostname, strconv.Itoa(a.Port))
	for attempt := 0; ; attempt++ {
		l, err := b.link(ctx)
		if err != nil {
			return nil, err
		}
		ch, err := l.client.DialContext(ctx, "tcp", target)
		if err == nil {
			return newTunnel(ch, l, b.addr), nil
		}
		var oe *ssh.OpenChannelError
		if errors.As(err, &oe) {
			return nil, &OpenError{Bastion: b.addr, Target: target, Reason: oe.Reason, Msg: oe.Message}
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// The SSH connection failed under us: drop it and make a new one, once.
		b.drop(l)
		if attempt > 0 {
			return nil, fmt.Errorf("ssh bastion %s: opening a channel to %s: %w", b.addr, target, err)
		}
	}
}

// link returns the current SSH connection, making one if there is none.
func (b *Bastion) link(ctx context.Context) (*link, error) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil, fmt.Errorf("ssh bastion %s: %w", b.addr, net.ErrClosed)
	}
	l := b.cur
	if l != nil {
		select {
		case <-l.done:
			l = nil // ended: make a new one
		default:
		}
	}
	if l != nil {
		b.mu.Unlock()
		select {
		case <-l.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if l.err != nil {
			b.drop(l)
			return nil, l.err
		}
		return l, nil
	}
	l = &link{ready: make(chan struct{}), done: make(chan struct{})}
	b.cur = l
	b.mu.Unlock()

	l.client, l.err = b.connect(ctx)
	if l.err != nil {
		close(l.done)
		close(l.ready)
		b.drop(l)
		return nil, l.err
	}
	close(l.ready)
	go func() { // one per SSH connection, not per tunnel
		l.cause = l.client.Wait()
		close(l.done)
		b.drop(l)
	}()
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		l.client.Close()
		return nil, fmt.Errorf("ssh bastion %s: %w", b.addr, net.ErrClosed)
	}
	return l, nil
}

func (b *Bastion) connect(ctx context.Context) (*ssh.Client, error) {
	dial := b.dial
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	c, err := dial(ctx, "tcp", b.addr)
	if err != nil {
		return nil, fmt.Errorf("ssh bastion %s: %w", b.addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	sc, chans, reqs, err := ssh.NewClientConn(c, b.addr, b.cfg)
	stopped := stop()
	if err != nil {
		c.Close()
		if !stopped && ctx.Err() != nil {
			err = ctx.Err()
		}
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			if len(ke.Want) == 0 {
				return nil, fmt.Errorf("ssh bastion %s: its host key is not in known_hosts; add it (ssh-keyscan) after checking it: %w", b.addr, err)
			}
			return nil, fmt.Errorf("ssh bastion %s: its host key does not match known_hosts (a changed key, or someone in between): %w", b.addr, err)
		}
		return nil, fmt.Errorf("ssh bastion %s: %w", b.addr, err)
	}
	c.SetDeadline(time.Time{})
	return ssh.NewClient(sc, chans, reqs), nil
}

// drop forgets l if it is still the current SSH connection.
func (b *Bastion) drop(l *link) {
	b.mu.Lock()
	if b.cur == l {
		b.cur = nil
	}
	b.mu.Unlock()
	// A dropped SSH connection that still runs is left open: tunnels
	// through it may still work, and it closes when its peer ends it.
}

// Close closes the SSH connection and every connection tunnelled through it.
// Later dials fail. Close is idempotent.
func (b *Bastion) Close() error {
	b.mu.Lock()
	b.closed = true
	l := b.cur
	b.cur = nil
	b.mu.Unlock()
	if l != nil {
		<-l.ready
		if l.client != nil {
			l.client.Close()
			<-l.done
		}
	}
	return nil
}

// OpenError is the bastion's refusal to open a channel to a target: its
// sshd's rules forbid it (AllowTcpForwarding, PermitOpen: matches
// [sockets.ErrDenied]) or the target could not be reached (matches
// syscall.ECONNREFUSED), so callers branch on it as on a direct
// connection's error.
type OpenError struct {
	Bastion string
	Target  string
	Reason  ssh.RejectionReason
	Msg     string
}

// Error says which bastion refused which target, and why.
func (e *OpenError) Error() string {
	msg := "ssh bastion " + e.Bastion + " could not open a channel to " + strconv.Quote(e.Target) + ": " + e.Reason.String()
	if e.Msg != "" {
		msg += " (" + strconv.Quote(e.Msg) + ")"
	}
	if e.Reason == ssh.Prohibited {
		msg += "; the bastion's sshd forbids forwarding there (AllowTcpForwarding, PermitOpen)"
	}
	return msg
}

// Is reports whether the refusal is the bastion's rule ([sockets.ErrDenied]).
func (e *OpenError) Is(target error) bool {
	return target == sockets.ErrDenied && e.Reason == ssh.Prohibited
}

// Unwrap returns syscall.ECONNREFUSED when the target could not be reached.
func (e *OpenError) Unwrap() error {
	if e.Reason == ssh.ConnectionFailed {
		return syscall.ECONNREFUSED
	}
	return nil
}

// LostError is the read or write error of a tunnelled connection whose SSH
// connection to the bastion ended. It matches io.ErrUnexpectedEOF and
// syscall.ECONNRESET, as a dropped TCP connection would.
type LostError struct {
	Bastion string
	Cause   error // why the SSH connection ended, or nil
}

func (e *LostError) Error() string {
	msg := "ssh bastion " + e.Bastion + ": the SSH connection was lost"
	if e.Cause != nil && !errors.Is(e.Cause, io.EOF) {
		msg += ": " + e.Cause.Error()
	}
	return msg + "; the next connection dials the bastion again"
}

// Unwrap gives io.ErrUnexpectedEOF, syscall.ECONNRESET and the cause.
func (e *LostError) Unwrap() []error {
	return []error{io.ErrUnexpectedEOF, syscall.ECONNRESET, e.Cause}
}
