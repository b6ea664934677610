package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/internal/policygen"
	"github.com/outboundhq/outbound/sockets"
)

// policyRules is the shared 1,000-rule policy plus a rule that allows the
// benchmark's own server (loopback, which the policy does not deny).
func policyRules() []egress.Rule {
	return policygen.Rules(egress.Rule{Name: "bench", Action: egress.Allow, Hosts: []string{"bench.internal"}, Addrs: []string{"loopback"}})
}

var policyQueries = policygen.Queries()

// scanRule and scanDecide are the policy written as the obvious loop over
// rules with string and prefix comparisons: the baseline ("raw") that the
// indexed policy is compared with. They implement the same precedence.
type scanRule struct {
	deny     bool
	hosts    []string // exact, or ".suffix" for "*.suffix"
	prefixes []netip.Prefix
	classes  []string
	ports    [][2]int
}

func compileScan(rules []egress.Rule) []scanRule {
	out := make([]scanRule, len(rules))
	for i, r := range rules {
		sr := scanRule{deny: r.Action == egress.Deny}
		for _, h := range r.Hosts {
			sr.hosts = append(sr.hosts, strings.TrimPrefix(h, "*"))
		}
		for _, a := range r.Addrs {
			if p, err := netip.ParsePrefix(a); err == nil {
				sr.prefixes = append(sr.prefixes, p)
			} else {
				sr.classes = append(sr.classes, a)
			}
		}
		for _, p := range r.Ports {
			lo, hi, _ := strings.Cut(p, "-")
			l, _ := strconv.Atoi(lo)
			h := l
			if hi != "" {
				h, _ = strconv.Atoi(hi)
			}
			sr.ports = append(sr.ports, [2]int{l, h})
		}
		out[i] = sr
	}
	return out
}

