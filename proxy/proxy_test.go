package proxy_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/proxy"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// testProxy is an in-process SOCKS5 or HTTP CONNECT proxy. It refuses
// destination port 9 (as the CI proxies do), resolves names through its
// names map, and records what it was asked to reach.
type testProxy struct {
	ln         net.Listener
	socks      bool
	user, pass string
	names      map[string]string // "name:port" -> "127.0.0.1:port"
	coalesce   bool              // HTTP: send the target's first bytes with the 200
	silent     bool              // accept and never answer

	mu      sync.Mutex
	targets []string
	conns   []net.Conn
	wg      sync.WaitGroup
}

func newTestProxy(t *testing.T, socks bool, configure func(*testProxy)) *testProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &testProxy{ln: ln, socks: socks, names: map[string]string{}}
	if configure != nil {
		configure(p)
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer c.Close()
				if p.silent {
					io.Copy(io.Discard, c)
					return
				}
				if p.socks {
					p.serveSOCKS(c)
				} else {
					p.serveHTTP(c)
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *testProxy) addr() string { return p.ln.Addr().String() }

func (p *testProxy) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

func (p *testProxy) dialTarget(target string) (net.Conn, error) {
	p.mu.Lock()
	p.targets = append(p.targets, target)
	real, ok := p.names[target]
	p.mu.Unlock()
	if !ok {
		real = target
	}
	c, err := net.DialTimeout("tcp", real, 5*time.Second)
	if err == nil {
		p.mu.Lock()
		p.conns = append(p.conns, c)
		p.mu.Unlock()
	}
	return c, err
}

func relay(a, b net.Conn) {
	done := make(chan struct{})
	go func() {
		io.Copy(b, a)
		if cw, ok := b.(*net.TCPConn); ok {
			cw.CloseWrite()
		}
		close(done)
	}()
	io.Copy(a, b)
	if cw, ok := a.(*net.TCPConn); ok {
		cw.CloseWrite()
	}
	<-done
	b.Close()
}

func (p *testProxy) serveSOCKS(c net.Conn) {
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil || hdr[0] != 5 {
		return
	}
	methods := make([]byte, hdr[1])
	io.ReadFull(c, methods)
	want := byte(0)
	if p.user != "" {
		want = 2
	}
	if !strings.ContainsRune(string(methods), rune(want)) {
		c.Write([]byte{5, 0xff})
		return
	}
	c.Write([]byte{5, want})
	if want == 2 {
		var v [2]byte
		io.ReadFull(c, v[:])
		user := make([]byte, v[1])
		io.ReadFull(c, user)
		io.ReadFull(c, v[:1])
		pass := make([]byte, v[0])
		io.ReadFull(c, pass)
		if string(user) != p.user || string(pass) != p.pass {
			c.Write([]byte{1, 1})
			return
		}
		c.Write([]byte{1, 0})
	}
	var req [4]byte
	if _, err := io.ReadFull(c, req[:]); err != nil {
		return
	}
	var host string
	switch req[3] {
	case 1:
		var b [4]byte
		io.ReadFull(c, b[:])
		host = netip.AddrFrom4(b).String()
	case 4:
		var b [16]byte
		io.ReadFull(c, b[:])
		host = netip.AddrFrom16(b).String()
	case 3:
		var l [1]byte
		io.ReadFull(c, l[:])
		b := make([]byte, l[0])
		io.ReadFull(c, b)
		host = string(b)
	}
	var pb [2]byte
	io.ReadFull(c, pb[:])
	port := binary.BigEndian.Uint16(pb[:])
	target := net.JoinHostPort(host, strconv.Itoa(int(port)))
	reply := func(code byte) { c.Write([]byte{5, code, 0, 1, 0, 0, 0, 0, 0, 0}) }
	if port == 9 {
		p.mu.Lock()
		p.targets = append(p.targets, target)
		p.mu.Unlock()
		reply(2)
		return
	}
	t, err := p.dialTarget(target)
	if err != nil {
		reply(5)
		return
	}
	reply(0)
	relay(c, t)
}

func (p *testProxy) serveHTTP(c net.Conn) {
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil {
		return
	}
	auth := ""
	for {
		h, err := br.ReadString('\n')
		if err != nil {
			return
		}
		if h == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(h, ":"); ok && strings.EqualFold(k, "Proxy-Authorization") {
			auth = strings.TrimSpace(v)
		}
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "CONNECT" {
		io.WriteString(c, "HTTP/1.1 405 Method Not Allowed\r\n\r\n")
		return
	}
	target := f[1]
	if p.user != "" && auth != "Basic "+base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.pass)) {
		io.WriteString(c, "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"t\"\r\n\r\n")
		return
	}
	if strings.HasSuffix(target, ":9") {
		p.mu.Lock()
		p.targets = append(p.targets, target)
		p.mu.Unlock()
		io.WriteString(c, "HTTP/1.1 403 Filtered\r\nContent-Length: 0\r\n\r\n")
		return
	}
	t, err := p.dialTarget(target)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\n\r\n")
		return
	}
	ok := "HTTP/1.1 200 Connection established\r\nProxy-Agent: test\r\n\r\n"
	if p.coalesce {
		buf := make([]byte, 64)
		t.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := t.Read(buf)
		t.SetReadDeadline(time.Time{})
		ok += string(buf[:n])
	}
	io.WriteString(c, ok)
	relay(&bufConn{Conn: c, r: br}, t)
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufConn) Read(b []byte) (int, error) { return c.r.Read(b) }

