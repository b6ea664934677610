package faults

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/outboundhq/outbound/sockets"
)

// Direction says which way a toxic acts: on the bytes this program sends
// (Upstream, its writes) or receives (Downstream, its reads), or both.
// The zero value is Downstream, as in toxiproxy.
type Direction int

const (
	Downstream Direction = iota // the bytes the peer sends: reads
	Upstream                    // the bytes this program sends: writes
	Both                        // each direction, with its own state
)

// String returns "downstream", "upstream" or "both".
func (d Direction) String() string {
	switch d {
	case Downstream:
		return "downstream"
	case Upstream:
		return "upstream"
	case Both:
		return "both"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

func (d Direction) has(up bool) bool {
	return d == Both || (d == Upstream) == up
}

// Match selects the connections a rule applies to by their destination.
// Every field that is set must match; the zero Match matches every
// connection.
type Match struct {
	// Host is a hostname, matched case-insensitively and without a trailing
	// dot against the address the program dialled, or "*.example.com" for
	// every name under example.com. An IP literal host matches the address
	// dialled when that is the same IP.
	Host string

	// Port is the destination port; 0 matches any.
	Port int

	// Prefix is an IP range (a single address is a /32 or /128). It is
	// matched against the dialled address when that is an IP literal, and
	// otherwise against the connected peer's address, after the TCP connect:
	// connect-time toxics of such a rule then act on a connection that was
	// made (the peer sees it accepted and closed).
	Prefix netip.Prefix
}

func (m Match) check() error {
	if m.Port < 0 || m.Port > 65535 {
		return fmt.Errorf("Match.Port %d is out of range; use 1-65535, or 0 for any port", m.Port)
	}
	if m.Host != "" {
		h := strings.TrimPrefix(m.Host, "*.")
		if h == "" || strings.ContainsAny(h, "*/: ") && !isIP(h) {
			return fmt.Errorf("Match.Host %q is not a hostname; use a name such as \"db.internal\" or \"*.internal\" (put ranges in Prefix, ports in Port)", m.Host)
		}
	}
	if m.Prefix != (netip.Prefix{}) && !m.Prefix.IsValid() {
		return fmt.Errorf("Match.Prefix %q is not a valid IP range", m.Prefix)
	}
	return nil
}

func isIP(s string) bool { _, err := netip.ParseAddr(s); return err == nil }

// dest is a connection's destination as the rules see it.
type dest struct {
	host string     // lower case, no trailing dot, no brackets
	port int        // destination port
	ip   netip.Addr // the dialled IP literal, or the peer's IP once connected
}

// matches reports whether m selects d. needIP is true when m has a Prefix
// and d has no IP yet: the caller must decide again once it has one.
func (m Match) matches(d dest) (ok, needIP bool) {
	if m.Port != 0 && m.Port != d.port {
		return false, false
	}
	if m.Host != "" {
		h := normHost(m.Host)
		if rest, wild := strings.CutPrefix(h, "*."); wild {
			if !strings.HasSuffix(d.host, "."+rest) {
				return false, false
			}
		} else if h != d.host {
			a, err1 := netip.ParseAddr(h)
			if err1 != nil || !d.ip.IsValid() || a.Unmap() != d.ip {
				return false, false
			}
		}
	}
	if m.Prefix.IsValid() {
		if !d.ip.IsValid() {
			return false, true
		}
		if !m.Prefix.Masked().Contains(d.ip) && !(d.ip.Is4() && m.Prefix.Contains(netip.AddrFrom16(d.ip.As16()))) {
			return false, false
		}
	}
	return true, false
}

func normHost(h string) string {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// A Rule applies one toxic to the connections its Match selects.
type Rule struct {
	// Name identifies the rule in its Injector: [Injector.Remove] takes it,
	// and [Injector.Add] with a Name already there replaces that rule.
	Name string

	Match     Match
	Direction Direction // ignored by connect-time toxics

	// Toxicity is the fraction of connections, from 0 to 1, the rule
	// applies to (toxiproxy's toxicity); 0 means 1, every connection. Each
	// connection is drawn once per rule, from the Injector's seed, the
	// connection's number (1 for the Injector's first connection, 2 for the
	// next) and the rule's name, so a run with the same seed and the same
	// order of dials draws the same connections.
	Toxicity float64

	Toxic Toxic
}

func (r Rule) check() error {
	if r.Name == "" {
		return errors.New("faults: the rule has no Name; name it so Remove can find it")
	}
	if r.Toxic == nil {
		return fmt.Errorf("faults: rule %q has no Toxic; set one such as faults.Latency{Latency: 50 * time.Millisecond}", r.Name)
	}
	if err := r.Toxic.check(); err != nil {
		return fmt.Errorf("faults: rule %q: %T: %w", r.Name, r.Toxic, err)
	}
	if err := r.Match.check(); err != nil {
		return fmt.Errorf("faults: rule %q: %w", r.Name, err)
	}
	if r.Direction < Downstream || r.Direction > Both {
		return fmt.Errorf("faults: rule %q: Direction %d is not Downstream, Upstream or Both", r.Name, int(r.Direction))
	}
	if r.Toxicity < 0 || r.Toxicity > 1 || r.Toxicity != r.Toxicity {
		return fmt.Errorf("faults: rule %q: Toxicity %v is not a fraction from 0 to 1", r.Name, r.Toxicity)
	}
	return nil
}

// rule is a Rule as added: id tells apart a rule from the one that
// replaced it under the same name.
type rule struct {
	Rule
	id uint64
}

// Options configure an [Injector]. A nil *Options means the defaults.
type Options struct {
	// Seed seeds the toxicity draws, the jitter of [Latency] and the sizes of
	// [Slicer], for runs that repeat. Zero means a random seed.
	Seed uint64

	// AlwaysWrap wraps every connection, even while the Injector has no
	// rules, so that rules added later reach connections opened before
	// (a pool's idle connections). Without it, a connection dialled while
	// there are no rules is handed on unwrapped and no rule ever reaches it:
	// the data path is then exactly the socket's own.
	AlwaysWrap bool
}

// An Injector injects faults into the connections it dials. It is a
// [sockets.Layer]: put it in [sockets.Options.Layers] (and so in the
// dialers.Dialer every adapter takes) and it runs around the dial of every
// connection, after the egress policy allowed it. Rules can be added and
// removed at any time; a change applies to new connections and to the open
// connections the Injector wrapped. An Injector is safe for concurrent use.
type Injector struct {
	seed       uint64
	alwaysWrap bool

	snap atomic.Pointer[[]*rule] // nil while there are no rules
	seq  atomic.Uint64           // connections seen

	mu      sync.Mutex
	rules   []*rule
	ids     uint64
	conns   map[*conn]struct{}
	changed chan struct{} // closed and replaced at every change
}

var _ sockets.Layer = (*Injector)(nil)

// New returns an Injector with no rules. opts is copied; nil means the defaults.
func New(opts *Options) *Injector {
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Seed == 0 {
		var b [8]byte
		crand.Read(b[:])
		o.Seed = binary.LittleEndian.Uint64(b[:]) | 1
	}
	return &Injector{seed: o.Seed, alwaysWrap: o.AlwaysWrap,
		conns: map[*conn]struct{}{}, changed: make(chan struct{})}
}

// Add adds r, or replaces the rule of the same name (its per-connection
// state, such as bytes counted and timers, starts again). The change
// applies to new connections and to the open ones this Injector wrapped.
// The error names the field to change.
func (in *Injector) Add(r Rule) error {
	if err := r.check(); err != nil {
		return err
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	in.ids++
	nr := &rule{Rule: r, id: in.ids}
	if i := slices.IndexFunc(in.rules, func(x *rule) bool { return x.Name == r.Name }); i >= 0 {
		in.rules[i] = nr
	} else {
		in.rules = append(in.rules, nr)
	}
	in.publish()
	return nil
}

// Remove removes the rule named name and reports whether there was one.
// Open connections stop feeling it: a held [Timeout] lets data flow again,
// a pending [ResetPeer] timer stops.
func (in *Injector) Remove(name string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	i := slices.IndexFunc(in.rules, func(x *rule) bool { return x.Name == name })
	if i < 0 {
		return false
	}
	in.rules = slices.Delete(in.rules, i, i+1)
	in.publish()
	return true
}

// Clear removes every rule.
func (in *Injector) Clear() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.rules = nil
	in.publish()
}

// Rules returns a copy of the rules, in the order they were first added.
func (in *Injector) Rules() []Rule {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]Rule, len(in.rules))
	for i, r := range in.rules {
		out[i] = r.Rule
	}
	return out
}

// publish makes the rules current for new dials and open connections. in.mu is held.
func (in *Injector) publish() {
	if len(in.rules) == 0 {
		in.snap.Store(nil)
	} else {
		s := slices.Clone(in.rules)
		in.snap.Store(&s)
	}
	close(in.changed)
	in.changed = make(chan struct{})
	rs := in.current()
	for c := range in.conns {
		if c.refresh(rs) {
			c.reset()
		}
	}
}

func (in *Injector) current() []*rule {
	if p := in.snap.Load(); p != nil {
		return *p
	}
	return nil
}

// applies draws whether r applies to connection number seq.
func (in *Injector) applies(r *rule, seq uint64) bool {
	if r.Toxicity == 0 || r.Toxicity == 1 {
		return true
	}
	h := fnv.New64a()
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], in.seed)
	binary.LittleEndian.PutUint64(b[8:], seq)
	h.Write(b[:])
	h.Write([]byte(r.Name))
	return float64(mix(h.Sum64())>>11)/(1<<53) < r.Toxicity
}

