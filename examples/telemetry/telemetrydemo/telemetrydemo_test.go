package telemetrydemo_test

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/examples/telemetry/telemetrydemo"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer safe to write from Run and read from the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The example serves its metrics; scrape the endpoint as Prometheus would and
// parse it with Prometheus's own text parser.
func TestScrapeServedMetrics(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- telemetrydemo.Run(ctx, []string{"-serve"}, &out) }()
	url := regexp.MustCompile(`http://\S+/metrics`)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "serving until interrupted") {
		if time.Now().After(deadline) {
			t.Fatalf("the example did not start serving:\n%s", out.String())
		}
		select {
		case err := <-done:
			t.Fatalf("Run ended early: %v\n%s", err, out.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	u := url.FindString(out.String())
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("Prometheus's parser refused the exposition: %v", err)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f, ok := families[name]
		if !ok {
			t.Fatalf("no metric family %s among %d", name, len(families))
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, labels) {
				switch {
				case m.Counter != nil:
					return m.Counter.GetValue()
				case m.Gauge != nil:
					return m.Gauge.GetValue()
				case m.Histogram != nil:
					return float64(m.Histogram.GetSampleCount())
				}
			}
		}
		t.Fatalf("%s has no series with %v", name, labels)
		return 0
	}
	if v := value("outbound_connections_opened_total", nil); v != 3 {
		t.Errorf("connections opened = %v, want 3", v)
	}
	if v := value("outbound_connections_open", nil); v != 0 {
		t.Errorf("connections open = %v, want 0", v)
	}
	if v := value("outbound_egress_decisions_total", map[string]string{"result": "denied", "reason": "default"}); v != 1 {
		t.Errorf("denied decisions = %v, want 1", v)
	}
	if v := value("outbound_egress_decisions_total", map[string]string{"result": "allowed"}); v != 3 {
		t.Errorf("allowed decisions = %v, want 3", v)
	}
	if v := value("outbound_connect_duration_seconds", map[string]string{"outcome": "ok"}); v != 3 {
		t.Errorf("connect duration samples = %v, want 3", v)
	}
	if v := value("outbound_io_bytes_total", map[string]string{"network_io_direction": "transmit"}); v != 24 {
		t.Errorf("bytes transmitted = %v, want 24", v)
	}
	// No label value is an address.
	for name, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if strings.Contains(l.GetValue(), "127.0.0.1") || strings.Contains(l.GetValue(), "192.0.2.10") {
					t.Errorf("%s carries an address label %s=%q", name, l.GetName(), l.GetValue())
				}
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func TestRunOnce(t *testing.T) {
	var out syncBuffer
	if err := telemetrydemo.Run(context.Background(), nil, &out); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"3 connections", "denied:", "outbound_connections_opened_total 3", `outbound_egress_decisions_total{reason="default",result="denied"} 1`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
