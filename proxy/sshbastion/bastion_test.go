package sshbastion_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/proxy/sshbastion"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// forwarder is an in-process SSH server that serves direct-tcpip channels
// (what OpenSSH does for "ssh -W"), counting its SSH connections.
type forwarder struct {
	ln       net.Listener
	hostKey  ssh.Signer
	cfg      *ssh.ServerConfig
	prohibit string // a target refused as administratively prohibited

	handshakes atomic.Int32
	mu         sync.Mutex
	conns      []net.Conn
	wg         sync.WaitGroup
}

func newForwarder(t *testing.T, clientKey ssh.PublicKey) *forwarder {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{hostKey: signer}
	f.cfg = &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if string(k.Marshal()) == string(clientKey.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	f.cfg.AddHostKey(signer)
	f.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.wg.Go(f.accept)
	t.Cleanup(f.close)
	return f
}

func (f *forwarder) accept() {
	for {
		c, err := f.ln.Accept()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.conns = append(f.conns, c)
		f.mu.Unlock()
		f.wg.Go(func() { f.serve(c) })
	}
}

// dropAll closes every SSH connection from the server side: the bastion
// "dies" for its clients.
func (f *forwarder) dropAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

func (f *forwarder) close() {
	f.ln.Close()
	f.dropAll()
	f.wg.Wait()
}

func (f *forwarder) serve(c net.Conn) {
	defer c.Close()
	sc, chans, reqs, err := ssh.NewServerConn(c, f.cfg)
	if err != nil {
		return
	}
	f.handshakes.Add(1)
	defer sc.Close()
	var wg sync.WaitGroup
	var targets []net.Conn
	defer func() {
		// The SSH connection ended: end what it tunnelled, then wait.
		for _, tc := range targets {
			tc.Close()
		}
		wg.Wait()
	}()
	wg.Go(func() { ssh.DiscardRequests(reqs) })
	for nc := range chans {
		if nc.ChannelType() != "direct-tcpip" {
			nc.Reject(ssh.UnknownChannelType, "direct-tcpip only")
			continue
		}
		host, port, ok := parseDirect(nc.ExtraData())
		target := net.JoinHostPort(host, strconv.Itoa(port))
		if !ok || target == f.prohibit {
			nc.Reject(ssh.Prohibited, "not allowed by the test bastion")
			continue
		}
		tc, err := net.Dial("tcp", target)
		if err != nil {
			nc.Reject(ssh.ConnectionFailed, err.Error())
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			tc.Close()
			continue
		}
		targets = append(targets, tc)
		wg.Go(func() { ssh.DiscardRequests(creqs) })
		wg.Go(func() {
			var inner sync.WaitGroup
			inner.Go(func() { io.Copy(tc, ch); tc.(*net.TCPConn).CloseWrite() })
			io.Copy(ch, tc)
			ch.CloseWrite()
			inner.Wait()
			ch.Close()
			tc.Close()
		})
	}
}

func parseDirect(b []byte) (string, int, bool) {
	if len(b) < 4 {
		return "", 0, false
	}
	n := binary.BigEndian.Uint32(b)
	if uint32(len(b)) < 4+n+4 {
		return "", 0, false
	}
	return string(b[4 : 4+n]), int(binary.BigEndian.Uint32(b[4+n:])), true
}

func newClient(t *testing.T) (ssh.Signer, ssh.PublicKey) {
	t.Helper()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s, s.PublicKey()
}

func setup(t *testing.T) (*forwarder, *sshbastion.Bastion) {
	t.Helper()
	signer, pub := newClient(t)
	f := newForwarder(t, pub)
	b, err := sshbastion.New(f.ln.Addr().String(), &ssh.ClientConfig{
		User: "test", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(f.hostKey.PublicKey()),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return f, b
}

// echoServer starts an in-process echo peer, closed when the test ends.
func echoServer(t *testing.T) *sockettest.Server {
	t.Helper()
	srv, err := sockettest.NewEcho()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func echoRound(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != msg {
		t.Fatalf("echo read %q, %v; want %q", buf, err, msg)
	}
}

func TestSharesOneSSHConnection(t *testing.T) {
	f, b := setup(t)
	srv := echoServer(t)
	d := &dialers.Dialer{Options: &sockets.Options{Proxy: b}}
	var socks []net.Conn
	for i := range 5 {
		c, err := d.DialContext(ctxT(t), "tcp", srv.Addr())
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		socks = append(socks, c)
		echoRound(t, c, "hello "+strconv.Itoa(i))
	}
	for _, c := range socks {
		c.Close()
	}
	if n := f.handshakes.Load(); n != 1 {
		t.Fatalf("%d SSH connections for 5 sockets, want 1 shared", n)
	}
}

func TestReconnectsAfterDrop(t *testing.T) {
	f, b := setup(t)
	srv := echoServer(t)
	c, err := b.DialContext(ctxT(t), "tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echoRound(t, c, "before")
	f.dropAll()
	// The tunnelled connection fails with the bastion's loss, not a bare EOF.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = c.Read(make([]byte, 1))
	var lost *sshbastion.LostError
	if !errors.As(err, &lost) || !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after the bastion dropped: %v (%T), want a *LostError matching ErrUnexpectedEOF and ECONNRESET", err, err)
	}
	// The next connection goes through a new SSH connection.
	c2, err := b.DialContext(ctxT(t), "tcp", srv.Addr())
	if err != nil {
		t.Fatalf("dial after the drop: %v", err)
	}
	defer c2.Close()
	echoRound(t, c2, "after")
	if n := f.handshakes.Load(); n != 2 {
		t.Fatalf("%d SSH handshakes, want 2 (one, then one after the drop)", n)
	}
}

func TestReadDeadline(t *testing.T) {
	_, b := setup(t)
	srv := echoServer(t)
	c, err := b.DialContext(ctxT(t), "tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a timeout", err)
	}
	// A deadline is not the end: clear it and the connection works.
	c.SetReadDeadline(time.Time{})
	echoRound(t, c, "still here")
	// A deadline in the past unblocks a pending read at once.
	done := make(chan error, 1)
	go func() { _, err := c.Read(make([]byte, 1)); done <- err }()
	time.Sleep(20 * time.Millisecond)
	c.SetReadDeadline(time.Now())
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("pending read after SetReadDeadline(now): %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("SetReadDeadline(now) did not unblock a pending read")
	}
}

func TestRefusals(t *testing.T) {
	f, b := setup(t)
	srv := echoServer(t)
	f.prohibit = srv.Addr()
	_, err := b.DialContext(ctxT(t), "tcp", srv.Addr())
	var oe *sshbastion.OpenError
	if !errors.As(err, &oe) || !errors.Is(err, sockets.ErrDenied) {
		t.Fatalf("prohibited target: %v, want an *OpenError matching ErrDenied", err)
	}
	// A closed port: the bastion's connect fails.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	_, err = b.DialContext(ctxT(t), "tcp", closed)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("closed target: %v, want ECONNREFUSED", err)
	}
	// Targets are checked like ParseAddress: no CR/LF into the channel request.
	for _, bad := range []string{"a.example:80\r\nx", "a.example", "a.example:0", "[::1%eth0]:80"} {
		if _, err := b.DialContext(ctxT(t), "tcp", bad); !errors.Is(err, sockets.ErrInvalidAddress) {
			t.Errorf("target %q: %v, want ErrInvalidAddress", bad, err)
		}
	}
	if _, err := b.DialContext(ctxT(t), "udp", srv.Addr()); !errors.Is(err, sockets.ErrInvalidOptions) {
		t.Errorf("udp: %v, want ErrInvalidOptions", err)
	}
}

func TestHostKeyChecked(t *testing.T) {
	signer, pub := newClient(t)
	f := newForwarder(t, pub)
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	otherSigner, _ := ssh.NewSignerFromKey(other)
	b, err := sshbastion.New(f.ln.Addr().String(), &ssh.ClientConfig{
		User: "test", Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(otherSigner.PublicKey()),
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.DialContext(ctxT(t), "tcp", "127.0.0.1:9"); err == nil {
		t.Fatal("dial through a bastion with the wrong host key succeeded")
	}
	if _, err := sshbastion.New(f.ln.Addr().String(), &ssh.ClientConfig{User: "test"}, nil); !errors.Is(err, sockets.ErrInvalidOptions) {
		t.Fatalf("nil HostKeyCallback: %v, want ErrInvalidOptions", err)
	}
	if _, err := sshbastion.New("bastion", &ssh.ClientConfig{HostKeyCallback: ssh.FixedHostKey(pub)}, nil); !errors.Is(err, sockets.ErrInvalidAddress) {
		t.Fatalf("address without a port: %v, want ErrInvalidAddress", err)
	}
}

func TestPolicyStillApplies(t *testing.T) {
	f, b := setup(t)
	d := &dialers.Dialer{Options: &sockets.Options{Proxy: b}}
	_, err := d.DialContext(ctxT(t), "tcp", "mail.example:25")
	if !errors.Is(err, sockets.ErrDenied) {
		t.Fatalf("port 25 through the bastion: %v, want ErrDenied", err)
	}
	if n := f.handshakes.Load(); n != 0 {
		t.Fatalf("a denied connect reached the bastion (%d SSH connections)", n)
	}
}

func TestCloseEndsTunnels(t *testing.T) {
	_, b := setup(t)
	srv := echoServer(t)
	c, err := b.DialContext(ctxT(t), "tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after Bastion.Close: %v, want the connection ended", err)
	}
	if _, err := b.DialContext(ctxT(t), "tcp", srv.Addr()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("dial after Close: %v, want net.ErrClosed", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
