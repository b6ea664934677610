package sockets

import (
	"sync"
	"time"
)

// pendingDeadline lets I/O that waits for a pending socket to open honour
// the deadline set on it. Once the socket opens, deadlines go straight to the
// connection and this is no longer used. The channel is replaced only after
// it has fired, so a waiter holding the old channel sees a later extension.
type pendingDeadline struct {
	mu    sync.Mutex
	timer *time.Timer
	ch    chan struct{} // closed when the deadline passes
}

func (d *pendingDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.ch // the timer closed it; wait is immediate
	}
	d.timer = nil
	if d.ch == nil {
		d.ch = make(chan struct{})
	}
	closed := isClosedChan(d.ch)
	if t.IsZero() {
		if closed {
			d.ch = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.ch = make(chan struct{})
		}
		ch := d.ch
		d.timer = time.AfterFunc(dur, func() { close(ch) })
		return
	}
	if !closed {
		close(d.ch)
	}
}

// wait returns the channel that closes when the deadline passes (nil: never).
func (d *pendingDeadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}

func (d *pendingDeadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}

func isClosedChan(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
