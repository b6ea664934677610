package sockets

import (
	"context"
	"net"
	"testing"
	"time"
)

// starterState reads the starter's timer state and counts.
func starterState() (armed bool, queued, arms, parks int) {
	starter.mu.Lock()
	defer starter.mu.Unlock()
	return starter.armedAt != 0, len(starter.queue), starter.arms, starter.parks
}

// waitStarterQuiet waits until the starter's timer is not due (stopped or
// parked).
func waitStarterQuiet(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if armed, _, _, _ := starterState(); !armed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the starter's timer is still due 5 s after the last Connect")
		}
		time.Sleep(idleDelay / 2)
	}
}

// The starter's timer is due only while attempts are queued: Connect arms
// it, and the claim (Opened, Write) that empties the queue parks it, so a
// program that connects often keeps no timer due while its connections
// wait on the network.
func TestStarterArmedOnlyWhileQueued(t *testing.T) {
	addr := discardServer(t)
	ctx := context.Background()
	waitStarterQuiet(t)
	_, _, a0, s0 := starterState()
	const n = 60
	for i := range n {
		s, err := Connect(ctx, addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if armed, queued, _, _ := starterState(); !armed || queued != 1 {
			t.Fatalf("Connect %d: timer armed %v with %d attempts queued, want armed with 1", i, armed, queued)
		}
		switch i % 3 {
		case 0:
			_, err = s.Opened(ctx)
		case 1:
			_, err = s.Write([]byte{'x'})
		case 2:
			err = s.SetReadDeadline(time.Time{}) // not a claim: the attempt stays queued
			if err == nil {
				if armed, queued, _, _ := starterState(); !armed || queued != 1 {
					t.Fatalf("Connect %d, SetReadDeadline: timer armed %v with %d attempts queued, want armed with 1", i, armed, queued)
				}
				_, err = s.Opened(ctx)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		if armed, queued, _, _ := starterState(); armed || queued != 0 {
			t.Fatalf("Connect %d opened: timer armed %v with %d attempts queued, want stopped with none", i, armed, queued)
		}
		s.Close()
	}
	if _, _, a1, s1 := starterState(); a1-a0 != n || s1-s0 != n {
		t.Errorf("%d Connects opened one at a time: the timer was armed %d times and parked %d, want %d and %d", n, a1-a0, s1-s0, n, n)
	}
	// A parked timer that fires (an hour on) finds nothing to start and
	// stays parked.
	startQueued()
	if armed, queued, _, _ := starterState(); armed || queued != 0 {
		t.Errorf("a parked timer that fired left the timer armed %v with %d queued", armed, queued)
	}
}

// Connect, Connect, Opened of the second: the claim leaves the first
// queued, with the timer armed for it, and the first still connects in a
// goroutine of its own; then the timer is not due.
func TestStarterKeepsTimerForOlderAttempt(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx := context.Background()
	waitStarterQuiet(t)
	first, err := Connect(ctx, ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := Connect(ctx, ln.Addr().String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if _, err := second.Opened(ctx); err != nil {
		t.Fatal(err)
	}
	armed, queued, _, _ := starterState()
	if queued == 1 && !armed {
		t.Fatal("the second Connect's claim left the first queued with the timer stopped")
	}
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(5 * time.Second))
	for range 2 {
		c, err := ln.Accept()
		if err != nil {
			t.Fatalf("the peer saw only one of two connections: %v", err)
		}
		c.Close()
	}
	if _, err := first.Opened(ctx); err != nil {
		t.Fatalf("the unclaimed first Connect did not open: %v", err)
	}
	waitStarterQuiet(t)
	if _, queued, _, _ := starterState(); queued != 0 {
		t.Errorf("%d attempts still queued with the timer stopped", queued)
	}
}
