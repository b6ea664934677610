package mysql_test

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"log"
	"net"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/outboundhq/outbound/dialers"
	outmysql "github.com/outboundhq/outbound/mysql"
	"github.com/outboundhq/outbound/sockets"
)

// OpenDB gives a *sql.DB whose connections are outbound sockets, without any
// global registration.
func ExampleOpenDB() {
	cfg, err := gomysql.ParseDSN("root@tcp(127.0.0.1:3306)/test?tls=preferred")
	if err != nil {
		log.Fatal(err)
	}
	db, err := outmysql.OpenDB(cfg, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	var version string
	if err := db.QueryRowContext(context.Background(), "SELECT VERSION()").Scan(&version); err != nil {
		log.Fatal(err)
	}
	fmt.Println("server", version)
}

// Open takes a DSN string.
func ExampleOpen() {
	db, err := outmysql.Open("root@tcp(127.0.0.1:3306)/test", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(context.Background()); errors.Is(err, sockets.ErrDenied) {
		log.Fatal("the egress policy refused the database: ", err)
	}
}

// NewConnector suits code that builds its own pool with sql.OpenDB.
func ExampleNewConnector() {
	cfg := gomysql.NewConfig()
	cfg.User = "root"
	cfg.Net = "tcp"
	cfg.Addr = "127.0.0.1:3306"
	cfg.DBName = "test"
	connector, err := outmysql.NewConnector(cfg, nil)
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxOpenConns(20)
}

// DialFunc plugs into the driver's Config directly; here it is wrapped to
// watch each connection's socket end.
func ExampleDialFunc() {
	dial := outmysql.DialFunc(nil)
	cfg := gomysql.NewConfig()
	cfg.Addr = "127.0.0.1:3306"
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if s, ok := outmysql.SocketOf(c); ok {
			go func() {
				<-s.Closed()
				log.Printf("connection %v ended: %v", s.LocalAddr(), s.Err())
			}()
		}
		return c, nil
	}
	connector, err := gomysql.NewConnector(cfg)
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
}

// Register serves code that only takes a DSN: the protocol name chosen here
// routes the DSN through outbound. The registration is process-wide.
func ExampleRegister() {
	if err := outmysql.Register("outbound", nil); err != nil {
		log.Fatal(err)
	}
	defer gomysql.DeregisterDialContext("outbound")

	db, err := sql.Open("mysql", "root@outbound(127.0.0.1:3306)/test?tls=skip-verify")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
}

// TLS belongs to the driver, inside MySQL's handshake: a Dialer that asks
// for TLS is refused with a message that says what to do instead.
func ExampleOpenDB_tls() {
	cfg, _ := gomysql.ParseDSN("root@tcp(db.example:3306)/test")
	d := &dialers.Dialer{Options: &sockets.Options{TLSConfig: &tls.Config{}}}
	_, err := outmysql.OpenDB(cfg, &outmysql.Options{Dialer: d})
	fmt.Println(errors.Is(err, sockets.ErrInvalidOptions))
	// Output: true
}
