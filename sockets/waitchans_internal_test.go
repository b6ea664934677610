package sockets

import (
	"context"
	"net"
	"testing"
	"time"
)

func listenInternal(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String()
}

// A Connect claimed at once by Opened makes neither of the attempt's
// channels: nothing waited on them.
func TestClaimedAttemptMakesNoChannels(t *testing.T) {
	addr := listenInternal(t)
	ctx := context.Background()
	s, err := Connect(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := s.pending()
	if p == nil {
		t.Fatal("a socket just returned by Connect has no pending state")
	}
	if _, err := s.Opened(ctx); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	ready, ended, finished := p.ready, p.ended, p.finished
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
	addr := listenInternal(t)
	ctx := context.Background()

	s, err := Connect(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := s.pending()
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
	blocked := Address{Hostname: "192.0.2.1", Port: 9} // TEST-NET-1: the dial hangs
	s2, err := ConnectAddress(ctx, blocked, nil)
	if err != nil {
		t.Fatal(err)
	}
	p2 := s2.pending()
	ready2, ended2 := p2.waitChans()
	s2.Close()
	for name, c := range map[string]<-chan struct{}{"ended": ended2, "ready": ready2} {
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not close after Close of a pending socket", name)
		}
	}
	if _, err := s2.Opened(ctx); err == nil {
		t.Error("Opened of a socket closed while pending reports no error")
	}
}
