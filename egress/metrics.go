package egress

import (
	"encoding/json"
	"sync/atomic"
)

var reasons = [...]string{ReasonRule, ReasonDefault, ReasonPort25, ReasonRequireScope}

func reasonIndex(r string) int {
	for i, x := range reasons {
		if x == r {
			return i
		}
	}
	return 0
}

// Metrics counts egress decisions, open sockets and bytes for the policies
// that share it ([PolicyConfig].Metrics). The zero value is ready to use;
// all methods are safe for concurrent use. Counters carry no hostnames or
// addresses, only the fixed set of reasons, so they are safe to export as
// metric labels.
type Metrics struct {
	allowed  atomic.Uint64
	denied   [len(reasons)]atomic.Uint64
	reported [len(reasons)]atomic.Uint64
	limited  atomic.Uint64
	opened   atomic.Uint64
	open     atomic.Int64
	in, out  atomic.Uint64
}

// Stats is a snapshot of [Metrics]. It marshals to JSON, so publishing it
// with the standard library's expvar is one line:
//
//	expvar.Publish("egress", expvar.Func(func() any { return m.Stats() }))
type Stats struct {
	// Allowed counts allowed decisions: one per address dialed, or one per
	// connection when the decision did not need the address.
	Allowed uint64 `json:"allowed"`
	// Denied counts enforced denials by reason ("rule", "default",
	// "port-25", "require-scope"); every reason is present.
	Denied map[string]uint64 `json:"denied"`
	// Reported counts denials a report-mode policy let through, by reason.
	Reported map[string]uint64 `json:"reported"`
	// Limited counts Connects a fail-fast Scope refused with [sockets.ErrLimit].
	Limited uint64 `json:"limited"`
	// Opened counts sockets connected (a socket and the one StartTLS
	// returns for it count once); Open is how many of them are not yet
	// closed.
	Opened uint64 `json:"opened"`
	Open   int64  `json:"open"`
	// BytesIn and BytesOut count bytes read from and written to the
	// sockets, as the application sees them (plaintext for TLS).
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
}

// DeniedTotal sums Denied over the reasons.
func (s Stats) DeniedTotal() uint64 {
	var n uint64
	for _, v := range s.Denied {
		n += v
	}
	return n
}

// String returns the snapshot as JSON.
func (s Stats) String() string {
	b, _ := json.Marshal(s)
	return string(b)
}

// Stats returns a snapshot of the counters.
func (m *Metrics) Stats() Stats {
	s := Stats{
		Allowed:  m.allowed.Load(),
		Denied:   make(map[string]uint64, len(reasons)),
		Reported: make(map[string]uint64, len(reasons)),
		Limited:  m.limited.Load(),
		Opened:   m.opened.Load(),
		Open:     m.open.Load(),
		BytesIn:  m.in.Load(),
		BytesOut: m.out.Load(),
	}
	for i, r := range reasons {
		s.Denied[r] = m.denied[i].Load()
		s.Reported[r] = m.reported[i].Load()
	}
	return s
}

func (m *Metrics) decision(allowed, report bool, reason string) {
	switch {
	case allowed:
		m.allowed.Add(1)
	case report:
		m.reported[reasonIndex(reason)].Add(1)
	default:
		m.denied[reasonIndex(reason)].Add(1)
	}
}

// counter is Metrics as the [sockets.Counter] of the connections a
// policy lets through.
type counter Metrics

func (c *counter) SocketOpened() {
	c.opened.Add(1)
	c.open.Add(1)
}
func (c *counter) SocketClosed()        { c.open.Add(-1) }
func (c *counter) ConnectLimited()      { c.limited.Add(1) }
func (c *counter) BytesRead(n int64)    { c.in.Add(uint64(n)) }
func (c *counter) BytesWritten(n int64) { c.out.Add(uint64(n)) }
