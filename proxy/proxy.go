package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/outboundhq/outbound/sockets"
)

// Error is a proxy's refusal to connect to a target. It matches
// [sockets.ErrDenied] when the proxy's own rules refused the connection (SOCKS5
// reply 2, HTTP 403), and the corresponding syscall error when the proxy
// reports the target refused, unreachable or timed out, so callers branch
// on it as on a direct connection's error.
type Error struct {
	Proxy  string // the proxy, as "socks5://host:port" or "http://host:port"
	Target string // the address the proxy was asked to reach
	Code   int    // SOCKS5 reply code, or HTTP status
	Msg    string // the proxy's reason
}

// Error says which proxy refused or failed, and why.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("proxy " + e.Proxy + " refused the connection to " + e.Target + ": " + e.Msg)
	if e.denied() {
		b.WriteString("; the proxy's egress rules deny it")
	}
	if e.Code == 407 {
		b.WriteString("; set the proxy's Username and Password")
	}
	return b.String()
}

func (e *Error) socks() bool { return strings.HasPrefix(e.Proxy, "socks5") }

func (e *Error) denied() bool {
	if e.socks() {
		return e.Code == 2
	}
	return e.Code == 403
}

// Is reports whether the refusal is a policy denial ([sockets.ErrDenied]).
func (e *Error) Is(target error) bool { return target == sockets.ErrDenied && e.denied() }

// Unwrap returns the syscall error the refusal stands for, or nil.
func (e *Error) Unwrap() error {
	if e.socks() {
		switch e.Code {
		case 3:
			return syscall.ENETUNREACH
		case 4:
			return syscall.EHOSTUNREACH
		case 5:
			return syscall.ECONNREFUSED
		case 6:
			return syscall.ETIMEDOUT
		}
		return nil
	}
	if e.Code == 504 {
		return syscall.ETIMEDOUT
	}
	return nil
}

var socksReplies = map[byte]string{
	1: "general SOCKS server failure",
	2: "connection not allowed by ruleset",
	3: "network unreachable",
	4: "host unreachable",
	5: "connection refused",
	6: "TTL expired",
	7: "command not supported",
	8: "address type not supported",
}

// SOCKS5 dials through a SOCKS5 proxy (RFC 1928), without
// authentication or with a username and password (RFC 1929). It is a
// [Proxy] that sends every connection through the proxy, and its
// DialContext fits anything that takes a dial function.
type SOCKS5 struct {
	// Addr is the proxy's "host:port".
	Addr string
	// Username and Password, when Username is set, authenticate to the proxy.
	Username, Password string
	// Dial reaches the proxy; nil means a [net.Dialer].
	Dial sockets.DialFunc
}

// ProxyFor returns p.DialContext for every address.
func (p *SOCKS5) ProxyFor(sockets.Address) (sockets.DialFunc, error) { return p.DialContext, nil }

