package faults_test

import (
	"io"
	"testing"
	"time"

	"github.com/outboundhq/outbound/faults"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// The benchmarks run side by side: "socket" is a socket with no Layer,
// "no-rules" the same with an Injector that has no rules (it hands the
// connection on unwrapped: the data path is the socket's own), and
// "wrapped" one whose connection is wrapped (AlwaysWrap) with a rule that
// matches another port, so no toxic acts (one atomic load per Read and
// Write).
var benchSides = []struct {
	name string
	opts func() *sockets.Options
}{
	{"socket", func() *sockets.Options { return &sockets.Options{} }},
	{"no-rules", func() *sockets.Options { return opts(faults.New(nil)) }},
	{"wrapped", func() *sockets.Options {
		in := faults.New(&faults.Options{AlwaysWrap: true})
		in.Add(faults.Rule{Name: "elsewhere", Match: faults.Match{Port: 1}, Toxic: faults.Latency{Latency: time.Second}})
		return opts(in)
	}},
}

// BenchmarkPingPong: a 1-byte round trip to an echo peer.
func BenchmarkPingPong(b *testing.B) {
	srv, err := sockettest.NewEcho()
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	for _, side := range benchSides {
		b.Run(side.name, func(b *testing.B) {
			s, err := sockets.Dial(b.Context(), srv.Addr(), side.opts())
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var buf [1]byte
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Write(buf[:]); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(s, buf[:]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConnectClose: dial, read the peer's first byte, close.
func BenchmarkConnectClose(b *testing.B) {
	srv, err := sockettest.NewScripted(sockettest.Send("!"))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	for _, side := range benchSides {
		b.Run(side.name, func(b *testing.B) {
			o := side.opts()
			var buf [1]byte
			b.ReportAllocs()
			for b.Loop() {
				s, err := sockets.Dial(b.Context(), srv.Addr(), o)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(s, buf[:]); err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
	}
}
