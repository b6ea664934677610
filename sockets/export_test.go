package sockets

import (
	"context"
	"net"
	"testing"
	"time"
)

// ExpectUnclaimedConnects checks that a Connect nothing waits on still
// connects: the attempt starts in a goroutine of its own soon after, and
// the peer sees the connection.
func ExpectUnclaimedConnects(t *testing.T, ctx context.Context) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	s, err := Connect(ctx, ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	c, err := ln.Accept()
	if err != nil {
		t.Fatalf("the peer saw no connection from a Connect nothing waited on: %v", err)
	}
	c.Close()
}

// TLSPendingBytes reports how much ciphertext s's TLS transport keeps back
// after a write timed out mid-record.
func TLSPendingBytes(s *Socket) int {
	if s.tlsConn == nil {
		return 0
	}
	tt := s.transport()
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return len(tt.pending)
}

// AttemptDone returns a channel closed once s's connect attempt has finished.
func AttemptDone(s *Socket) <-chan struct{} {
	if p := s.pending(); p != nil {
		ready, _ := p.waitChans()
		return ready
	}
	return closedChan
}

// StarterState reports whether the starter's timer is due, how many
// attempts are queued, and how often the timer has been armed.
func StarterState() (due bool, queued, arms int) {
	due, queued, arms, _ = starterState()
	return due, queued, arms
}

// WaitStarterQuiet waits until the starter's timer is not due.
var WaitStarterQuiet = waitStarterQuiet
