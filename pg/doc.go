// Package pg routes pgx (pgconn, pgx, pgxpool and database/sql through pgx's
// stdlib) over outbound sockets, so that every PostgreSQL connection gets the
// socket options, egress policy and request scope of a [dialers.Dialer].
//
// One call configures a parsed configuration:
//
//	cfg, err := pgxpool.ParseConfig("postgres://app@db.example.com/app?sslmode=verify-full")
//	if err != nil {
//		return err
//	}
//	if err := pg.ConfigurePool(cfg, nil); err != nil {
//		return err
//	}
//	pool, err := pgxpool.NewWithConfig(ctx, cfg)
//
// or, in one line, [Connect], [NewPool] and [OpenDB] do the parsing too.
//
// # The dialer
//
// [Options].Dialer is "the one dialer" ([dialers.Dialer]) that the
// program's other adapters (mysql, smtp, mqtt, net/http) take the same way:
// its Options carry the egress policy, a proxy and layers. TLS settings come
// from the connection string, so a Dialer whose Options set
// SecureTransport or TLSConfig is refused by [Configure] with an error that
// names the fix, rather than ignored.
//
// # TCP only
//
// Outbound sockets are TCP, as the Sockets API is. A connection string with
// no host makes pgx pick a unix socket directory (/var/run/postgresql,
// /tmp) when one exists; [Configure] refuses a unix socket host, naming
// the fix: give a TCP host (host=127.0.0.1, or the server's name), or
// connect to the unix socket with pgx alone (a local socket is not egress,
// and no policy or scope applies to it).
//
// # Hostnames
//
// The configuration keeps the hostname of the connection string: pgx's host
// lookup is replaced by one that returns the name unchanged, and the socket
// resolves it when it dials. Egress policy host rules therefore see
// "db.example.com", not an address, and TLS checks the certificate against
// that name. [net.Conn.RemoteAddr] still reports the peer's real address.
//
// # Who does TLS
//
// By default pgx does TLS itself over a plain socket, exactly as it does over
// a [net.Conn] of its own: every sslmode (disable, allow, prefer, require,
// verify-ca, verify-full), sslrootcert, client certificates, sslnegotiation
// and channel binding (SCRAM-SHA-256-PLUS) behave as documented by pgx.
//
// With [Options.SocketTLS] the socket owns TLS instead, as in the Cloudflare
// Workers docs' Postgres example: the adapter connects with SecureTransport
// "starttls", sends the SSLRequest, reads the server's one-byte answer and,
// on 'S', calls [sockets.Socket.StartTLS] with the TLS settings pgx derived
// from sslmode, sslrootcert, sslcert, sslkey, sslpassword, sslcertmode and
// sslsni, exactly as pgx would use them (sslsni=0 sends no SNI, as pgx does
// unless sslmode is verify-full); pgx then talks over the upgraded socket
// with its own TLS turned off. sslmode keeps its meaning:
//
//   - disable: no SSLRequest, plaintext.
//   - prefer: TLS when the server answers 'S'; plaintext on the same socket
//     when it answers 'N', and on a new socket when the TLS handshake fails.
//   - allow: as prefer. (libpq tries plaintext first and TLS only if the
//     server rejects it; the choice here is made while dialing, before the
//     server has said anything about plaintext, so TLS comes first.)
//   - require: TLS or an error wrapping [ErrTLSRefused]; the certificate is
//     not checked unless sslrootcert is given, in which case require is
//     verify-ca (libpq's rule).
//   - verify-ca: the chain is checked against sslrootcert (or the system
//     roots), not the name.
//   - verify-full: chain and hostname.
//
// sslnegotiation=direct gives TLS from the first byte with ALPN
// "postgresql" (PostgreSQL 17 and later), with no SSLRequest: a socket
// upgraded before any byte is sent, so that it ends as SecureTransport "on"
// with every setting above (sslsni=0 included) applied as pgx would.
//
// Two settings need pgx's own TLS and are refused with SocketTLS:
// channel_binding=require (pgx computes the binding from its own
// [crypto/tls.Conn]; with SocketTLS it authenticates with SCRAM-SHA-256
// without channel binding) and sslcertmode=require.
//
// # Query cancellation and multiple hosts
//
// pgx sends a CancelRequest over a new connection made with the same dial
// function, so it goes through outbound too, to the address the query's
// connection is connected to; with SocketTLS it is encrypted the same way.
// That address is an IP: a policy that allows the database by hostname only
// must also allow its addresses (or its port), or cancel requests are
// denied. Through a proxy, RemoteAddr is the proxy's address, so pgx's cancel
// requests do not reach the server; pgx's default context handling (closing
// the connection when a query's ctx ends) does not depend on them.
// Multi-host connection strings ("host=a,b", target_session_attrs) keep pgx's
// order and rules: each host is tried in turn.
//
// # Contexts
//
// The ctx that pgx passes to its dial function (the ctx of Connect, of
// pgxpool's Acquire, or of database/sql) reaches [sockets.Connect], so a
// request's scope applies to connections made while serving it. A pooled
// connection outlives the request that made it: give pools a long-lived ctx.
package pg