// roundTrip writes msg and reads it back (from an echo server).
func roundTrip(t *testing.T, s *sockets.Socket, msg string) {
	t.Helper()
	if _, err := s.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	if got := readN(t, s, len(msg)); got != msg {
		t.Fatalf("echo = %q, want %q", got, msg)
	}
}

func TestProxiesInProcess(t *testing.T) {
	backend := echo(t)
	_, port, _ := net.SplitHostPort(backend.Addr())
	for _, kind := range []string{"socks5", "socks5-auth", "http", "http-auth"} {
		t.Run(kind, func(t *testing.T) {
			socks := strings.HasPrefix(kind, "socks5")
			auth := strings.HasSuffix(kind, "-auth")
			px := newTestProxy(t, socks, func(p *testProxy) {
				p.names["backend.test:"+port] = backend.Addr()
				if auth {
					p.user, p.pass = "alice", "s3cret"
				}
			})
			var via sockets.Proxy
			if socks {
				sp := &proxy.SOCKS5{Addr: px.addr()}
				if auth {
					sp.Username, sp.Password = "alice", "s3cret"
				}
				via = sp
			} else {
				hp := &proxy.HTTP{Addr: px.addr()}
				if auth {
					hp.Username, hp.Password = "alice", "s3cret"
				}
				via = hp
			}
			o := &sockets.Options{Proxy: via}
			// By name: the proxy resolves it.
			s := connect(t, "backend.test:"+port, o)
			roundTrip(t, s, "through the proxy")
			if info := opened(t, s); info.RemoteAddress != px.addr() {
				t.Fatalf("RemoteAddress = %s, want the proxy %s", info.RemoteAddress, px.addr())
			}
			// By address.
			s2 := connect(t, backend.Addr(), o)
			roundTrip(t, s2, "by address")
			// The proxy refuses port 9: ErrDenied, with the proxy's reason.
			err := openErr(t, "127.0.0.1:9", o)
			var pe *proxy.Error
			if !isDenied(err) || !errors.As(err, &pe) || (socks && pe.Code != 2) || (!socks && pe.Code != 403) {
				t.Fatalf("port 9 through the proxy = %v, want a *ProxyError matching ErrDenied", err)
			}
			// An unreachable target is reported as such.
			err = openErr(t, freePort(t), o)
			if socks && !errors.Is(err, syscall.ECONNREFUSED) || !socks && (!errors.As(err, &pe) || pe.Code != 502) {
				t.Fatalf("closed port through the proxy = %v", err)
			}
			want := []string{"backend.test:" + port, backend.Addr(), "127.0.0.1:9"}
			if got := px.seen(); len(got) < 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
				t.Fatalf("proxy was asked for %v, want %v first", got, want)
			}
			if auth {
				if socks {
					via.(*proxy.SOCKS5).Password = "wrong"
				} else {
					via.(*proxy.HTTP).Password = "wrong"
				}
				err := openErr(t, backend.Addr(), &sockets.Options{Proxy: via})
				if err == nil || !(strings.Contains(err.Error(), "refused the username and password") || strings.Contains(err.Error(), "407")) {
					t.Fatalf("wrong password = %v", err)
				}
			}
		})
	}
}

// TestHTTPProxyEarlyBytes: a server that speaks first may have its first
// bytes arrive with the proxy's 200; they are not lost.
func TestHTTPProxyEarlyBytes(t *testing.T) {
	banner := serve(t)(sockettest.NewScripted(sockettest.Send("220 hello\r\n"), sockettest.ExpectLine("QUIT"), sockettest.Send("221 bye\r\n")))
	px := newTestProxy(t, false, func(p *testProxy) { p.coalesce = true })
	s := connect(t, banner.Addr(), &sockets.Options{Proxy: &proxy.HTTP{Addr: px.addr()}})
	if got := readN(t, s, 11); got != "220 hello\r\n" {
		t.Fatalf("banner %q", got)
	}
	s.Write([]byte("QUIT\r\n"))
	if got := readN(t, s, 9); got != "221 bye\r\n" {
		t.Fatalf("reply %q", got)
	}
}