// DialContext connects to address ("host:port"; a name is sent to the proxy
// unresolved) through the proxy. network must be "tcp". ctx bounds the
// connection to the proxy and the SOCKS5 exchange, not the connection's
// life. A refusal is a [*Error].
func (p *SOCKS5) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		return nil, errors.New("SOCKS5 proxy: network " + quote(network) + " is not supported; use \"tcp\"")
	}
	host, port, err := splitTarget(address)
	if err != nil {
		return nil, err
	}
	var req []byte
	req = append(req, 5, 1, 0) // VER, CMD CONNECT, RSV
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		if ip.Is4() {
			b := ip.As4()
			req = append(append(req, 1), b[:]...)
		} else {
			b := ip.As16()
			req = append(append(req, 4), b[:]...)
		}
	} else {
		if len(host) > 255 {
			return nil, errors.New("SOCKS5 proxy: hostname longer than 255 bytes")
		}
		req = append(append(req, 3, byte(len(host))), host...)
	}
	req = append(req, byte(port>>8), byte(port))
	proxyURL := "socks5://" + p.Addr
	return handshake(ctx, p.Dial, p.Addr, func(c net.Conn) (net.Conn, error) {
		methods := []byte{5, 1, 0}
		if p.Username != "" {
			methods = []byte{5, 2, 0, 2}
		}
		if _, err := c.Write(methods); err != nil {
			return nil, err
		}
		var b [2]byte
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return nil, err
		}
		if b[0] != 5 {
			return nil, errors.New(proxyURL + " is not a SOCKS5 proxy (version byte " + strconv.Itoa(int(b[0])) + ")")
		}
		switch b[1] {
		case 0:
		case 2:
			if p.Username == "" {
				return nil, errors.New(proxyURL + " asks for a username and password; set SOCKS5.Username and Password")
			}
			if len(p.Username) > 255 || len(p.Password) > 255 {
				return nil, errors.New("SOCKS5 username and password are limited to 255 bytes each")
			}
			auth := append([]byte{1, byte(len(p.Username))}, p.Username...)
			auth = append(append(auth, byte(len(p.Password))), p.Password...)
			if _, err := c.Write(auth); err != nil {
				return nil, err
			}
			if _, err := io.ReadFull(c, b[:]); err != nil {
				return nil, err
			}
			if b[1] != 0 {
				return nil, errors.New(proxyURL + " refused the username and password")
			}
		case 0xff:
			return nil, errors.New(proxyURL + " accepts none of the offered authentication methods; set SOCKS5.Username and Password if it needs them")
		default:
			return nil, errors.New(proxyURL + " chose an unsupported authentication method " + strconv.Itoa(int(b[1])))
		}
		if _, err := c.Write(req); err != nil {
			return nil, err
		}
		var rep [4]byte
		if _, err := io.ReadFull(c, rep[:]); err != nil {
			return nil, err
		}
		if rep[1] != 0 {
			msg, ok := socksReplies[rep[1]]
			if !ok {
				msg = "unknown error"
			}
			return nil, &Error{Proxy: proxyURL, Target: address, Code: int(rep[1]), Msg: msg + " (SOCKS5 reply " + strconv.Itoa(int(rep[1])) + ")"}
		}
		var skip int
		switch rep[3] {
		case 1:
			skip = 4
		case 4:
			skip = 16
		case 3:
			var l [1]byte
			if _, err := io.ReadFull(c, l[:]); err != nil {
				return nil, err
			}
			skip = int(l[0])
		default:
			return nil, errors.New(proxyURL + " answered with an unknown address type " + strconv.Itoa(int(rep[3])))
		}
		if _, err := io.ReadFull(c, make([]byte, skip+2)); err != nil { // BND.ADDR, BND.PORT
			return nil, err
		}
		return c, nil
	})
}

// HTTP dials through an HTTP proxy with the CONNECT method. It is a
// [Proxy] that sends every connection through the proxy, and its
// DialContext fits anything that takes a dial function.
type HTTP struct {
	// Addr is the proxy's "host:port".
	Addr string
	// TLSConfig, when set, makes the connection to the proxy itself TLS
	// (an https:// proxy); ServerName defaults to the proxy's host.
	TLSConfig *tls.Config
	// Username and Password, when Username is set, are sent as Basic
	// Proxy-Authorization.
	Username, Password string
	// Dial reaches the proxy; nil means a [net.Dialer].
	Dial sockets.DialFunc
}

// ProxyFor returns p.DialContext for every address.
func (p *HTTP) ProxyFor(sockets.Address) (sockets.DialFunc, error) { return p.DialContext, nil }

const maxProxyResponse = 64 << 10

