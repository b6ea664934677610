package mqtt_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/outboundhq/outbound/mqtt"
	"github.com/outboundhq/outbound/sockets"
)

// TestBrokerRestart kills the in-process broker in the middle of a stream of
// messages (every connection reset, as a crash does), starts it again on the
// same address, and checks that the client reconnects through a new outbound
// socket, that the old socket reports the reset as the reason it ended, and
// that the stream resumes.
func TestBrokerRestart(t *testing.T) {
	for _, kind := range clientKinds {
		if !kind.reconnect {
			continue
		}
		t.Run(kind.name, func(t *testing.T) { testBrokerRestart(t, kind) })
	}
}

func testBrokerRestart(t *testing.T, kind clientKind) {
	b, err := startBroker("127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	killed := false
	defer func() {
		if !killed {
			b.Close()
		}
	}()
	ctx := testContext(t, 30*time.Second)

	type ending struct {
		s   *sockets.Socket
		err error
	}
	var (
		mu     sync.Mutex
		opened []*sockets.Socket
	)
	endings := make(chan ending, 16)
	o := &mqtt.Options{
		OnSocketOpened: func(s *sockets.Socket) { mu.Lock(); opened = append(opened, s); mu.Unlock() },
		OnSocketClosed: func(s *sockets.Socket, err error) { endings <- ending{s, err} },
	}
	topic := "outbound/restart/" + kind.name
	in := newInbox()
	ups := make(chan error, 16)
	var lost atomic.Int32
	c, err := kind.connect(ctx, clientConfig{
		URL:       b.url("mqtt"),
		ClientID:  clientID(t, "restart"),
		Options:   o,
		Reconnect: true,
		// The restarted broker has no session: subscribe on every connection.
		OnUp:      func(c client) { ups <- c.Subscribe(ctx, topic, 1) },
		OnMessage: in.add,
		OnLost:    func(error) { lost.Add(1) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitUp := func() {
		t.Helper()
		select {
		case err := <-ups:
			if err != nil {
				t.Fatalf("subscribe on connection up: %v", err)
			}
		case <-ctx.Done():
			t.Fatal("the client did not (re)connect")
		}
	}
	waitUp()

	// The stream: one QoS 1 message every few milliseconds, numbered.
	var sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			pctx, cancel := context.WithTimeout(ctx, time.Second)
			// Errors are expected while the broker is down.
			if c.Publish(pctx, topic, 1, false, []byte(strconv.Itoa(i))) == nil {
				sent.Store(int64(i))
			}
			cancel()
		}
	}()
	defer func() { close(stop); wg.Wait() }()

	atLeast := func(n int64) func([]message) bool {
		return func(ms []message) bool {
			for _, m := range ms {
				if v, _ := strconv.ParseInt(m.Payload, 10, 64); v >= n {
					return true
				}
			}
			return false
		}
	}
	if _, err := in.wait(ctx, atLeast(20)); err != nil {
		t.Fatalf("before the restart: %v", err)
	}

	b.kill()
	killed = true
	select {
	case e := <-endings:
		mu.Lock()
		first := opened[0]
		mu.Unlock()
		if e.s != first {
			t.Errorf("the socket that ended is not the first one")
		}
		if !errors.Is(e.err, syscall.ECONNRESET) && !errors.Is(e.err, syscall.EPIPE) {
			t.Errorf("the old socket's Err is %v, want a connection reset", e.err)
		}
		if !strings.Contains(fmt.Sprint(e.s.Err()), "reset") && !errors.Is(e.s.Err(), syscall.EPIPE) {
			t.Errorf("Socket.Err() = %v, want it to name the reset", e.s.Err())
		}
	case <-ctx.Done():
		t.Fatal("OnSocketClosed not called for the socket of the killed broker")
	}
	// Let a few reconnect attempts fail against the dead address.
	time.Sleep(100 * time.Millisecond)
	if err := b.restart(); err != nil {
		t.Fatalf("restart the broker on %s: %v", b.addr, err)
	}
	killed = false
	waitUp()
	mu.Lock()
	n := len(opened)
	mu.Unlock()
	if n < 2 {
		t.Fatalf("%d sockets opened, want a new one for the reconnect", n)
	}
	if lost.Load() == 0 {
		t.Errorf("the client did not report the connection lost")
	}
	// The stream resumes: messages sent after the reconnect arrive.
	after := sent.Load() + 1
	if _, err := in.wait(ctx, atLeast(after+20)); err != nil {
		t.Fatalf("after the restart (waiting for message %d): %v", after+20, err)
	}
}
