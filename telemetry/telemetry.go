package telemetry

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
)

// ScopeName is the instrumentation scope of the meter and tracer.
const ScopeName = "github.com/outboundhq/outbound/telemetry"

// Options configure [New]. A nil *Options means the global providers and no
// spans.
type Options struct {
	// MeterProvider makes the instruments; nil means otel.GetMeterProvider().
	MeterProvider metric.MeterProvider

	// TracerProvider, when set, gives a span per connection attempt (a child
	// of the span in the connect's ctx), with the target host and port, the
	// address connected to, the outcome and the durations as attributes.
	// Nil means no spans.
	TracerProvider trace.TracerProvider

	// Metrics, when set, is exported too: the egress decisions of the
	// policies that count into it (egress.PolicyConfig.Metrics), by result
	// (allowed, denied, reported) and reason, and the Connects a fail-fast
	// scope refused. Give the same Metrics to the policy and here.
	Metrics *egress.Metrics
}

// Telemetry records what every socket that uses it did as OpenTelemetry
// metrics (and, optionally, spans). It is a [sockets.Layer]: put it in
// [sockets.Options].Layers, or on the one dialers.Dialer every adapter takes.
// Metric attributes carry no hostnames or addresses, only fixed sets of
// values (outcome, error type, direction), so their cardinality is bounded;
// hosts appear on spans only. It is safe for concurrent use.
type Telemetry struct {
	tracer trace.Tracer

	opened   metric.Int64Counter
	open     metric.Int64UpDownCounter
	connect  metric.Float64Histogram
	handshk  metric.Float64Histogram
	bytes    metric.Int64Counter
	failures metric.Int64Counter
	reg      metric.Registration // the egress.Metrics callback, or nil
}

var _ sockets.TLSLayer = (*Telemetry)(nil)

// HandshakeTLS times each TLS handshake a socket runs over a connection
// this Telemetry's Dial returned ("on" and StartTLS): the time from the
// handshake's start to its success goes into outbound.tls.handshake.duration.
// It implements [sockets.TLSLayer]; it does not wrap the plaintext.
func (t *Telemetry) HandshakeTLS(_ net.Conn, _ *tls.Config) func(net.Conn) net.Conn {
	start := time.Now()
	return func(plain net.Conn) net.Conn {
		t.handshk.Record(context.Background(), time.Since(start).Seconds())
		return plain
	}
}

