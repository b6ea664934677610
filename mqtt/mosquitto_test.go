package mqtt_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/mqtt"
	"github.com/outboundhq/outbound/sockets"
)

// mosquitto returns the URL of the Mosquitto broker named by
// OUTBOUND_TEST_MQTT, skipping (or, under OUTBOUND_TEST_REQUIRE, failing)
// when it is unset, and a topic prefix unique to this run.
func mosquitto(t *testing.T) (url, prefix string) {
	t.Helper()
	addr := testenv.Get(t, "OUTBOUND_TEST_MQTT")
	return "mqtt://" + addr, fmt.Sprintf("outbound-test/%d/%s", time.Now().UnixNano(), t.Name())
}

func TestMosquittoQoS(t *testing.T) {
	url, prefix := mosquitto(t)
	for _, kind := range clientKinds {
		t.Run(kind.name, func(t *testing.T) {
			roundTrip(t, kind, url, prefix+"/"+kind.name, nil, nil)
		})
	}
}

func TestMosquittoRetained(t *testing.T) {
	url, prefix := mosquitto(t)
	for _, kind := range clientKinds {
		t.Run(kind.name, func(t *testing.T) {
			ctx := testContext(t, 20*time.Second)
			topic := prefix + "/" + kind.name + "/retained"
			pub, err := kind.connect(ctx, clientConfig{URL: url, ClientID: clientID(t, "pub")})
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			if err := pub.Publish(ctx, topic, 1, true, []byte("last known value")); err != nil {
				t.Fatal(err)
			}
			// Clear the retained message when done.
			defer pub.Publish(context.Background(), topic, 1, true, nil)

			// A client that subscribes afterwards gets the retained message.
			in := newInbox()
			sub, err := kind.connect(ctx, clientConfig{URL: url, ClientID: clientID(t, "sub"), OnMessage: in.add})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if err := sub.Subscribe(ctx, topic, 1); err != nil {
				t.Fatal(err)
			}
			m, err := in.waitTopic(ctx, topic)
			if err != nil {
				t.Fatal(err)
			}
			want := message{Topic: topic, Payload: "last known value", QoS: 1, Retain: true}
			if m != want {
				t.Errorf("received %+v, want %+v", m, want)
			}
		})
	}
}

// TestMosquittoWill resets the client's TCP connection (SO_LINGER 0, then
// close: the broker sees an RST, no DISCONNECT) and checks that the broker
// publishes the client's last will. The raw connection under the socket is
// captured through SocketOptions.Dial.
func TestMosquittoWill(t *testing.T) {
	url, prefix := mosquitto(t)
	for _, kind := range clientKinds {
		t.Run(kind.name, func(t *testing.T) {
			ctx := testContext(t, 20*time.Second)
			willTopic := prefix + "/" + kind.name + "/will"
			in := newInbox()
			sub, err := kind.connect(ctx, clientConfig{URL: url, ClientID: clientID(t, "watcher"), OnMessage: in.add})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if err := sub.Subscribe(ctx, willTopic, 1); err != nil {
				t.Fatal(err)
			}

			var mu sync.Mutex
			var raw []*net.TCPConn
			var sock *sockets.Socket
			o := &mqtt.Options{
				Dialer: &dialers.Dialer{Options: &sockets.Options{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
					c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
					if err == nil {
						mu.Lock()
						raw = append(raw, c.(*net.TCPConn))
						mu.Unlock()
					}
					return c, err
				}}},
				OnSocketOpened: func(s *sockets.Socket) { mu.Lock(); sock = s; mu.Unlock() },
			}
			w, err := kind.connect(ctx, clientConfig{
				URL: url, ClientID: clientID(t, "mortal"), Options: o,
				Will: &will{Topic: willTopic, Payload: "mortal went away", QoS: 1},
			})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			// Still alive: no will yet.
			if err := w.Publish(ctx, prefix+"/"+kind.name+"/alive", 1, false, []byte("yes")); err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			if len(raw) != 1 {
				t.Fatalf("%d connections dialled, want 1", len(raw))
			}
			raw[0].SetLinger(0)
			raw[0].Close()
			s := sock
			mu.Unlock()

			m, err := in.waitTopic(ctx, willTopic)
			if err != nil {
				t.Fatalf("no last will: %v", err)
			}
			if m.Payload != "mortal went away" {
				t.Errorf("will payload %q", m.Payload)
			}
			select {
			case <-s.Closed():
				if s.Err() == nil {
					t.Errorf("the reset socket ended with a nil Err")
				}
			case <-ctx.Done():
				t.Errorf("the reset socket did not close")
			}
		})
	}
}

// TestMosquittoThroughput sends 10,000 QoS 1 messages from one client to
// another, both through outbound sockets, and checks that each arrives
// exactly once.
func TestMosquittoThroughput(t *testing.T) {
	url, prefix := mosquitto(t)
	const total = 10000
	// Mosquitto queues at most 1000 QoS 1 messages per client by default
	// (max_queued_messages) and drops the rest: keep fewer in flight.
	const window = 200
	for _, kind := range clientKinds {
		t.Run(kind.name, func(t *testing.T) {
			ctx := testContext(t, 120*time.Second)
			topic := prefix + "/" + kind.name + "/stream"
			var mu sync.Mutex
			counts := make([]int, total)
			received := 0
			progress := make(chan struct{}, 1)
			sub, err := kind.connect(ctx, clientConfig{URL: url, ClientID: clientID(t, "sink"), OnMessage: func(m message) {
				i, err := strconv.Atoi(m.Payload)
				mu.Lock()
				if err == nil && i >= 0 && i < total {
					counts[i]++
				}
				received++
				mu.Unlock()
				select {
				case progress <- struct{}{}:
				default:
				}
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			if err := sub.Subscribe(ctx, topic, 1); err != nil {
				t.Fatal(err)
			}
			pub, err := kind.connect(ctx, clientConfig{URL: url, ClientID: clientID(t, "source")})
			if err != nil {
				t.Fatal(err)
			}
			defer pub.Close()
			got := func() int { mu.Lock(); defer mu.Unlock(); return received }
			for i := 0; i < total; i++ {
				for i-got() >= window {
					select {
					case <-progress:
					case <-ctx.Done():
						t.Fatalf("stalled at message %d with %d received", i, got())
					}
				}
				if err := pub.Publish(ctx, topic, 1, false, []byte(strconv.Itoa(i))); err != nil {
					t.Fatalf("publish %d: %v", i, err)
				}
			}
			for got() < total {
				select {
				case <-progress:
				case <-ctx.Done():
					t.Fatalf("%d of %d messages received", got(), total)
				}
			}
			// Give a late duplicate a moment to show up.
			time.Sleep(100 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			var lost, dup []int
			for i, n := range counts {
				switch {
				case n == 0:
					lost = append(lost, i)
				case n > 1:
					dup = append(dup, i)
				}
			}
			if len(lost) > 0 || len(dup) > 0 || received != total {
				t.Errorf("%d received: lost %d (%v), duplicated %d (%v)", received, len(lost), head(lost), len(dup), head(dup))
			}
		})
	}
}

func head(v []int) []int {
	if len(v) > 10 {
		return v[:10]
	}
	return v
}