// TestProxyPolicy: hostname and port rules apply before the proxy is
// contacted, IP literals are checked locally, and names go to the proxy
// unresolved (address rules for them are the proxy's job).
func TestProxyPolicy(t *testing.T) {
	backend := echo(t)
	_, port, _ := net.SplitHostPort(backend.Addr())
	px := newTestProxy(t, true, func(p *testProxy) { p.names["backend.test:"+port] = backend.Addr() })
	logs := &logRecords{}
	cfg := denylist()
	cfg.Rules = append(cfg.Rules, egress.Rule{Name: "no-blocked", Action: egress.Deny, Hosts: []string{"blocked.example"}})
	cfg.Logger = slog.New(logs)
	p := newPolicy(t, cfg)
	o := &sockets.Options{Policy: p, Proxy: &proxy.SOCKS5{Addr: px.addr()}}
	for _, addr := range []string{"blocked.example:443", backend.Addr(), "[::ffff:127.0.0.1]:" + port, "mail.example.com:25"} {
		if _, err := sockets.Connect(ctxT(t), addr, o); !isDenied(err) {
			t.Fatalf("Connect(%s) through a proxy = %v, want ErrDenied before the proxy", addr, err)
		}
	}
	if got := px.seen(); len(got) != 0 {
		t.Fatalf("the proxy was asked for %v", got)
	}
	s := connect(t, "backend.test:"+port, o)
	roundTrip(t, s, "the proxy resolved it")
	recs := logs.all()
	last := recs[len(recs)-1]
	if last.Attrs["decision"] != "allow" || last.Attrs["proxied"] != "true" || last.Attrs["ip"] != "" || last.Attrs["host"] != "backend.test" {
		t.Fatalf("record for the proxied connection = %+v", last)
	}
	if _, err := sockets.Connect(ctxT(t), backend.Addr(), &sockets.Options{Proxy: &proxy.SOCKS5{Addr: px.addr()}, Dial: func(context.Context, string, string) (net.Conn, error) { return nil, nil }}); !errors.Is(err, sockets.ErrInvalidOptions) {
		t.Fatalf("Dial and Proxy together = %v, want ErrInvalidOptions", err)
	}
}

// TestProxyHandshakeBoundedByContext: a proxy that never answers holds the
// dial only as long as the context.
func TestProxyHandshakeBoundedByContext(t *testing.T) {
	for _, socks := range []bool{true, false} {
		px := newTestProxy(t, socks, func(p *testProxy) { p.silent = true })
		var via sockets.Proxy = &proxy.HTTP{Addr: px.addr()}
		if socks {
			via = &proxy.SOCKS5{Addr: px.addr()}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		s, err := sockets.Connect(ctx, "example.com:443", &sockets.Options{Proxy: via})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Opened(ctxT(t))
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("silent proxy (socks %v) = %v, want the context's deadline", socks, err)
		}
		s.Close()
		// Cancelled, not timed out.
		ctx, cancel = context.WithCancel(context.Background())
		s, _ = sockets.Connect(ctx, "example.com:443", &sockets.Options{Proxy: via})
		go func() { time.Sleep(20 * time.Millisecond); cancel() }()
		if _, err := s.Opened(ctxT(t)); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled (socks %v) = %v", socks, err)
		}
		s.Close()
	}
}

