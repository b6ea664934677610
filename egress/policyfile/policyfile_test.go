package policyfile_test

import (
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/egress/policyfile"
	"github.com/outboundhq/outbound/sockets"
)

// documentedExample returns the YAML example in ParsePolicyConfig's doc
// comment, so that the documentation is tested as written.
func documentedExample(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("policyfile.go")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	in := false
	for _, l := range strings.Split(string(src), "\n") {
		switch {
		case strings.HasPrefix(l, "// The format"):
			in = true
		case in && strings.HasPrefix(l, "//\t"):
			b.WriteString(strings.TrimPrefix(l, "//\t") + "\n")
		case in && b.Len() > 0 && !strings.HasPrefix(l, "//\t"):
			return b.String()
		}
	}
	t.Fatal("example not found in policyfile.go")
	return ""
}

var documentedRules = []egress.Rule{
	{Name: "no-metadata", Action: egress.Deny, Addrs: []string{"metadata", "link-local"}},
	{Name: "public-web", Action: egress.Allow, Addrs: []string{"public"}, Ports: []string{"80", "443"}},
	{Name: "partner-api", Action: egress.Allow, Hosts: []string{"api.partner.example", "*.cdn.partner.example"}, Ports: []string{"8000-8999"}},
	{Name: "billing-db", Action: egress.Allow, Hosts: []string{"db.internal.example"}, Addrs: []string{"10.20.0.0/16"}, Ports: []string{"5432"}},
	{Name: "mail-relay", Action: egress.Allow, Hosts: []string{"smtp.example.com"}, Ports: []string{"25"}},
}

const documentedJSON = `{
	"mode": "enforce",
	"default": "deny",
	"require_scope": false,
	"rules": [
		{"name": "no-metadata", "action": "deny", "addrs": ["metadata", "link-local"]},
		{"name": "public-web", "action": "allow", "addrs": ["public"], "ports": [80, 443]},
		{"name": "partner-api", "action": "allow", "hosts": ["api.partner.example", "*.cdn.partner.example"], "ports": ["8000-8999"]},
		{"name": "billing-db", "action": "allow", "hosts": ["db.internal.example"], "addrs": ["10.20.0.0/16"], "ports": [5432]},
		{"name": "mail-relay", "action": "allow", "hosts": "smtp.example.com", "ports": 25}
	]
}
`

func TestParsePolicyConfigDocumented(t *testing.T) {
	for _, c := range []struct{ name, data string }{
		{"egress.yaml", documentedExample(t)},
		{"egress.json", documentedJSON},
		{"egress.conf", documentedJSON}, // sniffed
	} {
		cfg, err := policyfile.Parse(c.name, []byte(c.data))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if cfg.Mode != egress.ModeEnforce || cfg.Default != egress.Deny || cfg.RequireScope {
			t.Errorf("%s: mode %q default %q require_scope %v", c.name, cfg.Mode, cfg.Default, cfg.RequireScope)
		}
		if !reflect.DeepEqual(cfg.Rules, documentedRules) {
			t.Errorf("%s: rules =\n%+v\nwant\n%+v", c.name, cfg.Rules, documentedRules)
		}
		p := newPolicy(t, cfg)
		pub := netip.MustParseAddr("93.184.215.14")
		for _, q := range []struct {
			host string
			ip   netip.Addr
			port int
			ok   bool
		}{
			{"example.org", pub, 443, true},
			{"example.org", pub, 22, false},
			{"x.cdn.partner.example", netip.MustParseAddr("10.9.9.9"), 8443, true},
			{"db.internal.example", netip.MustParseAddr("10.20.1.1"), 5432, true},
			{"db.internal.example", netip.MustParseAddr("10.21.1.1"), 5432, false},
			{"smtp.example.com", pub, 25, true},
			{"evil.example", netip.MustParseAddr("169.254.169.254"), 80, false},
		} {
			if d := p.Decide(q.host, q.ip, q.port); d.Allowed != q.ok {
				t.Errorf("%s: %s %s:%d: %s", c.name, q.host, q.ip, q.port, d)
			}
		}
	}
}

