package faults

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The states of a wrapped connection.
const (
	stOpen   int32 = iota
	stClosed       // Close was called
	stReset        // a ResetPeer fired
	stEnded        // a LimitData or Timeout closed it: reads see io.EOF
)

// conn is a connection with toxics. The data path goes straight to raw when
// no toxic acts in a direction; a toxic that waits (latency, bandwidth,
// slicer, timeout) sleeps on the calling goroutine, woken early by a
// deadline, a Close, a reset or a change of rules.
type conn struct {
	in  *Injector
	raw net.Conn
	d   dest
	seq uint64

	act   atomic.Pointer[active]
	state atomic.Int32

	rmu         sync.Mutex // the reader's toxic state
	rrng        *rand.Rand
	pend        []byte    // bytes read but held by Latency
	pendDue     time.Time // when pend may be handed on
	eofDue      time.Time // when a peer's EOF held by SlowClose is handed on
	lastRead    time.Time // when the last read through the toxics returned
	lastArrived time.Time // when its bytes were taken to have arrived
	lastFull    bool      // whether it filled its buffer

	lastWrite atomic.Int64 // when the last write through the toxics returned (Unix ns)
	wmu       sync.Mutex   // the writer's toxic state
	wrng      *rand.Rand
	mu        sync.Mutex // guards what follows
	rdl, wdl  time.Time
	wake      chan struct{} // closed and replaced at every change
	rules     map[uint64]*ruleState
}

var (
	_ net.Conn     = (*conn)(nil)
	_ syscall.Conn = (*conn)(nil)
)

// ruleState is one rule's state on one connection.
type ruleState struct {
	r        *rule
	up, down dirState
	timer    *time.Timer
}

// dirState is a rule's state in one direction of one connection. It is
// used under that direction's mutex (rmu or wmu).
type dirState struct {
	next time.Time // Bandwidth: when the next bytes may pass
	last time.Time // Slicer: when the last piece passed
	n    int64     // bytes passed
}

// active is what acts on a connection now, per direction.
type active struct {
	up, down         []tox
	holdUp, holdDown bool // a Timeout holds the data
	slowUp, slowDown time.Duration
}

type tox struct {
	r  *rule
	st *dirState
}

var noToxics = &active{}

func (in *Injector) wrap(raw net.Conn, d dest, seq uint64) *conn {
	c := &conn{in: in, raw: raw, d: d, seq: seq, wake: make(chan struct{}), rules: map[uint64]*ruleState{},
		rrng: rand.New(rand.NewPCG(in.seed, 2*seq+1)), wrng: rand.New(rand.NewPCG(in.seed, 2*seq))}
	c.act.Store(noToxics)
	in.mu.Lock()
	in.conns[c] = struct{}{}
	now := c.refresh(in.current())
	in.mu.Unlock()
	if now {
		c.reset()
	}
	return c
}

func (in *Injector) forget(c *conn) {
	in.mu.Lock()
	delete(in.conns, c)
	in.mu.Unlock()
}

// refresh recomputes the toxics of c from rs, keeping the state of rules
// that stay and arming the timers of new ones. It reports whether a
// ResetPeer wants the connection reset at once (the caller does it, with
// no lock held but in.mu).
func (c *conn) refresh(rs []*rule) (resetNow bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.Load() != stOpen {
		return false
	}
	a := &active{}
	keep := make(map[uint64]bool, len(rs))
	for _, r := range rs {
		if r.Toxic.connect() {
			continue
		}
		if ok, _ := r.Match.matches(c.d); !ok || !c.in.applies(r, c.seq) {
			continue
		}
		keep[r.id] = true
		st := c.rules[r.id]
		if st == nil {
			st = &ruleState{r: r}
			c.rules[r.id] = st
			if c.arm(st) {
				resetNow = true
			}
		}
		for _, up := range [2]bool{true, false} {
			if !r.Direction.has(up) {
				continue
			}
			ds, list, hold, slow := &st.down, &a.down, &a.holdDown, &a.slowDown
			if up {
				ds, list, hold, slow = &st.up, &a.up, &a.holdUp, &a.slowUp
			}
			switch t := r.Toxic.(type) {
			case Timeout:
				*hold = true
			case SlowClose:
				*slow = max(*slow, t.Delay)
			case ResetPeer:
				if t.AfterBytes > 0 {
					*list = append(*list, tox{r, ds})
				}
			default:
				*list = append(*list, tox{r, ds})
			}
		}
	}
	for id, st := range c.rules {
		if !keep[id] {
			if st.timer != nil {
				st.timer.Stop()
			}
			delete(c.rules, id)
		}
	}
	c.act.Store(a)
	c.notifyLocked()
	return resetNow
}

