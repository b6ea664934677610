package dialers_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/jlaffaye/ftp"
	"github.com/pkg/sftp"
	"github.com/redis/go-redis/v9"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/dialers/sshdial"
	"github.com/outboundhq/outbound/egress"
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

// One Dialer, one egress policy, every protocol the Workers docs name (the
// README's snippet; the other examples run against in-process servers).
func Example_protocols() {
	ctx := context.Background()
	policy, err := egress.NewPolicy(egress.PublicInternetOnly())
	if err != nil {
		log.Fatal(err)
	}
	d := &dialers.Dialer{Options: &sockets.Options{Policy: policy}}

	// HTTP/1.1 and HTTP/2: the transport does TLS over the socket.
	httpClient := &http.Client{Transport: dialers.NewHTTPTransport(d)}
	defer httpClient.CloseIdleConnections()

	// Redis: TLS by the socket (go-redis ignores TLSConfig with a custom Dialer).
	rdb := redis.NewClient(&redis.Options{
		Addr:   "redis.example.com:6380",
		Dialer: dialers.RedisDialer(d, &tls.Config{}),
	})
	defer rdb.Close()

	// MongoDB: the Dialer is the driver's ContextDialer; the driver does TLS.
	mc, err := mongo.Connect(options.Client().ApplyURI("mongodb://mongo.example.com:27017").SetDialer(d))
	if err != nil {
		log.Fatal(err)
	}
	defer mc.Disconnect(ctx)

	// SSH and SFTP: the SSH handshake runs over the socket, bounded by ctx.
	hostKeys, err := knownhosts.New(os.ExpandEnv("$HOME/.ssh/known_hosts"))
	if err != nil {
		log.Fatal(err)
	}
	sc, err := sshdial.Dial(ctx, d, "host.example.com:22", &ssh.ClientConfig{
		User:            "deploy",
		Auth:            []ssh.AuthMethod{ssh.Password(os.Getenv("SSH_PASSWORD"))},
		HostKeyCallback: hostKeys,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer sc.Close()
	files, err := sftp.NewClient(sc)
	if err != nil {
		log.Fatal(err)
	}
	defer files.Close()

	// FTP with AUTH TLS: control and data connections are sockets.
	tlsCfg := &tls.Config{ServerName: "ftp.example.com", ClientSessionCache: tls.NewLRUClientSessionCache(0)}
	fc, err := ftp.Dial("ftp.example.com:21",
		ftp.DialWithDialFunc(dialers.FTPDialFunc(ctx, d, "ftp.example.com:21", tlsCfg)),
		ftp.DialWithExplicitTLS(tlsCfg))
	if err != nil {
		log.Fatal(err)
	}
	defer fc.Quit()
}
