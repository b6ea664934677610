package telemetry_test

import (
	"io"
	"net"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
	"github.com/outboundhq/outbound/telemetry"
)

// BenchmarkConnectClose compares connect + first byte + close: a raw
// net.Dialer, an outbound socket, and an outbound socket with Telemetry
// exporting to an SDK MeterProvider (the target is ≤ 1.15× raw):
//
//	go test -run '^$' -bench ConnectClose -count 10 ./telemetry | benchstat -col /side -
func BenchmarkConnectClose(b *testing.B) {
	srv, err := sockettest.NewServer(func(c net.Conn) { c.Write([]byte{'!'}) })
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(b.Context())
	tel, err := telemetry.New(&telemetry.Options{MeterProvider: mp})
	if err != nil {
		b.Fatal(err)
	}
	sides := []struct {
		name string
		dial func() (net.Conn, error)
	}{
		{"raw", func() (net.Conn, error) { var d net.Dialer; return d.DialContext(b.Context(), "tcp", srv.Addr()) }},
		{"outbound", func() (net.Conn, error) { return sockets.Dial(b.Context(), srv.Addr(), nil) }},
		{"telemetry", func() (net.Conn, error) {
			return sockets.Dial(b.Context(), srv.Addr(), &sockets.Options{Layers: []sockets.Layer{tel}})
		}},
	}
	for _, side := range sides {
		b.Run("side="+side.name, func(b *testing.B) {
			var buf [1]byte
			b.ReportAllocs()
			for b.Loop() {
				c, err := side.dial()
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
}
