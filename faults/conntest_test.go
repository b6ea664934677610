package faults_test

import (
	"net"
	"testing"
	"time"

	"golang.org/x/net/nettest"

	"github.com/outboundhq/outbound/faults"
	"github.com/outboundhq/outbound/sockets"
)

// TestConnConformance runs x/net's net.Conn conformance suite on a
// connection through the injector: wrapped with no toxic acting, and with
// toxics acting in both directions (deadlines, Close unblocking pending
// I/O, concurrent use).
func TestConnConformance(t *testing.T) {
	for _, tc := range []struct {
		name string
		rule *faults.Rule
	}{
		{"wrapped", &faults.Rule{Name: "elsewhere", Match: faults.Match{Port: 1}, Toxic: faults.Refuse{}}},
		{"slicer", &faults.Rule{Name: "s", Direction: faults.Both, Toxic: faults.Slicer{AverageSize: 512, SizeVariation: 100}}},
		{"bandwidth", &faults.Rule{Name: "bw", Direction: faults.Both, Toxic: faults.Bandwidth{Rate: 64 << 20}}},
		{"latency", &faults.Rule{Name: "lat", Direction: faults.Both, Toxic: faults.Latency{Latency: time.Millisecond}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nettest.TestConn(t, func() (c1, c2 net.Conn, stop func(), err error) {
				in := faults.New(&faults.Options{AlwaysWrap: true})
				if err := in.Add(*tc.rule); err != nil {
					return nil, nil, nil, err
				}
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					return nil, nil, nil, err
				}
				defer l.Close()
				acc := make(chan net.Conn, 1)
				go func() {
					c, _ := l.Accept()
					acc <- c
				}()
				c, err := sockets.Dial(t.Context(), l.Addr().String(), &sockets.Options{Layers: []sockets.Layer{in}, AllowHalfOpen: true})
				if err != nil {
					return nil, nil, nil, err
				}
				srv := <-acc
				return c, srv, func() { c.Close(); srv.Close() }, nil
			})
		})
	}
}
