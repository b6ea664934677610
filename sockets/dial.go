package sockets

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// egress is one connection's policy, scope and proxy state, shared by a
// socket and the socket StartTLS returns for it.
type egress struct {
	p       *Policy
	scope   *Scope
	metrics *Metrics
	via     DialFunc // the proxy's dial, or nil
	check   bool     // address rules decide at dial time
	host    string   // the name as host rules match it

	sock  atomic.Pointer[Socket] // the connection's current socket; nil once it ended
	state uint8                  // scope membership, guarded by scope.mu
	grant chan struct{}          // closed when a waiting member gets its slot
}

// checkConnect runs the checks that can be decided when Connect is called,
// before any network traffic: the scope requirement, the proxy choice, and
// the hostname-, port- and (for IP literals) address-level egress rules.
// It records in o what the dial needs.
func checkConnect(ctx context.Context, o *Options, a Address) error {
	var p *Policy
	if o.Policy != nil {
		p = o.Policy.Policy()
	}
	p = p.orDefault()
	sc := ScopeFrom(ctx)
	var via DialFunc
	if o.Proxy != nil {
		if o.Dial != nil {
			return errorf(ErrInvalidOptions, "both Dial and Proxy are set; set Proxy to dial through a proxy, or Dial to replace the dial, not both")
		}
		var err error
		if via, err = o.Proxy.ProxyFor(a); err != nil {
			return errorf(ErrInvalidOptions, "choosing the egress proxy: "+err.Error())
		}
	}
	if p == defaultPolicy && sc == nil && via == nil && a.Port != 25 {
		// The default policy allows all but port 25 and records nothing:
		// no decision to make, nothing to track.
		return nil
	}
	proxied := via != nil || o.Dial != nil
	if p.cfg.RequireScope && sc == nil {
		d := Decision{Host: a.Hostname, Port: a.Port, rule: -1, Reason: ReasonRequireScope}
		p.name(&d)
		p.record(ctx, &d, nil)
		if p.enforced(&d) {
			return d.err()
		}
	}
	host, check := "", false
	if ip, ok := parseLiteral(a.Hostname); ok {
		d := p.decideAddr("", ip, a.Port)
		d.Host, d.literal, d.proxied = a.Hostname, true, proxied
		p.record(ctx, &d, sc)
		if p.enforced(&d) {
			return d.err()
		}
	} else {
		host = a.ruleHost() // lower case, no trailing dot
		d, final := p.decideName(host, a.Port, proxied)
		if final {
			p.record(ctx, &d, sc)
			if p.enforced(&d) {
				return d.err()
			}
		} else {
			check = true
		}
	}
	if sc == nil && p.cfg.Metrics == nil && via == nil && !check {
		return nil // nothing to track: the plain dial
	}
	o.eg = &egress{p: p, scope: sc, metrics: p.cfg.Metrics, via: via, check: check, host: host}
	return nil
}

// admit puts a new socket in its scope and counts it. It runs once per
// Connect, after checkConnect and before the dial starts.
func (s *Socket) admit() error {
	e := s.opts.eg
	if e == nil || (e.scope == nil && e.metrics == nil) {
		return nil // nothing to track for this connection
	}
	if e.scope != nil {
		if err := e.scope.join(e, s); err != nil {
			if e.metrics != nil && isLimit(err) {
				e.metrics.limited.Add(1)
			}
			return err
		}
	} else {
		e.sock.Store(s)
	}
	if m := e.metrics; m != nil {
		m.opened.Add(1)
		m.open.Add(1)
	}
	s.addCloseHook(func() { e.leave(s) })
	return nil
}

func isLimit(err error) bool {
	d, ok := err.(*detailError)
	return ok && d.kind == ErrLimit
}

// handOff moves a connection from s to ns, the socket StartTLS returned:
// ns joins s's scope in s's slot, and the connection stays counted once.
// It runs before s ends.
func (s *Socket) handOff(ns *Socket) {
	e := s.opts.eg
	if e == nil || (e.scope == nil && e.metrics == nil) {
		return
	}
	if sc := e.scope; sc != nil {
		sc.mu.Lock()
		if e.sock.Load() != s {
			sc.mu.Unlock()
			return // s already ended; ns fails on its own
		}
		if sc.closed {
			sc.mu.Unlock()
			ns.Close()
			return
		}
		e.sock.Store(ns)
		sc.mu.Unlock()
	} else if !e.sock.CompareAndSwap(s, ns) {
		return
	}
	ns.addCloseHook(func() { e.leave(ns) })
}

