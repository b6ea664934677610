package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/paho"
	pahomqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	outmqtt "github.com/outboundhq/outbound/mqtt"
)

// paho QoS 0 / QoS 1 publish: one paho.mqtt.golang client per side, the raw
// one dialling with paho's own TCP dial, the outbound one through
// mqtt.OpenConnection, publishing 64-byte messages to a topic nobody
// subscribes to. The broker is Mosquitto when OUTBOUND_TEST_MQTT is set and an
// in-process mochi-mqtt broker otherwise (so the pair runs anywhere). The
// figure is messages per second: batches of messages are published without
// waiting, then every token is awaited (for QoS 0 that is the write to the
// connection, for QoS 1 the broker's PUBACK).
func init() {
	for _, qos := range []byte{0, 1} {
		var b mqttBench
		batch := 1000
		if qos == 1 {
			batch = 250
		}
		register(Workload{
			Name:   fmt.Sprintf("paho QoS %d publish", qos),
			Unit:   "msg/s",
			Target: Target{AtLeast: 0.95},
			Setup:  b.setup,
			Paired: func(ctx context.Context) (Pair, error) {
				return ratePaired(ctx, 2*time.Second, batch, func(outbound bool) error {
					return b.batch(ctx, outbound, qos, batch)
				})
			},
		})
	}
}

// paho.golang QoS 0 / QoS 1 publish: the same with paho.golang (MQTT 5)
// clients, the raw one on a plain *net.TCPConn (what autopaho dials for
// mqtt://), the outbound one on a Conn from mqtt.Dial. paho.golang's Publish
// waits for the write (QoS 0) or the PUBACK (QoS 1), so a batch is spread
// over a few goroutines.
func init() {
	for _, qos := range []byte{0, 1} {
		var b mqtt5Bench
		register(Workload{
			Name:   fmt.Sprintf("paho.golang QoS %d publish", qos),
			Unit:   "msg/s",
			Target: Target{AtLeast: 0.95},
			Setup:  b.setup,
			Paired: func(ctx context.Context) (Pair, error) {
				return ratePaired(ctx, 2*time.Second, mqtt5Publishers*mqtt5Each, func(outbound bool) error {
					return b.batch(ctx, outbound, qos)
				})
			},
		})
	}
}

type mqtt5Bench struct {
	clients [2]*paho.Client // raw, outbound
	topic   string
}

func (b *mqtt5Bench) setup(ctx context.Context) (func(), error) {
	addr, stopBroker, err := benchBroker()
	if err != nil {
		return nil, err
	}
	b.topic = fmt.Sprintf("outbound/bench5/%d", os.Getpid())
	cleanup := func() {
		for i, c := range b.clients {
			if c != nil {
				c.Disconnect(&paho.Disconnect{})
				<-c.Done()
				b.clients[i] = nil
			}
		}
		if stopBroker != nil {
			stopBroker()
		}
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for i := range b.clients {
		var conn net.Conn
		var err error
		if i == 0 {
			conn, err = (&net.Dialer{}).DialContext(cctx, "tcp", addr)
		} else {
			conn, err = outmqtt.Dial(cctx, &url.URL{Scheme: "mqtt", Host: addr}, nil)
		}
		if err != nil {
			cleanup()
			return nil, err
		}
		id := fmt.Sprintf("outbound-bench5-%d-%d", os.Getpid(), i)
		c := paho.NewClient(paho.ClientConfig{ClientID: id, Conn: conn})
		if _, err := c.Connect(cctx, &paho.Connect{ClientID: id, KeepAlive: 30, CleanStart: true}); err != nil {
			conn.Close()
			cleanup()
			return nil, fmt.Errorf("connect to %s: %w", addr, err)
		}
		b.clients[i] = c
	}
	return cleanup, nil
}

// A paho.golang batch is mqtt5Each messages from each of mqtt5Publishers
// goroutines.
const (
	mqtt5Publishers = 4
	mqtt5Each       = 100
)

// batch publishes one batch on a side's client.
func (b *mqtt5Bench) batch(ctx context.Context, outbound bool, qos byte) error {
	c := b.clients[0]
	if outbound {
		c = b.clients[1]
	}
	payload := make([]byte, 64)
	errs := make([]error, mqtt5Publishers)
	var wg sync.WaitGroup
	for p := range mqtt5Publishers {
		wg.Go(func() {
			for range mqtt5Each {
				if _, err := c.Publish(ctx, &paho.Publish{Topic: b.topic, QoS: qos, Payload: payload}); err != nil {
					errs[p] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

type mqttBench struct {
	clients [2]pahomqtt.Client // raw, outbound
	topic   string
}

func (b *mqttBench) setup(ctx context.Context) (func(), error) {
	addr, stopBroker, err := benchBroker()
	if err != nil {
		return nil, err
	}
	b.topic = fmt.Sprintf("outbound/bench/%d", os.Getpid())
	cleanup := func() {
		for i, c := range b.clients {
			if c != nil {
				c.Disconnect(250)
				b.clients[i] = nil
			}
		}
		if stopBroker != nil {
			stopBroker()
		}
	}
	for i := range b.clients {
		o := pahomqtt.NewClientOptions().
			AddBroker("mqtt://" + addr).
			SetClientID(fmt.Sprintf("outbound-bench-%d-%d", os.Getpid(), i)).
			SetAutoReconnect(false).
			SetWriteTimeout(10 * time.Second)
		if i == 1 {
			o.SetCustomOpenConnectionFn(outmqtt.OpenConnection(nil))
		}
		c := pahomqtt.NewClient(o)
		if t := c.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
			cleanup()
			return nil, fmt.Errorf("connect to %s: %v", addr, t.Error())
		}
		b.clients[i] = c
	}
	return cleanup, nil
}

// batch publishes n messages on a side's client and waits for every token.
func (b *mqttBench) batch(ctx context.Context, outbound bool, qos byte, n int) error {
	c := b.clients[0]
	if outbound {
		c = b.clients[1]
	}
	payload := make([]byte, 64)
	tokens := make([]pahomqtt.Token, n)
	for i := range tokens {
		tokens[i] = c.Publish(b.topic, qos, false, payload)
	}
	for i, t := range tokens {
		if !t.WaitTimeout(10 * time.Second) {
			return fmt.Errorf("publish %d of %d: no acknowledgement after 10s", i, n)
		}
		if err := t.Error(); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// benchBroker returns the broker to publish to: Mosquitto at
// $OUTBOUND_TEST_MQTT when set (stop is nil), or an in-process mochi broker.
func benchBroker() (addr string, stop func(), err error) {
	if addr := os.Getenv("OUTBOUND_TEST_MQTT"); addr != "" {
		return addr, nil, nil
	}
	return startMochi()
}

// startMochi starts an in-process mochi-mqtt broker on 127.0.0.1.
func startMochi() (addr string, stop func(), err error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	err = errors.Join(srv.AddHook(new(mochiAllowAll), nil), srv.AddListener(listeners.NewNet("bench", l)))
	if err == nil {
		err = srv.Serve()
	}
	if err != nil {
		l.Close()
		return "", nil, err
	}
	return l.Addr().String(), func() { srv.Close() }, nil
}

// mochiAllowAll lets every client connect and publish.
type mochiAllowAll struct{ mochi.HookBase }

func (h *mochiAllowAll) ID() string { return "allow-all" }

func (h *mochiAllowAll) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (h *mochiAllowAll) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (h *mochiAllowAll) OnACLCheck(*mochi.Client, string, bool) bool { return true }
