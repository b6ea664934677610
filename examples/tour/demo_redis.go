package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outboundhq/outbound/dialers"
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
	srv, err := sockettest.NewTLSServer(cfg, (&respStandIn{kv: map[string]string{}}).serve)
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

// respStandIn is just enough of Redis for go-redis's PING, SET, GET and DEL:
// RESP2, HELLO refused (so go-redis falls back from RESP3, as with Redis
// before 6), CLIENT answered +OK. Expiry is not enforced.
type respStandIn struct {
	mu sync.Mutex
	kv map[string]string
}

func (f *respStandIn) serve(c net.Conn) {
	r, w := bufio.NewReader(c), bufio.NewWriter(c)
	for {
		args, err := readRESP(r)
		if err != nil {
			return
		}
		f.mu.Lock()
		switch cmd := strings.ToUpper(args[0]); {
		case cmd == "PING":
			w.WriteString("+PONG\r\n")
		case cmd == "CLIENT":
			w.WriteString("+OK\r\n")
		case cmd == "SET" && len(args) >= 3:
			f.kv[args[1]] = args[2]
			w.WriteString("+OK\r\n")
		case cmd == "GET" && len(args) == 2:
			if v, ok := f.kv[args[1]]; ok {
				fmt.Fprintf(w, "$%d\r\n%s\r\n", len(v), v)
			} else {
				w.WriteString("$-1\r\n")
			}
		case cmd == "DEL":
			n := 0
			for _, k := range args[1:] {
				if _, ok := f.kv[k]; ok {
					delete(f.kv, k)
					n++
				}
			}
			fmt.Fprintf(w, ":%d\r\n", n)
		default:
			fmt.Fprintf(w, "-ERR unknown command '%s'\r\n", args[0])
		}
		f.mu.Unlock()
		if r.Buffered() == 0 && w.Flush() != nil { // one write per pipeline
			return
		}
	}
}

// readRESP reads one command, a RESP array of bulk strings.
func readRESP(r *bufio.Reader) ([]string, error) {
	n, err := readRESPLength(r, '*')
	if err != nil || n < 1 {
		return nil, fmt.Errorf("bad array: %v", err)
	}
	args := make([]string, n)
	for i := range args {
		size, err := readRESPLength(r, '$')
		if err != nil {
			return nil, err
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:size])
	}
	return args, nil
}

func readRESPLength(r *bufio.Reader, prefix byte) (int, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if len(line) < 2 || line[0] != prefix {
		return 0, fmt.Errorf("want %q, got %q", prefix, line)
	}
	n, err := strconv.Atoi(line[1:])
	if err != nil || n < 0 || n > 1<<20 {
		return 0, fmt.Errorf("bad length %q", line)
	}
	return n, nil
}
