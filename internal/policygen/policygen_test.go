package policygen

import (
	"testing"

	"github.com/outboundhq/outbound/egress"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRules(t *testing.T) {
	extra := egress.Rule{Name: "extra", Action: egress.Allow, Hosts: []string{"bench.internal"}}
	for _, rules := range [][]egress.Rule{Rules(), Rules(extra)} {
		if len(rules) != Size {
			t.Fatalf("%d rules, want %d", len(rules), Size)
		}
	}
	if r := Rules(extra); r[Size-1].Name != "extra" {
		t.Fatalf("the extra rule is not last: %+v", r[Size-1])
	}
	p, err := egress.NewPolicy(egress.PolicyConfig{Default: egress.Deny, Rules: Rules()})
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{true, true, false, true, false, false, false, false}
	for i, q := range Queries() {
		if d := p.Decide(q.Host, q.IP, q.Port); d.Allowed != want[i] {
			t.Errorf("%+v: %s", q, d)
		}
	}
}
