package dialers_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// An http.Client whose connections are outbound sockets; the transport does
// TLS, so it negotiates HTTP/2.
func ExampleNewHTTPTransport() {
	ca, err := sockettest.NewCA()
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s over TLS %v", r.Proto, r.TLS != nil)
	}))
	srv.EnableHTTP2 = true
	srv.TLS, _ = ca.ServerConfig()
	srv.StartTLS()
	defer srv.Close()

	d := &dialers.Dialer{Options: &sockets.Options{TLSConfig: ca.ClientConfig()}}
	tr := dialers.NewHTTPTransport(d)
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output: HTTP/2.0 over TLS true
}

// go-redis over outbound sockets, with TLS done by the socket.
func ExampleRedisDialer() {
	ca, err := sockettest.NewCA()
	if err != nil {
		log.Fatal(err)
	}
	srvCfg, _ := ca.ServerConfig()
	srv, err := newFakeRedis(srvCfg) // a tiny in-process Redis over TLS
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	rdb := redis.NewClient(&redis.Options{
		Addr:   srv.Addr(),
		Dialer: dialers.RedisDialer(&dialers.Dialer{}, ca.ClientConfig()),
	})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Set(ctx, "greeting", "hello over TLS", 0).Err(); err != nil {
		log.Fatal(err)
	}
	v, err := rdb.Get(ctx, "greeting").Result()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(v)
	// Output: hello over TLS
}

// FTP with explicit TLS (AUTH TLS): jlaffaye/ftp upgrades the control
// connection, the dial function does TLS on the data connections, and every
// connection is an outbound socket.
func ExampleFTPDialFunc() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr := "ftp.example.com:21"
	cfg := &tls.Config{ServerName: "ftp.example.com", ClientSessionCache: tls.NewLRUClientSessionCache(0)}
	c, err := ftp.Dial(addr,
		ftp.DialWithDialFunc(dialers.FTPDialFunc(ctx, &dialers.Dialer{}, addr, cfg)),
		ftp.DialWithExplicitTLS(cfg))
	if err != nil {
		log.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("anonymous", "anonymous"); err != nil {
		log.Fatal(err)
	}
	if err := c.Stor("hello.txt", strings.NewReader("hello over FTPS\n")); err != nil {
		log.Fatal(err)
	}
}

// The MongoDB Go driver (v2) takes any DialContext: the Dialer itself.
// The driver does TLS over the plain socket when the URI asks for it.
func ExampleDialer_mongoDB() {
	client, err := mongo.Connect(options.Client().
		ApplyURI("mongodb://mongo.example.com:27017").
		SetDialer(&dialers.Dialer{}))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	if err := client.Ping(context.Background(), nil); err != nil {
		log.Fatal(err)
	}
}
