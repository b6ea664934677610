package egress_test

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/internal/policygen"
	"github.com/outboundhq/outbound/sockets"
)

// thousandRules is the shared 1,000-rule policy, denying by default.
func thousandRules() egress.PolicyConfig {
	return egress.PolicyConfig{Default: egress.Deny, Rules: policygen.Rules()}
}

func TestThousandRulePolicy(t *testing.T) {
	p := newPolicy(t, thousandRules())
	want := []bool{true, true, false, true, false, false, false, false}
	for i, q := range policygen.Queries() {
		if d := p.Decide(q.Host, q.IP, q.Port); d.Allowed != want[i] {
			t.Errorf("%+v: %s", q, d)
		}
	}
}

// BenchmarkPolicyDecision1000Rules measures one decision (host, address,
// port) against a 1,000-rule policy. The target is at most 2 µs.
func BenchmarkPolicyDecision1000Rules(b *testing.B) {
	p := newPolicy(b, thousandRules())
	qs := policygen.Queries()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := qs[i%len(qs)]
		p.Decide(q.Host, q.IP, q.Port)
	}
}

// BenchmarkPolicyDecision100000Rules is BenchmarkPolicyDecision1000Rules
// with 100,000 rules in the same mix (policygen.Scaled), as the bench
// program's "policy decision, 100,000 rules". The target is at most 1 µs.
func BenchmarkPolicyDecision100000Rules(b *testing.B) {
	p := newPolicy(b, egress.PolicyConfig{Default: egress.Deny, Rules: policygen.Scaled(100000)})
	qs := policygen.Queries()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := qs[i%len(qs)]
		p.Decide(q.Host, q.IP, q.Port)
	}
}

// BenchmarkPolicyCompile100000Rules is NewPolicy on the 100,000 rules of
// the bench program's "policy compile, 100,000 rules", for profiling
// (go test -cpuprofile). The target is at most 100 ms and 16 MiB retained.
func BenchmarkPolicyCompile100000Rules(b *testing.B) {
	rules := policygen.Scaled(100000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := egress.NewPolicy(egress.PolicyConfig{Default: egress.Deny, Rules: rules}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkConnectPolicy1000Rules is connect + first byte + close to a
// name under the 1,000-rule policy with Metrics, through the checked path
// (decision on the name, resolve, decision on the address, Control hook),
// for profiling (go test -cpuprofile); the ratio against the raw stack is
// the bench program's "connect+first byte+close with a 1,000-rule policy".
func BenchmarkConnectPolicy1000Rules(b *testing.B) {
	var m egress.Metrics
	rules := policygen.Rules(egress.Rule{Name: "bench", Action: egress.Allow, Hosts: []string{"bench.internal"}, Addrs: []string{"loopback"}})
	p := newPolicy(b, egress.PolicyConfig{Default: egress.Deny, Rules: rules, Metrics: &m, Resolver: resolveTo("127.0.0.1")})
	benchConnect(b, &sockets.Options{Policy: p}, "bench.internal")
}

func benchConnect(b *testing.B, opts *sockets.Options, host string) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c.Write([]byte{1})
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	buf := make([]byte, 1)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s, err := sockets.Connect(ctx, host+":"+port, opts)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(s, buf); err != nil {
			b.Fatal(err)
		}
		s.Close()
	}
}

// BenchmarkConnectNoPolicy is BenchmarkConnectPolicy1000Rules without a
// policy, to the IP literal: the difference between the two is the cost
// of the checked path.
func BenchmarkConnectNoPolicy(b *testing.B) {
	benchConnect(b, nil, "127.0.0.1")
}
