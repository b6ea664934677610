package mqtt_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"
	pahov3 "github.com/eclipse/paho.mqtt.golang"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/mqtt"
)

// message is what a test client hands its subscription callback.
type message struct {
	Topic   string
	Payload string
	QoS     byte
	Retain  bool
}

// will is a last-will message.
type will struct {
	Topic   string
	Payload string
	QoS     byte
}

// clientConfig is what a test asks of a client, whichever library it uses.
type clientConfig struct {
	URL       string
	ClientID  string
	Options   *mqtt.Options
	TLS       *tls.Config // the client library's own TLS configuration
	Will      *will
	Reconnect bool
	// OnUp is called on each connection (the first and every reconnect),
	// on a goroutine of its own, so it may subscribe.
	OnUp func(c client)
	// OnMessage receives every message the client's subscriptions deliver.
	OnMessage func(m message)
	// OnLost is called with the client library's reason when a connection is lost.
	OnLost func(err error)
}

// client is a connected MQTT client of one of the paho libraries.
type client interface {
	Subscribe(ctx context.Context, topic string, qos byte) error
	// Publish sends a message and, for QoS 1 and 2, waits for the broker's acknowledgement.
	Publish(ctx context.Context, topic string, qos byte, retain bool, payload []byte) error
	// Close disconnects (sending DISCONNECT when the connection is up) and waits for the client to stop.
	Close()
}

// clientKind names a client library and connects one.
type clientKind struct {
	name      string
	reconnect bool // it reconnects by itself
	connect   func(ctx context.Context, cfg clientConfig) (client, error)
}

var clientKinds = []clientKind{
	{"paho.mqtt.golang", true, connectV3},
	{"autopaho", true, connectAutopaho},
	{"paho.golang", false, connectV5},
}

var clientSeq atomic.Int64

// clientID returns a client id unique to this process and test run.
func clientID(t testing.TB, role string) string {
	return fmt.Sprintf("outbound-%s-%d-%d", role, time.Now().UnixNano()%1e9, clientSeq.Add(1))
}

// --- paho.mqtt.golang (MQTT 3.1.1) ---

type v3Client struct {
	c   pahov3.Client
	cfg clientConfig
}

func connectV3(ctx context.Context, cfg clientConfig) (client, error) {
	o := pahov3.NewClientOptions().
		AddBroker(cfg.URL).
		SetClientID(cfg.ClientID).
		SetCustomOpenConnectionFn(mqtt.OpenConnection(cfg.Options)).
		SetConnectTimeout(5 * time.Second).
		SetAutoReconnect(cfg.Reconnect).
		SetConnectRetry(false).
		SetMaxReconnectInterval(100 * time.Millisecond).
		SetOrderMatters(true).
		SetKeepAlive(30 * time.Second)
	if cfg.TLS != nil {
		o.SetTLSConfig(cfg.TLS)
	}
	if cfg.Will != nil {
		o.SetWill(cfg.Will.Topic, cfg.Will.Payload, cfg.Will.QoS, false)
	}
	c := &v3Client{cfg: cfg}
	o.SetDefaultPublishHandler(func(_ pahov3.Client, m pahov3.Message) {
		if cfg.OnMessage != nil {
			cfg.OnMessage(message{m.Topic(), string(m.Payload()), m.Qos(), m.Retained()})
		}
	})
	o.SetConnectionLostHandler(func(_ pahov3.Client, err error) {
		if cfg.OnLost != nil {
			cfg.OnLost(err)
		}
	})
	o.SetOnConnectHandler(func(pahov3.Client) {
		if cfg.OnUp != nil {
			go cfg.OnUp(c)
		}
	})
	c.c = pahov3.NewClient(o)
	if err := waitToken(ctx, c.c.Connect()); err != nil {
		return nil, err
	}
	return c, nil
}

func waitToken(ctx context.Context, tok pahov3.Token) error {
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *v3Client) Subscribe(ctx context.Context, topic string, qos byte) error {
	return waitToken(ctx, c.c.Subscribe(topic, qos, nil))
}

func (c *v3Client) Publish(ctx context.Context, topic string, qos byte, retain bool, payload []byte) error {
	return waitToken(ctx, c.c.Publish(topic, qos, retain, payload))
}

func (c *v3Client) Close() { c.c.Disconnect(250) }

// --- paho.golang (MQTT 5) with autopaho ---

type autopahoClient struct {
	cm     *autopaho.ConnectionManager
	cancel context.CancelFunc
}

