// Package redisdemo is the redis example, run by `go run ./examples/redis` and by
// the tour. It talks to Redis with github.com/redis/go-redis/v9 over
// outbound sockets, with TLS done by the socket.
//
//	go run ./examples/redis                                 # an in-process RESP server over TLS
//	go run ./examples/redis -addr 127.0.0.1:6379            # a real Redis, plain TCP
//	go run ./examples/redis -addr redis.example.com:6380 -tls -ca ca.pem
//
// go-redis takes a dial function (Options.Dialer); dialers.RedisDialer gives
// it one that opens outbound sockets, so every connection of its pool goes
// through the egress policy. go-redis applies Options.TLSConfig only in its
// own dialer, so with a custom one the TLS settings go to RedisDialer
// instead, and the socket does TLS from the first byte (secureTransport
// "on"). For a "rediss://" URL:
//
//	opt, _ := redis.ParseURL("rediss://:password@redis.example.com:6380/0")
//	opt.Dialer = dialers.RedisDialer(&dialers.Dialer{}, opt.TLSConfig)
//
// With no -addr it starts a small in-process server that speaks enough RESP
// (PING, SET, GET, INCR, DEL) over TLS with a throwaway certificate
// authority, so it runs anywhere. The password, if any, is read from
// $REDIS_PASSWORD.
package redisdemo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/internal/redisfake"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("redis")
	addr := fs.String("addr", "", "Redis `host:port` (default: an in-process server over TLS)")
	useTLS := fs.Bool("tls", false, "TLS from the first byte, done by the socket (as for rediss:// URLs)")
	caFile := fs.String("ca", "", "PEM `file` of the certificate authority to trust with -tls (default: the system roots)")
	prefix := fs.String("prefix", "outbound:example:", "key `prefix`; the keys are deleted afterwards")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()

	var tlsConfig *tls.Config
	if *useTLS || *addr == "" {
		tlsConfig = &tls.Config{}
		if *caFile != "" {
			pem, err := os.ReadFile(*caFile)
			if err != nil {
				return err
			}
			tlsConfig.RootCAs = x509.NewCertPool()
			if !tlsConfig.RootCAs.AppendCertsFromPEM(pem) {
				return fmt.Errorf("%s holds no PEM certificate", *caFile)
			}
		}
	}
	if *addr == "" {
		srv, err := startServer(tlsConfig)
		if err != nil {
			return err
		}
		defer srv.Close()
		*addr = srv.Addr()
		fmt.Fprintf(stdout, "in-process Redis (a RESP subset, over TLS) on %s\n", *addr)
	}

	// Keep the sockets the pool opens, to show what they are.
	var mu sync.Mutex
	var socks []*sockets.Socket
	dial := dialers.RedisDialer(fs.Dialer(), tlsConfig)
	rdb := redis.NewClient(&redis.Options{
		Addr:     *addr,
		Password: os.Getenv("REDIS_PASSWORD"),
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err == nil {
				mu.Lock()
				socks = append(socks, socketOf(c))
				mu.Unlock()
			}
			return c, err
		},
	})
	defer rdb.Close()

	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	pong, err := rdb.Ping(ctx).Result()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "PING: %s\n", pong)

	greeting, counter := *prefix+"greeting", *prefix+"counter"
	defer rdb.Del(context.Background(), greeting, counter)
	if err := rdb.Set(ctx, greeting, "hello from go-redis over an outbound socket", time.Minute).Err(); err != nil {
		return err
	}
	v, err := rdb.Get(ctx, greeting).Result()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "GET %s: %s\n", greeting, v)

	if err := rdb.Del(ctx, counter).Err(); err != nil {
		return err
	}
	// A pipeline: three INCRs in one write, three replies in one read.
	cmds, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for range 3 {
			p.Incr(ctx, counter)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "INCR %s three times in a pipeline: %d\n", counter, cmds[2].(*redis.IntCmd).Val())

	// What the pool's connections were (go-redis may open more than one).
	mu.Lock()
	defer mu.Unlock()
	kinds := map[string]int{}
	var order []string
	for _, s := range socks {
		state := s.ConnectionState()
		how := "plain TCP"
		if state.HandshakeComplete {
			how = "TLS by the socket (" + tls.VersionName(state.Version) + ")"
		}
		if kinds[how] == 0 {
			order = append(order, how)
		}
		kinds[how]++
	}
	for _, how := range order {
		fmt.Fprintf(stdout, "pool: %d outbound socket(s) to %s, %s\n", kinds[how], *addr, how)
	}
	return nil
}

// socketOf returns the socket behind a connection from RedisDialer.
func socketOf(c net.Conn) *sockets.Socket {
	s, _ := dialers.SocketOf(c)
	return s
}

// startServer starts the in-process server over TLS with a throwaway
// certificate authority, which cfg then trusts.
func startServer(cfg *tls.Config) (*sockettest.Server, error) {
	ca, err := sockettest.NewCA()
	if err != nil {
		return nil, err
	}
	srvCfg, err := ca.ServerConfig()
	if err != nil {
		return nil, err
	}
	cfg.RootCAs = ca.Pool()
	return sockettest.NewTLSServer(srvCfg, redisfake.New().Serve)
}
