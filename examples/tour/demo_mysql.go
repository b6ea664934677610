package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/outboundhq/outbound/mysql"
)

// mariadb is the MariaDB of the integration tests (root without a password, TLS on).
var mariadb = &server{
	envVar: "OUTBOUND_TEST_MYSQL",
	start:  "docker compose up -d --wait mariadb",
	addr: func(v string) (string, error) {
		cfg, err := gomysql.ParseDSN(v)
		if err != nil {
			return "", err
		}
		return cfg.Addr, nil
	},
}

// demoMySQL opens database/sql with go-sql-driver/mysql dialling through
// outbound (mysql.OpenDB). MySQL negotiates TLS inside its own handshake, so
// the driver does TLS over the plain socket, verifying the server against
// OUTBOUND_TEST_MYSQL_CA; without that file it falls back to unverified TLS
// and says so in the table.
func demoMySQL(ctx context.Context, e *env) error {
	cfg, err := gomysql.ParseDSN(e.value)
	if err != nil {
		return err
	}
	caFile := e.lookup("OUTBOUND_TEST_MYSQL_CA")
	if roots, err := loadCA(caFile); err == nil {
		host, _, _ := net.SplitHostPort(cfg.Addr)
		cfg.TLS = &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12}
	} else {
		cfg.TLSConfig = "preferred"
		e.tls = "driver (unverified: no CA file)"
		e.step("no CA at %s (%v): TLS without verification", caFile, err)
	}
	db, err := mysql.OpenDB(cfg, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	e.step("SELECT VERSION() on %s", e.addr)
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		return err
	}
	var name, cipher string
	if err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher); err != nil {
		return err
	}
	if cipher == "" {
		return fmt.Errorf("the server reports this session is not encrypted")
	}
	e.step("server %s, session cipher %s", version, cipher)
	return nil
}
