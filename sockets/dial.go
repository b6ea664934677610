package sockets

import (
	"context"
	"net"
	"net/netip"
	"sync/atomic"
	"syscall"
	"time"
)

// egress is one connection's policy, scope and proxy state, shared by a
// socket and the socket StartTLS returns for it.
type egress struct {
	req   Request  // what the policy was asked
	scope *Scope   // req.Scope
	count Counter  // the policy's counters, or nil
	check Checker  // decides the addresses at dial time, or nil
	via   DialFunc // the proxy's dial, or nil

	sock  atomic.Pointer[Socket] // the connection's current socket; nil once it ended
	state uint8                  // scope membership, guarded by scope.mu
	grant chan struct{}          // closed when a waiting member gets its slot
}

// checkConnect runs the checks that can be decided when Connect is called,
// before any network traffic: the proxy choice and the policy's checks
// (scope requirement, hostname, port and, for IP literals, address rules).
// It records in o what the dial needs.
func checkConnect(ctx context.Context, o *Options, a Address) error {
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
	// The policy matches the name without a trailing dot; the dial keeps it.
	req := Request{Address: Address{Hostname: a.ruleHost(), Port: a.Port}, Scope: sc, Proxied: via != nil && !resolvesLocally(o.Proxy)}
	var v Verdict
	if o.Policy == nil {
		// The default policy allows all but port 25 and records nothing.
		if err := checkDefault(a); err != nil {
			return err
		}
	} else {
		var err error
		if v, err = o.Policy.CheckConnect(ctx, req); err != nil {
			return err
		}
	}
	if sc == nil && v.Count == nil && via == nil && v.Check == nil {
		return nil // nothing to track: the plain dial
	}
	o.eg = &egress{req: req, scope: sc, count: v.Count, check: v.Check, via: via}
	return nil
}

// admit puts a new socket in its scope and counts it. It runs once per
// Connect, after checkConnect and before the dial starts. The socket
// leaves both when it ends (see Socket.end and egress.leave).
func (s *Socket) admit() error {
	e := s.opts.eg
	if !e.tracked() {
		return nil // nothing to track for this connection
	}
	if e.scope != nil {
		// join counts the socket, under the scope's lock: the scope's
		// end may close s as soon as it is a member.
		err := e.scope.join(e, s)
		if err != nil && e.count != nil && isLimit(err) {
			e.count.ConnectLimited()
		}
		return err
	}
	e.sock.Store(s)
	e.count.SocketOpened()
	return nil
}

// tracked reports whether the connection is a scope member or counted.
func (e *egress) tracked() bool {
	return e != nil && (e.scope != nil || e.count != nil)
}

func isLimit(err error) bool {
	d, ok := err.(*detailError)
	return ok && d.kind == ErrLimit
}

// handOff moves a connection from s to ns, the socket StartTLS returned
// (which shares s's egress): ns takes s's slot in its scope, and the
// connection stays counted once, until ns ends. It runs before s ends.
func (s *Socket) handOff(ns *Socket) {
	e := s.opts.eg
	if !e.tracked() {
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
	} else {
		e.sock.CompareAndSwap(s, ns)
	}
}

// leave runs when socket s, tracked, ends; if s is still the connection's
// socket (not replaced by StartTLS), the connection leaves its scope and
// the count.
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
	if e.count != nil {
		e.count.SocketClosed()
	}
}

// dial opens the transport for a under o; given is a as the caller wrote
// it.
func dial(ctx context.Context, o *Options, a Address, given string) (net.Conn, error) {
	e := o.eg
	if e != nil && e.scope != nil {
		if err := e.scope.acquire(ctx, e); err != nil {
			return nil, err
		}
	}
	if len(o.Layers) > 0 {
		return dialLayers(ctx, o.Layers, a, func(ctx context.Context) (net.Conn, error) { return dialNext(ctx, o, a, given) })
	}
	return dialNext(ctx, o, a, given)
}

