package main

import (
	"context"
	"errors"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestTargetMet(t *testing.T) {
	for _, c := range []struct {
		t          Target
		raw, value float64
		want       bool
	}{
		{Target{AtLeast: 0.97}, 100, 98, true},
		{Target{AtLeast: 0.97}, 100, 96, false},
		{Target{AtMost: 1.05}, 100, 104, true},
		{Target{AtMost: 1.05}, 100, 106, false},
		{Target{AtMost: 2000, Absolute: true}, 9, 1999, true},
		{Target{AtMost: 2000, Absolute: true}, 0.1, 2001, false},
		{Target{AtMost: 512, Delta: true}, 1000, 1500, true},
		{Target{AtMost: 512, Delta: true}, 1000, 1600, false},
		{Target{AtMost: 0, Delta: true}, 3, 3, true},
		{Target{AtMost: 0, Delta: true}, 3, 4, false},
	} {
		if got := c.t.met(c.raw, c.value); got != c.want {
			t.Errorf("%v.met(raw %v, outbound %v) = %v", c.t, c.raw, c.value, got)
		}
	}
}

// measure alternates the sides, reports the medians and their ratio, and
// turns a failing round into an error row rather than a number.
func TestMeasure(t *testing.T) {
	var order []bool
	w := Workload{Name: "x", Target: Target{AtLeast: 0.9}, Run: func(_ context.Context, ob bool) (float64, error) {
		order = append(order, ob)
		if ob {
			return 95, nil
		}
		return 100, nil
	}}
	r := measure(context.Background(), w, 3)
	if r.Raw != 100 || r.Outbound != 95 || r.Ratio != 0.95 || !r.Met || r.Error != "" {
		t.Fatalf("measure = %+v", r)
	}
	// warm-up raw, outbound; then rounds alternate which side goes first.
	if len(order) != 8 || order[2] != false || order[4] != true {
		t.Fatalf("side order = %v", order)
	}
	w.Run = func(context.Context, bool) (float64, error) { return 0, errors.New("boom") }
	if r := measure(context.Background(), w, 3); r.Error == "" {
		t.Fatal("a failing workload was not reported as an error")
	}
	w.Needs = "OUTBOUND_TEST_SURELY_UNSET"
	if r := measure(context.Background(), w, 3); r.Skipped == "" {
		t.Fatal("a workload whose server variable is unset was not skipped")
	}
}

// A paired row's ratio is the median of its rounds' own ratios: drift of
// the machine between rounds, which moves both sides of a round together,
// does not move it, while the ratio of the two sides' medians would.
func TestMeasurePairedRatio(t *testing.T) {
	rounds := []Pair{
		{Raw: 500, Outbound: 500}, // the warm-up, not counted
		{Raw: 100, Outbound: 95},
		{Raw: 200, Outbound: 192},
		{Raw: 150, Outbound: 141},
	}
	next := 0
	w := Workload{Name: "x", Target: Target{AtLeast: 0.95}, Paired: func(context.Context) (Pair, error) {
		p := rounds[next]
		next++
		return p, nil
	}}
	r := measure(context.Background(), w, 3)
	if r.Error != "" || r.Raw != 150 || r.Outbound != 141 {
		t.Fatalf("measure = %+v", r)
	}
	if r.Ratio != 0.95 || !r.Met {
		t.Fatalf("ratio %v met %v; want the median of the rounds' ratios (0.94, 0.95, 0.96): 0.95, met", r.Ratio, r.Met)
	}
	// A Delta target still bounds the difference of the medians.
	next = 0
	w.Target = Target{AtMost: 0, Delta: true}
	if r := measure(context.Background(), w, 3); !r.Met || r.Delta != -9 || r.Ratio != 0.94 {
		t.Fatalf("delta row = %+v; want Δ −9 (met: ≤ 0) and the ratio of the medians, 0.94", r)
	}
	next = 0
	w.Target = Target{AtMost: -10, Delta: true}
	if r := measure(context.Background(), w, 3); r.Met {
		t.Fatalf("delta row = %+v; Δ −9 met a bound of −10", r)
	}
}
