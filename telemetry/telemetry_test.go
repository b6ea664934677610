package telemetry_test

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
	"github.com/outboundhq/outbound/telemetry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fixture struct {
	reader *sdkmetric.ManualReader
	spans  *tracetest.SpanRecorder
	tel    *telemetry.Telemetry
	dialer *dialers.Dialer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder()}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(f.reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(f.spans))
	t.Cleanup(func() {
		mp.Shutdown(context.Background())
		tp.Shutdown(context.Background())
	})
	var err error
	f.tel, err = telemetry.New(&telemetry.Options{MeterProvider: mp, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	f.dialer = &dialers.Dialer{Options: &sockets.Options{Layers: []sockets.Layer{f.tel}}}
	return f
}

func (f *fixture) collect(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := f.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// sum returns the value of an int64 sum's data point whose attributes
// include want (all of them), or -1 when there is none.
func sum(t *testing.T, ms map[string]metricdata.Metrics, name string, want ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := ms[name]
	if !ok {
		return -1
	}
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		t.Fatalf("%s is a %T, want an int64 sum", name, m.Data)
	}
	var total int64 = -1
	for _, dp := range s.DataPoints {
		if hasAll(dp.Attributes, want) {
			if total < 0 {
				total = 0
			}
			total += dp.Value
		}
	}
	return total
}

func hasAll(set attribute.Set, want []attribute.KeyValue) bool {
	for _, kv := range want {
		v, ok := set.Value(kv.Key)
		if !ok || v != kv.Value {
			return false
		}
	}
	return true
}

func histCount(t *testing.T, ms map[string]metricdata.Metrics, name string, want ...attribute.KeyValue) uint64 {
	t.Helper()
	h, ok := ms[name].Data.(metricdata.Histogram[float64])
	if !ok {
		return 0
	}
	var n uint64
	for _, dp := range h.DataPoints {
		if hasAll(dp.Attributes, want) {
			n += dp.Count
		}
	}
	return n
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestConnectionCountsBytesAndSpan(t *testing.T) {
	f := newFixture(t)
	srv, err := sockettest.NewEcho()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := f.dialer.DialContext(ctxT(t), "tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	ms := f.collect(t)
	if got := sum(t, ms, "outbound.connections.opened"); got != 1 {
		t.Errorf("connections.opened = %d, want 1", got)
	}
	if got := sum(t, ms, "outbound.connections.open"); got != 1 {
		t.Errorf("connections.open = %d while open, want 1", got)
	}
	if got := sum(t, ms, "outbound.io", attribute.String("network.io.direction", "transmit")); got != 5 {
		t.Errorf("io transmit = %d, want 5", got)
	}
	if got := sum(t, ms, "outbound.io", attribute.String("network.io.direction", "receive")); got != 5 {
		t.Errorf("io receive = %d, want 5", got)
	}
	if n := histCount(t, ms, "outbound.connect.duration", attribute.String("outcome", "ok")); n != 1 {
		t.Errorf("connect.duration{outcome=ok} has %d samples, want 1", n)
	}
	c.Close()
	c.Close()
	ms = f.collect(t)
	if got := sum(t, ms, "outbound.connections.open"); got != 0 {
		t.Errorf("connections.open = %d after Close (twice), want 0", got)
	}
	// No hostname or address in any metric attribute.
	for name, m := range ms {
		for _, set := range attrSets(m) {
			for _, kv := range set.ToSlice() {
				if v := kv.Value.String(); v == srv.Host() || v == srv.Addr() {
					t.Errorf("metric %s carries the address %q in %s", name, v, kv.Key)
				}
			}
		}
	}
	spans := f.spans.Ended()
	if len(spans) != 1 || spans[0].Name() != "outbound.connect" {
		t.Fatalf("spans = %v, want one outbound.connect", spans)
	}
	attrs := attribute.NewSet(spans[0].Attributes()...)
	if v, _ := attrs.Value("server.address"); v.AsString() != srv.Host() {
		t.Errorf("span server.address = %q, want %q", v.AsString(), srv.Host())
	}
	if v, _ := attrs.Value("network.peer.port"); v.AsInt64() != int64(srv.Port()) {
		t.Errorf("span network.peer.port = %d, want %d", v.AsInt64(), srv.Port())
	}
}

func attrSets(m metricdata.Metrics) []attribute.Set {
	var out []attribute.Set
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		for _, dp := range d.DataPoints {
			out = append(out, dp.Attributes)
		}
	case metricdata.Histogram[float64]:
		for _, dp := range d.DataPoints {
			out = append(out, dp.Attributes)
		}
	}
	return out
}

func TestFailuresByType(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	if _, err := f.dialer.DialContext(ctxT(t), "tcp", closed); err == nil {
		t.Fatal("dial to a closed port succeeded")
	}
	// A dial that never answers, bounded by ctx.
	ctx, cancel := context.WithTimeout(ctxT(t), 50*time.Millisecond)
	defer cancel()
	blackhole := &dialers.Dialer{Options: &sockets.Options{Layers: []sockets.Layer{f.tel},
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) { <-ctx.Done(); return nil, ctx.Err() }}}
	if _, err := blackhole.DialContext(ctx, "tcp", "127.0.0.1:9"); err == nil {
		t.Fatal("dial that never answers succeeded")
	}
	ms := f.collect(t)
	if got := sum(t, ms, "outbound.connections.failed", attribute.String("error.type", "refused")); got != 1 {
		t.Errorf("failed{refused} = %d, want 1", got)
	}
	if got := sum(t, ms, "outbound.connections.failed", attribute.String("error.type", "timeout")); got != 1 {
		t.Errorf("failed{timeout} = %d, want 1", got)
	}
	if got := sum(t, ms, "outbound.connections.opened"); got > 0 {
		t.Errorf("connections.opened = %d, want none", got)
	}
	if n := histCount(t, ms, "outbound.connect.duration", attribute.String("outcome", "error")); n != 2 {
		t.Errorf("connect.duration{outcome=error} has %d samples, want 2", n)
	}
	for _, s := range f.spans.Ended() {
		if s.Status().Code.String() != "Error" {
			t.Errorf("span of a failed attempt has status %v, want Error", s.Status())
		}
	}
}

func TestNoSpansWithoutTracer(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	tel, err := telemetry.New(&telemetry.Options{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sockettest.NewEcho()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	s, err := sockets.Dial(ctxT(t), srv.Addr(), &sockets.Options{Layers: []sockets.Layer{tel}})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := telemetry.New(nil); err != nil {
		t.Fatalf("New(nil): %v", err)
	}
}

func TestEgressDecisions(t *testing.T) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())
	em := &egress.Metrics{}
	tel, err := telemetry.New(&telemetry.Options{MeterProvider: mp, Metrics: em})
	if err != nil {
		t.Fatal(err)
	}
	policy, err := egress.NewPolicy(egress.PolicyConfig{
		Default: egress.Deny, Metrics: em,
		Rules: []egress.Rule{{Name: "local", Action: egress.Allow, Addrs: []string{"loopback"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sockettest.NewEcho()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	opts := &sockets.Options{Policy: policy, Layers: []sockets.Layer{tel}}
	s, err := sockets.Dial(ctxT(t), srv.Addr(), opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, denied := range []string{"192.0.2.1:443", "198.51.100.7:80"} {
		if _, err := sockets.Dial(ctxT(t), denied, opts); err == nil {
			t.Fatalf("%s was allowed", denied)
		}
	}
	f := &fixture{reader: reader}
	ms := f.collect(t)
	if got := sum(t, ms, "outbound.egress.decisions", attribute.String("result", "allowed")); got != 1 {
		t.Errorf("decisions{allowed} = %d, want 1", got)
	}
	if got := sum(t, ms, "outbound.egress.decisions", attribute.String("result", "denied"), attribute.String("reason", egress.ReasonDefault)); got != 2 {
		t.Errorf("decisions{denied, default} = %d, want 2", got)
	}
	if err := tel.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.collect(t)["outbound.egress.decisions"]; ok {
		t.Error("decisions still exported after Close")
	}
}

func TestTLSHandshakeDuration(t *testing.T) {
	f := newFixture(t)
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	srvCfg, err := ca.ServerConfig("localhost")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sockettest.NewTLSServer(srvCfg, func(c net.Conn) { io.Copy(c, c) })
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cfg := ca.ClientConfig()
	cfg.ServerName = "localhost"
	s, err := sockets.Dial(ctxT(t), srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: cfg, Layers: []sockets.Layer{f.tel}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(s, make([]byte, 4)); err != nil {
		t.Fatalf("echo through a TLS socket with Telemetry: %v", err)
	}
	s.Close()
	if n := histCount(t, f.collect(t), "outbound.tls.handshake.duration"); n != 1 {
		t.Fatalf("tls.handshake.duration has %d samples, want 1", n)
	}
}
