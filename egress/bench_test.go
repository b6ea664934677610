package egress_test

import (
	"testing"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/internal/policygen"
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