// DialContext connects to address ("host:port"; a name is sent to the
// proxy unresolved) through the proxy. network must be "tcp". ctx bounds
// the connection to the proxy and the CONNECT exchange, not the
// connection's life. A refusal is a [*Error].
func (p *HTTP) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		return nil, errors.New("HTTP proxy: network " + quote(network) + " is not supported; use \"tcp\"")
	}
	if _, _, err := splitTarget(address); err != nil {
		return nil, err
	}
	scheme := "http://"
	if p.TLSConfig != nil {
		scheme = "https://"
	}
	proxyURL := scheme + p.Addr
	return handshake(ctx, p.Dial, p.Addr, func(c net.Conn) (net.Conn, error) {
		if p.TLSConfig != nil {
			cfg := p.TLSConfig.Clone()
			if cfg.ServerName == "" {
				cfg.ServerName, _, _ = net.SplitHostPort(p.Addr)
			}
			if cfg.MinVersion == 0 {
				cfg.MinVersion = tls.VersionTLS12
			}
			tc := tls.Client(c, cfg)
			if err := tc.Handshake(); err != nil {
				return nil, fmt.Errorf("TLS handshake with the proxy %s failed: %w", p.Addr, err)
			}
			c = tc
		}
		var b strings.Builder
		b.WriteString("CONNECT " + address + " HTTP/1.1\r\nHost: " + address + "\r\n")
		if p.Username != "" {
			b.WriteString("Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(p.Username+":"+p.Password)) + "\r\n")
		}
		b.WriteString("\r\n")
		if _, err := io.WriteString(c, b.String()); err != nil {
			return nil, err
		}
		br := bufio.NewReaderSize(io.LimitReader(c, maxProxyResponse), 1024)
		status, err := br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("%s closed the connection or sent no status line to CONNECT: %w", proxyURL, err)
		}
		code, reason, ok := parseStatus(status)
		if !ok {
			return nil, errors.New(proxyURL + " is not an HTTP proxy (status line " + strconv.Quote(strings.TrimSpace(status)) + ")")
		}
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return nil, fmt.Errorf("%s: reading the CONNECT response headers: %w", proxyURL, err)
			}
			if l == "\r\n" || l == "\n" {
				break
			}
		}
		if code < 200 || code > 299 {
			return nil, &Error{Proxy: proxyURL, Target: address, Code: code, Msg: strconv.Itoa(code) + " " + reason}
		}
		if n := br.Buffered(); n > 0 {
			// The target spoke first and its bytes came with the response.
			buf, _ := br.Peek(n)
			return &prefixConn{Conn: c, buf: append([]byte(nil), buf...)}, nil
		}
		return c, nil
	})
}

func parseStatus(l string) (int, string, bool) {
	l = strings.TrimRight(l, "\r\n")
	proto, rest, ok := strings.Cut(l, " ")
	if !ok || !strings.HasPrefix(proto, "HTTP/1.") {
		return 0, "", false
	}
	codeStr, reason, _ := strings.Cut(rest, " ")
	code, err := strconv.Atoi(codeStr)
	if err != nil || len(codeStr) != 3 {
		return 0, "", false
	}
	return code, reason, true
}

// prefixConn returns bytes read ahead before those of the connection.
type prefixConn struct {
	net.Conn
	buf []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.buf) > 0 {
		n := copy(b, c.buf)
		c.buf = c.buf[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

func (c *prefixConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func splitTarget(address string) (string, int, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return "", 0, errorf(sockets.ErrInvalidAddress, quote(address)+" is not \"host:port\"")
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 1 || port > 65535 {
		return "", 0, errorf(sockets.ErrInvalidAddress, "port "+quote(portStr)+" is out of range; give a port from 1 to 65535")
	}
	return host, port, nil
}

// handshake connects to the proxy at addr and runs exchange on the
// connection, bounded by ctx (through a deadline, not a goroutine).
func handshake(ctx context.Context, dial sockets.DialFunc, addr string, exchange func(net.Conn) (net.Conn, error)) (net.Conn, error) {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	raw, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(aLongTimeAgo) })
	c, err := exchange(raw)
	if !stop() {
		raw.Close()
		return nil, ctx.Err()
	}
	if err != nil {
		raw.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if dl, ok := ctx.Deadline(); ok && isTimeout(err) && !time.Now().Before(dl) {
			// The connection's deadline (ctx's) passed just before ctx noticed.
			return nil, context.DeadlineExceeded
		}
		return nil, err
	}
	raw.SetDeadline(time.Time{})
	return c, nil
}

// FromURL returns the proxy a URL names: socks5:// or socks5h:// (both
// hand names to the proxy unresolved), http:// or https://, with an
// optional user:password. A URL without a scheme is http://.
func FromURL(rawURL string) (sockets.Proxy, error) {
	if !strings.Contains(rawURL, "://") {
		rawURL = "http://" + rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errorf(sockets.ErrInvalidOptions, "proxy URL "+quote(rawURL)+" does not parse: "+err.Error())
	}
	user, pass := "", ""
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
	}
	host := u.Host
	if host == "" {
		return nil, errorf(sockets.ErrInvalidOptions, "proxy URL "+quote(rawURL)+" has no host; write it as scheme://host:port")
	}
	withPort := func(def string) string {
		if u.Port() == "" {
			return net.JoinHostPort(u.Hostname(), def)
		}
		return host
	}
	switch strings.ToLower(u.Scheme) {
	case "socks5", "socks5h":
		return &SOCKS5{Addr: withPort("1080"), Username: user, Password: pass}, nil
	case "http":
		return &HTTP{Addr: withPort("80"), Username: user, Password: pass}, nil
	case "https":
		return &HTTP{Addr: withPort("443"), Username: user, Password: pass, TLSConfig: &tls.Config{}}, nil
	}
	return nil, errorf(sockets.ErrInvalidOptions, "proxy URL scheme "+quote(u.Scheme)+" is not supported; use socks5, socks5h, http or https")
}

