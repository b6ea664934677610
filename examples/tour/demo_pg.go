package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/outboundhq/outbound/pg"
)

// postgres is the PostgreSQL of the integration tests (trust auth, TLS on).
var postgres = &server{
	envVar: "OUTBOUND_TEST_POSTGRES",
	start:  "docker compose up -d --wait postgres",
	addr: func(v string) (string, error) {
		cfg, err := pgx.ParseConfig(v)
		if err != nil {
			return "", err
		}
		return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), nil
	},
}

// demoPostgres connects pgx through outbound with pgx doing TLS itself over a
// plain socket (sslmode=require), and asks the server whether the session is
// encrypted.
func demoPostgres(ctx context.Context, e *env) error {
	return pgSession(ctx, e, nil)
}

// demoPostgresStartTLS does the same with the socket doing TLS, as in the
// Workers docs' Postgres example: SSLRequest over a "starttls" socket, then
// Socket.StartTLS (pg.Options.SocketTLS).
func demoPostgresStartTLS(ctx context.Context, e *env) error {
	return pgSession(ctx, e, &pg.Options{SocketTLS: true})
}

func pgSession(ctx context.Context, e *env, opts *pg.Options) error {
	connString := withSSLMode(e.value, "require")
	e.step("pg.Connect to %s (sslmode=require, SocketTLS %t)", e.addr, opts != nil && opts.SocketTLS)
	conn, err := pg.Connect(ctx, connString, opts)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var ssl bool
	var version string
	err = conn.QueryRow(ctx, "SELECT ssl, coalesce(version, '') FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl, &version)
	if err != nil {
		return err
	}
	if !ssl {
		return fmt.Errorf("the server reports this session is not encrypted")
	}
	e.step("the server says: ssl on, %s", version)
	return nil
}

// withSSLMode sets sslmode in a connection string (URL or keyword/value)
// unless it already has one.
func withSSLMode(connString, mode string) string {
	if strings.Contains(connString, "sslmode=") {
		return connString
	}
	if u, err := url.Parse(connString); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("sslmode", mode)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return connString + " sslmode=" + mode
}