// mix is splitmix64's finaliser: it spreads FNV's low-entropy high bits.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// Dial implements [sockets.Layer]. With no rules (and no AlwaysWrap) it
// returns next's connection unchanged. Otherwise it applies the
// connect-time toxics that match, then dials, and wraps the connection so
// that the data-path toxics act on it, now and as rules change.
func (in *Injector) Dial(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error) {
	if in.snap.Load() == nil && !in.alwaysWrap {
		return next(ctx)
	}
	seq := in.seq.Add(1)
	d := dest{host: normHost(a.Hostname), port: int(a.Port)}
	if ip, err := netip.ParseAddr(d.host); err == nil {
		d.ip = ip.Unmap()
	}
	if err := in.connectFaults(ctx, d, seq, nil); err != nil {
		return nil, err
	}
	c, err := next(ctx)
	if err != nil {
		return nil, err
	}
	if !d.ip.IsValid() {
		if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			ip, _ := netip.AddrFromSlice(ta.IP)
			d.ip = ip.Unmap()
			if err := in.connectFaults(ctx, d, seq, c); err != nil {
				c.Close()
				return nil, err
			}
		}
	}
	return in.wrap(c, d, seq), nil
}

// connectFaults applies the connect-time toxics for d. With c nil it runs
// before the dial, for the rules that can be matched without the peer's IP;
// with c set, after it, for the rules that needed it.
func (in *Injector) connectFaults(ctx context.Context, d dest, seq uint64, c net.Conn) error {
	delayed := false
	for {
		in.mu.Lock()
		changed := in.changed
		in.mu.Unlock()
		var delay time.Duration
		hole := false
		for _, r := range in.current() {
			if !r.Toxic.connect() {
				continue
			}
			if c != nil && !r.Match.Prefix.IsValid() {
				continue // matched before the dial
			}
			if ok, _ := r.Match.matches(d); !ok || !in.applies(r, seq) {
				continue
			}
			switch t := r.Toxic.(type) {
			case Refuse:
				return refusedError(d, c)
			case ConnectDelay:
				delay += t.Delay
			case Blackhole:
				hole = true
			}
		}
		switch {
		case hole:
			select {
			case <-ctx.Done():
				return dialCtxError(ctx, d, c)
			case <-changed:
				continue
			}
		case delay > 0 && !delayed:
			t := time.NewTimer(delay)
			select {
			case <-ctx.Done():
				t.Stop()
				return dialCtxError(ctx, d, c)
			case <-t.C:
			}
			delayed = true
			continue
		}
		return nil
	}
}