func TestParsePolicyConfigErrors(t *testing.T) {
	cases := []struct {
		name, file, data string
		line             int
		want             string
	}{
		{"yaml tab", "p.yaml", "mode: enforce\nrules:\n\t- action: deny\n", 3, "not valid YAML: found character that cannot start any token"},
		{"yaml unclosed", "p.yaml", "mode: enforce\nrules:\n  - action: deny\n    addrs: [x\n", 3, "not valid YAML"},
		{"top key typo", "p.yaml", "mode: enforce\ndefualt: deny\n", 2, `unknown top-level key "defualt"; did you mean "default"?`},
		{"rule key typo", "p.yaml", "rules:\n  - action: allow\n    hosts: [a.example]\n    prots: [443]\n", 4, `did you mean "ports"?`},
		{"bad mode", "p.yaml", "mode: audit\n", 1, `mode must be "enforce" or "report", not "audit"`},
		{"bad default", "p.yaml", "default: maybe\n", 1, `default must be "allow" or "deny"`},
		{"bad require_scope", "p.yaml", "require_scope: sometimes\n", 1, "require_scope must be true or false"},
		{"bad action", "p.yaml", "rules:\n  - name: x\n    action: permit\n", 3, `action must be "allow" or "deny", not "permit"`},
		{"no action", "p.yaml", "rules:\n  - name: x\n    hosts: [a.example]\n", 2, "has no action"},
		{"bad cidr in block list", "p.yaml", "rules:\n  - action: deny\n    addrs:\n      - 10.0.0.0/8\n      - 300.0.0.0/8\n", 5, `addrs: "300.0.0.0/8" is not a CIDR`},
		{"host bits", "p.yaml", "rules:\n  - action: deny\n    addrs: [10.1.2.3/8]\n", 3, `write "10.0.0.0/8"`},
		{"bad port", "p.yaml", "rules:\n  - action: allow\n    ports: [443,\n            70000]\n", 4, `ports: port "70000" is out of range`},
		{"bad host", "p.yaml", "rules:\n  - action: allow\n    hosts: [\"*\"]\n", 3, "leave hosts out"},
		{"duplicate key", "p.yaml", "mode: enforce\nrules: []\nmode: report\n", 3, `"mode" appears twice (first on line 1)`},
		{"rules not a list", "p.yaml", "rules:\n  action: deny\n", 2, "rules must be a list"},
		{"rule not a map", "p.yaml", "rules:\n  - deny\n", 2, "each rule must be a mapping"},
		{"nested item", "p.yaml", "rules:\n  - action: deny\n    ports: [[1, 2]]\n", 3, "ports items must be single values"},
		{"not a map", "p.yaml", "- a\n- b\n", 1, "top level must be a mapping"},
		{"empty", "p.yaml", "", 0, "the file is empty"},
		{"json syntax", "p.json", "{\n  \"mode\": \"enforce\",\n  \"rules\": [\n    {\"action\": \"deny\",}\n  ]\n}\n", 4, "not valid JSON"},
		{"json truncated", "p.json", "{\n  \"rules\": [\n", 3, "unexpected end"},
		{"json bad cidr", "p.json", "{\n  \"rules\": [\n    {\"action\": \"deny\",\n     \"addrs\": [\"loopback\", \"10.0.0.0/40\"]}\n  ]\n}\n", 4, `"10.0.0.0/40" is not a CIDR`},
		{"json duplicate", "p.json", "{\"mode\": \"enforce\",\n\"mode\": \"report\"}", 2, "appears twice"},
		{"json trailing", "p.json", "{\"rules\": []}\n{}\n", 2, "more data"},
		{"json unknown key", "p.json", "{\n\"rule\": []}", 2, `did you mean "rules"?`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := policyfile.Parse(c.file, []byte(c.data))
			var pe *policyfile.Error
			if !errors.As(err, &pe) || !errors.Is(err, sockets.ErrInvalidOptions) {
				t.Fatalf("error = %v, want a *PolicyFileError matching ErrInvalidOptions", err)
			}
			if pe.Line != c.line || !strings.Contains(pe.Msg, c.want) || pe.File != c.file {
				t.Fatalf("error = %q (line %d), want %s line %d containing %q", err, pe.Line, c.file, c.line, c.want)
			}
			if c.line > 0 && !strings.Contains(err.Error(), c.file+":") {
				t.Fatalf("error %q does not start with the file and line", err)
			}
		})
	}
}

func TestPolicyHolderLoadFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "egress.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	logs := &logRecords{}
	var m egress.Metrics
	h := egress.NewPolicyHolder(newPolicy(t, egress.PolicyConfig{Logger: slog.New(logs), Metrics: &m}))
	ln := listen(t, "127.0.0.1:0")
	o := &sockets.Options{Policy: h}

	write("default: deny\nrules:\n  - name: loopback-ok\n    action: allow\n    addrs: [loopback]\n")
	if err := policyfile.Reload(h, path); err != nil {
		t.Fatal(err)
	}
	first := h.Policy()
	if err := openErr(t, ln.Addr().String(), o); err != nil {
		t.Fatalf("after the first load: %v", err)
	}
	// A bad file is refused with its line; the policy in force stays.
	write("default: deny\nrules:\n  - name: loopback-ok\n    action: allow\n    addrs: [loopbak]\n")
	err := policyfile.Reload(h, path)
	var pe *policyfile.Error
	if !errors.As(err, &pe) || pe.Line != 5 || !strings.Contains(err.Error(), `"loopbak"`) {
		t.Fatalf("bad file: %v", err)
	}
	if h.Policy() != first {
		t.Fatal("a bad file replaced the policy")
	}
	if err := openErr(t, ln.Addr().String(), o); err != nil {
		t.Fatalf("after the bad load: %v", err)
	}
	// A good change applies to the next Connect, and logging and counting
	// carry over.
	write(`{"default": "deny", "rules": [{"name": "nothing-local", "action": "deny", "addrs": ["loopback"]}]}`)
	if err := policyfile.Reload(h, path); err != nil {
		t.Fatal(err)
	}
	if err := openErr(t, ln.Addr().String(), o); !isDenied(err) || !strings.Contains(err.Error(), "nothing-local") {
		t.Fatalf("after the second load: %v", err)
	}
	if err := policyfile.Reload(h, filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	var loaded, decisions int
	for _, r := range logs.all() {
		switch r.Msg {
		case "egress policy loaded":
			loaded++
		case "egress allowed", "egress denied":
			decisions++
		}
	}
	if loaded != 2 || decisions != 3 {
		t.Fatalf("records: %d loads, %d decisions, want 2 and 3", loaded, decisions)
	}
	if st := m.Stats(); st.Allowed != 2 || st.Denied["rule"] != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func FuzzParsePolicyConfig(f *testing.F) {
	f.Add("p.yaml", []byte("mode: report\nrules:\n  - {action: deny, addrs: [private], ports: [\"1-1024\"]}\n"))
	f.Add("p.json", []byte(documentedJSON))
	f.Add("p.yaml", []byte("rules: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		cfg, err := policyfile.Parse(name, data)
		if err != nil {
			var pe *policyfile.Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *PolicyFileError", err)
			}
			return
		}
		if _, err := egress.NewPolicy(cfg); err != nil {
			t.Fatalf("ParsePolicyConfig accepted what NewPolicy refuses: %v", err)
		}
	})
}
