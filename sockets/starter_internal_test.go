package sockets

import (
	"context"
	"testing"
	"time"
)

// starterState reads the starter's timer state and arm counts.
func starterState() (armed bool, connectArms, tickArms int) {
	starter.mu.Lock()
	defer starter.mu.Unlock()
	return starter.armedAt != 0, starter.connectArms, starter.tickArms
}

// waitStarterQuiet waits until the starter's timer has stopped.
func waitStarterQuiet(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if armed, _, _ := starterState(); !armed {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the starter's timer is still armed 5 s after the last Connect")
		}
		time.Sleep(idleDelay / 2)
	}
}

// While Connects keep coming, the starter's timer re-arms itself when it
// fires, rather than being re-armed by Connect; once Connects stop it
// stops too, and an attempt queued while it ticked, which nothing claims,
// still starts.
func TestStarterTicksWhileBusyThenStops(t *testing.T) {
	addr := discardServer(t)
	ctx := context.Background()
	waitStarterQuiet(t)
	_, c0, k0 := starterState()
	start := time.Now()
	n := 0
	for time.Since(start) < 15*idleDelay {
		s, err := Connect(ctx, addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Opened(ctx); err != nil {
			t.Fatal(err)
		}
		s.Close()
		n++
	}
	_, c1, k1 := starterState()
	connectArms, tickArms := c1-c0, k1-k0
	t.Logf("%d connects in %v: Connect armed the timer %d times, the timer re-armed itself %d times", n, time.Since(start).Round(time.Millisecond), connectArms, tickArms)
	if connectArms < 1 {
		t.Errorf("Connect never armed the stopped timer")
	}
	// Each time Connect arms a stopped timer (the first Connect, or one
	// after a stall of the loop longer than idleDelay), the timer then
	// re-arms itself for as long as Connects go on.
	if connectArms > tickArms {
		t.Errorf("Connect armed the timer %d times and the timer itself %d: Connect is re-arming a timer that should be ticking", connectArms, tickArms)
	}

	// Queued while the timer ticks, claimed by nothing: it still starts.
	ExpectUnclaimedConnects(t, ctx)

	// With no more Connects the timer stops, and stays stopped.
	waitStarterQuiet(t)
	time.Sleep(3 * idleDelay)
	if armed, _, _ := starterState(); armed {
		t.Error("the starter's timer re-armed itself with no Connect since it last fired")
	}
}
