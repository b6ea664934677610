//go:build unix

package main

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// The connection-cost workloads: one connection at a time to a peer in a
// child process (so the peer's scheduling and heap weigh on neither side),
// µs per connection, in batches whose 25th percentile is the figure.
//
//   - connect + Opened + close: the Sockets API's own path, as code written
//     against the Workers docs does it: sockets.Connect, Socket.Opened,
//     Close. Raw is net.Dialer.DialContext and Close.
//   - connect + first write + read + close: sockets.Connect, then a 1-byte
//     Write (which waits for the socket to open), a 1-byte Read of the echo,
//     Close. Raw: the same on a *net.TCPConn.
//   - dial + first byte + close: what drivers use, sockets.Dial (the attempt
//     in the caller's goroutine), then a 1-byte Read and Close.
//   - tls connect + handshake + first byte + close: sockets.Connect with
//     SecureTransport "on", Opened (which waits for the handshake), a 1-byte
//     Read and Close; raw is tls.Dialer.DialContext, Read and Close.
//
// The peer closes first, so TIME_WAIT piles up on its side, not in this
// process's ephemeral ports, where thousands of waiting ports slow the
// kernel's search for a free one for every later connect; a client that closes with
// the peer's byte unread resets the connection, which leaves no TIME_WAIT
// either.
func init() {
	var (
		ca   *sockettest.CA
		cert *tls.Certificate
	)
	tlsSetup := func() error {
		if ca != nil {
			return nil
		}
		var err error
		if ca, err = sockettest.NewCA(); err != nil {
			return err
		}
		cert, err = peerCert(ca)
		return err
	}
	connRow := func(name string, target float64, mode string, per int, op func(ctx context.Context, addr string, outbound bool) error) Workload {
		var peer *peerProc
		return Workload{
			Name:   name,
			Unit:   "µs",
			Target: Target{AtMost: target},
			Rounds: coreRounds,
			Setup: func(context.Context) (func(), error) {
				var c *tls.Certificate
				if mode == peerTLSFirst {
					if err := tlsSetup(); err != nil {
						return nil, err
					}
					c = cert
				}
				var err error
				peer, err = startPeer(mode, 1, c)
				if err != nil {
					return nil, err
				}
				return peer.stop, nil
			},
			Paired: func(ctx context.Context) (Pair, error) {
				n := int(pick(int64(per), int64(per/4))) / connBatches
				return pairedBatches(ctx, connBatches, n, func(outbound bool) error {
					return op(ctx, peer.addr(), outbound)
				})
			},
		}
	}

	register(connRow("connect + Opened + close (Sockets API)", 1.10, peerFirst, 3200, connectOpenedOnce))
	register(connRow("connect + first write + read + close", 1.10, peerEcho1, 3200, connectWriteReadOnce))
	register(connRow("dial + first byte + close", 1.05, peerFirst, 3200, dialFirstByteOnce))
	// The A/A row: net.Dialer on both sides, timed exactly as the rows
	// above. It has no target; its ratio is how far apart two identical
	// sides land on this machine in this run, the noise floor the
	// connection rows' ratios are to be read against.
	register(connRow("A/A: net.Dialer connect + close on both sides", 0, peerFirst, 3200, func(ctx context.Context, addr string, _ bool) error {
		return connectOpenedOnce(ctx, addr, false)
	}))
	register(connRow("tls connect + handshake + first byte + close", 1.05, peerTLSFirst, 800, func(ctx context.Context, addr string, outbound bool) error {
		cfg := ca.ClientConfig()
		cfg.MinVersion = tls.VersionTLS13
		return tlsConnectOnce(ctx, addr, cfg, outbound)
	}))
}

// connBatches is how many timed batches of each side a connection-cost
// round has: many short ones, interleaved (see pairedBatches), so that a
// preempted batch falls out of the 25th percentile.
const connBatches = 32

// pairedBatches times batches of n calls of op for each side (see
// interleaved) and returns each side's 25th-percentile batch in µs per
// call, and its median CPU time per call.
func pairedBatches(ctx context.Context, batches, n int, op func(outbound bool) error) (Pair, error) {
	rd, od, rc, oc, err := interleaved(ctx, batches, 0.25, func(ob bool) (time.Duration, error) {
		for range n {
			if err := op(ob); err != nil {
				return 0, err
			}
		}
		return 0, nil
	})
	if err != nil {
		return Pair{}, err
	}
	return Pair{
		Raw: perOp(rd, n), Outbound: perOp(od, n),
		RawCPU: perOp(rc, n), OutboundCPU: perOp(oc, n),
	}, nil
}

