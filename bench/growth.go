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
			Paired: func(ctx context.Context) (Pair, error) {
				// 16 batches a side, interleaved: side by side within
				// milliseconds, both meet the same machine.
				const n = 16
				per := int(pick(4000, 1000)) / n
				rd, od, rc, oc, err := interleaved(ctx, n, 0.25, func(outbound bool) (time.Duration, error) {
					return connectConcurrent(ctx, peer.addr(), g, per, outbound)
				})
				if err != nil {
					return Pair{}, err
				}
				return Pair{Raw: float64(per) / rd.Seconds(), Outbound: float64(per) / od.Seconds(), RawCPU: perOp(rc, per), OutboundCPU: perOp(oc, per)}, nil
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
			Paired: func(ctx context.Context) (Pair, error) {
				var clients [2]*http.Client // raw, outbound
				for i := range clients {
					var tr *http.Transport
					if i == 1 {
						tr = dialers.NewHTTPTransport(&dialers.Dialer{})
					} else {
						tr = http.DefaultTransport.(*http.Transport).Clone()
					}
					tr.DisableKeepAlives = !keep
					defer tr.CloseIdleConnections()
					clients[i] = &http.Client{Transport: tr}
				}
				n := 100
				if !keep {
					n = 25
				}
				return ratePaired(ctx, time.Second, n, func(outbound bool) error {
					c := clients[0]
					if outbound {
						c = clients[1]
					}
					for range n {
						if err := get(ctx, c, web.URL); err != nil {
							return err
						}
					}
					return nil
				})
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
		Paired: func(ctx context.Context) (Pair, error) {
			px := os.Getenv("OUTBOUND_TEST_SOCKS5")
			opts := &sockets.Options{Proxy: &proxy.SOCKS5{Addr: px}}
			d, err := xproxy.SOCKS5("tcp", px, nil, xproxy.Direct)
			if err != nil {
				return Pair{}, err
			}
			raw := d.(xproxy.ContextDialer)
			n := int(pick(800, 200)) / connBatches
			return pairedBatches(ctx, connBatches, n, func(outbound bool) error {
				var c net.Conn
				var err error
				if outbound {
					c, err = sockets.Dial(ctx, socksPeer.addr(), opts)
				} else {
					c, err = raw.DialContext(ctx, "tcp", socksPeer.addr())
				}
				if err != nil {
					return err
				}
				var b [1]byte
				_, err = io.ReadFull(c, b[:])
				c.Close()
				return err
			})
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
