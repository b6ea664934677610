package egress_test

import (
	"net/netip"
	"reflect"
	"testing"

	"github.com/outboundhq/outbound/egress"
)

func configRules() []egress.Rule {
	return []egress.Rule{
		{Name: "no-internal", Action: egress.Deny, Addrs: []string{"private", "10.0.0.0/8"}},
		{Action: egress.Allow, Hosts: []string{"api.example", "*.cdn.example"}, Ports: []string{"443", "8000-8999"}},
		{Action: egress.Allow},
		{Name: "smtp", Action: egress.Allow, Hosts: []string{"mail.example"}, Addrs: []string{"public"}, Ports: []string{"25"}},
	}
}

// TestConfigRoundTrip: Config gives back the rules as given (empty fields
// as nil), Mode and Default filled in, and a copy each time.
func TestConfigRoundTrip(t *testing.T) {
	for _, rules := range [][]egress.Rule{nil, {}, configRules()} {
		p := newPolicy(t, egress.PolicyConfig{Default: egress.Deny, Rules: rules, RequireScope: true})
		c := p.Config()
		if c.Mode != egress.ModeEnforce || c.Default != egress.Deny || !c.RequireScope {
			t.Errorf("Config() = %+v", c)
		}
		if !reflect.DeepEqual(c.Rules, rules) {
			t.Errorf("Config().Rules = %#v, want %#v", c.Rules, rules)
		}
		if len(c.Rules) > 0 {
			c.Rules[1].Hosts[0] = "changed.example"
			c.Rules[0].Name = "changed"
			if again := p.Config(); !reflect.DeepEqual(again.Rules, rules) {
				t.Errorf("changing Config()'s rules changed the policy's: %#v", again.Rules)
			}
		}
	}
}

// TestRulesCopied: changing the caller's rules after NewPolicy changes
// neither the decisions nor Config.
func TestRulesCopied(t *testing.T) {
	rules := configRules()
	p := newPolicy(t, egress.PolicyConfig{Default: egress.Deny, Rules: rules})
	ip := netip.MustParseAddr("93.184.215.14")
	before := []egress.Decision{
		p.Decide("api.example", ip, 443),
		p.Decide("x.cdn.example", ip, 8080),
		p.Decide("mail.example", ip, 25),
		p.Decide("10.1.2.3", netip.Addr{}, 443),
	}
	for i := range rules {
		for j := range rules[i].Hosts {
			rules[i].Hosts[j] = "other.example"
		}
		for j := range rules[i].Addrs {
			rules[i].Addrs[j] = "0.0.0.0/0"
		}
		for j := range rules[i].Ports {
			rules[i].Ports[j] = "1"
		}
		rules[i].Name = "mutated"
		rules[i].Action = egress.Deny
	}
	rules[2] = egress.Rule{Action: egress.Deny}
	after := []egress.Decision{
		p.Decide("api.example", ip, 443),
		p.Decide("x.cdn.example", ip, 8080),
		p.Decide("mail.example", ip, 25),
		p.Decide("10.1.2.3", netip.Addr{}, 443),
	}
	if !reflect.DeepEqual(before, after) {
		t.Errorf("decisions changed with the caller's rules:\n%+v\n%+v", before, after)
	}
	if got := p.Config().Rules; !reflect.DeepEqual(got, configRules()) {
		t.Errorf("Config().Rules changed with the caller's rules: %#v", got)
	}
}
