package capture_test

import (
	"crypto/tls"
	"io"
	"testing"

	"github.com/outboundhq/outbound/capture"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// The cost of a capture: the same socket workloads as the sockets
// benchmarks, with no Layer ("off"), with a Capture writing to io.Discard
// ("capture") and with a Trace writing to io.Discard ("trace"):
//
//	go test -run '^$' -bench . -count 5 ./capture

func benchLayers(b *testing.B, f func(b *testing.B, layers []sockets.Layer)) {
	b.Run("off", func(b *testing.B) { f(b, nil) })
	b.Run("capture", func(b *testing.B) {
		c, err := capture.New(io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		f(b, []sockets.Layer{c})
	})
	b.Run("trace", func(b *testing.B) {
		t := capture.NewTrace(io.Discard)
		f(b, []sockets.Layer{t})
	})
}

func benchEcho(b *testing.B, tlsOn bool) *sockettest.Server {
	var srv *sockettest.Server
	var err error
	if tlsOn {
		ca, cerr := sockettest.NewCA()
		if cerr != nil {
			b.Fatal(cerr)
		}
		cfg, cerr := ca.ServerConfig()
		if cerr != nil {
			b.Fatal(cerr)
		}
		srv, err = sockettest.NewTLSEcho(cfg)
		benchCA = ca
	} else {
		srv, err = sockettest.NewEcho()
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	return srv
}

var benchCA *sockettest.CA

func benchRoundTrips(b *testing.B, size int, tlsOn bool) {
	srv := benchEcho(b, tlsOn)
	benchLayers(b, func(b *testing.B, layers []sockets.Layer) {
		o := &sockets.Options{Layers: layers}
		if tlsOn {
			cfg := benchCA.ClientConfig()
			cfg.MinVersion = tls.VersionTLS13
			o.SecureTransport, o.TLSConfig = sockets.SecureTransportOn, cfg
		}
		s, err := sockets.Dial(b.Context(), srv.Addr(), o)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		buf := make([]byte, size)
		b.SetBytes(int64(2 * size))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Write(buf); err != nil {
				b.Fatal(err)
			}
			if _, err := io.ReadFull(s, buf); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReadWrite: 32 KiB out and back over plain TCP.
func BenchmarkReadWrite(b *testing.B) { benchRoundTrips(b, 32<<10, false) }

// BenchmarkReadWriteTLS: the same over TLS 1.3 ("on").
func BenchmarkReadWriteTLS(b *testing.B) { benchRoundTrips(b, 32<<10, true) }

// BenchmarkPingPong: a 1-byte round trip.
func BenchmarkPingPong(b *testing.B) { benchRoundTrips(b, 1, false) }