// arm starts the timer of a ResetPeer or Timeout that counts from now.
// It reports whether the reset is due at once. c.mu is held.
func (c *conn) arm(st *ruleState) (resetNow bool) {
	switch t := st.r.Toxic.(type) {
	case ResetPeer:
		if t.AfterBytes > 0 {
			return false
		}
		if t.Timeout == 0 {
			return true
		}
		st.timer = time.AfterFunc(t.Timeout, func() {
			if c.current(st) {
				c.reset()
			}
		})
	case Timeout:
		if t.Timeout > 0 {
			st.timer = time.AfterFunc(t.Timeout, func() {
				if c.current(st) {
					c.end()
				}
			})
		}
	}
	return false
}

// current reports whether st is still in force on c (its timer may fire
// just as its rule is removed).
func (c *conn) current(st *ruleState) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rules[st.r.id] == st
}

func (c *conn) notifyLocked() {
	close(c.wake)
	c.wake = make(chan struct{})
}

// stopLocked stops the timers and leaves state s. c.mu is held.
func (c *conn) stopLocked(s int32) {
	c.state.Store(s)
	for _, st := range c.rules {
		if st.timer != nil {
			st.timer.Stop()
		}
	}
	c.notifyLocked()
}

// reset resets the connection as a peer's RST does.
func (c *conn) reset() {
	c.mu.Lock()
	if c.state.Load() != stOpen {
		c.mu.Unlock()
		return
	}
	c.stopLocked(stReset)
	c.mu.Unlock()
	abort(c.raw)
}

// end closes the connection as a peer's close does: reads see io.EOF, and
// the peer sees a FIN. The descriptor stays open until Close.
func (c *conn) end() {
	c.mu.Lock()
	if c.state.Load() != stOpen {
		c.mu.Unlock()
		return
	}
	c.stopLocked(stEnded)
	c.mu.Unlock()
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		c.raw.SetReadDeadline(time.Unix(1, 0)) // unblock a pending read
		return
	}
	c.raw.Close()
}

// abort sends an RST and discards pending data. On Linux the descriptor
// stays open (see disconnect), so a pool's liveness check reads
// ECONNRESET from it as after a peer's RST; elsewhere it is closed with
// SO_LINGER 0.
func abort(raw net.Conn) {
	if tc, ok := raw.(*net.TCPConn); ok {
		if disconnect(tc) {
			return
		}
		tc.SetLinger(0)
	}
	raw.Close()
}

var errChanged = errors.New("faults: toxics changed")

// wait sleeps until until (forever when zero). It returns nil then,
// errChanged when the connection's state changed or, with a set, when its
// toxics are no longer a, and the deadline's error when op's deadline
// passes first.
func (c *conn) wait(op string, until time.Time, a *active) error {
	for {
		c.mu.Lock()
		wake, dl := c.wake, c.rdl
		if op == "write" {
			dl = c.wdl
		}
		c.mu.Unlock()
		if c.state.Load() != stOpen || (a != nil && c.act.Load() != a) {
			return errChanged
		}
		now := time.Now()
		if !dl.IsZero() && !now.Before(dl) {
			return c.opErr(op, os.ErrDeadlineExceeded)
		}
		if !until.IsZero() && !now.Before(until) {
			return nil
		}
		d := time.Duration(-1)
		if !until.IsZero() {
			d = until.Sub(now)
		}
		if !dl.IsZero() && (d < 0 || dl.Sub(now) < d) {
			d = dl.Sub(now)
		}
		if d < 0 {
			<-wake
			continue
		}
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-wake:
			t.Stop()
		}
	}
}

