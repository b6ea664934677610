package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	pahomqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/outboundhq/outbound/mqtt"
)

// mosquitto is the broker of the integration tests.
var mosquitto = &server{
	envVar: "OUTBOUND_TEST_MQTT",
	start:  "docker compose up -d --wait mosquitto",
	addr:   plainAddr,
}

// demoMQTT publishes and receives one QoS 1 message through an in-process
// broker (mochi-mqtt), with paho.mqtt.golang connecting through
// mqtt.OpenConnection.
func demoMQTT(ctx context.Context, e *env) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	broker := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	if err := errors.Join(broker.AddHook(new(allowAll), nil), broker.AddListener(listeners.NewNet("tour", l))); err != nil {
		l.Close()
		return err
	}
	if err := broker.Serve(); err != nil {
		l.Close()
		return err
	}
	defer broker.Close()
	return mqttRoundTrip(ctx, e, "mqtt://"+l.Addr().String())
}

// demoMosquitto does the same against Mosquitto.
func demoMosquitto(ctx context.Context, e *env) error {
	return mqttRoundTrip(ctx, e, "mqtt://"+e.addr)
}

// mqttRoundTrip subscribes to a fresh topic, publishes to it at QoS 1 and
// waits for the message to come back.
func mqttRoundTrip(ctx context.Context, e *env, broker string) error {
	topic := fmt.Sprintf("outbound/tour/%d", time.Now().UnixNano())
	o := pahomqtt.NewClientOptions().
		AddBroker(broker).
		SetClientID(fmt.Sprintf("outbound-tour-%d", time.Now().UnixNano())).
		SetConnectTimeout(10 * time.Second).
		SetCustomOpenConnectionFn(mqtt.OpenConnectionContext(ctx, nil))
	client := pahomqtt.NewClient(o)
	e.step("connecting to %s with paho.mqtt.golang over an outbound socket", broker)
	if err := await(ctx, client.Connect()); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer client.Disconnect(250)

	received := make(chan string, 1)
	if err := await(ctx, client.Subscribe(topic, 1, func(_ pahomqtt.Client, m pahomqtt.Message) {
		select {
		case received <- string(m.Payload()):
		default:
		}
	})); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if err := await(ctx, client.Publish(topic, 1, false, "hello from the tour")); err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	select {
	case got := <-received:
		if got != "hello from the tour" {
			return fmt.Errorf("received %q", got)
		}
	case <-ctx.Done():
		return fmt.Errorf("the message did not come back on %s: %w", topic, ctx.Err())
	}
	e.step("published and received one QoS 1 message on %s", topic)
	return nil
}

func await(ctx context.Context, t pahomqtt.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// allowAll lets every client of the in-process broker connect and use every topic.
type allowAll struct{ mochi.HookBase }

func (h *allowAll) ID() string { return "allow-all" }

func (h *allowAll) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (h *allowAll) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (h *allowAll) OnACLCheck(*mochi.Client, string, bool) bool { return true }