// ratePaired is a rate round of a workload whose clients outlive the
// round: batches of units operations a side, interleaved (see
// interleavedFor) for at least 8 batches a side and about span in all. Each
// side's figure is units per second in its batch at the 25th percentile of
// duration; its CPU, the median per unit in µs.
func ratePaired(ctx context.Context, span time.Duration, units int, batch func(outbound bool) error) (Pair, error) {
	rd, od, rc, oc, err := interleavedFor(ctx, 8, span, 0.25, func(ob bool) (time.Duration, error) {
		return 0, batch(ob)
	})
	if err != nil {
		return Pair{}, err
	}
	return Pair{
		Raw: float64(units) / rd.Seconds(), Outbound: float64(units) / od.Seconds(),
		RawCPU: perOp(rc, units), OutboundCPU: perOp(oc, units),
	}, nil
}

// interleaved runs batch for each side, batches times, the sides
// interleaved batch by batch (raw first in even batches, outbound first in
// odd ones), and returns each side's q-quantile batch duration and its
// median CPU time per batch. A batch may report the duration of the part
// it times itself (0: the whole batch counts). Side by side within milliseconds, both meet
// the same machine: the same other processes, the same kernel state (its
// TIME_WAIT sockets, its caches), which round-long sides do not. The CPU
// time is the whole process's, user and system: for a peer in another
// process, this side's own; for an in-process peer, both ends'.
func interleaved(ctx context.Context, batches int, q float64, batch func(outbound bool) (time.Duration, error)) (raw, out, rawCPU, outCPU time.Duration, err error) {
	return interleavedFor(ctx, batches, 0, q, batch)
}

// interleavedFor is interleaved for at least batches batches a side and
// until both sides together have run for span.
func interleavedFor(ctx context.Context, batches int, span time.Duration, q float64, batch func(outbound bool) (time.Duration, error)) (raw, out, rawCPU, outCPU time.Duration, err error) {
	var rd, od, rc, oc []time.Duration
	t0 := time.Now()
	for i := 0; i < batches || time.Since(t0) < span; i++ {
		sides := [2]bool{false, true}
		if i%2 == 1 {
			sides = [2]bool{true, false}
		}
		for _, ob := range sides {
			if err := ctx.Err(); err != nil {
				return 0, 0, 0, 0, err
			}
			c0 := cpuTime()
			start := time.Now()
			d, err := batch(ob)
			if err != nil {
				return 0, 0, 0, 0, err
			}
			if d == 0 {
				d = time.Since(start)
			}
			c := cpuTime() - c0
			if ob {
				od, oc = append(od, d), append(oc, c)
			} else {
				rd, rc = append(rd, d), append(rc, c)
			}
		}
	}
	return quantile(rd, q), quantile(od, q), quantile(rc, 0.5), quantile(oc, 0.5), nil
}

func connectOpenedOnce(ctx context.Context, addr string, outbound bool) error {
	if !outbound {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	s, err := sockets.Connect(ctx, addr, nil)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.Opened(ctx)
	return err
}

func connectWriteReadOnce(ctx context.Context, addr string, outbound bool) error {
	var c net.Conn
	var err error
	if outbound {
		c, err = sockets.Connect(ctx, addr, nil)
	} else {
		var d net.Dialer
		c, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	b := []byte{'?'}
	if _, err := c.Write(b); err != nil {
		return err
	}
	_, err = io.ReadFull(c, b)
	return err
}

func dialFirstByteOnce(ctx context.Context, addr string, outbound bool) error {
	c, err := dialPlain(ctx, addr, outbound)
	if err != nil {
		return err
	}
	defer c.Close()
	var b [1]byte
	_, err = io.ReadFull(c, b[:])
	return err
}

func tlsConnectOnce(ctx context.Context, addr string, cfg *tls.Config, outbound bool) error {
	var c net.Conn
	if outbound {
		s, err := sockets.Connect(ctx, addr, &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: cfg})
		if err != nil {
			return err
		}
		if _, err := s.Opened(ctx); err != nil {
			s.Close()
			return err
		}
		c = s
	} else {
		cfg.ServerName, _, _ = net.SplitHostPort(addr)
		d := tls.Dialer{Config: cfg}
		var err error
		if c, err = d.DialContext(ctx, "tcp", addr); err != nil {
			return err
		}
	}
	defer c.Close()
	var b [1]byte
	_, err := io.ReadFull(c, b[:])
	return err
}

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
