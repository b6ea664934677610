package egressdemo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), nil, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		// 1. port 25
		"1. port 25 with the default policy:\n   sockets: connect mx.example.com:25: denied by egress policy: port 25 (SMTP) is blocked by default",
		`egress.Rule{Action: egress.Allow, Hosts: []string{"mx.example.com"}, Ports: []string{"25"}}`,
		// 2. the policy file, and a broken reload
		"2. policy loaded from egress.yaml: 3 rules, default deny, require_scope true",
		`reload of a broken file refused: policy file broken.yaml:5: addrs: "10.0.0.0/33" is not a CIDR prefix`,
		"policy in force unchanged: true",
		// 3. the internal backend works, SSRF attempts do not
		"   -> 200 hello from the internal backend\n",
		"GET /preview?url=http://169.254.169.254/latest/meta-data/iam/security-credentials/\n   -> 403 refused: Get \"http://169.254.169.254/latest/meta-data/iam/security-credentials/\": sockets: connect 169.254.169.254:80: 169.254.169.254 is link-local and metadata, denied by the rule \"no-metadata\"",
		"GET /preview?url=http://127.0.0.1:6379/\n   -> 403 refused: Get \"http://127.0.0.1:6379/\": sockets: connect 127.0.0.1:6379: 127.0.0.1 is loopback, denied by default: no rule allows it",
		"GET /preview?url=http://[::ffff:169.254.169.254]/latest/meta-data/\n   -> 403 refused: Get \"http://[::ffff:169.254.169.254]/latest/meta-data/\": sockets: connect [::ffff:169.254.169.254]:80: 169.254.169.254 is link-local and metadata, denied by the rule \"no-metadata\"",
		`log: level=WARN msg="egress denied" decision=deny rule=no-metadata reason=rule host=169.254.169.254 ip=169.254.169.254 port=80 scope="GET /preview"`,
		`decision=allow rule=backend reason=rule host=backend.internal ip=127.0.0.1`,
		// 4. the request scope closes what the handler left open
		"GET /fanout -> 200 opened 3 sockets",
		"sockets closed by the request's scope when the handler returned: 3 of 3",
		"Connect outside any request: true",
		// 5. counters
		"5. counters: allowed 4, denied 4 (by rule 2, by default 1, no scope 1), open 0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", got)
	}
}

// TestRunPolicyFlag: a policy file given with -policy is used instead.
func TestRunPolicyFlag(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strict.json")
	// The backend is not allowed by this policy, so its fetch is refused too.
	os.WriteFile(path, []byte(`{"default": "deny", "require_scope": true, "rules": [{"name": "web", "action": "allow", "addrs": ["public"], "ports": [443]}]}`), 0o600)
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"-policy", path}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"2. policy loaded from strict.json: 1 rules, default deny, require_scope true",
		`"backend.internal" port `,
		`is denied by default: no rule allows it`,
		"sockets closed by the request's scope when the handler returned: 0 of 0",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q\noutput:\n%s", want, got)
		}
	}
}
