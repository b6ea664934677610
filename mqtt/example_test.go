package mqtt_test

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	pahov3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/outboundhq/outbound/mqtt"
	"github.com/outboundhq/outbound/sockets"
)

// exampleBroker starts an in-process broker so the examples run anywhere;
// a real program connects to its own broker's URL instead.
func exampleBroker() (brokerURL string, stop func()) {
	b, err := startBroker("127.0.0.1:0", nil)
	if err != nil {
		log.Fatal(err)
	}
	return b.url("mqtt"), b.Close
}

// paho.mqtt.golang (MQTT 3.1.1): every connection, reconnects included, is
// an outbound socket.
func ExampleOpenConnection() {
	brokerURL, stop := exampleBroker()
	defer stop()

	o := pahov3.NewClientOptions().AddBroker(brokerURL).SetClientID("example-v3")
	o.SetCustomOpenConnectionFn(mqtt.OpenConnection(nil))
	c := pahov3.NewClient(o)
	if t := c.Connect(); t.Wait() && t.Error() != nil {
		log.Fatal(t.Error())
	}
	defer c.Disconnect(250)

	got := make(chan string, 1)
	if t := c.Subscribe("greetings", 1, func(_ pahov3.Client, m pahov3.Message) { got <- string(m.Payload()) }); t.Wait() && t.Error() != nil {
		log.Fatal(t.Error())
	}
	if t := c.Publish("greetings", 1, false, "hello through outbound"); t.Wait() && t.Error() != nil {
		log.Fatal(t.Error())
	}
	fmt.Println(<-got)
	// Output: hello through outbound
}

// autopaho (MQTT 5): the connection manager's first connection and every
// reconnect go through AttemptConnection.
func ExampleAttemptConnection() {
	brokerURL, stop := exampleBroker()
	defer stop()
	u, _ := url.Parse(brokerURL)

	got := make(chan string, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls:        []*url.URL{u},
		KeepAlive:         30,
		AttemptConnection: mqtt.AttemptConnection(nil),
		ClientConfig: paho.ClientConfig{
			ClientID: "example-v5",
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				got <- string(pr.Packet.Payload)
				return true, nil
			}},
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := cm.AwaitConnection(ctx); err != nil {
		log.Fatal(err)
	}
	if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "greetings", QoS: 1}}}); err != nil {
		log.Fatal(err)
	}
	if _, err := cm.Publish(ctx, &paho.Publish{Topic: "greetings", QoS: 1, Payload: []byte("hello from MQTT 5")}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-got)
	cm.Disconnect(ctx)
	<-cm.Done()
	// Output: hello from MQTT 5
}

// paho.golang's Client on a connection opened with Dial.
func ExampleDial() {
	brokerURL, stop := exampleBroker()
	defer stop()
	u, _ := url.Parse(brokerURL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	conn, err := mqtt.Dial(ctx, u, nil)
	if err != nil {
		log.Fatal(err) // connect refused, denied by the egress policy, TLS failure
	}
	c := paho.NewClient(paho.ClientConfig{ClientID: "example-dial", Conn: conn})
	ca, err := c.Connect(ctx, &paho.Connect{ClientID: "example-dial", KeepAlive: 30, CleanStart: true})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("connack reason:", ca.ReasonCode, "secure transport:", conn.Socket().SecureTransport())
	c.Disconnect(&paho.Disconnect{})
	<-c.Done()
	// Output: connack reason: 0 secure transport: off
}

// OnSocketClosed tells why each connection ended: nil for a clean ending, the
// cause (a reset, a TLS error) otherwise.
func ExampleOptions_onSocketClosed() {
	brokerURL, stop := exampleBroker()
	defer stop()

	ended := make(chan error, 1)
	opts := &mqtt.Options{
		OnSocketClosed: func(s *sockets.Socket, err error) { ended <- err },
	}
	o := pahov3.NewClientOptions().AddBroker(brokerURL).SetClientID("example-hooks")
	o.SetCustomOpenConnectionFn(mqtt.OpenConnection(opts))
	c := pahov3.NewClient(o)
	if t := c.Connect(); t.Wait() && t.Error() != nil {
		log.Fatal(t.Error())
	}
	c.Disconnect(250)
	fmt.Println("socket ended, error:", <-ended)
	// Output: socket ended, error: <nil>
}

// A request scope: the MQTT connection opened while handling a request
// belongs to the request's scope and closes when the request ends.
func ExampleOpenConnectionContext() {
	brokerURL, stop := exampleBroker()
	defer stop()

	scope := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Name: "POST /alerts"})
	ctx := sockets.WithScope(context.Background(), scope)
	ended := make(chan error, 1)
	opts := &mqtt.Options{OnSocketClosed: func(_ *sockets.Socket, err error) { ended <- err }}

	o := pahov3.NewClientOptions().AddBroker(brokerURL).SetClientID("example-scope").SetAutoReconnect(false)
	o.SetCustomOpenConnectionFn(mqtt.OpenConnectionContext(ctx, opts))
	c := pahov3.NewClient(o)
	if t := c.Connect(); t.Wait() && t.Error() != nil {
		log.Fatal(t.Error())
	}
	if t := c.Publish("alerts", 1, false, "disk full"); t.Wait() && t.Error() != nil {
		log.Fatal(t.Error())
	}
	open, _ := scope.Open()
	fmt.Println("sockets open in the scope:", open)

	scope.Close() // the request is done
	fmt.Println("socket ended:", <-ended)
	c.Disconnect(0)
	// Output:
	// sockets open in the scope: 1
	// socket ended: <nil>
}
