package dialers_test

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/outboundhq/outbound/dialers"
)

// BenchmarkRedisGet compares a GET through go-redis's own dialer ("raw")
// with the same through outbound sockets, against OUTBOUND_TEST_REDIS.
func BenchmarkRedisGet(b *testing.B) {
	addr := os.Getenv("OUTBOUND_TEST_REDIS")
	if addr == "" {
		b.Skip("OUTBOUND_TEST_REDIS is not set")
	}
	for _, bc := range []struct {
		name string
		opts *redis.Options
	}{
		{name: "raw", opts: &redis.Options{Addr: addr, PoolSize: 1}},
		{name: "outbound", opts: &redis.Options{Addr: addr, PoolSize: 1, Dialer: dialers.RedisDialer(nil, nil)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rdb := redis.NewClient(bc.opts)
			defer rdb.Close()
			ctx := context.Background()
			if err := rdb.Set(ctx, "outbound:bench", "x", 0).Err(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := rdb.Get(ctx, "outbound:bench").Err(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
