//go:build unix

package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// The idle workloads hold n connections open to a peer in a child process
// and measure what each costs this process once idle: live heap bytes
// (after garbage collection) and goroutines. Raw is a *net.TCPConn from a
// net.Dialer (or a *tls.Conn from a tls.Dialer whose config has no
// ServerName, so it clones the config per connection, as sockets do);
// outbound is sockets.Connect and Opened (SecureTransport "on" for TLS).
//
// Growth: 1,000, 10,000 and 30,000 plain sockets (the cost per socket must
// stay flat); TLS at 10,000.
func init() {
	sizes := []int{1000, 10000, 30000}
	limit := raiseFileLimit(sizes[len(sizes)-1])
	for _, want := range sizes {
		n := min(want, limit)
		x := thousands(n)
		register(Workload{
			Name:   "idle socket heap, " + x + " open",
			Unit:   "B",
			Target: Target{AtMost: 192, Delta: true},
			Rounds: 3,
			Series: "idle socket heap (B/socket)",
			X:      x,
			Run: func(ctx context.Context, outbound bool) (float64, error) {
				m, err := idleRound(ctx, n, outbound, nil)
				if err == nil {
					idleSeen[idleKey{n, outbound}] = m
				}
				return m.heap, err
			},
		})
		register(Workload{
			Name:   "idle socket goroutines, " + x + " open",
			Unit:   "/socket",
			Target: Target{AtMost: 0, Delta: true},
			Rounds: 1,
			Series: "idle socket goroutines (/socket)",
			X:      x,
			Run: func(ctx context.Context, outbound bool) (float64, error) {
				// The heap row's last round counted goroutines too; measure
				// again only when it did not run (-run selected this row).
				if m, ok := idleSeen[idleKey{n, outbound}]; ok {
					return m.goroutines, nil
				}
				m, err := idleRound(ctx, n, outbound, nil)
				return m.goroutines, err
			},
		})
	}

	var (
		ca   *sockettest.CA
		cert *tls.Certificate
	)
	n := min(10000, limit)
	register(Workload{
		Name:   "idle tls socket heap, " + thousands(n) + " open",
		Unit:   "B",
		Target: Target{AtMost: 256, Delta: true},
		Rounds: 1,
		Setup: func(context.Context) (func(), error) {
			var err error
			if ca, err = sockettest.NewCA(); err != nil {
				return nil, err
			}
			cert, err = peerCert(ca)
			return nil, err
		},
		Run: func(ctx context.Context, outbound bool) (float64, error) {
			cfg := ca.ClientConfig()
			cfg.MinVersion = tls.VersionTLS13
			m, err := idleRound(ctx, n, outbound, &idleTLS{client: cfg, server: cert})
			return m.heap, err
		},
	})
}

// raiseFileLimit raises the limit on open files so that n connections fit
// (their server ends live in a child process), and returns how many fit: n,
// or fewer, with a note on stderr, when the limit cannot be raised.
func raiseFileLimit(n int) int {
	const spare = 256 // stdio, listeners, the driver workloads' connections
	need := uint64(n + spare)
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return n
	}
	if rl.Cur >= need {
		return n
	}
	want := syscall.Rlimit{Cur: need, Max: max(rl.Max, need)}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) == nil {
		return n
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	got := int(max(rl.Cur, spare+1) - spare)
	fmt.Fprintf(os.Stderr, "bench: the open-file limit is %d (hard limit %d); the idle workloads hold at most %d sockets instead of %d\n", rl.Cur, rl.Max, got, n)
	return got
}

// portsFor is how many listeners a peer takes for n connections from one
// client address. One port's ephemeral range holds about 28,000, but the
// client closes first, so each round leaves its ports in TIME_WAIT towards
// the peer's ports; the next round's connects to the same ports then search
// an ever fuller range (a 20,000-socket round took minutes where 10,000
// took seconds). A port per 2,000 connections keeps each search short.
func portsFor(n int) int { return n/2000 + 1 }

// idleSeen holds the figures of the last idle round of each size and side.
var idleSeen = map[idleKey]idleFigures{}

type idleKey struct {
	n        int
	outbound bool
}

type idleFigures struct {
	heap       float64 // heap bytes per open socket
	goroutines float64 // goroutines per open socket
}

// idleTLS makes an idle round use TLS.
type idleTLS struct {
	client *tls.Config
	server *tls.Certificate
}

// idleRound opens n connections, raw or outbound, to a holding peer child
// and measures what they hold once they are idle: live heap bytes (after a
// GC) and goroutines, per connection.
func idleRound(ctx context.Context, n int, outbound bool, t *idleTLS) (idleFigures, error) {
	mode := peerHold
	var cert *tls.Certificate
	if t != nil {
		mode, cert = peerTLSHold, t.server
	}
	peer, err := startPeer(mode, portsFor(n), cert)
	if err != nil {
		return idleFigures{}, err
	}
	defer peer.stop()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var opts *sockets.Options
	if t != nil {
		opts = &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: t.client}
	}

	settle()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	g0 := runtime.NumGoroutine()

	for i := range n {
		addr := peer.addrs[i%len(peer.addrs)]
		var c net.Conn
		switch {
		case outbound:
			s, err := sockets.Connect(ctx, addr, opts)
			if err != nil {
				return idleFigures{}, err
			}
			conns = append(conns, s)
			if _, err := s.Opened(ctx); err != nil {
				return idleFigures{}, err
			}
			continue
		case t != nil:
			d := tls.Dialer{Config: t.client}
			c, err = d.DialContext(ctx, "tcp", addr)
		default:
			var d net.Dialer
			c, err = d.DialContext(ctx, "tcp", addr)
		}
		if err != nil {
			return idleFigures{}, err
		}
		conns = append(conns, c)
	}
	for {
		got, err := peer.accepted()
		if err != nil {
			return idleFigures{}, err
		}
		if got >= n {
			break
		}
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return idleFigures{}, ctx.Err()
		}
	}

	// A goroutine that opened a socket ends once the socket is open; give
	// the last ones a moment to finish returning.
	g1 := runtime.NumGoroutine()
	for deadline := time.Now().Add(time.Second); g1 > g0 && time.Now().Before(deadline); g1 = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	settle()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(conns)
	return idleFigures{
		heap:       (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(n),
		goroutines: float64(g1-g0) / float64(n),
	}, nil
}

// settle collects garbage until the live heap stops shrinking.
func settle() {
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	for last := ms.HeapAlloc + 1; ms.HeapAlloc < last; {
		last = ms.HeapAlloc
		runtime.GC()
		runtime.ReadMemStats(&ms)
	}
}
