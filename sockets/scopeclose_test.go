package sockets_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outboundhq/outbound/sockets"
)

// TestScopeCloseGrantsNoWaiter: with a limit of 2 and 18 Connects waiting,
// Close must not hand the slots its closing frees to the waiters. Over 50
// rounds exactly 100 dials happen (the two holders of each round), and
// every waiter fails at once with an error that says the scope ended.
func TestScopeCloseGrantsNoWaiter(t *testing.T) {
	srv := echo(t)
	var dials atomic.Int64
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	const rounds, limit, n = 50, 2, 20
	for round := 0; round < rounds; round++ {
		sc := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Limit: limit, Name: "round"})
		ctx := sockets.WithScope(ctxT(t), sc)
		socks := make([]*sockets.Socket, n)
		for i := range socks {
			socks[i] = mustConnect(t, ctx, srv.Addr(), &sockets.Options{Dial: dial})
		}
		for _, s := range socks[:limit] {
			opened(t, s)
		}
		scopeState(t, sc, limit, n-limit)
		start := time.Now()
		sc.Close()
		for i, s := range socks {
			<-sockets.AttemptDone(s)
			_, err := s.Opened(ctxT(t))
			if i < limit {
				continue // opened before Close; Opened may report either
			}
			if err == nil {
				t.Fatalf("round %d: waiter %d opened after Close began", round, i)
			}
			if !errors.Is(err, sockets.ErrClosed) || !strings.Contains(err.Error(), `scope "round" ended while the socket waited`) {
				t.Fatalf("round %d: waiter %d: Opened = %v (Err %v); want ErrClosed saying the scope ended", round, i, err, s.Err())
			}
			if _, err := s.Write([]byte("x")); err == nil || !strings.Contains(err.Error(), "ended while the socket waited") {
				t.Fatalf("round %d: waiter %d: Write = %v; want the scope-ended error", round, i, err)
			}
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("round %d: the waiters took %v to fail", round, d)
		}
	}
	if got := dials.Load(); got != rounds*limit {
		t.Fatalf("%d dials over %d rounds, want %d: Close handed slots to waiters", got, rounds, rounds*limit)
	}
}
