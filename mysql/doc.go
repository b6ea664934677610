// Package mysql connects github.com/go-sql-driver/mysql through outbound
// sockets, so that database/sql talks to MySQL and MariaDB over
// [sockets.Socket] with its options and egress policy.
//
// The preferred path keeps no global state: set the driver's
// Config.DialFunc with [DialFunc], or let [NewConnector], [OpenDB] or [Open]
// do it and hand back a driver.Connector or a *sql.DB:
//
//	import (
//		gomysql "github.com/go-sql-driver/mysql"
//		outmysql "github.com/outboundhq/outbound/mysql"
//	)
//
//	cfg, err := gomysql.ParseDSN("app@tcp(db.internal:3306)/shop?tls=true")
//	if err != nil {
//		return err
//	}
//	db, err := outmysql.OpenDB(cfg, &outmysql.Options{Dialer: d}) // nil: a zero Dialer
//	if err != nil {
//		return err
//	}
//	defer db.Close()
//
// d is "the one dialer" ([dialers.Dialer]) that the program's other adapters
// (pg, smtp, mqtt, net/http) take the same way, in the Dialer field of their
// options: its Options carry the egress policy, a proxy and layers; the
// request scope comes from the context the driver dials with.
//
// Code that only takes a DSN string can use [Register], which registers a
// dial function with the driver under a network name of the caller's choosing
// (process-wide state, owned by the driver), so that DSNs like
// "app@outbound(db.internal:3306)/shop" go through outbound.
//
// # TCP only
//
// Outbound sockets are TCP, as the Sockets API is: a DSN with a unix socket
// ("root@unix(/run/mysqld/mysqld.sock)/db") or any protocol other than tcp
// is refused with an error wrapping [sockets.ErrInvalidOptions] that names
// the fix: connect over TCP ("root@tcp(127.0.0.1:3306)/db"), or open that
// connection with the driver alone (a local unix socket is not egress).
//
// # TLS
//
// MySQL negotiates TLS inside its own handshake, so the driver performs it
// over a plain socket: give this package a Dialer whose Options leave
// SecureTransport and TLSConfig unset (either is refused, with an error
// naming the fix) and use the driver's settings as usual: tls=true,
// tls=skip-verify, tls=preferred, a *tls.Config registered with the driver's
// RegisterTLSConfig and named in the DSN, or Config.TLS.
//
// # Connection liveness
//
// database/sql checks an idle connection before reusing it; the driver does so
// by peeking at the connection's file descriptor, which it reaches through
// syscall.Conn. The connections this package returns expose the socket's
// descriptor ([dialers.WithDescriptor]), so a connection the server closed
// while it sat in the pool is replaced before a query runs on it. (Only a
// Dialer whose Options.Dial returns a connection without a
// descriptor turns the check off.)
//
// [SocketOf] gives the [sockets.Socket] under a connection, for its Closed
// channel and Err.
package mysql
