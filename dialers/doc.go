// Package dialers plugs outbound sockets into code that takes a dial
// function: net/http, database and cache drivers, SSH, FTP, proxies, RPC
// clients.
//
//	d := &dialers.Dialer{Options: &sockets.Options{Policy: policy}}
//	client := &http.Client{Transport: dialers.NewHTTPTransport(d)}
//
// Every connection then goes through [sockets.Dial], with the dialer's
// options, egress policy and the request scope found in the dial's context.
//
// A [Dialer] is "the one dialer": configured once (policy, proxy, TLS
// roots, layers), the same value serves every adapter of this module, which
// all take it the same way: the Dialer field of the options of packages pg,
// mysql, smtp and mqtt, and the *Dialer argument of [NewHTTPTransport],
// [RedisDialer], [FTPDialFunc] and sshdial.Dial (nil means the zero
// Dialer). Settings that cannot apply are refused with an error wrapping
// [sockets.ErrInvalidOptions] that names the fix, never ignored: see
// [Dialer.Validate], and each adapter's documentation for its own (pg and
// mysql refuse TLS settings, which their drivers take from the connection
// string or DSN; mqtt refuses AllowHalfOpen).
//
// [Dialer.DialContext], [Dialer.DialTLSContext] and [Dialer.DialSocket]
// wait until the socket is open, as drivers expect; [Dialer.Connect], like
// [sockets.Connect], returns at once.
// [Dialer.DialContext] satisfies golang.org/x/net/proxy.ContextDialer and
// fits [net/http.Transport.DialContext], pgx's DialFunc, mongo-driver's
// SetDialer and paho's hooks; [Dialer.DialTLSContext] opens a socket with TLS
// from the first byte.
//
// Ready-made hooks:
//
//   - [NewHTTPTransport]: an http.Transport whose TLS (and HTTP/2) runs over
//     plain outbound sockets.
//   - [RedisDialer]: go-redis's Options.Dialer, with TLS done by the socket.
//   - [FTPDialFunc]: jlaffaye/ftp's control and data connections.
//   - package sshdial: golang.org/x/crypto/ssh clients over a socket.
//
// [WithDescriptor] and [SocketOf] let connection pools that check an idle
// connection through syscall.Conn (go-sql-driver/mysql, go-redis) do so on
// plain sockets. Packages pg, mysql, smtp and mqtt in this module adapt the
// drivers with more care (TLS ownership, sslmode, STARTTLS).
package dialers