func (c *conn) opErr(op string, err error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.raw.LocalAddr(), Addr: c.raw.RemoteAddr(), Err: err}
}

// stateErr is what op fails with once the connection left stOpen.
func (c *conn) stateErr(op string) error {
	switch c.state.Load() {
	case stClosed:
		return c.opErr(op, net.ErrClosed)
	case stReset:
		return c.opErr(op, os.NewSyscallError(op, syscall.ECONNRESET))
	case stEnded:
		if op == "read" {
			return io.EOF
		}
		return c.opErr(op, os.NewSyscallError(op, syscall.EPIPE))
	}
	return nil
}

// mapErr turns the error of raw's I/O into what a toxic that ended the
// connection makes of it (the raw connection's own error otherwise).
func (c *conn) mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if e := c.stateErr(op); e != nil {
		return e
	}
	return err
}

// readyRead is how fast a read returns when its bytes were already waiting.
const readyRead = 500 * time.Microsecond

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func jitter(t Latency, r *rand.Rand) time.Duration {
	if t.Jitter <= 0 {
		return t.Latency
	}
	return t.Latency + time.Duration(r.Int64N(int64(2*t.Jitter))) - t.Jitter
}

func slice(t Slicer, r *rand.Rand) int {
	n := t.AverageSize
	if t.SizeVariation > 0 {
		n += r.IntN(2*t.SizeVariation+1) - t.SizeVariation
	}
	return max(n, 1)
}

// chunk is how many bytes a Bandwidth lets pass at a time: 20 ms worth.
func chunk(rate int64) int64 { return max(rate/50, 1) }

// catchUp is how far behind its schedule a Bandwidth may fall and still
// make the time up.
const catchUp = 250 * time.Millisecond

func perBytes(n int, rate int64) time.Duration {
	return time.Duration(float64(n) / float64(rate) * float64(time.Second))
}

