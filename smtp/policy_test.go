package smtp_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-sasl"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/smtp"
	"github.com/outboundhq/outbound/smtp/smtptest"
	"github.com/outboundhq/outbound/sockets"
)

// Port 25 opens only with a policy rule that lists it, for the host named.
// The in-process server stands in for mx.example.com:25: Options.Dialer.Options.Dial
// sends the connection there once the policy has allowed it.
func TestPort25AllowedByRule(t *testing.T) {
	ca := mustCA(t)
	cfg, err := ca.ServerConfig("mx.example.com")
	if err != nil {
		t.Fatal(err)
	}
	policy := func(t *testing.T, rules ...egress.Rule) *egress.Policy {
		t.Helper()
		p, err := egress.NewPolicy(egress.PolicyConfig{Rules: rules})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	allow25 := egress.Rule{Name: "mail-relay", Action: egress.Allow, Hosts: []string{"mx.example.com"}, Ports: []string{"25"}}
	tests := []struct {
		name    string
		rules   []egress.Rule
		allowed bool
	}{
		{"no rule", nil, false},
		{"rule for the host and port 25", []egress.Rule{allow25}, true},
		{"rule for the host, any port", []egress.Rule{{Action: egress.Allow, Hosts: []string{"mx.example.com"}}}, false},
		{"rule for another host", []egress.Rule{{Action: egress.Allow, Hosts: []string{"mx.example.org"}, Ports: []string{"25"}}}, false},
		{"deny wins", []egress.Rule{allow25, {Name: "no-example", Action: egress.Deny, Hosts: []string{"*.example.com"}}}, false},
	}
	for _, sec := range secureModes {
		srv := newServer(t, &smtptest.Options{TLSConfig: cfg, ImplicitTLS: sec == smtp.SecurityTLS, Users: users})
		for _, tt := range tests {
			t.Run(string(sec)+"/"+tt.name, func(t *testing.T) {
				var dialled atomic.Int32
				so := &sockets.Options{
					Policy: policy(t, tt.rules...),
					Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
						if addr != "mx.example.com:25" {
							t.Errorf("Dial(%q)", addr)
						}
						dialled.Add(1)
						var d net.Dialer
						return d.DialContext(ctx, network, srv.Addr())
					},
				}
				opts := &smtp.Options{Security: sec, TLSConfig: ca.ClientConfig(), Dialer: &dialers.Dialer{Options: so}}
				before := len(srv.Messages())
				err := smtp.SendMail(context.Background(), "mx.example.com:25", sasl.NewPlainClient("", "alice", users["alice"]),
					"alice@example.com", []string{"bob@example.org"}, strings.NewReader("Subject: via 25\r\n\r\nhi\r\n"), opts)
				if !tt.allowed {
					if !errors.Is(err, sockets.ErrDenied) {
						t.Fatalf("err = %v; want ErrDenied", err)
					}
					if n := dialled.Load(); n != 0 {
						t.Errorf("dialled %d times after a denial", n)
					}
					return
				}
				if err != nil {
					t.Fatalf("SendMail: %v", err)
				}
				if got := srv.Messages(); len(got) != before+1 || !got[before].TLS {
					t.Fatalf("server has %d messages (had %d); want one more, over TLS", len(got), before)
				}
			})
		}
	}
}

// The port 25 refusal says exactly which rule would allow it.
func TestPort25MessageNamesRule(t *testing.T) {
	_, err := smtp.DialStartTLS(context.Background(), "mx.example.com:25", nil)
	if !errors.Is(err, sockets.ErrDenied) {
		t.Fatalf("err = %v; want ErrDenied", err)
	}
	for _, want := range []string{"port 25", "587 or 465", `Hosts: []string{"mx.example.com"}`, `Ports: []string{"25"}`, "ports: [25]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not contain %q", err, want)
		}
	}
}

// Policy applies to the submission ports too: a deny rule for the host
// refuses it before any connection.
func TestPolicyDeniesSubmissionHost(t *testing.T) {
	p, err := egress.NewPolicy(egress.PolicyConfig{Default: egress.Deny, Rules: []egress.Rule{{Name: "only-our-relay", Action: egress.Allow, Hosts: []string{"smtp.example.com"}, Ports: []string{"587"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dials {
		_, err := d.dial(context.Background(), "smtp.evil.example:587", &smtp.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{Policy: p}}})
		if !errors.Is(err, sockets.ErrDenied) {
			t.Errorf("%s: err = %v; want ErrDenied", d.name, err)
		}
	}
}
