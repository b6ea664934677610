// Package telemetrydemo is the telemetry example, run by
// `go run ./examples/telemetry` and by the tour. It routes sockets through
// one dialer whose Layers hold a telemetry.Telemetry and whose policy counts
// into an egress.Metrics, makes a few connections (one the policy refuses),
// and serves the OpenTelemetry metrics through the Prometheus exporter.
//
//	go run ./examples/telemetry                          # connect, scrape once, print the outbound_* series
//	go run ./examples/telemetry -serve -listen :9464     # keep serving /metrics until interrupted
//
// The metrics carry no hostnames or addresses as labels, only fixed sets of
// values (outcome, error type, direction, decision result and reason).
package telemetrydemo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
	"github.com/outboundhq/outbound/telemetry"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("telemetry")
	listen := fs.String("listen", "127.0.0.1:0", "`address` to serve /metrics on")
	serve := fs.Bool("serve", false, "keep serving /metrics until interrupted")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()

	// The Prometheus exporter is an OpenTelemetry reader with a registry of its own.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutTargetInfo(), otelprom.WithoutScopeInfo())
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())

	metrics := &egress.Metrics{}
	tel, err := telemetry.New(&telemetry.Options{MeterProvider: mp, Metrics: metrics})
	if err != nil {
		return err
	}
	defer tel.Close()
	policy, err := egress.NewPolicy(egress.PolicyConfig{
		Default: egress.Deny, Metrics: metrics,
		Rules: []egress.Rule{{Name: "local-peer", Action: egress.Allow, Addrs: []string{"loopback"}}},
	})
	if err != nil {
		return err
	}
	d := fs.Dialer() // the common flags' options (-capture, -trace), then this example's
	d.Options.Policy = policy
	d.Options.Layers = append(d.Options.Layers, tel)

	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: metricsMux(reg), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/metrics"
	fmt.Fprintln(stdout, "serving OpenTelemetry metrics (Prometheus text format) on", url)

	if err := traffic(ctx, d, stdout); err != nil {
		return err
	}
	if *serve {
		fmt.Fprintln(stdout, "serving until interrupted")
		<-ctx.Done()
		return nil
	}
	return scrape(ctx, url, stdout)
}

func metricsMux(reg *prometheus.Registry) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// traffic makes what the metrics show: three echoed connections to an
// in-process peer, and one connection the policy refuses.
func traffic(ctx context.Context, d *dialers.Dialer, stdout io.Writer) error {
	peer, err := sockettest.NewEcho()
	if err != nil {
		return err
	}
	defer peer.Close()
	for i := range 3 {
		c, err := d.DialContext(ctx, "tcp", peer.Addr())
		if err != nil {
			return err
		}
		msg := fmt.Sprintf("hello %d\n", i)
		if _, err := io.WriteString(c, msg); err != nil {
			c.Close()
			return err
		}
		if _, err := io.ReadFull(c, make([]byte, len(msg))); err != nil {
			c.Close()
			return err
		}
		c.Close()
	}
	fmt.Fprintln(stdout, "3 connections to", peer.Addr(), "echoed")
	_, err = d.DialContext(ctx, "tcp", "192.0.2.10:443")
	if !errors.Is(err, sockets.ErrDenied) {
		return fmt.Errorf("a connection to 192.0.2.10:443 was not denied: %v", err)
	}
	fmt.Fprintln(stdout, "denied:", err)
	return nil
}

// scrape fetches url and prints the outbound_ series.
func scrape(ctx context.Context, url string, stdout io.Writer) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "outbound_") && !strings.Contains(l, "_bucket{") {
			fmt.Fprintln(stdout, " ", l)
		}
	}
	return sc.Err()
}