// New makes the instruments.
func New(opts *Options) (*Telemetry, error) {
	var mp metric.MeterProvider
	var tp trace.TracerProvider
	if opts != nil {
		mp, tp = opts.MeterProvider, opts.TracerProvider
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(ScopeName)
	t := &Telemetry{}
	if tp != nil {
		t.tracer = tp.Tracer(ScopeName)
	}
	var errs []error
	add := func(err error) { errs = append(errs, err) }
	var err error
	t.opened, err = m.Int64Counter("outbound.connections.opened", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections opened (TCP connected, through any proxy)."))
	add(err)
	t.open, err = m.Int64UpDownCounter("outbound.connections.open", metric.WithUnit("{connection}"),
		metric.WithDescription("Connections open now."))
	add(err)
	t.failures, err = m.Int64Counter("outbound.connections.failed", metric.WithUnit("{connection}"),
		metric.WithDescription("Connection attempts that failed, by error type."))
	add(err)
	t.connect, err = m.Float64Histogram("outbound.connect.duration", metric.WithUnit("s"),
		metric.WithDescription("Time to open the TCP connection: resolving, the dial-time egress decisions, connecting, and any proxy handshake."),
		metric.WithExplicitBucketBoundaries(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
	add(err)
	t.handshk, err = m.Float64Histogram("outbound.tls.handshake.duration", metric.WithUnit("s"),
		metric.WithDescription("Time of the TLS handshakes of sockets (\"on\" and StartTLS)."),
		metric.WithExplicitBucketBoundaries(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
	add(err)
	t.bytes, err = m.Int64Counter("outbound.io", metric.WithUnit("By"),
		metric.WithDescription("Bytes on the wire (ciphertext for TLS), by network.io.direction."))
	add(err)
	if opts != nil && opts.Metrics != nil {
		add(t.observe(m, opts.Metrics))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// observe exports an egress.Metrics through observable counters, read when
// the exporter collects.
func (t *Telemetry) observe(m metric.Meter, em *egress.Metrics) error {
	decisions, err := m.Int64ObservableCounter("outbound.egress.decisions", metric.WithUnit("{decision}"),
		metric.WithDescription("Egress policy decisions, by result (allowed, denied, reported) and reason."))
	if err != nil {
		return err
	}
	limited, err := m.Int64ObservableCounter("outbound.scope.limited", metric.WithUnit("{connect}"),
		metric.WithDescription("Connects refused because their scope's limit was reached (fail-fast scopes)."))
	if err != nil {
		return err
	}
	allowed := metric.WithAttributeSet(attribute.NewSet(attribute.String("result", "allowed")))
	t.reg, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := em.Stats()
		o.ObserveInt64(decisions, int64(s.Allowed), allowed)
		for reason, n := range s.Denied {
			o.ObserveInt64(decisions, int64(n), metric.WithAttributes(attribute.String("result", "denied"), attribute.String("reason", reason)))
		}
		for reason, n := range s.Reported {
			o.ObserveInt64(decisions, int64(n), metric.WithAttributes(attribute.String("result", "reported"), attribute.String("reason", reason)))
		}
		o.ObserveInt64(limited, int64(s.Limited))
		return nil
	}, decisions, limited)
	return err
}

// Close stops exporting Options.Metrics. The Layer keeps working.
func (t *Telemetry) Close() error {
	if t.reg == nil {
		return nil
	}
	return t.reg.Unregister()
}

var (
	outcomeOK    = metric.WithAttributeSet(attribute.NewSet(attribute.String("outcome", "ok")))
	outcomeError = attribute.String("outcome", "error")
	dirTransmit  = metric.WithAttributeSet(attribute.NewSet(attribute.String("network.io.direction", "transmit")))
	dirReceive   = metric.WithAttributeSet(attribute.NewSet(attribute.String("network.io.direction", "receive")))
)

// Dial runs the connection attempt, timing it and counting the connection
// while it is open. It implements [sockets.Layer].
func (t *Telemetry) Dial(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error) {
	var span trace.Span
	if t.tracer != nil {
		ctx, span = t.tracer.Start(ctx, "outbound.connect", trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(attribute.String("server.address", a.Hostname), attribute.Int("server.port", a.Port),
				attribute.String("network.transport", "tcp")))
	}
	start := time.Now()
	c, err := next(ctx)
	d := time.Since(start).Seconds()
	if err != nil {
		typ := errorType(ctx, err)
		set := metric.WithAttributeSet(attribute.NewSet(outcomeError, attribute.String("error.type", typ)))
		t.connect.Record(ctx, d, set)
		t.failures.Add(ctx, 1, set)
		if span != nil {
			span.SetAttributes(attribute.String("error.type", typ))
			span.RecordError(err)
			span.SetStatus(codes.Error, typ)
			span.End()
		}
		return nil, err
	}
	t.connect.Record(ctx, d, outcomeOK)
	t.opened.Add(ctx, 1)
	t.open.Add(ctx, 1)
	if span != nil {
		if ra := c.RemoteAddr(); ra != nil {
			if host, port, err := net.SplitHostPort(ra.String()); err == nil {
				p, _ := strconv.Atoi(port)
				span.SetAttributes(attribute.String("network.peer.address", host), attribute.Int("network.peer.port", p))
			}
		}
		span.SetAttributes(attribute.Float64("outbound.connect.duration", d))
		span.End()
	}
	return newConn(c, t), nil
}

// errorType classifies a connect error into a small fixed set, for metric
// attributes.
func errorType(ctx context.Context, err error) string {
	var ne net.Error
	var dns *net.DNSError
	switch {
	case errors.Is(err, sockets.ErrDenied):
		return "denied"
	case errors.Is(err, sockets.ErrLimit):
		return "limit"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout(), ctx.Err() != nil:
		return "timeout"
	case errors.As(err, &dns):
		return "dns"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable"
	}
	return "other"
}
