package mqtt_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/mqtt"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// roundTrip subscribes and publishes one message at each QoS through two
// clients of kind and checks each arrives once, intact, at its QoS.
func roundTrip(t *testing.T, kind clientKind, url, prefix string, opts *mqtt.Options, tlsCfg *tls.Config) {
	t.Helper()
	ctx := testContext(t, 20*time.Second)
	in := newInbox()
	sub, err := kind.connect(ctx, clientConfig{URL: url, ClientID: clientID(t, "sub"), Options: opts, TLS: tlsCfg, OnMessage: in.add})
	if err != nil {
		t.Fatalf("connect subscriber to %s: %v", url, err)
	}
	defer sub.Close()
	pub, err := kind.connect(ctx, clientConfig{URL: url, ClientID: clientID(t, "pub"), Options: opts, TLS: tlsCfg})
	if err != nil {
		t.Fatalf("connect publisher to %s: %v", url, err)
	}
	defer pub.Close()
	for _, qos := range []byte{0, 1, 2} {
		topic := fmt.Sprintf("%s/qos%d", prefix, qos)
		if err := sub.Subscribe(ctx, topic, qos); err != nil {
			t.Fatalf("subscribe %s: %v", topic, err)
		}
		payload := fmt.Sprintf("hello at QoS %d", qos)
		if err := pub.Publish(ctx, topic, qos, false, []byte(payload)); err != nil {
			t.Fatalf("publish %s: %v", topic, err)
		}
		m, err := in.waitTopic(ctx, topic)
		if err != nil {
			t.Fatalf("waiting for %s: %v", topic, err)
		}
		want := message{Topic: topic, Payload: payload, QoS: qos}
		if m != want {
			t.Errorf("received %+v, want %+v", m, want)
		}
	}
	// Nothing arrived twice.
	seen := map[string]int{}
	msgs, _ := in.wait(ctx, func([]message) bool { return true })
	for _, m := range msgs {
		if seen[m.Topic]++; seen[m.Topic] > 1 {
			t.Errorf("message on %s delivered %d times", m.Topic, seen[m.Topic])
		}
	}
}

func TestInProcessBrokerRoundTrip(t *testing.T) {
	b, err := startBroker("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, kind := range clientKinds {
		for _, scheme := range []string{"tcp", "mqtt"} {
			t.Run(kind.name+"/"+scheme, func(t *testing.T) {
				roundTrip(t, kind, b.url(scheme), "outbound/plain", nil, nil)
			})
		}
	}
}

func TestMQTTS(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	serverTLS, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	b, err := startBroker("127.0.0.1:0", serverTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	other, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("RoundTrip", func(t *testing.T) {
		for _, kind := range clientKinds {
			for _, scheme := range []string{"mqtts", "ssl", "tls"} {
				t.Run(kind.name+"/"+scheme, func(t *testing.T) {
					// The client library's own TLS configuration: paho's
					// TLSConfig, autopaho's TlsCfg (and for paho.golang on a
					// Dial'd Conn, the sockets' TLSConfig).
					roundTrip(t, kind, b.url(scheme), "outbound/tls", nil, ca.ClientConfig())
				})
			}
			t.Run(kind.name+"/socket-options", func(t *testing.T) {
				// TLS settings given only in Options.SocketOptions.
				o := &mqtt.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{TLSConfig: ca.ClientConfig()}}}
				roundTrip(t, kind, b.url("mqtts"), "outbound/tls-socket-options", o, nil)
			})
		}
	})

	// A certificate signed by a CA the client does not trust is refused at
	// connect, whichever configuration carries the roots.
	cases := []struct {
		name      string
		opts      *mqtt.Options
		clientTLS *tls.Config
	}{
		{"client-config", nil, other.ClientConfig()},
		{"socket-options", &mqtt.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{TLSConfig: other.ClientConfig()}}}, nil},
		// The client library's configuration wins over the sockets' one.
		{"client-config-wins", &mqtt.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{TLSConfig: ca.ClientConfig()}}}, other.ClientConfig()},
		// With no roots given, the system roots do not know the test CA.
		{"system-roots", nil, nil},
	}
	for _, kind := range clientKinds {
		for _, tc := range cases {
			if kind.name == "paho.golang" && tc.name == "client-config-wins" {
				continue // mqtt.Dial has only the sockets' configuration
			}
			t.Run("WrongCA/"+kind.name+"/"+tc.name, func(t *testing.T) {
				ctx := testContext(t, 10*time.Second)
				var opened atomic.Int32
				o := withOpenedCounter(tc.opts, &opened)
				c, err := kind.connect(ctx, clientConfig{URL: b.url("mqtts"), ClientID: clientID(t, "wrongca"), Options: o, TLS: tc.clientTLS})
				if err == nil {
					c.Close()
					t.Fatal("connect succeeded with a certificate from an untrusted CA")
				}
				var unknown x509.UnknownAuthorityError
				if !errors.As(err, &unknown) {
					t.Errorf("error %v (%T) does not wrap x509.UnknownAuthorityError", err, err)
				}
				if n := opened.Load(); n != 0 {
					t.Errorf("OnSocketOpened called %d times for a refused handshake", n)
				}
			})
		}
	}
}

// withOpenedCounter returns a copy of o whose OnSocketOpened counts into n.
func withOpenedCounter(o *mqtt.Options, n *atomic.Int32) *mqtt.Options {
	var c mqtt.Options
	if o != nil {
		c = *o
	}
	c.OnSocketOpened = func(*sockets.Socket) { n.Add(1) }
	return &c
}
