package mqtt_test

import (
	"crypto/tls"
	"log/slog"
	"net"
	"sync"
	"time"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// broker is an in-process MQTT broker (mochi-mqtt) on 127.0.0.1 that can be
// killed abruptly (every client connection reset) and started again on the
// same address.
type broker struct {
	addr string
	tls  *tls.Config
	srv  *mochi.Server
	ln   *trackingListener
}

// startBroker starts a broker on addr ("127.0.0.1:0" for a fresh port),
// serving MQTT over TLS when cfg is not nil.
func startBroker(addr string, cfg *tls.Config) (*broker, error) {
	b := &broker{tls: cfg}
	if err := b.start(addr); err != nil {
		return nil, err
	}
	return b, nil
}

func (b *broker) start(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	b.addr = l.Addr().String()
	b.ln = &trackingListener{Listener: l}
	var ln net.Listener = b.ln
	if b.tls != nil {
		ln = tls.NewListener(ln, b.tls)
	}
	srv := mochi.New(&mochi.Options{
		Logger:       slog.New(slog.DiscardHandler),
		InlineClient: true,
	})
	if err := srv.AddHook(new(allowAll), nil); err != nil {
		l.Close()
		return err
	}
	if err := srv.AddListener(listeners.NewNet("test", ln)); err != nil {
		l.Close()
		return err
	}
	if err := srv.Serve(); err != nil {
		l.Close()
		return err
	}
	b.srv = srv
	return nil
}

// url returns the broker's URL with scheme.
func (b *broker) url(scheme string) string { return scheme + "://" + b.addr }

// kill stops the broker as a crash would: every client connection is reset
// (RST, no DISCONNECT), then the server stops.
func (b *broker) kill() {
	b.ln.resetAll()
	b.ln.waitReleased()
	b.srv.Close()
}

// restart starts a fresh broker (no sessions, no retained messages) on the
// same address.
func (b *broker) restart() error { return b.start(b.addr) }

// Close stops the broker in an orderly way.
func (b *broker) Close() {
	b.ln.waitReleased()
	b.srv.Close()
}

// trackingListener remembers the connections it accepted, and knows when
// the broker has let go of each.
//
// mochi-mqtt (v2.7.9) adds each connection to its WaitGroup inside the
// connection's own goroutine, so a Server.Close that is not ordered after
// that goroutine is a data race for the race detector. The broker closes
// each connection after that Add; waiting for those closes before
// Server.Close orders the two.
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*trackedConn
	total int
}

type trackedConn struct {
	*net.TCPConn
	once     sync.Once
	released chan struct{} // closed when the broker closes the connection
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { close(c.released) })
	return c.TCPConn.Close()
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{TCPConn: c.(*net.TCPConn), released: make(chan struct{})}
	l.mu.Lock()
	l.conns = append(l.conns, tc)
	l.total++
	l.mu.Unlock()
	return tc, nil
}

// resetAll closes the listener and resets every accepted connection, under
// the broker's feet.
func (l *trackingListener) resetAll() {
	l.Listener.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		c.SetLinger(0)
		c.TCPConn.Close()
	}
}

// waitReleased waits (a few seconds at most) until the broker has closed
// every connection it accepted, and forgets them.
func (l *trackingListener) waitReleased() {
	l.mu.Lock()
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	deadline := time.After(5 * time.Second)
	for _, c := range conns {
		select {
		case <-c.released:
		case <-deadline:
			return // clients still connected: Server.Close disconnects them
		}
	}
}

// allowAll lets every client connect and use every topic (what mochi's
// hooks/auth.AllowHook does, without that package's extra dependencies).
type allowAll struct{ mochi.HookBase }

func (h *allowAll) ID() string { return "allow-all" }

func (h *allowAll) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (h *allowAll) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (h *allowAll) OnACLCheck(*mochi.Client, string, bool) bool { return true }
