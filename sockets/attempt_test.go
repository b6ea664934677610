package sockets_test

import (
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outboundhq/outbound/sockets"
)

// A Connect that nothing waits on still connects: the attempt starts in a
// goroutine of its own soon after, and the peer sees the connection.
func TestConnectUnwatchedStillConnects(t *testing.T) {
	sockets.ExpectUnclaimedConnects(t, context.Background())
}

// A failed connect that nothing waits on still ends the socket: Closed
// fires and Err holds the cause.
func TestConnectUnwatchedFailureFiresClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: the connect is refused
	s, err := sockets.Connect(context.Background(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	select {
	case <-s.Closed():
	case <-time.After(10 * time.Second):
		t.Fatal("Closed did not fire for a refused connect")
	}
	if s.Err() == nil {
		t.Fatal("Err is nil after a refused connect")
	}
}

// Connect followed by Opened (with the Connect context, or one that is
// never done) runs the attempt in the caller's goroutine, as Dial does; with
// a context of its own, Opened leaves it to a goroutine of the socket's.
func TestOpenedRunsAttemptInline(t *testing.T) {
	srv := echo(t)
	for _, tc := range []struct {
		name   string
		opened func(connectCtx context.Context) context.Context
		inline bool
	}{
		{"same context", func(c context.Context) context.Context { return c }, true},
		{"background", func(context.Context) context.Context { return context.Background() }, true},
		{"own context", func(c context.Context) context.Context {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			t.Cleanup(cancel)
			return ctx
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stack string
			l := layerFunc(func(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error) {
				buf := make([]byte, 64<<10)
				stack = string(buf[:runtime.Stack(buf, false)])
				return next(ctx)
			})
			ctx := ctxT(t)
			// A caller descheduled for longer than the start delay between
			// Connect and Opened finds the attempt started: on a loaded
			// machine, try a few times.
			for i := 0; ; i++ {
				s, err := sockets.Connect(ctx, srv.Addr(), &sockets.Options{Layers: []sockets.Layer{l}})
				if err != nil {
					t.Fatal(err)
				}
				_, err = s.Opened(tc.opened(ctx))
				s.Close()
				if err != nil {
					t.Fatal(err)
				}
				got := strings.Contains(stack, "(*Socket).Opened")
				if got == tc.inline {
					break
				}
				if !tc.inline || i == 20 {
					t.Fatalf("dial ran in the caller's goroutine: %v, want %v; its stack:\n%s", got, tc.inline, stack)
				}
			}
		})
	}
}

type layerFunc func(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error)

func (f layerFunc) Dial(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error) {
	return f(ctx, a, next)
}

// Closed asked for only after the socket ended returns a closed channel.
func TestClosedAfterEnd(t *testing.T) {
	srv := echo(t)
	s := connect(t, srv.Addr(), nil)
	if _, err := s.Opened(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case <-s.Closed():
	default:
		t.Fatal("Closed is not closed after Close")
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v, want net.ErrClosed", err)
	}
}

// Close of a pending socket whose attempt nothing has started ends it
// without dialling: Opened fails with ErrClosed, and the dial never runs.
// (The shared start timer may fire before Close; then the attempt dialled,
// and the test checks nothing.)
func TestClosePendingUnstarted(t *testing.T) {
	srv := echo(t)
	var dialled atomic.Bool
	l := layerFunc(func(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error) {
		dialled.Store(true)
		return next(ctx)
	})
	for range 20 {
		dialled.Store(false)
		s, err := sockets.Connect(context.Background(), srv.Addr(), &sockets.Options{Layers: []sockets.Layer{l}})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if dialled.Load() {
			continue
		}
		if _, err := s.Opened(ctxT(t)); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Opened after Close: %v, want net.ErrClosed", err)
		}
		time.Sleep(5 * time.Millisecond) // past the start timer
		if dialled.Load() {
			t.Fatal("the attempt of a socket closed before it started dialled anyway")
		}
	}
}

// Connect, Connect, then Opened of the second (a pool opening sockets and
// waiting on them in another order): the first, which nothing waits on,
// still starts, in a goroutine of its own, without waiting for the idle
// timer when the program goes on using sockets.
func TestConnectThenConnectStartsTheFirst(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	ctx := ctxT(t)
	first, err := sockets.Connect(ctx, ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	time.Sleep(2 * time.Millisecond) // older than the start delay
	second, err := sockets.Connect(ctx, ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if _, err := second.Opened(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		select {
		case c := <-accepted:
			c.Close()
		case <-time.After(5 * time.Second):
			t.Fatal("the first socket, which nothing waited on, never connected")
		}
	}
	select {
	case <-sockets.AttemptDone(first):
	case <-time.After(5 * time.Second):
		t.Fatal("the first socket's attempt did not finish")
	}
}
