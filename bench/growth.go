//go:build unix

package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"time"

	xproxy "golang.org/x/net/proxy"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/proxy"
	"github.com/outboundhq/outbound/sockets"
)

// Growth and stack workloads.
//
//   - connect rate at concurrency 1 / 16 / 128: connections per second,
//     each sockets.Connect, Opened and Close (the Sockets API path) against
//     net.Dialer.DialContext and Close, to a peer in a child process.
//   - net/http: keep-alive GETs and new-connection GETs per second against
//     an in-process httptest server, through dialers.NewHTTPTransport or a
//     plain http.Transport with the same settings.
//   - SOCKS5 through Dante (OUTBOUND_TEST_SOCKS5): connect + first byte +
//     close to a peer in a child process, with proxy.SOCKS5 under
//     sockets.Dial, or golang.org/x/net/proxy.SOCKS5.
func init() {
	for _, g := range []int{1, 16, 128} {
		var peer *peerProc
		register(Workload{
			Name:   "connect rate, concurrency " + strconv.Itoa(g),
			Unit:   "conn/s",
			Target: Target{AtLeast: 0.91},
			Rounds: 5,
			Series: "connect rate, Connect+Opened+Close (conn/s)",
			X:      strconv.Itoa(g),
			Setup: func(context.Context) (func(), error) {
				var err error
				peer, err = startPeer(peerFirst, 1, nil)
				if err != nil {
					return nil, err
				}
				return peer.stop, nil
			},
			Run: func(ctx context.Context, outbound bool) (float64, error) {
				per := int(pick(4000, 1000))
				d, err := timeBatchesQ(ctx, 4, 0.25, func() (time.Duration, error) {
					return connectConcurrent(ctx, peer.addr(), g, per/4, outbound)
				})
				if err != nil {
					return 0, err
				}
				return float64(per/4) / d.Seconds(), nil
			},
		})
	}

	var (
		web  *httptest.Server
		body = []byte("hello, bench\n")
	)
	httpSetup := func(context.Context) (func(), error) {
		web = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.Write(body)
		}))
		return web.Close, nil
	}
	for _, keep := range []bool{true, false} {
		name := "net/http GET, keep-alive"
		target := 0.95
		if !keep {
			name, target = "net/http GET, new connection each", 0.91
		}
		register(Workload{
			Name:   name,
			Unit:   "req/s",
			Target: Target{AtLeast: target},
			Rounds: coreRounds,
			Setup:  httpSetup,
			Run: func(ctx context.Context, outbound bool) (float64, error) {
				var tr *http.Transport
				if outbound {
					tr = dialers.NewHTTPTransport(&dialers.Dialer{})
				} else {
					tr = http.DefaultTransport.(*http.Transport).Clone()
				}
				tr.DisableKeepAlives = !keep
				defer tr.CloseIdleConnections()
				c := &http.Client{Transport: tr}
				n := int(pick(4000, 1000))
				if !keep {
					n /= 4
				}
				d, err := timeBatches(ctx, func() (time.Duration, error) {
					start := time.Now()
					for range n / batches {
						if err := get(ctx, c, web.URL); err != nil {
							return 0, err
						}
					}
					return time.Since(start), nil
				})
				if err != nil {
					return 0, err
				}
				return float64(n/batches) / d.Seconds(), nil
			},
		})
	}

	var socksPeer *peerProc
	register(Workload{
		Name:   "socks5 (Dante) connect + first byte + close",
		Unit:   "µs",
		Target: Target{AtMost: 1.10},
		Needs:  "OUTBOUND_TEST_SOCKS5",
		Rounds: coreRounds,
		Setup: func(ctx context.Context) (func(), error) {
			var err error
			if socksPeer, err = startPeer(peerFirst, 1, nil); err != nil {
				return nil, err
			}
			return socksPeer.stop, nil
		},
		Run: func(ctx context.Context, outbound bool) (float64, error) {
			px := os.Getenv("OUTBOUND_TEST_SOCKS5")
			var dial func(ctx context.Context, addr string) (net.Conn, error)
			if outbound {
				opts := &sockets.Options{Proxy: &proxy.SOCKS5{Addr: px}}
				dial = func(ctx context.Context, addr string) (net.Conn, error) {
					return sockets.Dial(ctx, addr, opts)
				}
			} else {
				d, err := xproxy.SOCKS5("tcp", px, nil, xproxy.Direct)
				if err != nil {
					return 0, err
				}
				cd := d.(xproxy.ContextDialer)
				dial = func(ctx context.Context, addr string) (net.Conn, error) {
					return cd.DialContext(ctx, "tcp", addr)
				}
			}
			n := int(pick(800, 200)) / connBatches
			d, err := timeBatchesQ(ctx, connBatches, 0.25, func() (time.Duration, error) {
				start := time.Now()
				for range n {
					c, err := dial(ctx, socksPeer.addr())
					if err != nil {
						return 0, err
					}
					var b [1]byte
					_, err = io.ReadFull(c, b[:])
					c.Close()
					if err != nil {
						return 0, err
					}
				}
				return time.Since(start), nil
			})
			if err != nil {
				return 0, err
			}
			return perOp(d, n), nil
		},
	})
}

// connectConcurrent makes n connections from g goroutines at once and
// returns how long they took.
func connectConcurrent(ctx context.Context, addr string, g, n int, outbound bool) (time.Duration, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan struct{}, n)
	)
	for range n {
		next <- struct{}{}
	}
	close(next)
	start := time.Now()
	for range g {
		wg.Go(func() {
			for range next {
				if err := connectOpenedOnce(ctx, addr, outbound); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start), first
}

func get(ctx context.Context, c *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return err
}