func scanDecide(rules []scanRule, q policygen.Query) bool {
	classes := egress.AddrClasses(q.IP)
	match := func(r *scanRule) bool {
		if len(r.hosts) > 0 {
			ok := false
			for _, h := range r.hosts {
				if h == q.Host || strings.HasPrefix(h, ".") && strings.HasSuffix(q.Host, h) {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
		if len(r.ports) > 0 {
			ok := false
			for _, p := range r.ports {
				if q.Port >= p[0] && q.Port <= p[1] {
					ok = true
					break
				}
			}
			if !ok {
				return false
			}
		}
		if len(r.prefixes)+len(r.classes) > 0 {
			ok := false
			for _, p := range r.prefixes {
				if p.Contains(q.IP) {
					ok = true
					break
				}
			}
			for _, c := range r.classes {
				for _, have := range classes {
					if c == have {
						ok = true
					}
				}
			}
			if !ok {
				return false
			}
		}
		return true
	}
	allowed := false
	for i := range rules {
		if match(&rules[i]) {
			if rules[i].deny {
				return false
			}
			allowed = true
		}
	}
	return allowed
}

// timeLoop runs f repeatedly for about d and returns the mean ns per call.
func timeLoop(d time.Duration, f func(i int)) float64 {
	n := 0
	start := time.Now()
	for time.Since(start) < d {
		for j := 0; j < 1000; j++ {
			f(n)
			n++
		}
	}
	return float64(time.Since(start).Nanoseconds()) / float64(n)
}

// policy decision at 10 / 1,000 / 10,000 / 100,000 rules: the time of one
// decision (host, address, port) by Policy.Decide (outbound) and by a plain
// scan over the same rules (raw). 1,000 is the shared policygen policy;
// the other sizes scale its mix (scaledRules). Targets are absolute: at
// most 2,000 ns at 1,000 rules and 1,000 ns at 100,000. Then compiling
// 100,000 rules: the time and the live heap of egress.NewPolicy (outbound)
// and of the scan's own compilation (raw), at most 100 ms and 16 MiB.
func init() {
	for _, n := range []int{10, 1000, 10000, 100000} {
		var (
			policy *egress.Policy
			scan   []scanRule
		)
		var target Target
		switch n {
		case 1000:
			target = Target{AtMost: 2000, Absolute: true}
		case 100000:
			target = Target{AtMost: 1000, Absolute: true}
		}
		register(Workload{
			Name:   "policy decision, " + thousands(n) + " rules",
			Unit:   "ns",
			Target: target,
			Series: "policy decision (ns)",
			X:      thousands(n),
			Setup: func(context.Context) (func(), error) {
				rules := scaledRules(n)
				var err error
				policy, err = egress.NewPolicy(egress.PolicyConfig{Default: egress.Deny, Rules: rules})
				scan = compileScan(rules)
				return func() { policy, scan = nil, nil }, err
			},
			Run: func(_ context.Context, outbound bool) (float64, error) {
				if outbound {
					return timeLoop(300*time.Millisecond, func(i int) {
						q := policyQueries[i%len(policyQueries)]
						policy.Decide(q.Host, q.IP, q.Port)
					}), nil
				}
				return timeLoop(300*time.Millisecond, func(i int) {
					scanDecide(scan, policyQueries[i%len(policyQueries)])
				}), nil
			},
		})
	}

	const big = 100000
	var rules []egress.Rule
	compile := func(outbound bool) (d time.Duration, heap uint64, err error) {
		settle()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		var keep any
		if outbound {
			keep, err = egress.NewPolicy(egress.PolicyConfig{Default: egress.Deny, Rules: rules})
		} else {
			keep = compileScan(rules)
		}
		d = time.Since(start)
		settle()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(keep)
		return d, after.HeapAlloc - min(after.HeapAlloc, before.HeapAlloc), err
	}
	setup := func(context.Context) (func(), error) {
		rules = scaledRules(big)
		return func() { rules = nil }, nil
	}
	register(Workload{
		Name:   "policy compile, 100,000 rules",
		Unit:   "ms",
		Target: Target{AtMost: 100, Absolute: true},
		Setup:  setup,
		Run: func(_ context.Context, outbound bool) (float64, error) {
			d, _, err := compile(outbound)
			return float64(d) / float64(time.Millisecond), err
		},
	})
	register(Workload{
		Name:   "policy compile heap, 100,000 rules",
		Unit:   "MiB",
		Target: Target{AtMost: 16, Absolute: true},
		Rounds: 3,
		Setup:  setup,
		Run: func(_ context.Context, outbound bool) (float64, error) {
			_, h, err := compile(outbound)
			return float64(h) / (1 << 20), err
		},
	})
}

// policy swap under 128 concurrent connects: 128 goroutines each make
// swapDecisions decisions through one PolicyHolder holding a 100,000-rule
// policy (holder.Policy().Decide on the query mix: the policy read of
// Connect's CheckConnect, and its decision), timing each; the figure is the
// 99th percentile of those times, in ns. On both sides another goroutine
// compiles fresh 100,000-rule policies all the while, one after the other;
// outbound stores each in the holder, raw drops it. So the two sides carry
// the same compiling load (on 2 cores it takes a core and the caches from
// the deciders), and the ratio is what the swaps themselves cost the
// decisions. A swap is an atomic store and compiling takes no lock, so a
// decision never waits for one: the ratio is at most 1.10. (The maximum
// would measure the scheduler, so it is not the figure.)
func init() {
	const (
		goroutines    = 128
		swapDecisions = 16384
	)
	var (
		rules   []egress.Rule
		holder  *egress.PolicyHolder
		samples []uint32 // per goroutine, swapDecisions of them
	)
	register(Workload{
		Name:   "policy swap under 128 concurrent connects",
		Unit:   "ns",
		Target: Target{AtMost: 1.10},
		Setup: func(context.Context) (func(), error) {
			rules = scaledRules(100000)
			p, err := egress.NewPolicy(egress.PolicyConfig{Default: egress.Deny, Rules: rules})
			holder = egress.NewPolicyHolder(p)
			samples = make([]uint32, goroutines*swapDecisions)
			return func() { rules, holder, samples = nil, nil, nil }, err
		},
		Run: func(ctx context.Context, outbound bool) (float64, error) {
			var (
				done     = make(chan struct{})
				compiled atomic.Int64
				swapErr  error
				swapper  sync.WaitGroup
			)
			swapper.Add(1)
			go func() {
				defer swapper.Done()
				for {
					select {
					case <-done:
						return
					default:
					}
					p, err := egress.NewPolicy(egress.PolicyConfig{Default: egress.Deny, Rules: rules})
					if err != nil {
						swapErr = err
						return
					}
					if outbound {
						holder.Store(p)
					}
					compiled.Add(1)
				}
			}()
			var wg sync.WaitGroup
			for g := 0; g < goroutines; g++ {
				wg.Add(1)
				go func(out []uint32) {
					defer wg.Done()
					for i := range out {
						q := policyQueries[(g+i)%len(policyQueries)]
						start := time.Now()
						holder.Policy().Decide(q.Host, q.IP, q.Port)
						out[i] = uint32(min(time.Since(start), time.Second))
					}
				}(samples[g*swapDecisions : (g+1)*swapDecisions])
			}
			wg.Wait()
			close(done)
			swapper.Wait()
			if swapErr != nil {
				return 0, swapErr
			}
			if compiled.Load() == 0 {
				return 0, fmt.Errorf("no policy was compiled while the decisions ran")
			}
			return float64(percentile(samples, 99)), ctx.Err()
		},
	})
}

// percentile returns the p-th percentile of the times in ns, counted into
// 1 ns buckets (times of 64 µs and more share the last).
func percentile(times []uint32, p int) int {
	const top = 1 << 16
	var counts [top + 1]int
	for _, t := range times {
		counts[min(t, top)]++
	}
	rank := len(times) * p / 100
	for t, c := range counts {
		if rank -= c; rank < 0 {
			return t
		}
	}
	return top
}

// scaledRules returns n rules in the mix of policygen.Rules (policyRules
// for n = 1,000), the bench's own allow rule last.
func scaledRules(n int) []egress.Rule {
	return policygen.Scaled(n, egress.Rule{Name: "bench", Action: egress.Allow, Hosts: []string{"bench.internal"}, Addrs: []string{"loopback"}})
}

// connect+first byte+close with a 1,000-rule policy (and Metrics): µs per
// connection to a peer in a child process on 127.0.0.1 that writes one byte
// on accept and closes first. Raw is a net.Dialer to 127.0.0.1; outbound is
// sockets.Connect to the name "bench.internal" under the 1,000-rule policy,
// whose in-memory resolver answers 127.0.0.1, so every connection takes the
// full checked path (a decision on the name at Connect, one on the resolved
// address, and one in the dialer's Control hook on the address actually
// connected), then Read of one byte and Close. The sides interleave in
// batches, as the other connection rows do (see pairedBatches).
func init() {
	var (
		peer   *peerProc
		policy *egress.Policy
	)
	register(Workload{
		Name:   "connect+first byte+close with a 1,000-rule policy",
		Unit:   "µs",
		Target: Target{AtMost: 1.10},
		Rounds: coreRounds,
		Setup: func(context.Context) (func(), error) {
			var err error
			policy, err = egress.NewPolicy(egress.PolicyConfig{
				Default:  egress.Deny,
				Rules:    policyRules(),
				Resolver: benchResolver{},
				Metrics:  &benchMetrics,
			})
			if err != nil {
				return nil, err
			}
			if peer, err = startPeer(peerFirst, 1, nil); err != nil {
				return nil, err
			}
			return peer.stop, nil
		},
		Paired: func(ctx context.Context) (Pair, error) {
			_, port, err := net.SplitHostPort(peer.addr())
			if err != nil {
				return Pair{}, err
			}
			opts := &sockets.Options{Policy: policy}
			var d net.Dialer
			b := make([]byte, 1)
			n := int(pick(3200, 800)) / connBatches
			return pairedBatches(ctx, connBatches, n, func(outbound bool) error {
				var c net.Conn
				var err error
				if outbound {
					c, err = sockets.Connect(ctx, "bench.internal:"+port, opts)
				} else {
					c, err = d.DialContext(ctx, "tcp", "127.0.0.1:"+port)
				}
				if err != nil {
					return err
				}
				_, err = io.ReadFull(c, b)
				c.Close()
				return err
			})
		},
	})
}

// benchMetrics counts the policy workload's decisions, sockets and bytes,
// as a production policy would.
var benchMetrics egress.Metrics

type benchResolver struct{}

func (benchResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}
