package mqtt_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	pahov3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/mqtt"
	"github.com/outboundhq/outbound/sockets"
)

func mustPolicy(t *testing.T, cfg egress.PolicyConfig) *egress.Policy {
	t.Helper()
	p, err := egress.NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPolicy checks that the egress policy decides whether a broker may be
// reached: a denied broker address fails at connect, for every client, and
// nothing reaches the broker; an allowed one works.
func TestPolicy(t *testing.T) {
	b, err := startBroker("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, port, _ := net.SplitHostPort(b.addr)

	denyLoopback := mustPolicy(t, egress.PolicyConfig{Rules: []egress.Rule{
		{Name: "no-loopback", Action: egress.Deny, Addrs: []string{"loopback"}},
	}})
	denyHost := mustPolicy(t, egress.PolicyConfig{Rules: []egress.Rule{
		{Name: "no-localhost", Action: egress.Deny, Hosts: []string{"localhost"}},
	}})
	onlyBroker := mustPolicy(t, egress.PolicyConfig{Default: egress.Deny, Rules: []egress.Rule{
		{Name: "broker", Action: egress.Allow, Addrs: []string{"127.0.0.1"}, Ports: []string{port}},
	}})

	denied := []struct {
		name   string
		policy *egress.Policy
		url    string
	}{
		{"address rule", denyLoopback, b.url("mqtt")},
		{"host rule", denyHost, "mqtt://localhost:" + port},
		{"default deny, other port", onlyBroker, "mqtt://127.0.0.1:1"},
	}
	for _, tc := range denied {
		for _, kind := range clientKinds {
			t.Run("denied/"+tc.name+"/"+kind.name, func(t *testing.T) {
				ctx := testContext(t, 10*time.Second)
				before := b.ln.accepted()
				o := &mqtt.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{Policy: tc.policy}}}
				c, err := kind.connect(ctx, clientConfig{URL: tc.url, ClientID: clientID(t, "denied"), Options: o})
				if err == nil {
					c.Close()
					t.Fatal("connect succeeded")
				}
				if !errors.Is(err, sockets.ErrDenied) {
					t.Fatalf("error %v, want one wrapping ErrDenied", err)
				}
				if n := b.ln.accepted() - before; n != 0 {
					t.Errorf("the broker accepted %d connections", n)
				}
			})
		}
	}
	for _, kind := range clientKinds {
		t.Run("allowed/"+kind.name, func(t *testing.T) {
			o := &mqtt.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{Policy: onlyBroker}}}
			roundTrip(t, kind, b.url("mqtt"), "outbound/policy", o, nil)
		})
	}
}

// TestScope checks that a request scope applies: under a policy that
// requires one, paho's hook without a context is refused, OpenConnectionContext
// and autopaho's context carry the scope, and ending the scope closes the
// MQTT connection's socket.
func TestScope(t *testing.T) {
	b, err := startBroker("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	policy := mustPolicy(t, egress.PolicyConfig{RequireScope: true})
	u := mustURL(t, b.url("mqtt"))

	t.Run("no scope", func(t *testing.T) {
		o := &mqtt.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{Policy: policy}}}
		for _, kind := range clientKinds {
			ctx := testContext(t, 10*time.Second)
			c, err := kind.connect(ctx, clientConfig{URL: b.url("mqtt"), ClientID: clientID(t, "unscoped"), Options: o})
			if err == nil {
				c.Close()
				t.Fatalf("%s: connect without a scope succeeded", kind.name)
			}
			if !errors.Is(err, sockets.ErrDenied) || !strings.Contains(err.Error(), "scope") {
				t.Errorf("%s: error %v, want a denial naming the scope", kind.name, err)
			}
		}
	})

	t.Run("scoped", func(t *testing.T) {
		sc := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Name: "test request"})
		defer sc.Close()
		ctx := sockets.WithScope(testContext(t, 10*time.Second), sc)
		ended := make(chan error, 3)
		o := &mqtt.Options{
			Dialer:         &dialers.Dialer{Options: &sockets.Options{Policy: policy}},
			OnSocketClosed: func(_ *sockets.Socket, err error) { ended <- err },
		}
		open := mqtt.OpenConnectionContext(ctx, o)
		attempt := mqtt.AttemptConnection(o)
		c1, err := open(u, *pahov3.NewClientOptions())
		if err != nil {
			t.Fatalf("OpenConnectionContext with a scope: %v", err)
		}
		defer c1.Close()
		c2, err := attempt(ctx, autopaho.ClientConfig{}, u)
		if err != nil {
			t.Fatalf("AttemptConnection with a scope: %v", err)
		}
		defer c2.Close()
		c3, err := mqtt.Dial(ctx, u, o)
		if err != nil {
			t.Fatalf("Dial with a scope: %v", err)
		}
		defer c3.Close()
		if open, _ := sc.Open(); open != 3 {
			t.Errorf("the scope holds %d open sockets, want 3", open)
		}
		// The request ends: its sockets close.
		sc.Close()
		for i := range 3 {
			select {
			case err := <-ended:
				_ = err // how a scope's end is reported is the sockets package's business
			case <-ctx.Done():
				t.Fatalf("%d of 3 sockets closed when the scope ended", i)
			}
		}
		// A reconnect after the request ended is refused.
		if c, err := open(u, *pahov3.NewClientOptions()); err == nil {
			c.Close()
			t.Error("connect in an ended scope succeeded")
		}
	})
}

// accepted reports how many connections the listener has accepted.
func (l *trackingListener) accepted() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}
