package pg_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/pg"
	"github.com/outboundhq/outbound/sockets"
)

// Connect in one line: pgx over an outbound socket, TLS by pgx (sslmode).
func ExampleConnect() {
	ctx := context.Background()
	conn, err := pg.Connect(ctx, os.Getenv("DATABASE_URL"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ctx)
	var version string
	if err := conn.QueryRow(ctx, "SELECT version()").Scan(&version); err != nil {
		log.Fatal(err)
	}
	fmt.Println(version)
}

// Socket-owned TLS: the adapter sends the SSLRequest over a "starttls"
// socket and upgrades it with Socket.StartTLS, as the Workers docs'
// Postgres example does; sslmode keeps its meaning.
func ExampleOptions_socketTLS() {
	ctx := context.Background()
	conn, err := pg.Connect(ctx, "postgres://app@db.example.com/app?sslmode=verify-full", &pg.Options{SocketTLS: true})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ctx)
}

// A pool whose every connection goes through one Dialer, here with a proxy
// dial function in its socket options.
func ExampleConfigurePool() {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig("postgres://app@db.example.com/app?pool_max_conns=20")
	if err != nil {
		log.Fatal(err)
	}
	d := &dialers.Dialer{Options: &sockets.Options{ /* Dial: a proxy's DialContext */ }}
	if err := pg.ConfigurePool(cfg, &pg.Options{Dialer: d}); err != nil {
		log.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
}

// Configure a pgx configuration that is then changed further before use.
func ExampleConfigureConn() {
	cfg, err := pgx.ParseConfig("postgres://app@db.example.com/app")
	if err != nil {
		log.Fatal(err)
	}
	if err := pg.ConfigureConn(cfg, nil); err != nil {
		log.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "billing"
	conn, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(context.Background())
}

// database/sql through pgx's stdlib driver.
func ExampleOpenDB() {
	db, err := pg.OpenDB("postgres://app@db.example.com/app", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT 1").Scan(&n); err != nil {
		log.Fatal(err)
	}
}

// NewPool parses pool settings from the connection string.
func ExampleNewPool() {
	ctx := context.Background()
	pool, err := pg.NewPool(ctx, "postgres://app@db.example.com/app?pool_max_conns=10", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
}

// The lowest layer: a pgconn configuration.
func ExampleConfigure() {
	ctx := context.Background()
	cfg, err := pgconn.ParseConfig("postgres://app@db.example.com/app")
	if err != nil {
		log.Fatal(err)
	}
	if err := pg.Configure(cfg, nil); err != nil {
		log.Fatal(err)
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ctx)
}
