//go:build unix

package main

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// The core workloads compare a *sockets.Socket with what a Go program uses
// without outbound: a *net.TCPConn from a net.Dialer, and crypto/tls over it.
// Every peer is in-process on 127.0.0.1.

const chunk = 32 << 10 // the Read and Write size of the bulk workloads

// coreRounds is the number of rounds of the core workloads: their rounds
// are short, and a shared machine makes them noisy.
const coreRounds = 9

// sizes, full and -quick.
func bulkBytes() int64 { return pick(1<<30, 128<<20) }
func tlsBytes() int64  { return pick(128<<20, 32<<20) }
func relayBytes() int64 {
	return pick(256<<20, 64<<20)
}
func pick(full, small int64) int64 {
	if quick {
		return small
	}
	return full
}

func init() {
	if mode := os.Getenv(fdSinkEnv); mode != "" {
		// This process is a peer child of the bench; see childPeer.
		if err := childPeer(mode); err != nil {
			fmt.Fprintln(os.Stderr, "bench peer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	var (
		bulk, bulkTLS, relaySrc, relaySink, ping, upgrade *sockettest.Server
		sinkGot                                           chan int64
		ca                                                *sockettest.CA
		serverTLS                                         *tls.Config
	)
	setupCA := func() error {
		if ca != nil {
			return nil
		}
		var err error
		if ca, err = sockettest.NewCA(); err != nil {
			return err
		}
		serverTLS, err = ca.ServerConfig()
		return err
	}
	clientTLS := func() *tls.Config {
		c := ca.ClientConfig()
		c.MinVersion = tls.VersionTLS13
		return c
	}
	stop := func(s **sockettest.Server) func() {
		return func() { (*s).Close(); *s = nil }
	}

	register(Workload{
		Name:   "bulk plain Read/Write 32 KiB",
		Unit:   "MB/s",
		Target: Target{AtLeast: 0.97},
		Rounds: coreRounds,
		Setup: func(context.Context) (func(), error) {
			var err error
			bulk, err = sockettest.NewServer(bulkPeer)
			return stop(&bulk), err
		},
		Paired: func(ctx context.Context) (Pair, error) {
			return bulkPaired(ctx, func(outbound bool) (net.Conn, error) {
				return dialPlain(ctx, bulk.Addr(), outbound)
			}, bulkBytes())
		},
	})

	register(Workload{
		Name:   "tls 1.3 bulk Read/Write 32 KiB",
		Unit:   "MB/s",
		Target: Target{AtLeast: 0.97},
		Rounds: coreRounds,
		Setup: func(context.Context) (func(), error) {
			if err := setupCA(); err != nil {
				return nil, err
			}
			var err error
			bulkTLS, err = sockettest.NewTLSServer(serverTLS, bulkPeer)
			return stop(&bulkTLS), err
		},
		Paired: func(ctx context.Context) (Pair, error) {
			return bulkPaired(ctx, func(outbound bool) (net.Conn, error) {
				return dialTLS(ctx, bulkTLS.Addr(), clientTLS(), outbound)
			}, tlsBytes())
		},
	})

	register(Workload{
		Name:   "relay io.Copy socket→socket",
		Unit:   "MB/s",
		Target: Target{AtLeast: 0.95},
		Rounds: coreRounds,
		Setup: func(context.Context) (func(), error) {
			var err error
			if relaySrc, err = sockettest.NewServer(source); err != nil {
				return nil, err
			}
			sinkGot = make(chan int64, 1)
			if relaySink, err = sockettest.NewServer(func(c net.Conn) {
				select {
				case sinkGot <- drain(c):
				default: // a round that failed left its count unread
				}
			}); err != nil {
				relaySrc.Close()
				return nil, err
			}
			return func() { relaySrc.Close(); relaySink.Close() }, nil
		},
		Paired: func(ctx context.Context) (Pair, error) {
			// Relay batches are bimodal (the kernel's splice pipeline
			// runs at one of two speeds, whichever the side): the median
			// batch is steadier than the fastest quartile.
			const n = 32
			per := relayBytes() / n
			rd, od, rc, oc, err := interleaved(ctx, n, 0.5, func(outbound bool) (time.Duration, error) {
				return relayOnce(ctx, relaySrc.Addr(), relaySink.Addr(), per, sinkGot, outbound)
			})
			if err != nil {
				return Pair{}, err
			}
			return Pair{Raw: mbps(per, rd), Outbound: mbps(per, od), RawCPU: cpuPerMB(rc, per), OutboundCPU: cpuPerMB(oc, per)}, nil
		},
	})

	pingRow := func(name string, q float64) Workload {
		return Workload{
			Name:   name,
			Unit:   "µs",
			Target: Target{AtMost: 1.05},
			Rounds: coreRounds,
			Setup: func(context.Context) (func(), error) {
				var err error
				ping, err = sockettest.NewServer(pingPeer)
				return stop(&ping), err
			},
			Paired: func(ctx context.Context) (Pair, error) {
				var conns [2]net.Conn // raw, outbound
				for i := range conns {
					c, err := dialPlain(ctx, ping.Addr(), i == 1)
					if err != nil {
						return Pair{}, err
					}
					defer c.Close()
					conns[i] = c
				}
				// The quantile of each batch of round trips, the sides
				// interleaved batch by batch; the figure is the batch at
				// the 25th percentile, as for the others.
				const n = 24
				per := int(pick(24000, 8000)) / n
				rtt := make([]time.Duration, per)
				rd, od, _, _, err := interleaved(ctx, n, 0.25, func(outbound bool) (time.Duration, error) {
					c := conns[0]
					if outbound {
						c = conns[1]
					}
					if err := pingRound(ctx, c, rtt); err != nil {
						return 0, err
					}
					return quantile(rtt, q), nil
				})
				return Pair{Raw: perOp(rd, 1), Outbound: perOp(od, 1)}, err
			},
		}
	}
	register(pingRow("ping-pong 1 B round trip, median", 0.50))
	register(pingRow("ping-pong 1 B round trip, p99", 0.99))

	register(Workload{
		Name:   "starttls upgrade on an open conn",
		Unit:   "µs",
		Target: Target{AtMost: 1.10},
		Rounds: coreRounds,
		Setup: func(context.Context) (func(), error) {
			if err := setupCA(); err != nil {
				return nil, err
			}
			var err error
			upgrade, err = sockettest.NewServer(func(c net.Conn) {
				tc := tls.Server(c, serverTLS)
				if tc.Handshake() == nil {
					discard(tc)
				}
			})
			return stop(&upgrade), err
		},
		Paired: func(ctx context.Context) (Pair, error) {
			const n = 16
			per := int(pick(160, 64)) / n
			rd, od, rc, oc, err := interleaved(ctx, n, 0.25, func(outbound bool) (time.Duration, error) {
				var total time.Duration
				for range per {
					d, err := upgradeOnce(ctx, upgrade.Addr(), clientTLS(), outbound)
					if err != nil {
						return 0, err
					}
					total += d
				}
				return total, nil
			})
			if err != nil {
				return Pair{}, err
			}
			return Pair{Raw: perOp(rd, per), Outbound: perOp(od, per), RawCPU: perOp(rc, per), OutboundCPU: perOp(oc, per)}, nil
		},
	})

}

// dialPlain opens a plain connection: a *net.TCPConn from a net.Dialer
// (raw), or a *sockets.Socket from sockets.Dial, open (outbound).
func dialPlain(ctx context.Context, addr string, outbound bool) (net.Conn, error) {
	if !outbound {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
	s, err := sockets.Dial(ctx, addr, nil)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// dialTLS opens a TLS connection whose handshake is done: crypto/tls over a
// *net.TCPConn (raw), or a socket with SecureTransport "on" (outbound).
func dialTLS(ctx context.Context, addr string, cfg *tls.Config, outbound bool) (net.Conn, error) {
	if !outbound {
		c, err := dialPlain(ctx, addr, false)
		if err != nil {
			return nil, err
		}
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	}
	s, err := sockets.Dial(ctx, addr, &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: cfg})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// upgradeOnce opens a plain connection and times its upgrade to TLS:
// tls.Client and its handshake (raw), or Socket.StartTLS and the new
// socket's Opened (outbound). The connect and the close are not timed.
func upgradeOnce(ctx context.Context, addr string, cfg *tls.Config, outbound bool) (time.Duration, error) {
	if !outbound {
		c, err := dialPlain(ctx, addr, false)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		start := time.Now()
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}
	s, err := sockets.Connect(ctx, addr, &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: cfg})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	if _, err := s.Opened(ctx); err != nil {
		return 0, err
	}
	start := time.Now()
	ns, err := s.StartTLS(&sockets.StartTLSOptions{Context: ctx})
	if err != nil {
		return 0, err
	}
	defer ns.Close()
	if _, err := ns.Opened(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// bulkPeer serves one bulk round: a 9-byte request ('U' or 'D' and a
// length), then it reads that many bytes and answers one byte ('U'), or
// sends that many bytes ('D'). Requests repeat until EOF.
func bulkPeer(c net.Conn) {
	buf := make([]byte, chunk)
	var req [9]byte
	for {
		if _, err := io.ReadFull(c, req[:]); err != nil {
			return
		}
		n := int64(binary.BigEndian.Uint64(req[1:]))
		switch req[0] {
		case 'U':
			for n > 0 {
				m, err := c.Read(buf[:min(int64(len(buf)), n)])
				if err != nil {
					return
				}
				n -= int64(m)
			}
			if _, err := c.Write([]byte{'k'}); err != nil {
				return
			}
		case 'D':
			for n > 0 {
				m, err := c.Write(buf[:min(int64(len(buf)), n)])
				if err != nil {
					return
				}
				n -= int64(m)
			}
		default:
			return
		}
	}
}

// bulkOnce uploads and then downloads half bytes with bulkPeer.
func bulkOnce(c net.Conn, buf []byte, half int64) (time.Duration, error) {
	var req [9]byte
	start := time.Now()
	req[0] = 'U'
	binary.BigEndian.PutUint64(req[1:], uint64(half))
	if _, err := c.Write(req[:]); err != nil {
		return 0, err
	}
	for left := half; left > 0; {
		m, err := c.Write(buf[:min(int64(len(buf)), left)])
		if err != nil {
			return 0, fmt.Errorf("upload: %w", err)
		}
		left -= int64(m)
	}
	if _, err := io.ReadFull(c, buf[:1]); err != nil {
		return 0, fmt.Errorf("upload ack: %w", err)
	}

	req[0] = 'D'
	if _, err := c.Write(req[:]); err != nil {
		return 0, err
	}
	for left := half; left > 0; {
		m, err := c.Read(buf[:min(int64(len(buf)), left)])
		if err != nil {
			return 0, fmt.Errorf("download: %w", err)
		}
		left -= int64(m)
	}
	return time.Since(start), nil
}

// relayOnce opens a connection to the source and one to the sink and
// times io.Copy from the first to the second until the sink has read all
// n bytes. The source closes after n bytes, so the copy ends at its EOF.
func relayOnce(ctx context.Context, srcAddr, sinkAddr string, n int64, sinkGot <-chan int64, outbound bool) (time.Duration, error) {
	src, err := dialPlain(ctx, srcAddr, outbound)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	dst, err := dialPlain(ctx, sinkAddr, outbound)
	if err != nil {
		return 0, err
	}
	defer dst.Close()
	var hdr [8]byte
	binary.BigEndian.PutUint64(hdr[:], uint64(n))
	if _, err := src.Write(hdr[:]); err != nil {
		return 0, err
	}
	start := time.Now()
	copied, err := io.Copy(dst, src)
	if err != nil {
		return 0, fmt.Errorf("relay: %w", err)
	}
	dst.Close()
	var got int64
	select {
	case got = <-sinkGot:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	d := time.Since(start)
	if copied != n || got != n {
		return 0, fmt.Errorf("relay copied %d bytes, the sink got %d, want %d", copied, got, n)
	}
	return d, nil
}

// source reads an 8-byte length and sends that many bytes, then closes.
func source(c net.Conn) {
	var hdr [8]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return
	}
	buf := make([]byte, 256<<10)
	for n := int64(binary.BigEndian.Uint64(hdr[:])); n > 0; {
		m, err := c.Write(buf[:min(int64(len(buf)), n)])
		if err != nil {
			return
		}
		n -= int64(m)
	}
}

// drain reads c to its end and returns how many bytes it read.
func drain(c net.Conn) int64 {
	buf := make([]byte, 256<<10)
	var n int64
	for {
		m, err := c.Read(buf)
		n += int64(m)
		if err != nil {
			return n
		}
	}
}

// pingPeer echoes one byte at a time.
func pingPeer(c net.Conn) {
	var b [1]byte
	for {
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return
		}
		if _, err := c.Write(b[:]); err != nil {
			return
		}
	}
}

// pingRound times len(rtt) one-byte round trips into rtt.
func pingRound(ctx context.Context, c net.Conn, rtt []time.Duration) error {
	var b [1]byte
	for i := range rtt {
		if i%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		start := time.Now()
		if _, err := c.Write(b[:]); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, b[:]); err != nil {
			return err
		}
		rtt[i] = time.Since(start)
	}
	return nil
}

// discard reads c to its end with a small buffer, for peers that expect
// nothing but the EOF.
func discard(c net.Conn) {
	var buf [512]byte
	for {
		if _, err := c.Read(buf[:]); err != nil {
			return
		}
	}
}

// quantile returns the q-quantile of d, sorting d.
func quantile(d []time.Duration, q float64) time.Duration {
	slices.Sort(d)
	return d[int(q*float64(len(d)-1))]
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 }

func perOp(d time.Duration, n int) float64 {
	return float64(d) / float64(n) / float64(time.Microsecond)
}

// bulkPaired opens bulkConns connections per side and moves n bytes over
// each side, in 64 batches a side interleaved with the other side's (see
// interleaved), batch i of either side on that side's connection i mod
// bulkConns: MB/s from the 25th-percentile batch, CPU in µs per MB.
//
// One connection a side for the whole round made the row unsteady: the
// kernel tunes each connection's buffers as it goes and keeps them, so a
// connection that settled slower held its side back for the round. Two
// raw sides measured this way with one connection each landed 0.90 to 1.02
// apart; spread over several connections each, that difference averages
// out instead of deciding the round.
func bulkPaired(ctx context.Context, dial func(outbound bool) (net.Conn, error), n int64) (Pair, error) {
	var conns [2][bulkConns]net.Conn
	for i := range bulkConns {
		for _, ob := range []bool{false, true} {
			c, err := dial(ob)
			if err != nil {
				return Pair{}, err
			}
			defer c.Close()
			conns[b2i(ob)][i] = c
		}
	}
	const batches = 64
	per := n / batches
	buf := make([]byte, chunk)
	var next [2]int
	rd, od, rc, oc, err := interleaved(ctx, batches, 0.25, func(ob bool) (time.Duration, error) {
		side := b2i(ob)
		c := conns[side][next[side]%bulkConns]
		next[side]++
		return bulkOnce(c, buf, per/2)
	})
	if err != nil {
		return Pair{}, err
	}
	moved := per / 2 * 2
	return Pair{Raw: mbps(moved, rd), Outbound: mbps(moved, od), RawCPU: cpuPerMB(rc, moved), OutboundCPU: cpuPerMB(oc, moved)}, nil
}

// bulkConns is how many connections a side of a bulk row spreads its
// batches over.
const bulkConns = 4

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cpuPerMB is CPU time in µs per MB moved.
func cpuPerMB(cpu time.Duration, n int64) float64 {
	return float64(cpu) / float64(time.Microsecond) / (float64(n) / 1e6)
}