// leave runs when socket s ends; if s is still the connection's socket (not
// replaced by StartTLS), the connection leaves its scope and the count.
func (e *egress) leave(s *Socket) {
	if sc := e.scope; sc != nil {
		sc.mu.Lock()
		if e.sock.Load() != s {
			sc.mu.Unlock()
			return
		}
		e.sock.Store(nil)
		sc.leave(e)
		sc.mu.Unlock()
	} else if !e.sock.CompareAndSwap(s, nil) {
		return
	}
	if m := e.metrics; m != nil {
		m.open.Add(-1)
	}
}

// dial opens the transport for a under o.
func dial(ctx context.Context, o *Options, a Address) (net.Conn, error) {
	e := o.eg
	if e != nil && e.scope != nil {
		if err := e.scope.acquire(ctx, e); err != nil {
			return nil, err
		}
	}
	if len(o.Layers) > 0 {
		return dialLayers(ctx, o.Layers, a, func(ctx context.Context) (net.Conn, error) { return dialNext(ctx, o, a) })
	}
	return dialNext(ctx, o, a)
}

// dialNext opens the transport for a under o, below any Layers.
func dialNext(ctx context.Context, o *Options, a Address) (net.Conn, error) {
	e := o.eg
	addr := net.JoinHostPort(a.Hostname, strconv.Itoa(a.Port))
	switch {
	case e != nil && e.via != nil:
		return e.via(ctx, "tcp", addr)
	case o.Dial != nil:
		return o.Dial(ctx, "tcp", addr)
	case e != nil && e.check:
		return e.dialChecked(ctx, a)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// dialChecked resolves a's name, decides each address, and dials the
// allowed ones in turn. A Control hook decides again on the address the
// kernel is asked to connect to, so what is checked is what is dialled.
func (e *egress) dialChecked(ctx context.Context, a Address) (net.Conn, error) {
	p := e.p
	r := p.cfg.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", a.Hostname)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: a.Hostname, IsNotFound: true}
	}
	allowed := make([]Decision, 0, len(ips))
	var denied []Decision
	for _, ip := range ips {
		d := p.decideAddr(e.host, ip, a.Port)
		d.Host = a.Hostname
		if p.enforced(&d) {
			p.record(ctx, &d, e.scope)
			denied = append(denied, d)
			continue
		}
		d.IP = ip // dial it as resolved (zone kept); decisions use the canonical form
		allowed = append(allowed, d)
	}
	if len(allowed) == 0 {
		return nil, noneAllowed(a.Hostname, denied)
	}
	var firstErr error
	for i := range allowed {
		d := &allowed[i]
		dialer := net.Dialer{ControlContext: func(ctx context.Context, _, address string, _ syscall.RawConn) error {
			return e.control(ctx, a, address, d)
		}}
		dctx, cancel := partialDeadline(ctx, len(allowed)-i)
		c, err := dialer.DialContext(dctx, "tcp", netip.AddrPortFrom(d.IP, uint16(a.Port)).String())
		cancel()
		if err == nil {
			return c, nil
		}
		if firstErr == nil {
			firstErr = err
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, firstErr
}

// control decides on the address a socket is about to connect to. prev,
// when not nil, is the decision made for the address the dial was given; it
// stands if the kernel is connecting to exactly that address.
func (e *egress) control(ctx context.Context, a Address, address string, prev *Decision) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return errorf(ErrDenied, "cannot check "+quote(address)+" against the egress policy: "+err.Error())
	}
	var d Decision
	if prev != nil && ap.Addr() == prev.IP && int(ap.Port()) == a.Port {
		d = *prev
		d.IP = canonical(d.IP)
	} else {
		d = e.p.decideAddr(e.host, ap.Addr(), int(ap.Port()))
		d.Host = a.Hostname
	}
	e.p.record(ctx, &d, e.scope)
	if e.p.enforced(&d) {
		return d.err()
	}
	return nil
}

func noneAllowed(host string, denied []Decision) error {
	if len(denied) == 1 {
		return denied[0].err()
	}
	var b strings.Builder
	b.WriteString(quote(host) + " resolved to ")
	for i, d := range denied {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(d.IP.String())
	}
	b.WriteString(" and the egress policy allows none of them")
	for _, d := range denied {
		b.WriteString("; ")
		b.WriteString(d.String())
	}
	return errorf(ErrDenied, b.String())
}

// partialDeadline gives one of n remaining addresses its share of ctx's
// time, at least 2 seconds, as net.Dialer does.
func partialDeadline(ctx context.Context, n int) (context.Context, context.CancelFunc) {
	dl, ok := ctx.Deadline()
	if !ok || n <= 1 {
		return ctx, func() {}
	}
	remain := time.Until(dl)
	share := remain / time.Duration(n)
	if share < 2*time.Second {
		share = min(2*time.Second, remain)
	}
	return context.WithTimeout(ctx, share)
}