func TestProxyURL(t *testing.T) {
	cases := []struct {
		in   string
		want string // %T and fields
		err  string
	}{
		{"socks5://127.0.0.1:1080", "socks5 127.0.0.1:1080  ", ""},
		{"socks5h://u:p@proxy.example", "socks5 proxy.example:1080 u p", ""},
		{"http://proxy.example:3128", "http proxy.example:3128   false", ""},
		{"proxy.example:3128", "http proxy.example:3128   false", ""},
		{"https://a:b@proxy.example", "http proxy.example:443 a b true", ""},
		{"ftp://proxy.example", "", `scheme "ftp" is not supported`},
		{"http://", "", "has no host"},
	}
	for _, c := range cases {
		p, err := proxy.FromURL(c.in)
		if c.err != "" {
			if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ProxyURL(%q) = %v, want an error containing %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("ProxyURL(%q): %v", c.in, err)
		}
		var got string
		switch p := p.(type) {
		case *proxy.SOCKS5:
			got = "socks5 " + p.Addr + " " + p.Username + " " + p.Password
		case *proxy.HTTP:
			got = "http " + p.Addr + " " + p.Username + " " + p.Password + " " + strconv.FormatBool(p.TLSConfig != nil)
		}
		if got != c.want {
			t.Errorf("ProxyURL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestProxyFromEnvironment(t *testing.T) {
	for _, k := range []string{"ALL_PROXY", "all_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"} {
		t.Setenv(k, "")
	}
	a := func(s string) sockets.Address {
		x, err := sockets.ParseAddress(s)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	if d, err := proxy.FromEnvironment().ProxyFor(a("example.com:443")); d != nil || err != nil {
		t.Fatalf("no variables: %v %v, want direct", d != nil, err)
	}
	backend := echo(t)
	_, port, _ := net.SplitHostPort(backend.Addr())
	socks := newTestProxy(t, true, func(p *testProxy) { p.names["backend.test:"+port] = backend.Addr() })
	httpx := newTestProxy(t, false, func(p *testProxy) { p.names["backend.test:"+port] = backend.Addr() })
	t.Setenv("HTTPS_PROXY", "http://"+httpx.addr())
	t.Setenv("NO_PROXY", "internal.example,10.0.0.0/8")
	env := proxy.FromEnvironment()
	for _, c := range []struct {
		addr  string
		proxy bool
	}{
		{"backend.test:" + port, true},
		{"internal.example:443", false},
		{"db.internal.example:5432", false},
		{"10.1.2.3:80", false},
		{"localhost:80", false},
		{"127.0.0.1:80", false},
	} {
		d, err := env.ProxyFor(a(c.addr))
		if err != nil || (d != nil) != c.proxy {
			t.Errorf("ProxyFor(%s) = proxied %v (%v), want %v", c.addr, d != nil, err, c.proxy)
		}
	}
	s := connect(t, "backend.test:"+port, &sockets.Options{Proxy: env})
	roundTrip(t, s, "via HTTPS_PROXY")
	// ALL_PROXY wins over HTTPS_PROXY.
	t.Setenv("all_proxy", "socks5h://"+socks.addr())
	s = connect(t, "backend.test:"+port, &sockets.Options{Proxy: proxy.FromEnvironment()})
	roundTrip(t, s, "via ALL_PROXY")
	if len(socks.seen()) != 1 || len(httpx.seen()) != 1 {
		t.Fatalf("socks saw %v, http saw %v", socks.seen(), httpx.seen())
	}
	// A bad variable fails Connect with a message naming it.
	t.Setenv("all_proxy", "gopher://x")
	_, err := sockets.Connect(ctxT(t), "backend.test:"+port, &sockets.Options{Proxy: proxy.FromEnvironment()})
	if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), "ALL_PROXY") {
		t.Fatalf("bad ALL_PROXY = %v", err)
	}
}

// TestRealSOCKS5Proxy and TestRealHTTPProxy go through the third-party
// proxies CI starts (dante and tinyproxy), both configured to refuse
// destination port 9.
func TestRealSOCKS5Proxy(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_SOCKS5")
	testRealProxy(t, &proxy.SOCKS5{Addr: addr}, 2)
}

func TestRealHTTPProxy(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_HTTP_PROXY")
	testRealProxy(t, &proxy.HTTP{Addr: addr}, 403)
}

func testRealProxy(t *testing.T, via sockets.Proxy, refusal int) {
	backend := echo(t)
	o := &sockets.Options{Proxy: via}
	s := connect(t, backend.Addr(), o)
	roundTrip(t, s, "through a real proxy")
	s.Close()
	// Upgrading to TLS through the proxy works too.
	ca := newCA(t)
	srv := starttlsServer(t, ca)
	st := connect(t, srv.Addr(), &sockets.Options{Proxy: via, SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: ca.ClientConfig()})
	readN(t, st, 7)
	st.Write([]byte("STARTTLS\r\n"))
	readN(t, st, 4)
	ts, err := st.StartTLS(&sockets.StartTLSOptions{ExpectedServerHostname: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	ts.Write([]byte("PING\r\n"))
	if got := readN(t, ts, 6); got != "PONG\r\n" {
		t.Fatalf("got %q", got)
	}
	// The proxy refuses port 9.
	err = openErr(t, "127.0.0.1:9", o)
	var pe *proxy.Error
	if !isDenied(err) || !errors.As(err, &pe) || pe.Code != refusal {
		t.Fatalf("port 9 through the proxy = %v, want a *ProxyError %d matching ErrDenied", err, refusal)
	}
}
