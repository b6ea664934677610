package sockets

import (
	"context"
	"io"
	"net"
	"testing"
	"time"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

// connectPending connects to addr and returns the socket, closed when the
// test ends, with its pending state.
func connectPending(t *testing.T, addr string) (*Socket, *pending) {
	t.Helper()
	s, err := Connect(context.Background(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	p := s.pending()
	if p == nil {
		t.Fatal("a socket just returned by Connect has no pending state")
	}
	return s, p
}

func discardServer(t *testing.T) string {
	t.Helper()
	srv, err := sockettest.NewServer(func(c net.Conn) { io.Copy(io.Discard, c) })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv.Addr()
}

// A Connect claimed at once by Opened makes neither of the attempt's
// channels: nothing waited on them.
func TestClaimedAttemptMakesNoChannels(t *testing.T) {
	s, p := connectPending(t, discardServer(t))
	if _, err := s.Opened(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	ready, ended, finished := p.ready, p.ended, s.pend != p
	s.mu.Unlock()
	if ready != nil || ended != nil {
		t.Errorf("after an inline Opened: ready %v, ended %v; want neither made", ready, ended)
	}
	if !finished {
		t.Error("the attempt is not marked finished after Opened returned")
	}
	// A waiter that comes after the attempt finished gets closed channels
	// at once, and makes nothing.
	r, e := p.waitChans()
	if !isClosedChan(r) {
		t.Error("ready asked for after the attempt finished is not closed")
	}
	if isClosedChan(e) {
		t.Error("ended is closed, but the socket opened before it ended")
	}
	s.Close()
	if p.ready != nil {
		t.Error("waitChans made a ready channel for a finished attempt")
	}
}

// A waiter that takes the channels while the attempt runs is woken by its
// end: ready when the attempt finishes, ended when the socket is closed
// while pending.
func TestWaiterChannelsCloseOnFinishAndEnd(t *testing.T) {
	_, p := connectPending(t, discardServer(t))
	ready, ended := p.waitChans()
	if isClosedChan(ready) || isClosedChan(ended) {
		t.Fatal("channels taken before the attempt ran are already closed")
	}
	p.background()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("ready did not close when the attempt finished")
	}
	if isClosedChan(ended) {
		t.Error("ended closed, but the socket opened before anything closed it")
	}

	// Closed while pending: ended closes, and so does ready once the
	// attempt (cancelled, or never started) is done.
	s2, p2 := connectPending(t, "192.0.2.1:9") // TEST-NET-1: the dial hangs
	ready2, ended2 := p2.waitChans()
	s2.Close()
	for name, c := range map[string]<-chan struct{}{"ended": ended2, "ready": ready2} {
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not close after Close of a pending socket", name)
		}
	}
	if _, err := s2.Opened(context.Background()); err == nil {
		t.Error("Opened of a socket closed while pending reports no error")
	}
}