func connectAutopaho(ctx context.Context, cfg clientConfig) (client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, err
	}
	c := &autopahoClient{}
	ac := autopaho.ClientConfig{
		ServerUrls:                    []*url.URL{u},
		TlsCfg:                        cfg.TLS,
		KeepAlive:                     30,
		CleanStartOnInitialConnection: true,
		ReconnectBackoff:              autopaho.NewConstantBackoff(50 * time.Millisecond),
		ConnectTimeout:                5 * time.Second,
		AttemptConnection:             mqtt.AttemptConnection(cfg.Options),
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			// cm, not c.cm: this may run before NewConnection returns.
			if cfg.OnUp != nil {
				go cfg.OnUp(&autopahoClient{cm: cm})
			}
		},
		OnConnectionDown: func() bool { return cfg.Reconnect },
		ClientConfig: paho.ClientConfig{
			ClientID: cfg.ClientID,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				if cfg.OnMessage != nil {
					p := pr.Packet
					cfg.OnMessage(message{p.Topic, string(p.Payload), p.QoS, p.Retain})
				}
				return true, nil
			}},
			OnClientError: func(err error) {
				if cfg.OnLost != nil {
					cfg.OnLost(err)
				}
			},
			OnServerDisconnect: func(d *paho.Disconnect) {
				if cfg.OnLost != nil {
					cfg.OnLost(fmt.Errorf("server sent DISCONNECT (reason %d)", d.ReasonCode))
				}
			},
		},
	}
	if cfg.Will != nil {
		ac.WillMessage = &paho.WillMessage{Topic: cfg.Will.Topic, Payload: []byte(cfg.Will.Payload), QoS: cfg.Will.QoS}
	}
	// The manager lives until Close, not until ctx ends.
	mctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	var connErr atomic.Pointer[error]
	ac.OnConnectError = func(err error) {
		connErr.Store(&err)
		if !cfg.Reconnect {
			cancel()
		}
	}
	cm, err := autopaho.NewConnection(mctx, ac)
	if err != nil {
		cancel()
		return nil, err
	}
	c.cm = cm
	if err := cm.AwaitConnection(ctx); err != nil {
		cancel()
		<-cm.Done()
		if e := connErr.Load(); e != nil {
			return nil, *e
		}
		return nil, err
	}
	return c, nil
}

func (c *autopahoClient) Subscribe(ctx context.Context, topic string, qos byte) error {
	sa, err := c.cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: qos}}})
	if err != nil {
		return err
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] > 2 {
		return fmt.Errorf("subscribe %s: refused with reasons %v", topic, sa.Reasons)
	}
	return nil
}

func (c *autopahoClient) Publish(ctx context.Context, topic string, qos byte, retain bool, payload []byte) error {
	_, err := c.cm.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Retain: retain, Payload: payload})
	return err
}

func (c *autopahoClient) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.cm.Disconnect(ctx); err != nil {
		c.cancel()
	}
	<-c.cm.Done()
	c.cancel()
}

// --- paho.golang (MQTT 5) on a Conn from mqtt.Dial ---

type v5Client struct {
	c *paho.Client
}

func connectV5(ctx context.Context, cfg clientConfig) (client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, err
	}
	o := mqttOptionsWithTLS(cfg.Options, cfg.TLS)
	conn, err := mqtt.Dial(ctx, u, o)
	if err != nil {
		return nil, err
	}
	pc := paho.NewClient(paho.ClientConfig{
		ClientID: cfg.ClientID,
		Conn:     conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			if cfg.OnMessage != nil {
				p := pr.Packet
				cfg.OnMessage(message{p.Topic, string(p.Payload), p.QoS, p.Retain})
			}
			return true, nil
		}},
		OnClientError: func(err error) {
			if cfg.OnLost != nil {
				cfg.OnLost(err)
			}
		},
	})
	cp := &paho.Connect{ClientID: cfg.ClientID, KeepAlive: 30, CleanStart: true}
	if cfg.Will != nil {
		cp.WillMessage = &paho.WillMessage{Topic: cfg.Will.Topic, Payload: []byte(cfg.Will.Payload), QoS: cfg.Will.QoS}
	}
	ca, err := pc.Connect(ctx, cp)
	if err != nil {
		conn.Close()
		return nil, err
	}
	if ca.ReasonCode != 0 {
		conn.Close()
		return nil, fmt.Errorf("connect refused: reason %d", ca.ReasonCode)
	}
	c := &v5Client{pc}
	if cfg.OnUp != nil {
		go cfg.OnUp(c)
	}
	return c, nil
}

// mqttOptionsWithTLS returns o with cfg as its sockets' TLS configuration
// (mqtt.Dial has no client-library TLS configuration to take it from).
func mqttOptionsWithTLS(o *mqtt.Options, cfg *tls.Config) *mqtt.Options {
	if cfg == nil {
		return o
	}
	var c mqtt.Options
	if o != nil {
		c = *o
	}
	var d dialers.Dialer
	if c.Dialer != nil {
		d = *c.Dialer
	}
	so := *orZero(d.Options)
	so.TLSConfig = cfg
	d.Options = &so
	c.Dialer = &d
	return &c
}

func (c *v5Client) Subscribe(ctx context.Context, topic string, qos byte) error {
	sa, err := c.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: qos}}})
	if err != nil {
		return err
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] > 2 {
		return fmt.Errorf("subscribe %s: refused with reasons %v", topic, sa.Reasons)
	}
	return nil
}

func (c *v5Client) Publish(ctx context.Context, topic string, qos byte, retain bool, payload []byte) error {
	_, err := c.c.Publish(ctx, &paho.Publish{Topic: topic, QoS: qos, Retain: retain, Payload: payload})
	return err
}

func (c *v5Client) Close() {
	// An error means the connection was already down; Disconnect closes it all the same.
	_ = c.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	<-c.c.Done()
}

func orZero[T any](p *T) *T {
	if p == nil {
		return new(T)
	}
	return p
}