// dialNext opens the transport for a under o, below any Layers. Whatever
// opens the TCP connection (the default dialer, Options.Dial, a proxy),
// when the policy decides on a name's addresses the name is resolved here
// and only addresses the policy allowed are handed to it, as IP literals.
func dialNext(ctx context.Context, o *Options, a Address, given string) (net.Conn, error) {
	e := o.eg
	if e != nil && e.check != nil {
		return e.dialChecked(ctx, o, a)
	}
	addr := a.join(given)
	switch {
	case e != nil && e.via != nil:
		return e.via(ctx, "tcp", addr)
	case o.Dial != nil:
		return o.Dial(ctx, "tcp", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// dialChecked resolves a's name, has the policy decide each address, and
// dials the allowed ones, racing them as RFC 8305 (Happy Eyeballs)
// describes. The default dialer's Control hook checks the address the
// kernel is asked to connect to, so what is checked is what is dialled;
// Options.Dial and a proxy are handed the allowed IP literal.
func (e *egress) dialChecked(ctx context.Context, o *Options, a Address) (net.Conn, error) {
	ips, err := e.check.LookupNetIP(ctx, "ip", a.Hostname)
	if err != nil {
		return nil, err
	}
	if len(ips) == 0 {
		return nil, &net.DNSError{Err: "no addresses", Name: a.Hostname, IsNotFound: true}
	}
	allowed, err := e.check.CheckAddrs(ctx, e.req, ips)
	if err != nil {
		return nil, err
	}
	if len(allowed) == 0 {
		return nil, errorf(ErrDenied, "the egress policy allows none of the addresses of "+quote(a.Hostname))
	}
	if len(allowed) == 1 {
		return e.dialAddr(ctx, o, allowed[0]) // no race, and no closure for it
	}
	return race(ctx, allowed, func(ctx context.Context, ip netip.Addr) (net.Conn, error) {
		return e.dialAddr(ctx, o, ip)
	})
}

// dialAddr dials ip, an address the policy allowed, at the request's port.
func (e *egress) dialAddr(ctx context.Context, o *Options, ip netip.Addr) (net.Conn, error) {
	addr := netip.AddrPortFrom(ip, uint16(e.req.Address.Port)).String()
	switch {
	case e.via != nil:
		return e.via(ctx, "tcp", addr)
	case o.Dial != nil:
		return o.Dial(ctx, "tcp", addr)
	}
	d := net.Dialer{ControlContext: func(ctx context.Context, _, address string, _ syscall.RawConn) error {
		return e.control(ctx, address, ip)
	}}
	return d.DialContext(ctx, "tcp", addr)
}

// control checks the address a socket is about to connect to. checked is
// the address the policy allowed for this dial; it stands if the kernel is
// connecting to exactly that address, and anything else is decided anew.
func (e *egress) control(ctx context.Context, address string, checked netip.Addr) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return errorf(ErrDenied, "cannot check "+quote(address)+" against the egress policy: "+err.Error())
	}
	if ap.Addr() == checked && int(ap.Port()) == e.req.Address.Port {
		return nil
	}
	r := e.req
	r.Address.Port = int(ap.Port())
	_, err = e.check.CheckAddrs(ctx, r, []netip.Addr{ap.Addr()})
	return err
}

// attemptDelay is how long a connection attempt runs before the next
// address is tried alongside it (RFC 8305's Connection Attempt Delay; the
// 250 ms it recommends, close to net.Dialer's 300 ms fallback delay).
const attemptDelay = 250 * time.Millisecond

// race dials addrs as RFC 8305 describes: the families interleaved,
// starting with the family of the first answer; a new attempt starts when
// the previous one fails or has run for attemptDelay; the first connection
// wins and every other attempt is cancelled, and closed should it connect
// anyway. dialChecked dials a single address itself, so addrs holds two or
// more.
func race(ctx context.Context, addrs []netip.Addr, dial func(context.Context, netip.Addr) (net.Conn, error)) (net.Conn, error) {
	addrs = interleave(addrs)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		c   net.Conn
		err error
	}
	results := make(chan result, len(addrs))
	var won atomic.Bool
	next, running := 0, 0
	start := func() {
		ip := addrs[next]
		next++
		running++
		go func() {
			c, err := dial(ctx, ip)
			if err == nil && !won.CompareAndSwap(false, true) {
				c.Close() // another attempt won
				err = ErrClosed
				c = nil
			}
			results <- result{c, err}
		}()
	}
	timer := time.NewTimer(attemptDelay)
	defer timer.Stop()
	start()
	var firstErr error
	for {
		var tick <-chan time.Time
		if next < len(addrs) {
			tick = timer.C
		}
		select {
		case r := <-results:
			running--
			if r.err == nil {
				return r.c, nil
			}
			if firstErr == nil {
				firstErr = r.err
			}
			if next < len(addrs) && ctx.Err() == nil {
				start() // a failure starts the next attempt at once
				timer.Reset(attemptDelay)
			} else if running == 0 {
				return nil, firstErr
			}
		case <-tick:
			if ctx.Err() == nil {
				start()
			}
			timer.Reset(attemptDelay)
		}
	}
}

// interleave orders addresses for Happy Eyeballs: alternating families,
// the first answer's family first, each family in the resolver's order.
func interleave(addrs []netip.Addr) []netip.Addr {
	first := addrs[0].Unmap().Is4()
	var same, other []netip.Addr
	for _, a := range addrs {
		if a.Unmap().Is4() == first {
			same = append(same, a)
		} else {
			other = append(other, a)
		}
	}
	if len(other) == 0 {
		return addrs
	}
	out := make([]netip.Addr, 0, len(addrs))
	for i := 0; i < len(same) || i < len(other); i++ {
		if i < len(same) {
			out = append(out, same[i])
		}
		if i < len(other) {
			out = append(out, other[i])
		}
	}
	return out
}
