package faults

import (
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

func TestMatch(t *testing.T) {
	d := dest{host: "db.internal", port: 5432, ip: netip.MustParseAddr("10.1.2.3")}
	cases := []struct {
		m    Match
		want bool
	}{
		{Match{}, true},
		{Match{Host: "db.internal"}, true},
		{Match{Host: "DB.Internal."}, true},
		{Match{Host: "*.internal"}, true},
		{Match{Host: "*.db.internal"}, false},
		{Match{Host: "other"}, false},
		{Match{Port: 5432}, true},
		{Match{Port: 5433}, false},
		{Match{Prefix: netip.MustParsePrefix("10.0.0.0/8")}, true},
		{Match{Prefix: netip.MustParsePrefix("10.1.2.3/32")}, true},
		{Match{Prefix: netip.MustParsePrefix("192.168.0.0/16")}, false},
		{Match{Host: "*.internal", Port: 5432, Prefix: netip.MustParsePrefix("10.0.0.0/8")}, true},
		{Match{Host: "*.internal", Port: 1}, false},
	}
	for _, tc := range cases {
		if got, _ := tc.m.matches(d); got != tc.want {
			t.Errorf("%+v matches %+v = %v, want %v", tc.m, d, got, tc.want)
		}
	}
	if ok, need := (Match{Prefix: netip.MustParsePrefix("10.0.0.0/8")}).matches(dest{host: "db", port: 1}); ok || !need {
		t.Errorf("a Prefix on a destination with no IP yet: ok %v, needIP %v; want false, true", ok, need)
	}
}

func TestJitterAndSliceRanges(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	l := Latency{Latency: 50 * time.Millisecond, Jitter: 10 * time.Millisecond}
	lo, hi := time.Hour, time.Duration(0)
	for range 1000 {
		d := jitter(l, r)
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 40*time.Millisecond || hi >= 60*time.Millisecond || hi-lo < 15*time.Millisecond {
		t.Fatalf("jitter spans [%v, %v], want within [40ms, 60ms) and spread", lo, hi)
	}
	s := Slicer{AverageSize: 10, SizeVariation: 4}
	mn, mx := 100, 0
	for range 1000 {
		n := slice(s, r)
		mn, mx = min(mn, n), max(mx, n)
	}
	if mn != 6 || mx != 14 {
		t.Fatalf("slices span [%d, %d], want [6, 14]", mn, mx)
	}
}
