package egress_test

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// TestMetricsCountCopies: bytes moved by io.Copy's fast paths (splice
// between sockets, WriteTo a *net.TCPConn) are counted like Read and Write.
func TestMetricsCountCopies(t *testing.T) {
	const size = 100000
	payload := strings.Repeat("x", size)
	source := func() *sockettest.Server {
		return serve(t)(sockettest.NewServer(func(c net.Conn) { io.WriteString(c, payload) }))
	}
	sinkGot := make(chan int64, 3)
	sink := serve(t)(sockettest.NewServer(func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c)
		sinkGot <- n
	}))
	cases := []struct {
		name string
		copy func(t *testing.T, a *sockets.Socket, o *sockets.Options) (int64, error)
		out  bool
	}{
		{"socket to socket", func(t *testing.T, a *sockets.Socket, o *sockets.Options) (int64, error) {
			b := connect(t, sink.Addr(), o)
			n, err := io.Copy(b, a)
			b.CloseWrite()
			if got := <-sinkGot; got != size {
				t.Errorf("sink got %d", got)
			}
			return n, err
		}, true},
		{"socket to TCPConn", func(t *testing.T, a *sockets.Socket, _ *sockets.Options) (int64, error) {
			c, err := net.Dial("tcp", sink.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			n, err := io.Copy(c.(*net.TCPConn), a)
			c.(*net.TCPConn).CloseWrite()
			<-sinkGot
			return n, err
		}, false},
		{"socket to buffer", func(t *testing.T, a *sockets.Socket, _ *sockets.Options) (int64, error) {
			var buf bytes.Buffer
			return io.Copy(&buf, a)
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m egress.Metrics
			o := &sockets.Options{Policy: newPolicy(t, egress.PolicyConfig{Metrics: &m}), AllowHalfOpen: true}
			a := connect(t, source().Addr(), o)
			n, err := c.copy(t, a, o)
			if err != nil || n != size {
				t.Fatalf("copied %d, %v", n, err)
			}
			st := m.Stats()
			wantOut := uint64(0)
			if c.out {
				wantOut = size
			}
			if st.BytesIn != size || st.BytesOut != wantOut {
				t.Fatalf("stats in %d out %d, want %d and %d", st.BytesIn, st.BytesOut, size, wantOut)
			}
		})
	}
}
