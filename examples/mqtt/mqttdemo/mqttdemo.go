// Package mqttdemo is the mqtt example, run by `go run ./examples/mqtt` and by
// the tour. It publishes and subscribes through outbound sockets with both
// Eclipse paho clients: a paho.mqtt.golang (MQTT 3.1.1) subscriber and an
// autopaho (MQTT 5) publisher, each of whose connections is an outbound
// socket under the egress policy.
//
//	go run ./examples/mqtt                                   # against an in-process broker
//	go run ./examples/mqtt -broker mqtt://127.0.0.1:1883     # against a real broker (Mosquitto)
//	go run ./examples/mqtt -broker mqtts://broker.example:8883 -ca ca.pem
//
// The broker URL's scheme picks the Sockets API's secureTransport: tcp:// and
// mqtt:// are "off", mqtts://, ssl:// and tls:// are "on".
package mqttdemo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	pahomqtt "github.com/eclipse/paho.mqtt.golang"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/mqtt"
	"github.com/outboundhq/outbound/sockets"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("mqtt")
	broker := fs.String("broker", "", "broker `URL` (mqtt://host:1883, mqtts://host:8883); default: start an in-process broker")
	caFile := fs.String("ca", "", "PEM `file` of the CA that signed the broker's certificate (default: the system roots)")
	topic := fs.String("topic", fmt.Sprintf("outbound/example/%d", time.Now().UnixNano()), "`topic` to use")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()
	if *broker == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		stop, err := startBroker(l)
		if err != nil {
			return err
		}
		defer stop()
		*broker = "mqtt://" + l.Addr().String()
		fmt.Fprintln(stdout, "started an in-process MQTT broker")
	}
	u, err := url.Parse(*broker)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()

	// The outbound options: TLS roots for mqtts://, and two hooks that report
	// each socket as it opens and why it ended.
	so := fs.Options()
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s holds no PEM certificate", *caFile)
		}
		so.TLSConfig = &tls.Config{RootCAs: roots}
	}
	var out sync.Mutex
	say := func(format string, a ...any) {
		out.Lock()
		defer out.Unlock()
		fmt.Fprintf(stdout, format+"\n", a...)
	}
	var ended sync.WaitGroup
	opts := &mqtt.Options{
		Dialer: &dialers.Dialer{Options: so},
		OnSocketOpened: func(s *sockets.Socket) {
			ended.Add(1)
			say("outbound socket opened to %s (secureTransport %q)", s.Address(), s.SecureTransport())
		},
		OnSocketClosed: func(s *sockets.Socket, err error) {
			defer ended.Done()
			say("outbound socket to %s ended, error: %v", s.Address(), err)
		},
	}

	// 1. The subscriber: paho.mqtt.golang (MQTT 3.1.1). Only the connection
	// function changes; everything else is paho as usual.
	received := make(chan pahomqtt.Message, 3)
	so3 := pahomqtt.NewClientOptions().
		AddBroker(u.String()).
		SetClientID(fmt.Sprintf("outbound-example-sub-%d", os.Getpid())).
		SetCustomOpenConnectionFn(mqtt.OpenConnection(opts))
	sub := pahomqtt.NewClient(so3)
	if err := wait(ctx, sub.Connect()); err != nil {
		return fmt.Errorf("subscriber: %w", err)
	}
	say("subscriber (paho.mqtt.golang, MQTT 3.1.1) connected")
	if err := wait(ctx, sub.Subscribe(*topic, 2, func(_ pahomqtt.Client, m pahomqtt.Message) { received <- m })); err != nil {
		sub.Disconnect(0)
		return err
	}
	say("subscribed to %s at QoS 2", *topic)

	// 2. The publisher: autopaho (MQTT 5), with outbound's AttemptConnection.
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls:        []*url.URL{u},
		KeepAlive:         30,
		ConnectTimeout:    10 * time.Second,
		AttemptConnection: mqtt.AttemptConnection(opts),
		ClientConfig:      paho.ClientConfig{ClientID: fmt.Sprintf("outbound-example-pub-%d", os.Getpid())},
	})
	if err != nil {
		sub.Disconnect(0)
		return err
	}
	defer func() {
		cm.Disconnect(context.Background())
		<-cm.Done()
		sub.Disconnect(250)
		ended.Wait()
	}()
	if err := cm.AwaitConnection(ctx); err != nil {
		return fmt.Errorf("publisher: %w", err)
	}
	say("publisher (autopaho, MQTT 5) connected")

	// 3. One message at each QoS, each awaited before the next.
	for qos := byte(0); qos <= 2; qos++ {
		payload := fmt.Sprintf("hello at QoS %d", qos)
		if _, err := cm.Publish(ctx, &paho.Publish{Topic: *topic, QoS: qos, Payload: []byte(payload)}); err != nil {
			return fmt.Errorf("publish at QoS %d: %w", qos, err)
		}
		select {
		case m := <-received:
			say("received %q at QoS %d", m.Payload(), m.Qos())
		case <-ctx.Done():
			return fmt.Errorf("no message at QoS %d: %w", qos, ctx.Err())
		}
	}
	return nil
}

func wait(ctx context.Context, t pahomqtt.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startBroker serves MQTT on l with an in-process broker (mochi-mqtt), so the
// example runs anywhere. stop closes the broker and l.
func startBroker(l net.Listener) (stop func(), err error) {
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	err = errors.Join(srv.AddHook(new(allowAll), nil), srv.AddListener(listeners.NewNet("example", l)))
	if err == nil {
		err = srv.Serve()
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	return func() { srv.Close() }, nil
}

// allowAll lets every client connect and use every topic.
type allowAll struct{ mochi.HookBase }

func (h *allowAll) ID() string { return "allow-all" }

func (h *allowAll) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (h *allowAll) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (h *allowAll) OnACLCheck(*mochi.Client, string, bool) bool { return true }
