package dialers_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/proxy"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// recordingDialer wraps a go-redis dial function and keeps every socket it opened.
type recordingDialer struct {
	mu      sync.Mutex
	sockets []*sockets.Socket
}

func (r *recordingDialer) wrap(dial func(context.Context, string, string) (net.Conn, error)) func(context.Context, string, string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		s, ok := dialers.SocketOf(c)
		if _, hasSyscall := c.(syscall.Conn); hasSyscall && s.ConnectionState().HandshakeComplete {
			c.Close()
			return nil, fmt.Errorf("the TLS connection %T exposes SyscallConn, which makes go-redis drop it after each use", c)
		}
		if !ok {
			c.Close()
			return nil, fmt.Errorf("dialed a %T, want an outbound socket", c)
		}
		r.mu.Lock()
		r.sockets = append(r.sockets, s)
		r.mu.Unlock()
		return c, nil
	}
}

func (r *recordingDialer) all() []*sockets.Socket {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*sockets.Socket(nil), r.sockets...)
}

// pingSetGet runs PING, SET, GET and DEL and checks the answers.
func pingSetGet(ctx context.Context, t *testing.T, rdb *redis.Client) {
	t.Helper()
	if got, err := rdb.Ping(ctx).Result(); err != nil || got != "PONG" {
		t.Fatalf("PING = %q, %v", got, err)
	}
	key := "outbound:test:" + strconv.FormatInt(time.Now().UnixNano(), 36)
	val := "héllo\r\nworld\x00" // binary-safe
	if err := rdb.Set(ctx, key, val, 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	if got, err := rdb.Get(ctx, key).Result(); err != nil || got != val {
		t.Fatalf("GET = %q, %v; want %q", got, err, val)
	}
	if n, err := rdb.Del(ctx, key).Result(); err != nil || n != 1 {
		t.Fatalf("DEL = %d, %v", n, err)
	}
	if _, err := rdb.Get(ctx, key).Result(); !errors.Is(err, redis.Nil) {
		t.Fatalf("GET after DEL: %v, want redis.Nil", err)
	}
}

func TestRedisDialer(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := sockettest.NewCA()
	srvCfg, _ := ca.ServerConfig()
	plain, err := newFakeRedis(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	secure, err := newFakeRedis(srvCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer secure.Close()

	tests := []struct {
		name    string
		addr    string
		tls     *tls.Config
		wantErr string // "" means the commands work
	}{
		{"plain", plain.Addr(), nil, ""},
		{"TLS by the socket", secure.Addr(), ca.ClientConfig(), ""},
		{"TLS, server signed by another CA", secure.Addr(), other.ClientConfig(), "unknown authority"},
		{"TLS to a plain server", plain.Addr(), ca.ClientConfig(), "TLS handshake"},
		{"port 25 refused by the policy", "127.0.0.1:25", nil, "port 25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var rec recordingDialer
			rdb := redis.NewClient(&redis.Options{
				Addr:          tt.addr,
				Dialer:        rec.wrap(dialers.RedisDialer(nil, tt.tls)),
				MaxRetries:    -1,
				DialerRetries: 1,
			})
			defer rdb.Close()
			if tt.wantErr != "" {
				err := rdb.Ping(ctx).Err()
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PING = %v, want an error mentioning %q", err, tt.wantErr)
				}
				return
			}
			pingSetGet(ctx, t, rdb)
			socks := rec.all()
			if len(socks) != 1 {
				t.Fatalf("dialed %d sockets for sequential commands, want 1 reused by the pool", len(socks))
			}
			for _, s := range socks {
				wantTLS := tt.tls != nil
				if got := s.ConnectionState().HandshakeComplete; got != wantTLS {
					t.Fatalf("socket TLS = %v, want %v", got, wantTLS)
				}
			}
		})
	}
}

// The TLS config is cloned: changing it after the call has no effect.
func TestRedisDialerClonesTLSConfig(t *testing.T) {
	ca, _ := sockettest.NewCA()
	srvCfg, _ := ca.ServerConfig()
	srv, err := newFakeRedis(srvCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := ca.ClientConfig()
	dial := dialers.RedisDialer(&dialers.Dialer{}, cfg)
	cfg.RootCAs = nil // would fall back to the system roots
	c, err := dial(context.Background(), "tcp", srv.Addr())
	if err != nil {
		t.Fatalf("dial after changing the caller's config: %v", err)
	}
	c.Close()
	if cfg.ServerName != "" {
		t.Fatalf("the caller's config was modified: ServerName %q", cfg.ServerName)
	}
}

// tlsTerminator starts an in-process TLS server that relays each connection
// to backend in plain TCP, so a TLS client can reach a server without TLS.
func tlsTerminator(t *testing.T, cfg *tls.Config, backend string) *sockettest.Server {
	t.Helper()
	srv, err := sockettest.NewTLSServer(cfg, func(c net.Conn) {
		b, err := net.Dial("tcp", backend)
		if err != nil {
			return
		}
		defer b.Close()
		done := make(chan struct{})
		go func() {
			io.Copy(b, c)
			b.(*net.TCPConn).CloseWrite()
			close(done)
		}()
		io.Copy(c, b)
		c.Close()
		<-done
	})
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// Against the real Redis: plain, and with TLS done by the socket through an
// in-process TLS terminator (the local Redis has no TLS port); a pool of
// connections shared by concurrent goroutines.
func TestRedisRealServer(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_REDIS")
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	srvCfg, _ := ca.ServerConfig()
	term := tlsTerminator(t, srvCfg, addr)
	defer term.Close()

	tests := []struct {
		name string
		addr string
		tls  *tls.Config
	}{
		{"plain", addr, nil},
		{"TLS by the socket", term.Addr(), ca.ClientConfig()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var rec recordingDialer
			rdb := redis.NewClient(&redis.Options{
				Addr:     tt.addr,
				Dialer:   rec.wrap(dialers.RedisDialer(nil, tt.tls)),
				PoolSize: 4,
			})
			defer rdb.Close()
			pingSetGet(ctx, t, rdb)

			// 8 goroutines share a pool of 4 sockets.
			key := "outbound:test:incr:" + strconv.FormatInt(time.Now().UnixNano(), 36)
			defer rdb.Del(context.Background(), key)
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for g := 0; g < 8; g++ {
				wg.Go(func() {
					for i := 0; i < 50; i++ {
						if err := rdb.Incr(ctx, key).Err(); err != nil {
							errs <- err
							return
						}
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if n, err := rdb.Get(ctx, key).Int(); err != nil || n != 400 {
				t.Fatalf("counter = %d, %v; want 400", n, err)
			}
			socks := rec.all()
			if len(socks) == 0 || len(socks) > 4 {
				t.Fatalf("dialed %d sockets, want 1 to 4 (PoolSize)", len(socks))
			}
			for _, s := range socks {
				if got := s.ConnectionState().HandshakeComplete; got != (tt.tls != nil) {
					t.Fatalf("socket TLS = %v, want %v", got, tt.tls != nil)
				}
			}
			// go-redis negotiated RESP3 (HELLO 3) with the real server.
			info, err := rdb.Do(ctx, "HELLO").Result()
			if m, ok := info.(map[any]any); err != nil || !ok || m["proto"] != int64(3) {
				t.Fatalf("HELLO = %v, %v; want a RESP3 map with proto 3", info, err)
			}
		})
	}
}

// go-redis dials with a context of its own; a client whose dial function
// carries a scope has its connections closed when the scope ends.
func TestRedisDialerScope(t *testing.T) {
	srv, err := newFakeRedis(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sc := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Name: "job"})
	dial := dialers.RedisDialer(nil, nil)
	rdb := redis.NewClient(&redis.Options{
		Addr: srv.Addr(),
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return dial(sockets.WithScope(ctx, sc), network, addr)
		},
		MaxRetries:    -1,
		DialerRetries: 1,
	})
	defer rdb.Close()
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if open, _ := sc.Open(); open != 1 {
		t.Fatalf("scope holds %d sockets, want the client's 1", open)
	}
	sc.Close()
	if open, _ := sc.Open(); open != 0 {
		t.Fatalf("scope holds %d sockets after Close", open)
	}
	if err := rdb.Ping(ctx).Err(); !errors.Is(err, sockets.ErrClosed) && !errors.Is(err, net.ErrClosed) {
		t.Fatalf("PING after the scope ended = %v, want a closed error", err)
	}
}

// go-redis through the egress proxies (SOCKS5 and HTTP CONNECT) to the real
// Redis: the pool still reuses its connection.
func TestRedisThroughProxies(t *testing.T) {
	redisAddr := testenv.Get(t, "OUTBOUND_TEST_REDIS")
	tests := []struct {
		name  string
		proxy func() sockets.Proxy
	}{
		{"SOCKS5", func() sockets.Proxy { return &proxy.SOCKS5{Addr: testenv.Get(t, "OUTBOUND_TEST_SOCKS5")} }},
		{"HTTP CONNECT", func() sockets.Proxy { return &proxy.HTTP{Addr: testenv.Get(t, "OUTBOUND_TEST_HTTP_PROXY")} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy := tt.proxy()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var rec recordingDialer
			rdb := redis.NewClient(&redis.Options{
				Addr:   redisAddr,
				Dialer: rec.wrap(dialers.RedisDialer(&dialers.Dialer{Options: &sockets.Options{Proxy: proxy}}, nil)),
			})
			defer rdb.Close()
			pingSetGet(ctx, t, rdb)
			if n := len(rec.all()); n != 1 {
				t.Fatalf("dialed %d sockets through the proxy, want 1 reused by the pool", n)
			}
		})
	}
}