// FromEnvironment returns the proxy the environment names, read now:
// ALL_PROXY (or all_proxy) if set, else HTTPS_PROXY (or https_proxy), with
// the exceptions in NO_PROXY (or no_proxy), which follow the rules of
// golang.org/x/net/http/httpproxy: comma-separated names (a name matches
// its subdomains too; a leading "." or "*." is the same), IP addresses and
// CIDR prefixes, optionally with a port, and "*" for everything. As there,
// "localhost" and loopback addresses are always connected to directly.
// With no proxy variable set, every connection is direct.
func FromEnvironment() sockets.Proxy {
	get := func(k string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return os.Getenv(strings.ToLower(k))
	}
	raw, from := get("ALL_PROXY"), "ALL_PROXY"
	if raw == "" {
		raw, from = get("HTTPS_PROXY"), "HTTPS_PROXY"
	}
	e := &envProxy{}
	if raw == "" {
		return e
	}
	e.proxy, e.err = FromURL(raw)
	if e.err != nil {
		e.err = errors.New(from + ": " + msgOf(e.err))
		return e
	}
	cfg := httpproxy.Config{HTTPSProxy: raw, NoProxy: get("NO_PROXY")}
	if !strings.Contains(raw, "://") {
		cfg.HTTPSProxy = "http://" + raw
	} else if u, err := url.Parse(raw); err == nil && u.Scheme != "http" && u.Scheme != "https" {
		// httpproxy only decides whether to use a proxy; give it an http
		// URL so it accepts any scheme we support.
		cfg.HTTPSProxy = "http://" + u.Host
	}
	e.use = cfg.ProxyFunc()
	return e
}

type envProxy struct {
	proxy sockets.Proxy
	err   error
	use   func(*url.URL) (*url.URL, error)
}

func (e *envProxy) ProxyFor(a sockets.Address) (sockets.DialFunc, error) {
	if e.err != nil {
		return nil, e.err
	}
	if e.proxy == nil {
		return nil, nil
	}
	u, err := e.use(&url.URL{Scheme: "https", Host: a.String()})
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, nil
	}
	return e.proxy.ProxyFor(a)
}

// detailError pairs a sentinel of package sockets with a message.
type detailError struct {
	kind error
	msg  string
}

func (e *detailError) Error() string { return e.kind.Error() + ": " + e.msg }
func (e *detailError) Unwrap() error { return e.kind }

func errorf(kind error, msg string) error { return &detailError{kind: kind, msg: msg} }

// msgOf returns an error's message without its sentinel's prefix.
func msgOf(err error) string {
	if d, ok := err.(*detailError); ok {
		return d.msg
	}
	return err.Error()
}

func quote(s string) string { return "\"" + s + "\"" }

var aLongTimeAgo = time.Unix(1, 0)

func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
