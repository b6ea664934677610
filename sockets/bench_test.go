package sockets_test

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// The benchmarks below put outbound next to the raw stack: each has a "raw"
// sub-benchmark (a *net.TCPConn from a net.Dialer, crypto/tls over it) and
// an "outbound" one (a *sockets.Socket), so benchstat compares them and
// compares commits:
//
//	go test -run '^$' -bench . -count 10 ./sockets > new.txt
//	benchstat old.txt new.txt
//
// go run ./bench runs the same workloads side by side with the targets.

const benchChunk = 32 << 10

// benchSides runs f as the "raw" and the "outbound" sub-benchmark.
func benchSides(b *testing.B, f func(b *testing.B, outbound bool)) {
	b.Run("raw", func(b *testing.B) { f(b, false) })
	b.Run("outbound", func(b *testing.B) { f(b, true) })
}

// benchServer returns a function that checks a new server and closes it
// when the benchmark ends: benchServer(b)(sockettest.NewEcho()).
func benchServer(b *testing.B) func(*sockettest.Server, error) *sockettest.Server {
	return func(s *sockettest.Server, err error) *sockettest.Server {
		b.Helper()
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		return s
	}
}

// benchDial opens a plain connection that is open when it returns.
func benchDial(b *testing.B, addr string, outbound bool) net.Conn {
	b.Helper()
	c, err := benchDialErr(b.Context(), addr, outbound)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func benchDialErr(ctx context.Context, addr string, outbound bool) (net.Conn, error) {
	if !outbound {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	s, err := sockets.Connect(ctx, addr, nil)
	if err != nil {
		return nil, err
	}
	if _, err := s.Opened(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

type benchTLS struct {
	server *tls.Config
	ca     *sockettest.CA
}

func newBenchTLS(b *testing.B) benchTLS {
	b.Helper()
	ca, err := sockettest.NewCA()
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		b.Fatal(err)
	}
	return benchTLS{server: cfg, ca: ca}
}

// client returns a TLS 1.3 client configuration trusting the CA.
func (t benchTLS) client() *tls.Config {
	c := t.ca.ClientConfig()
	c.MinVersion = tls.VersionTLS13
	return c
}

// readWrite writes 32 KiB to an echo peer and reads it back, b.N times.
func readWrite(b *testing.B, c net.Conn) {
	buf := make([]byte, benchChunk)
	b.SetBytes(2 * benchChunk)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Write(buf); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, buf); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadWrite: a 32 KiB Write and a 32 KiB read back from an echo
// peer, over plain TCP.
func BenchmarkReadWrite(b *testing.B) {
	srv := benchServer(b)(sockettest.NewEcho())
	benchSides(b, func(b *testing.B, outbound bool) {
		readWrite(b, benchDial(b, srv.Addr(), outbound))
	})
}

// BenchmarkReadWriteTLS: BenchmarkReadWrite over TLS 1.3: crypto/tls over
// a *net.TCPConn, or a socket with SecureTransport "on".
func BenchmarkReadWriteTLS(b *testing.B) {
	t := newBenchTLS(b)
	srv := benchServer(b)(sockettest.NewTLSEcho(t.server))
	benchSides(b, func(b *testing.B, outbound bool) {
		var c net.Conn
		if outbound {
			s, err := sockets.Connect(b.Context(), srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: t.client()})
			if err != nil {
				b.Fatal(err)
			}
			c = s
		} else {
			cfg := t.client()
			cfg.ServerName = srv.Host()
			c = tls.Client(benchDial(b, srv.Addr(), false), cfg)
		}
		b.Cleanup(func() { c.Close() })
		readWrite(b, c)
	})
}

// BenchmarkPingPong: a 1-byte round trip to an echo peer.
func BenchmarkPingPong(b *testing.B) {
	srv := benchServer(b)(sockettest.NewEcho())
	benchSides(b, func(b *testing.B, outbound bool) {
		c := benchDial(b, srv.Addr(), outbound)
		var buf [1]byte
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Write(buf[:]); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkConnectClose: connect, read the peer's first byte, close. The
// outbound side does not call Opened: the read waits for the socket to open.
// The peer closes first, so that TIME_WAIT piles up on its side and not in
// the client's ephemeral ports, where it would slow whichever side runs
// second.
func BenchmarkConnectClose(b *testing.B) {
	srv := benchServer(b)(sockettest.NewServer(func(c net.Conn) {
		c.Write([]byte{'!'})
	}))
	benchSides(b, func(b *testing.B, outbound bool) {
		ctx := b.Context()
		var buf [1]byte
		b.ReportAllocs()
		for b.Loop() {
			var c net.Conn
			var err error
			if outbound {
				c, err = sockets.Connect(ctx, srv.Addr(), nil)
			} else {
				var d net.Dialer
				c, err = d.DialContext(ctx, "tcp", srv.Addr())
			}
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(c, buf[:]); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
}

// BenchmarkStartTLS: upgrade an open plain connection to TLS 1.3 and wait
// for the handshake: tls.Client on a *net.TCPConn, or Socket.StartTLS and
// the new socket's Opened. The connect and the close are not timed.
func BenchmarkStartTLS(b *testing.B) {
	t := newBenchTLS(b)
	srv := benchServer(b)(sockettest.NewServer(func(c net.Conn) {
		tc := tls.Server(c, t.server)
		if tc.Handshake() == nil {
			io.Copy(io.Discard, tc)
		}
	}))
	benchSides(b, func(b *testing.B, outbound bool) {
		ctx := b.Context()
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			cfg := t.client()
			var c net.Conn
			var err error
			if outbound {
				c, err = sockets.Connect(ctx, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: cfg})
				if err == nil {
					_, err = c.(*sockets.Socket).Opened(ctx)
				}
			} else {
				var d net.Dialer
				c, err = d.DialContext(ctx, "tcp", srv.Addr())
			}
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			var up net.Conn
			if outbound {
				var ns *sockets.Socket
				if ns, err = c.(*sockets.Socket).StartTLS(nil); err != nil {
					b.Fatal(err)
				}
				up = ns
				_, err = ns.Opened(ctx)
			} else {
				cfg.ServerName = srv.Host()
				tc := tls.Client(c, cfg)
				up = tc
				err = tc.HandshakeContext(ctx)
			}
			b.StopTimer()
			if err != nil {
				b.Fatal(err)
			}
			up.Close()
			c.Close()
			b.StartTimer()
		}
	})
}

// BenchmarkRelay: io.CopyN of 1 MiB from one connection to another, both
// *net.TCPConn or both sockets (the kernel's splice in both cases), from a
// peer that sends without end to a peer that discards.
func BenchmarkRelay(b *testing.B) {
	const size = 1 << 20
	src := benchServer(b)(sockettest.NewServer(func(c net.Conn) {
		buf := make([]byte, 256<<10)
		for {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}))
	sink := benchServer(b)(sockettest.NewServer(func(c net.Conn) {
		buf := make([]byte, 256<<10)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}))
	benchSides(b, func(b *testing.B, outbound bool) {
		from := benchDial(b, src.Addr(), outbound)
		to := benchDial(b, sink.Addr(), outbound)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			if n, err := io.CopyN(to, from, size); err != nil || n != size {
				b.Fatalf("relayed %d bytes, want %d: %v", n, size, err)
			}
		}
	})
}

// BenchmarkRelayEOF: io.Copy to the source's EOF, 4 MiB per connection
// pair, the path a proxy takes for each client; the connects are timed.
func BenchmarkRelayEOF(b *testing.B) {
	const size = 4 << 20
	src := benchServer(b)(sockettest.NewServer(func(c net.Conn) {
		buf := make([]byte, 256<<10)
		for n := size; n > 0; n -= len(buf) {
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}))
	sink := benchServer(b)(sockettest.NewServer(func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		var ack [8]byte
		binary.BigEndian.PutUint64(ack[:], uint64(n))
		c.Write(ack[:])
	}))
	benchSides(b, func(b *testing.B, outbound bool) {
		ctx := b.Context()
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			from, err := benchDialErr(ctx, src.Addr(), outbound)
			if err != nil {
				b.Fatal(err)
			}
			to, err := benchDialErr(ctx, sink.Addr(), outbound)
			if err != nil {
				b.Fatal(err)
			}
			n, err := io.Copy(to, from)
			if err != nil || n != size {
				b.Fatalf("relayed %d bytes, want %d: %v", n, size, err)
			}
			if err := closeWrite(to); err != nil {
				b.Fatal(err)
			}
			var ack [8]byte
			if _, err := io.ReadFull(to, ack[:]); err != nil || binary.BigEndian.Uint64(ack[:]) != size {
				b.Fatalf("the sink got %d bytes, want %d: %v", binary.BigEndian.Uint64(ack[:]), size, err)
			}
			from.Close()
			to.Close()
		}
	})
}

func closeWrite(c net.Conn) error {
	return c.(interface{ CloseWrite() error }).CloseWrite()
}

// BenchmarkIdleSocket opens 1,000 connections per iteration, measures the
// live heap while they are all open and idle, and reports it per connection
// (heap-B/conn; the peer closes its end at once, so only this end counts),
// with the goroutines left per connection (goroutines/conn).
func BenchmarkIdleSocket(b *testing.B) {
	const n = 1000
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	var accepted atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
			accepted.Add(1)
		}
	})
	b.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	benchSides(b, func(b *testing.B, outbound bool) {
		ctx := b.Context()
		conns := make([]net.Conn, n)
		var heap, goroutines float64
		for b.Loop() {
			want := accepted.Load() + n
			var before, after runtime.MemStats
			liveHeap(&before)
			g0 := runtime.NumGoroutine()
			for i := range conns {
				if conns[i], err = benchDialErr(ctx, ln.Addr().String(), outbound); err != nil {
					b.Fatal(err)
				}
			}
			for accepted.Load() < want {
				time.Sleep(time.Millisecond)
			}
			g1 := runtime.NumGoroutine()
			for deadline := time.Now().Add(time.Second); g1 > g0 && time.Now().Before(deadline); g1 = runtime.NumGoroutine() {
				time.Sleep(time.Millisecond) // let the last open goroutines return
			}
			liveHeap(&after)
			heap += (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
			goroutines += float64(g1-g0) / n
			for _, c := range conns {
				c.Close()
			}
			clear(conns)
		}
		b.ReportMetric(heap/float64(b.N), "heap-B/conn")
		b.ReportMetric(goroutines/float64(b.N), "goroutines/conn")
	})
}

// liveHeap collects garbage until the heap stops shrinking (connections
// closed earlier are freed only after their finalizers ran) and reads the
// memory statistics.
func liveHeap(ms *runtime.MemStats) {
	runtime.GC()
	runtime.ReadMemStats(ms)
	for last := ms.HeapAlloc + 1; ms.HeapAlloc < last; {
		last = ms.HeapAlloc
		runtime.GC()
		runtime.ReadMemStats(ms)
	}
}

// BenchmarkConnectOpened is the Sockets API's own path: Connect, Opened,
// Close (raw: net.Dialer.DialContext and Close), to a peer that writes
// nothing, as the bench program's "connect + Opened + close" row.
func BenchmarkConnectOpened(b *testing.B) {
	srv := benchServer(b)(sockettest.NewServer(func(c net.Conn) {
		io.Copy(io.Discard, c)
	}))
	benchSides(b, func(b *testing.B, outbound bool) {
		ctx := b.Context()
		b.ReportAllocs()
		for b.Loop() {
			if !outbound {
				var d net.Dialer
				c, err := d.DialContext(ctx, "tcp", srv.Addr())
				if err != nil {
					b.Fatal(err)
				}
				c.Close()
				continue
			}
			s, err := sockets.Connect(ctx, srv.Addr(), nil)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := s.Opened(ctx); err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
	b.Run("dial", func(b *testing.B) {
		ctx := b.Context()
		b.ReportAllocs()
		for b.Loop() {
			s, err := sockets.Dial(ctx, srv.Addr(), nil)
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
		}
	})
}