// Read reads the peer's bytes through the downstream toxics.
func (c *conn) Read(b []byte) (int, error) {
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for {
		s := c.state.Load()
		if s != stOpen && !(s == stEnded && len(c.pend) > 0) {
			return 0, c.stateErr("read")
		}
		a := c.act.Load()
		if len(c.pend) > 0 {
			due := c.pendDue
			if !hasLatency(a.down) {
				due = time.Now()
			}
			if s == stOpen {
				if err := c.wait("read", due, a); err == errChanged {
					continue
				} else if err != nil {
					return 0, err
				}
			}
			n := copy(b, c.pend)
			if c.pend = c.pend[n:]; len(c.pend) == 0 {
				c.pend = nil
			}
			return n, nil
		}
		if !c.eofDue.IsZero() {
			if err := c.wait("read", c.eofDue, nil); err == errChanged {
				continue
			} else if err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		if len(a.down) == 0 && !a.holdDown && a.slowDown == 0 {
			n, err := c.raw.Read(b)
			return n, c.mapErr("read", err)
		}
		if a.holdDown {
			if err := c.wait("read", time.Time{}, a); err != errChanged {
				return 0, err
			}
			continue
		}
		size := int64(len(b))
		var due time.Time
		var lat time.Duration
		var over bool
		for _, t := range a.down {
			switch x := t.r.Toxic.(type) {
			case Latency:
				lat += jitter(x, c.rrng)
			case Bandwidth:
				size = min(size, chunk(x.Rate))
				due = later(due, t.st.next)
			case Slicer:
				size = min(size, int64(slice(x, c.rrng)))
				if !t.st.last.IsZero() {
					due = later(due, t.st.last.Add(x.Delay))
				}
			case LimitData:
				if rem := x.Bytes - t.st.n; rem <= 0 {
					c.end()
					over = true
				} else {
					size = min(size, rem)
				}
			case ResetPeer:
				if rem := x.AfterBytes - t.st.n; rem <= 0 {
					c.reset()
					over = true
				} else {
					size = min(size, rem)
				}
			}
		}
		if over {
			continue
		}
		if !due.IsZero() {
			if err := c.wait("read", due, a); err == errChanged {
				continue
			} else if err != nil {
				return 0, err
			}
		}
		called := time.Now()
		n, err := c.raw.Read(b[:size])
		now := time.Now()
		arrived := now
		if now.Sub(called) < readyRead {
			// The bytes were waiting. If the last read filled its buffer,
			// they were probably there with its bytes; otherwise they came
			// after it. For a reply, they came after the last write too.
			// Counting the delay from then delays a reply read in several
			// pieces, or a stream, once, as toxiproxy delays each chunk
			// from its arrival.
			base := c.lastRead
			if c.lastFull {
				base = c.lastArrived
			}
			arrived = later(base, time.Unix(0, c.lastWrite.Load()))
		}
		c.lastRead, c.lastArrived, c.lastFull = now, arrived, int64(n) == size
		if err == io.EOF && n == 0 && a.slowDown > 0 && c.state.Load() == stOpen {
			c.eofDue = now.Add(a.slowDown)
			continue
		}
		trip := c.account(a.down, n, now, false)
		if err != nil {
			trip()
			return n, c.mapErr("read", err)
		}
		if lat > 0 && n > 0 {
			due := arrived.Add(lat)
			if err := c.wait("read", due, nil); err != nil {
				c.pend = append(c.pend[:0], b[:n]...)
				c.pendDue = due
				trip()
				if err == errChanged {
					continue
				}
				return 0, err
			}
		}
		trip()
		return n, nil
	}
}

// account records n bytes passing through ts at now. The returned func
// fires the limits they reached; the caller runs it once the bytes are
// handed on.
// cont says the bytes continue the same Write, whose pieces keep to one
// schedule however late the wake-ups.
func (c *conn) account(ts []tox, n int, now time.Time, cont bool) (trip func()) {
	var reset, end bool
	for _, t := range ts {
		switch x := t.r.Toxic.(type) {
		case Bandwidth:
			// Keep to the schedule through oversleeps (timer wake-ups lag
			// on a loaded machine) by catching up to catchUp; after a longer
			// pause, start afresh.
			base := t.st.next
			if base.IsZero() || (!cont && now.Sub(base) > catchUp) {
				base = now
			}
			t.st.next = base.Add(perBytes(n, x.Rate))
		case Slicer:
			t.st.last = now
		case LimitData:
			t.st.n += int64(n)
			end = end || t.st.n >= x.Bytes
		case ResetPeer:
			t.st.n += int64(n)
			reset = reset || t.st.n >= x.AfterBytes
		}
	}
	return func() {
		if reset {
			c.reset()
		}
		if end {
			c.end()
		}
	}
}

func hasLatency(ts []tox) bool {
	for _, t := range ts {
		if _, ok := t.r.Toxic.(Latency); ok {
			return true
		}
	}
	return false
}

// Write writes b through the upstream toxics.
func (c *conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	var n int
	var latDue time.Time
	for {
		if err := c.stateErr("write"); err != nil {
			return n, err
		}
		a := c.act.Load()
		if len(a.up) == 0 && !a.holdUp {
			m, err := c.raw.Write(b)
			if len(a.down) > 0 {
				c.lastWrite.Store(time.Now().UnixNano())
			}
			return n + m, c.mapErr("write", err)
		}
		if a.holdUp {
			if err := c.wait("write", time.Time{}, a); err != errChanged {
				return n, err
			}
			continue
		}
		if len(b) == 0 {
			return n, nil
		}
		size := int64(len(b))
		var due time.Time
		var over, paced bool
		for _, t := range a.up {
			switch x := t.r.Toxic.(type) {
			case Latency:
				if latDue.IsZero() {
					latDue = time.Now().Add(jitter(x, c.wrng))
				}
				due = later(due, latDue)
			case Bandwidth:
				size = min(size, chunk(x.Rate))
				due = later(due, t.st.next)
				paced = true
			case Slicer:
				size = min(size, int64(slice(x, c.wrng)))
				if !t.st.last.IsZero() {
					due = later(due, t.st.last.Add(x.Delay))
				}
			case LimitData:
				if rem := x.Bytes - t.st.n; rem <= 0 {
					c.end()
					over = true
				} else {
					size = min(size, rem)
				}
			case ResetPeer:
				if rem := x.AfterBytes - t.st.n; rem <= 0 {
					c.reset()
					over = true
				} else {
					size = min(size, rem)
				}
			}
		}
		if over {
			continue
		}
		if !due.IsZero() {
			if err := c.wait("write", due, a); err == errChanged {
				continue
			} else if err != nil {
				return n, err
			}
		}
		m, err := c.raw.Write(b[:size])
		now := time.Now()
		c.lastWrite.Store(now.UnixNano())
		c.account(a.up, m, now, n > 0)()
		n += m
		b = b[m:]
		if err != nil {
			return n, c.mapErr("write", err)
		}
		if c.state.Load() == stEnded {
			// A LimitData was reached: the rest is lost in flight, as when
			// a peer closes while the kernel still buffers the write.
			return n + len(b), nil
		}
		if len(b) == 0 {
			if paced {
				// The last piece is paid for too: writing 1 MiB at 256 KiB/s
				// takes 4 s, not 4 s less one piece.
				var next time.Time
				for _, t := range a.up {
					if _, ok := t.r.Toxic.(Bandwidth); ok {
						next = later(next, t.st.next)
					}
				}
				if err := c.wait("write", next, nil); err != nil && err != errChanged {
					return n, err
				}
			}
			return n, nil
		}
	}
}

// Close closes the connection. With an upstream SlowClose the peer sees
// the close that much later; pending I/O is unblocked at once either way.
func (c *conn) Close() error {
	c.mu.Lock()
	prev := c.state.Load()
	if prev == stClosed {
		c.mu.Unlock()
		return c.opErr("close", net.ErrClosed)
	}
	c.stopLocked(stClosed)
	a := c.act.Load()
	c.mu.Unlock()
	c.in.forget(c)
	if prev == stOpen && a.slowUp > 0 {
		c.raw.SetDeadline(time.Unix(1, 0))
		time.AfterFunc(a.slowUp, func() { c.raw.Close() })
		return nil
	}
	c.raw.Close()
	return nil
}

// CloseWrite shuts the write side, when the connection under it can.
func (c *conn) CloseWrite() error {
	if err := c.stateErr("close"); err != nil {
		return err
	}
	if cw, ok := c.raw.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.opErr("close", errors.New("the connection has no CloseWrite"))
}

// SyscallConn returns the descriptor of the connection under the toxics,
// for a pool's liveness check (go-sql-driver/mysql reads it directly, and
// after a ResetPeer reads ECONNRESET as after a peer's RST).
func (c *conn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.raw.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, c.opErr("raw-control", errors.New("the connection under the fault injector has no descriptor"))
}

func (c *conn) LocalAddr() net.Addr  { return c.raw.LocalAddr() }
func (c *conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

func (c *conn) SetDeadline(t time.Time) error {
	c.setDeadline(t, true, true)
	return c.raw.SetDeadline(t)
}

func (c *conn) SetReadDeadline(t time.Time) error {
	c.setDeadline(t, true, false)
	return c.raw.SetReadDeadline(t)
}

func (c *conn) SetWriteDeadline(t time.Time) error {
	c.setDeadline(t, false, true)
	return c.raw.SetWriteDeadline(t)
}

func (c *conn) setDeadline(t time.Time, r, w bool) {
	c.mu.Lock()
	if r {
		c.rdl = t
	}
	if w {
		c.wdl = t
	}
	c.notifyLocked()
	c.mu.Unlock()
}
