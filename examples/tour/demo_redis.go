package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/internal/redisfake"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// redisServer is the Redis of the integration tests (plain, no password).
var redisServer = &server{
	envVar: "OUTBOUND_TEST_REDIS",
	start:  "docker compose up -d --wait redis",
	addr:   plainAddr,
}

// demoRedis runs go-redis against an in-process RESP stand-in over TLS,
// with dialers.RedisDialer opening the pool's connections as outbound
// sockets that do TLS themselves (secureTransport "on", as for rediss://
// URLs). PING, SET and GET must share one socket: the pool keeps it.
func demoRedis(ctx context.Context, e *env) error {
	ca, err := sockettest.NewCA()
	if err != nil {
		return err
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		return err
	}
	srv, err := sockettest.NewTLSServer(cfg, redisfake.New().Serve)
	if err != nil {
		return err
	}
	defer srv.Close()
	return redisSession(ctx, e, srv.Addr(), &tls.Config{RootCAs: ca.Pool()})
}

// demoRedisServer does the same in plain TCP against Redis.
func demoRedisServer(ctx context.Context, e *env) error {
	return redisSession(ctx, e, e.addr, nil)
}

// redisSession sends PING, SET and GET and checks that the pool dialled
// one socket for the three.
func redisSession(ctx context.Context, e *env, addr string, tlsConfig *tls.Config) error {
	var dials atomic.Int32
	dial := dialers.RedisDialer(&dialers.Dialer{}, tlsConfig)
	rdb := redis.NewClient(&redis.Options{
		Addr:       addr,
		MaxRetries: -1, // a failure shows as is, not as a second socket
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return dial(ctx, network, addr)
		},
	})
	defer rdb.Close()
	key := fmt.Sprintf("outbound:tour:%d", time.Now().UnixNano())
	defer rdb.Del(context.Background(), key)

	if err := rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("PING: %w", err)
	}
	if err := rdb.Set(ctx, key, "hello from the tour", time.Minute).Err(); err != nil {
		return fmt.Errorf("SET: %w", err)
	}
	got, err := rdb.Get(ctx, key).Result()
	if err != nil {
		return fmt.Errorf("GET: %w", err)
	}
	if got != "hello from the tour" {
		return fmt.Errorf("GET %s = %q", key, got)
	}
	if n := dials.Load(); n != 1 {
		return fmt.Errorf("PING, SET and GET dialled %d sockets, want 1 reused by the pool", n)
	}
	how := "plain TCP"
	if tlsConfig != nil {
		how = "TLS by the socket"
	}
	e.step("PING, SET %s, GET: one outbound socket to %s, %s", key, addr, how)
	return nil
}
