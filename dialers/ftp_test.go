package dialers_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/proxy"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// connRecorder wraps an FTP dial function and keeps what it returned.
type connRecorder struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (r *connRecorder) wrap(dial func(string, string) (net.Conn, error)) func(string, string) (net.Conn, error) {
	return func(network, address string) (net.Conn, error) {
		c, err := dial(network, address)
		if err == nil {
			r.mu.Lock()
			r.conns = append(r.conns, c)
			r.mu.Unlock()
		}
		return c, err
	}
}

func (r *connRecorder) all() []net.Conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]net.Conn(nil), r.conns...)
}

func TestFTPDialFunc(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	srvCfg, _ := ca.ServerConfig()
	// A data server that, like vsftpd, reads nothing before the control
	// connection's command: the handshake must not be awaited at dial time.
	data, err := sockettest.NewScripted(
		sockettest.Sleep(100*time.Millisecond),
		sockettest.StartTLS(srvCfg),
		sockettest.Send("file contents"),
		sockettest.CloseConn(),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer data.Close()
	control, err := sockettest.NewScripted(sockettest.Send("220 ready\r\n"), sockettest.ExpectEOF())
	if err != nil {
		t.Fatal(err)
	}
	defer control.Close()

	cfg := ca.ClientConfig()
	dial := dialers.FTPDialFunc(context.Background(), nil, control.Addr(), cfg)

	// The control connection is plain: jlaffaye/ftp does AUTH TLS on it.
	c, err := dial("tcp", control.Addr())
	if err != nil {
		t.Fatal(err)
	}
	s, ok := c.(*sockets.Socket)
	if !ok || s.SecureTransport() != sockets.SecureTransportOff {
		t.Fatalf("control connection is a %T (%v), want a plain *sockets.Socket", c, s)
	}
	greeting := make([]byte, 11)
	if _, err := io.ReadFull(c, greeting); err != nil || string(greeting) != "220 ready\r\n" {
		t.Fatalf("greeting %q, %v", greeting, err)
	}
	c.Close()

	// A data connection returns before the server starts TLS, and reads
	// through TLS once it does.
	dc, err := dial("tcp", data.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	hs, ok := dc.(interface{ Handshake() error })
	if !ok {
		t.Fatalf("data connection %T has no Handshake method (jlaffaye/ftp calls it for an empty upload)", dc)
	}
	if err := hs.Handshake(); err != nil {
		t.Fatalf("Handshake: %v", err)
	}
	st, ok := dc.(interface{ ConnectionState() tls.ConnectionState })
	if !ok || !st.ConnectionState().HandshakeComplete {
		t.Fatal("data connection is not TLS after Handshake")
	}
	got, err := io.ReadAll(dc)
	if err != nil || string(got) != "file contents" {
		t.Fatalf("data = %q, %v", got, err)
	}
	<-data.Done()
	<-control.Done()
	for _, err := range append(data.Errs(), control.Errs()...) {
		t.Error(err)
	}
	if cfg.ServerName != "" {
		t.Fatalf("the caller's config was modified: ServerName %q", cfg.ServerName)
	}
}

// Closing an upload must not reset the connection: a TLS 1.3 server's
// session tickets sit unread at the uploader, and a close with unread data
// sends RST, which can discard the end of the upload at the server.
func TestFTPDataUploadEndsCleanly(t *testing.T) {
	ca, _ := sockettest.NewCA()
	srvCfg, _ := ca.ServerConfig()
	got := make(chan int64, 1)
	srv, err := sockettest.NewTLSServer(srvCfg, func(c net.Conn) {
		// Bytes the client never reads, as an OpenSSL server's session
		// tickets (sent after the client's Finished) are.
		c.Write([]byte("unread"))
		time.Sleep(200 * time.Millisecond) // a server slower than the client
		n, err := io.Copy(io.Discard, c)
		if err != nil {
			n = -1
		}
		got <- n
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dial := dialers.FTPDialFunc(context.Background(), nil, "127.0.0.1:21", ca.ClientConfig())
	c, err := dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	const size = 4 << 20
	if n, err := io.Copy(c, io.LimitReader(zeros{}, size)); err != nil || n != size {
		t.Fatalf("upload wrote %d, %v", n, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if n := <-got; n != size {
		t.Fatalf("server read %d bytes, want %d (-1: the connection was reset)", n, size)
	}
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

func TestFTPDialFuncErrors(t *testing.T) {
	ca, _ := sockettest.NewCA()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	tests := []struct {
		name string
		addr string
		tls  *tls.Config
		want error
	}{
		{"plain data, refused", closed, nil, syscall.ECONNREFUSED},
		{"TLS data, refused", closed, ca.ClientConfig(), syscall.ECONNREFUSED},
		{"TLS data, port 25", "127.0.0.1:25", ca.ClientConfig(), sockets.ErrDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dial := dialers.FTPDialFunc(context.Background(), nil, "127.0.0.1:21", tt.tls)
			c, err := dial("tcp", tt.addr)
			if err == nil {
				c.Close()
				t.Fatal("dial succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// ftpServer returns the address, user, password and CA of the CI's FTP server.
func ftpServer(t *testing.T) (addr, user, password string, roots *x509.CertPool) {
	addr = testenv.Get(t, "OUTBOUND_TEST_FTP")
	user = testenv.Get(t, "OUTBOUND_TEST_FTP_USER")
	password = testenv.Get(t, "OUTBOUND_TEST_FTP_PASSWORD")
	pem, err := os.ReadFile(testenv.Get(t, "OUTBOUND_TEST_FTP_CA"))
	if err != nil {
		t.Fatal(err)
	}
	roots = x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("OUTBOUND_TEST_FTP_CA holds no PEM certificate")
	}
	return addr, user, password, roots
}

// Upload and download through vsftpd, with AUTH TLS and in plain FTP;
// every connection, control and data, is an outbound socket.
func TestFTPRealServer(t *testing.T) {
	addr, user, password, roots := ftpServer(t)
	host, _, _ := net.SplitHostPort(addr)
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	want := sha256.Sum256(payload)

	tests := []struct {
		name string
		tls  bool
	}{
		{"AUTH TLS", true},
		{"plain", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var cfg *tls.Config
			opts := []ftp.DialOption{ftp.DialWithTimeout(10 * time.Second)}
			if tt.tls {
				cfg = &tls.Config{RootCAs: roots, ServerName: host, ClientSessionCache: tls.NewLRUClientSessionCache(0)}
				opts = append(opts, ftp.DialWithExplicitTLS(cfg))
			}
			var rec connRecorder
			opts = append(opts, ftp.DialWithDialFunc(rec.wrap(dialers.FTPDialFunc(ctx, nil, addr, cfg))))
			c, err := ftp.Dial(addr, opts...)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Quit()
			if err := c.Login(user, password); err != nil {
				t.Fatalf("Login: %v", err)
			}
			name := "outbound-test-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ".bin"
			if err := c.Stor(name, bytes.NewReader(payload)); err != nil {
				t.Fatalf("STOR: %v", err)
			}
			defer c.Delete(name)
			if size, err := c.FileSize(name); err != nil || size != int64(len(payload)) {
				t.Fatalf("SIZE = %d, %v; want %d", size, err, len(payload))
			}
			r, err := c.Retr(name)
			if err != nil {
				t.Fatalf("RETR: %v", err)
			}
			h := sha256.New()
			n, err := io.Copy(h, r)
			r.Close()
			if err != nil || n != int64(len(payload)) {
				t.Fatalf("RETR read %d bytes, %v", n, err)
			}
			if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
				t.Fatalf("sha256 of the download %x, want %x", got, want)
			}
			// An empty upload: jlaffaye/ftp calls Handshake on the data connection.
			empty := name + ".empty"
			if err := c.Stor(empty, bytes.NewReader(nil)); err != nil {
				t.Fatalf("STOR of an empty file: %v", err)
			}
			if size, err := c.FileSize(empty); err != nil || size != 0 {
				t.Fatalf("SIZE of the empty file = %d, %v", size, err)
			}
			if err := c.Delete(empty); err != nil {
				t.Fatal(err)
			}

			conns := rec.all()
			if len(conns) != 4 { // control, STOR, RETR, empty STOR
				t.Fatalf("dialed %d connections, want 4 (control and 3 data)", len(conns))
			}
			for i, c := range conns {
				st, ok := c.(interface {
					SecureTransport() sockets.SecureTransport
					ConnectionState() tls.ConnectionState
				})
				if !ok {
					t.Fatalf("connection %d is a %T, not an outbound socket", i, c)
				}
				wantTLS := tt.tls && i > 0 // the control socket is upgraded by jlaffaye/ftp
				if got := st.ConnectionState().HandshakeComplete; got != wantTLS {
					t.Fatalf("connection %d: socket TLS %v, want %v", i, got, wantTLS)
				}
				if wantTLS && st.ConnectionState().Version != tls.VersionTLS13 {
					t.Errorf("data connection %d: TLS version %x, want 1.3 (the case where closing an upload needs care)", i, st.ConnectionState().Version)
				}
				if wantTLS && !st.ConnectionState().DidResume {
					t.Errorf("data connection %d did not resume the control connection's TLS session", i)
				}
			}
		})
	}
}

// The policy judges every data connection: allowing only the control port
// lets the login through and refuses the transfer.
func TestFTPRealServerPolicyOnDataConnections(t *testing.T) {
	addr, user, password, roots := ftpServer(t)
	host, port, _ := net.SplitHostPort(addr)
	pol, err := egress.NewPolicy(egress.PolicyConfig{
		Default: egress.Deny,
		Rules:   []egress.Rule{{Name: "ftp-control", Action: egress.Allow, Addrs: []string{host}, Ports: []string{port}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	d := &dialers.Dialer{Options: &sockets.Options{Policy: pol}}
	cfg := &tls.Config{RootCAs: roots, ServerName: host}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := ftp.Dial(addr, ftp.DialWithDialFunc(dialers.FTPDialFunc(ctx, d, addr, cfg)), ftp.DialWithExplicitTLS(cfg))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	defer c.Quit()
	if err := c.Login(user, password); err != nil {
		t.Fatalf("Login: %v", err)
	}
	err = c.Stor("outbound-denied.bin", strings.NewReader("x"))
	if !errors.Is(err, sockets.ErrDenied) {
		t.Fatalf("STOR with the data ports denied = %v, want ErrDenied", err)
	}
}

// Through an egress proxy the control socket's peer is the proxy, which
// jlaffaye/ftp takes for the server: data connections must still reach the
// server, by the control connection's host name.
func TestFTPRealServerThroughProxies(t *testing.T) {
	addr, user, password, roots := ftpServer(t)
	_, port, _ := net.SplitHostPort(addr)
	addr = net.JoinHostPort("localhost", port) // a name, for the proxy to resolve
	tests := []struct {
		name  string
		proxy func() sockets.Proxy
	}{
		{"SOCKS5", func() sockets.Proxy { return &proxy.SOCKS5{Addr: testenv.Get(t, "OUTBOUND_TEST_SOCKS5")} }},
		{"HTTP CONNECT", func() sockets.Proxy { return &proxy.HTTP{Addr: testenv.Get(t, "OUTBOUND_TEST_HTTP_PROXY")} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			d := &dialers.Dialer{Options: &sockets.Options{Proxy: tt.proxy()}}
			cfg := &tls.Config{RootCAs: roots, ServerName: "localhost", ClientSessionCache: tls.NewLRUClientSessionCache(0)}
			var addrs []string
			dial := dialers.FTPDialFunc(ctx, d, addr, cfg)
			record := func(network, address string) (net.Conn, error) {
				c, err := dial(network, address)
				if err == nil {
					if s, ok := c.(interface{ Address() sockets.Address }); ok {
						addrs = append(addrs, s.Address().String())
					}
				}
				return c, err
			}
			c, err := ftp.Dial(addr, ftp.DialWithDialFunc(record), ftp.DialWithExplicitTLS(cfg))
			if err != nil {
				t.Fatalf("Dial through the proxy: %v", err)
			}
			defer c.Quit()
			if err := c.Login(user, password); err != nil {
				t.Fatal(err)
			}
			name := "outbound-proxy-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			if err := c.Stor(name, strings.NewReader("through the proxy")); err != nil {
				t.Fatalf("STOR through the proxy: %v", err)
			}
			defer c.Delete(name)
			r, err := c.Retr(name)
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r)
			r.Close()
			if err != nil || string(b) != "through the proxy" {
				t.Fatalf("RETR = %q, %v", b, err)
			}
			if len(addrs) != 3 {
				t.Fatalf("dialed %q, want the control and two data connections", addrs)
			}
			for _, a := range addrs {
				if h, _, _ := net.SplitHostPort(a); h != "localhost" {
					t.Fatalf("dialed %q: every connection must go to the server by its name, not to the proxy's address", addrs)
				}
			}
		})
	}
}
