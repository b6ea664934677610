package egress

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// A ruleSet is a compiled list of rules. Each rule is indexed under one
// dimension, its driver, chosen at compile time:
//
//   - Hosts, if it has hosts: exact names and "*.suffix" suffixes, each a
//     map from the name to the rules that list it;
//   - else Addrs, if it has an address or prefix: per family, a map from
//     (prefix length, masked address) to the rules, looked up once for each
//     length present; the class names of such rules are indexed too
//     (classKeys);
//   - else Ports, if it has ports (class names then are checked directly):
//     a segment tree over the 16-bit ports;
//   - else Addrs, if it names only classes: per class, the rules;
//   - else always: a rule without constraints matches everything (only
//     the first allow and the first deny of them matter).
//
// A decision looks up the driver indexes only and checks each candidate's
// other dimensions on compact per-rule data, keeping the lowest matching
// deny and allow; so it costs the number of candidates, not of rules.
type ruleSet struct {
	n       int
	flags   []uint8     // per rule, rf*
	classes []addrClass // per rule, the classes its Addrs name (hint reads them too)

	// Direct-check data, for the dimensions a rule's driver does not
	// imply: ports of host- and address-driven rules, prefixes of
	// host-driven rules. Rule i's are [off[i], off[i+1]).
	portOff  []uint32
	ranges   []portRange
	prefOff  []uint32
	prefixes []prefix

	// The postings of every key (host names, masked addresses, classes):
	// key k's rules are post[keyOff[k]:keyOff[k+1]], in ascending order.
	keyOff []uint32
	post   []int32

	exact, suffix  map[string]uint32    // name → key
	v4             map[uint64]uint32    // length<<32 | masked address → key
	v6             map[[3]uint64]uint32 // {masked address, length} → key
	v4Bits, v6Bits []uint8              // the lengths present, ascending
	classKeys      [numClasses]uint32   // class bit → key

	ports *portTree // the port-driven rules; nil for none

	// Name mode (decideName) cannot look addresses up; of the
	// address-driven rules it needs only, per port, the lowest allow and
	// whether any matches, so those are precomputed (a second port tree of
	// postings would have to be scanned for the same two answers).
	// nmAllow and nmAny are per port (nil when no address-driven rule has
	// ports); nmAllow25 is the lowest allow that lists 25; noPort* are over
	// the address-driven rules without ports.
	nmAllow     []int32
	nmAny       []uint64
	nmAllow25   int32
	noPortAllow int32
	noPortAny   bool

	alwaysDeny, alwaysAllow int32 // the lowest rules without constraints

	// What Config gives back: rule i's Hosts, Addrs and Ports are
	// strs[strOff[3i]:strOff[3i+1]], [3i+1:3i+2] and [3i+2:3i+3] (the
	// strings share the caller's bytes, which are immutable); the names
	// set are in names, by rule.
	strs     []string
	strOff   []uint32
	names    []ruleName // ascending index
	nilRules bool

	// unnamed caches the "rules[i]" names that decisions have used, so a
	// decision does not allocate one each time.
	unnamed [64]atomic.Pointer[ruleName]
}

type ruleName struct {
	i    int32
	name string
}

// Rule flags.
const (
	rfDeny    uint8 = 1 << iota
	rfLists25       // Ports lists 25 by itself
	rfHosts
	rfAddrs  // any Addrs
	rfPrefix // Addrs has an address or a prefix, not only class names
	rfPorts
)

// none is the "no rule" of the minima.
const none = math.MaxInt32

type portRange struct{ lo, hi uint16 }

// prefix is an address prefix of either family: an IPv4 one in the low 32
// bits of lo.
type prefix struct {
	hi, lo uint64
	bits   uint8
	v4     bool
}

// portTree is a segment tree over the ports in heap layout: the block of
// 2^k ports starting at the aligned port p is node (1<<(16-k)) + (p>>k), so
// port p lies in the blocks (1<<(16-k)) + (p>>k) for k = 0..16. Node n's
// rules are ids[off[n]:off[n+1]], ascending.
type portTree struct {
	off []uint32 // 1<<17 + 1
	ids []int32
}

const treeNodes = 1 << 17

func mask4(b uint8) uint32 { return ^uint32(0) << (32 - b) } // a shift by 32 is 0

func mask6(b uint8) (hi, lo uint64) {
	if b <= 64 {
		return ^uint64(0) << (64 - b), 0
	}
	return ^uint64(0), ^uint64(0) << (128 - b)
}

// qaddr is the address a decision checks: canonical IPv4 in a4, else the
// 128 bits of the IPv6 address (zero for the invalid Addr, which the rules
// always compared as ::).
type qaddr struct {
	is4    bool
	a4     uint32
	hi, lo uint64
}

func makeQaddr(a netip.Addr) qaddr {
	if a.Is4() {
		b := a.As4()
		return qaddr{is4: true, a4: binary.BigEndian.Uint32(b[:])}
	}
	b := a.As16()
	return qaddr{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

func (p *prefix) contains(q *qaddr) bool {
	if p.v4 != q.is4 {
		return false
	}
	if q.is4 {
		return q.a4&mask4(p.bits) == uint32(p.lo)
	}
	mh, ml := mask6(p.bits)
	return q.hi&mh == p.hi && q.lo&ml == p.lo
}

func makePrefix(p netip.Prefix) prefix {
	q := makeQaddr(p.Addr())
	if q.is4 {
		return prefix{lo: uint64(q.a4), bits: uint8(p.Bits()), v4: true}
	}
	return prefix{hi: q.hi, lo: q.lo, bits: uint8(p.Bits())}
}

// --- compiling ----------------------------------------------------------------

// builder holds what compileRules needs only while it runs.
type builder struct {
	rs *ruleSet

	// postings as (key, rule) pairs in rule order, counted into CSR at the end
	pairKey []uint32
	pairID  []int32
	keyLast []int32 // per key, the last rule posted (a value twice in one rule)

	v4Bits [33]bool
	v6Bits [129]bool

	treeNode []uint32 // port-driven (node, rule) pairs
	treeID   []int32

	nmMin []int32  // per tree node, the lowest address-driven allow; nil until needed
	nmAny []uint64 // per tree node

	// per rule, reused
	addrs  []prefix
	rngs   []portRange
	blocks []portPrefix
}

func (b *builder) newKey() uint32 {
	k := uint32(len(b.keyLast))
	b.keyLast = append(b.keyLast, -1)
	return k
}

func (b *builder) postKey(k uint32, id int32) {
	if b.keyLast[k] == id {
		return
	}
	b.keyLast[k] = id
	b.pairKey = append(b.pairKey, k)
	b.pairID = append(b.pairID, id)
}

func (b *builder) hostKey(m map[string]uint32, name string) uint32 {
	k, ok := m[name]
	if !ok {
		k = b.newKey()
		m[name] = k
	}
	return k
}

func (b *builder) prefixKey(p *prefix) uint32 {
	rs := b.rs
	if p.v4 {
		b.v4Bits[p.bits] = true
		key := uint64(p.bits)<<32 | p.lo
		k, ok := rs.v4[key]
		if !ok {
			k = b.newKey()
			rs.v4[key] = k
		}
		return k
	}
	b.v6Bits[p.bits] = true
	key := [3]uint64{p.hi, p.lo, uint64(p.bits)}
	k, ok := rs.v6[key]
	if !ok {
		k = b.newKey()
		rs.v6[key] = k
	}
	return k
}

func compileRules(rules []Rule) (*ruleSet, int, error) {
	n := len(rules)
	// Sizes, to allocate once: the postings are at most one per host and
	// address; the maps' sizes are guessed from the spellings.
	var nhosts, nwild, naddrs, nv4, nv6, nports int
	for i := range rules {
		r := &rules[i]
		nhosts += len(r.Hosts)
		for _, h := range r.Hosts {
			if strings.HasPrefix(strings.TrimSpace(h), "*.") {
				nwild++
			}
		}
		naddrs += len(r.Addrs)
		for _, a := range r.Addrs {
			switch {
			case strings.IndexByte(a, ':') >= 0:
				nv6++
			case strings.IndexByte(a, '.') >= 0:
				nv4++
			}
		}
		nports += len(r.Ports)
	}
	nstr := nhosts + naddrs + nports
	rs := &ruleSet{
		n:           n,
		flags:       make([]uint8, n),
		classes:     make([]addrClass, n),
		portOff:     make([]uint32, 1, n+1),
		prefOff:     make([]uint32, 1, n+1),
		exact:       make(map[string]uint32, nhosts-nwild),
		suffix:      make(map[string]uint32, nwild),
		v4:          make(map[uint64]uint32, nv4),
		v6:          make(map[[3]uint64]uint32, nv6),
		ranges:      make([]portRange, 0, nports),
		nmAllow25:   none,
		noPortAllow: none,
		alwaysDeny:  none,
		alwaysAllow: none,
		strs:        make([]string, 0, nstr),
		strOff:      make([]uint32, 1, 3*n+1),
		nilRules:    rules == nil,
	}
	b := &builder{
		rs:      rs,
		pairKey: make([]uint32, 0, nhosts+naddrs),
		pairID:  make([]int32, 0, nhosts+naddrs),
		keyLast: make([]int32, 0, numClasses+nhosts+naddrs),
	}
	for c := range rs.classKeys {
		rs.classKeys[c] = b.newKey()
	}
	for i := range rules {
		if err := b.add(&rules[i], int32(i)); err != nil {
			return nil, i, err
		}
	}
	b.finish()
	return rs, -1, nil
}

// add compiles rule id.
func (b *builder) add(r *Rule, id int32) error {
	rs := b.rs
	var f uint8
	switch r.Action {
	case Allow:
	case Deny:
		f |= rfDeny
	case "":
		return &specError{field: "action", item: -1, msg: "the rule has no action; set action to \"allow\" or \"deny\""}
	default:
		return &specError{field: "action", item: -1, msg: "action " + quote(string(r.Action)) + " is not \"allow\" or \"deny\""}
	}
	if r.Name != "" {
		rs.names = append(rs.names, ruleName{id, r.Name})
	}
	rs.strs = append(rs.strs, r.Hosts...)
	rs.strOff = append(rs.strOff, uint32(len(rs.strs)))
	rs.strs = append(rs.strs, r.Addrs...)
	rs.strOff = append(rs.strOff, uint32(len(rs.strs)))
	rs.strs = append(rs.strs, r.Ports...)
	rs.strOff = append(rs.strOff, uint32(len(rs.strs)))

	if len(r.Hosts) > 0 {
		f |= rfHosts
	}
	for j, h := range r.Hosts {
		name, wild, err := normalizeHostPattern(h)
		if err != nil {
			return &specError{field: "hosts", item: j, msg: msgOf(err)}
		}
		if wild {
			b.postKey(b.hostKey(rs.suffix, name), id)
		} else {
			b.postKey(b.hostKey(rs.exact, name), id)
		}
	}
	var cls addrClass
	b.addrs = b.addrs[:0]
	if len(r.Addrs) > 0 {
		f |= rfAddrs
	}
	for j, a := range r.Addrs {
		c, p, err := parseAddrRule(a)
		if err != nil {
			return &specError{field: "addrs", item: j, msg: msgOf(err)}
		}
		if c != 0 {
			cls |= c
			continue
		}
		f |= rfPrefix
		b.addrs = append(b.addrs, makePrefix(p))
	}
	rs.classes[id] = cls
	b.rngs = b.rngs[:0]
	if len(r.Ports) > 0 {
		f |= rfPorts
	}
	for j, s := range r.Ports {
		lo, hi, err := parsePortRange(s)
		if err != nil {
			return &specError{field: "ports", item: j, msg: msgOf(err)}
		}
		if lo == 25 && hi == 25 {
			f |= rfLists25
		}
		b.rngs = append(b.rngs, portRange{uint16(lo), uint16(hi)})
	}
	rs.flags[id] = f
	allow := f&rfDeny == 0

	switch {
	case f&rfHosts != 0:
		// posted above; the other dimensions are checked directly
		rs.ranges = append(rs.ranges, b.rngs...)
		rs.prefixes = append(rs.prefixes, b.addrs...)
	case f&rfPrefix != 0, f&rfAddrs != 0 && f&rfPorts == 0:
		for k := range b.addrs {
			b.postKey(b.prefixKey(&b.addrs[k]), id)
		}
		for c := cls; c != 0; c &= c - 1 {
			b.postKey(rs.classKeys[bits.TrailingZeros16(uint16(c))], id)
		}
		rs.ranges = append(rs.ranges, b.rngs...)
		if f&rfPorts == 0 {
			rs.noPortAny = true
			if allow {
				rs.noPortAllow = min(rs.noPortAllow, id)
			}
			break
		}
		if b.nmMin == nil {
			b.nmMin = make([]int32, treeNodes)
			for k := range b.nmMin {
				b.nmMin[k] = none
			}
			b.nmAny = make([]uint64, treeNodes/64)
		}
		if allow && f&rfLists25 != 0 {
			rs.nmAllow25 = min(rs.nmAllow25, id)
		}
		for _, pr := range b.rngs {
			b.blocks = appendPortPrefixes(b.blocks[:0], int(pr.lo), int(pr.hi))
			for _, pp := range b.blocks {
				node := pp.node()
				b.nmAny[node>>6] |= 1 << (node & 63)
				if allow {
					b.nmMin[node] = min(b.nmMin[node], id)
				}
			}
		}
	case f&rfPorts != 0:
		for _, pr := range b.rngs {
			b.blocks = appendPortPrefixes(b.blocks[:0], int(pr.lo), int(pr.hi))
			for _, pp := range b.blocks {
				b.treeNode = append(b.treeNode, uint32(pp.node()))
				b.treeID = append(b.treeID, id)
			}
		}
	default:
		if allow {
			rs.alwaysAllow = min(rs.alwaysAllow, id)
		} else {
			rs.alwaysDeny = min(rs.alwaysDeny, id)
		}
	}
	rs.portOff = append(rs.portOff, uint32(len(rs.ranges)))
	rs.prefOff = append(rs.prefOff, uint32(len(rs.prefixes)))
	return nil
}

// node is the port tree's node of the block.
func (pp portPrefix) node() int { return 1<<pp.bits + pp.v>>(16-pp.bits) }

// csr counts (key, id) pairs into offsets over nkeys keys and the ids in
// pair order.
func csr(keys []uint32, ids []int32, nkeys int) ([]uint32, []int32) {
	off := make([]uint32, nkeys+1)
	for _, k := range keys {
		off[k]++
	}
	for k := 1; k <= nkeys; k++ {
		off[k] += off[k-1] // the end of key k's postings
	}
	// Filled from the last pair back, so each key's rules stay ascending
	// and off[k] ends at its start.
	out := make([]int32, len(ids))
	for j := len(keys) - 1; j >= 0; j-- {
		k := keys[j]
		off[k]--
		out[off[k]] = ids[j]
	}
	return off, out
}

func (b *builder) finish() {
	rs := b.rs
	rs.keyOff, rs.post = csr(b.pairKey, b.pairID, len(b.keyLast))
	for l, ok := range b.v4Bits {
		if ok {
			rs.v4Bits = append(rs.v4Bits, uint8(l))
		}
	}
	for l, ok := range b.v6Bits {
		if ok {
			rs.v6Bits = append(rs.v6Bits, uint8(l))
		}
	}
	if len(b.treeNode) > 0 {
		off, ids := csr(b.treeNode, b.treeID, treeNodes)
		rs.ports = &portTree{off: off, ids: ids}
	}
	if b.nmMin != nil {
		// push each node's minimum and flag down to the ports it covers
		for node := 2; node < treeNodes; node++ {
			up := node >> 1
			b.nmMin[node] = min(b.nmMin[node], b.nmMin[up])
			b.nmAny[node>>6] |= (b.nmAny[up>>6] >> (up & 63) & 1) << (node & 63)
		}
		rs.nmAllow = slices.Clone(b.nmMin[treeNodes/2:])
		rs.nmAny = slices.Clone(b.nmAny[treeNodes/2/64:])
	}
	if len(rs.ranges) == 0 {
		rs.portOff, rs.ranges = nil, nil
	}
	if len(rs.prefixes) == 0 {
		rs.prefOff, rs.prefixes = nil, nil
	}
}

// --- deciding -----------------------------------------------------------------

func (rs *ruleSet) portIn(id int32, port uint16) bool {
	for _, r := range rs.ranges[rs.portOff[id]:rs.portOff[id+1]] {
		if port >= r.lo && port <= r.hi {
			return true
		}
	}
	return false
}

func (rs *ruleSet) prefixIn(id int32, q *qaddr) bool {
	if rs.prefOff == nil {
		return false
	}
	for i := rs.prefOff[id]; i < rs.prefOff[id+1]; i++ {
		if rs.prefixes[i].contains(q) {
			return true
		}
	}
	return false
}

func (rs *ruleSet) postings(k uint32) []int32 { return rs.post[rs.keyOff[k]:rs.keyOff[k+1]] }

// addrEval collects, for one address, the lowest matching deny and allow
// rules (allows that can decide port 25 only, for port 25).
type addrEval struct {
	rs          *ruleSet
	deny, allow int32
	port        uint16
	is25        bool
	q           qaddr
	cls         addrClass
}

// useful reports whether rule id, should it match, would lower a minimum.
// The rules are scanned in ascending order, so a scan stops at the first
// id past the lowest deny.
func (e *addrEval) useful(f uint8, id int32) bool {
	if f&rfDeny != 0 {
		return true
	}
	return id < e.allow && (!e.is25 || f&rfLists25 != 0)
}

func (e *addrEval) found(f uint8, id int32) {
	if f&rfDeny != 0 {
		e.deny = id
	} else {
		e.allow = id
	}
}

// scan checks candidates found through the dimension via (rfHosts,
// rfAddrs or rfPorts), which their match there implies, on the others:
// host-driven ones on ports and addresses, address-driven ones on ports,
// port-driven ones (whose addresses are only classes) on classes.
func (e *addrEval) scan(ids []int32, via uint8) {
	rs := e.rs
	for _, id := range ids {
		if id >= e.deny {
			return
		}
		f := rs.flags[id]
		if !e.useful(f, id) {
			continue
		}
		if via != rfPorts && f&rfPorts != 0 && !rs.portIn(id, e.port) {
			continue
		}
		if via != rfAddrs && f&rfAddrs != 0 && rs.classes[id]&e.cls == 0 && (via == rfPorts || !rs.prefixIn(id, &e.q)) {
			continue
		}
		e.found(f, id)
	}
}

// evalAddr returns the lowest deny and allow rules (none for none) that
// match host (normalised; "" for an IP literal, which host rules never
// match), port and the canonical address a of classes cls.
func (rs *ruleSet) evalAddr(host string, port int, a netip.Addr, cls addrClass) (deny, allow int32) {
	e := addrEval{rs: rs, deny: rs.alwaysDeny, allow: none, port: uint16(port), is25: port == 25, q: makeQaddr(a), cls: cls}
	if !e.is25 {
		e.allow = rs.alwaysAllow
	}
	if host != "" {
		if k, ok := rs.exact[host]; ok {
			e.scan(rs.postings(k), rfHosts)
		}
		if len(rs.suffix) > 0 {
			for i := 0; i < len(host); i++ {
				if host[i] == '.' {
					if k, ok := rs.suffix[host[i+1:]]; ok {
						e.scan(rs.postings(k), rfHosts)
					}
				}
			}
		}
	}
	if e.q.is4 {
		for _, b := range rs.v4Bits {
			if k, ok := rs.v4[uint64(b)<<32|uint64(e.q.a4&mask4(b))]; ok {
				e.scan(rs.postings(k), rfAddrs)
			}
		}
	} else {
		for _, b := range rs.v6Bits {
			mh, ml := mask6(b)
			if k, ok := rs.v6[[3]uint64{e.q.hi & mh, e.q.lo & ml, uint64(b)}]; ok {
				e.scan(rs.postings(k), rfAddrs)
			}
		}
	}
	for c := cls; c != 0; c &= c - 1 {
		e.scan(rs.postings(rs.classKeys[bits.TrailingZeros16(uint16(c))]), rfAddrs)
	}
	if t := rs.ports; t != nil {
		for k := 0; k <= 16; k++ {
			node := 1<<(16-k) + int(e.port>>k)
			e.scan(t.ids[t.off[node]:t.off[node+1]], rfPorts)
		}
	}
	return e.deny, e.allow
}

// nameEval collects, for a name before its addresses are known, the
// lowest matching deny without an address constraint, the lowest matching
// allow, and whether any rule with an address constraint matches.
type nameEval struct {
	rs          *ruleSet
	denyNoAddr  int32
	allow       int32
	port        uint16
	is25        bool
	addrDepends bool
}

func (e *nameEval) rule(f uint8, id int32) {
	if f&rfAddrs != 0 {
		e.addrDepends = true
	}
	if f&rfDeny != 0 {
		if f&rfAddrs == 0 {
			e.denyNoAddr = id
		}
	} else if id < e.allow && (!e.is25 || f&rfLists25 != 0) {
		e.allow = id
	}
}

func (e *nameEval) hostRules(ids []int32) {
	rs := e.rs
	for _, id := range ids {
		if id >= e.denyNoAddr {
			return
		}
		f := rs.flags[id]
		if f&rfPorts != 0 && !rs.portIn(id, e.port) {
			continue
		}
		e.rule(f, id)
	}
}

// evalName returns, for host (normalised) and port, the lowest matching
// deny rule without Addrs, the lowest matching allow rule (that lists 25,
// for port 25), and whether a rule with Addrs matches host and port.
func (rs *ruleSet) evalName(host string, port int) (denyNoAddr, allow int32, addrDepends bool) {
	e := nameEval{rs: rs, denyNoAddr: rs.alwaysDeny, allow: none, port: uint16(port), is25: port == 25, addrDepends: rs.noPortAny}
	if e.is25 {
		e.allow = rs.nmAllow25
	} else {
		e.allow = min(rs.alwaysAllow, rs.noPortAllow)
		if rs.nmAllow != nil {
			e.allow = min(e.allow, rs.nmAllow[e.port])
		}
	}
	if rs.nmAny != nil && rs.nmAny[e.port>>6]>>(e.port&63)&1 != 0 {
		e.addrDepends = true
	}
	if host != "" {
		if k, ok := rs.exact[host]; ok {
			e.hostRules(rs.postings(k))
		}
		if len(rs.suffix) > 0 {
			for i := 0; i < len(host); i++ {
				if host[i] == '.' {
					if k, ok := rs.suffix[host[i+1:]]; ok {
						e.hostRules(rs.postings(k))
					}
				}
			}
		}
	}
	if t := rs.ports; t != nil {
		for k := 0; k <= 16; k++ {
			node := 1<<(16-k) + int(e.port>>k)
			for _, id := range t.ids[t.off[node]:t.off[node+1]] {
				if id >= e.denyNoAddr {
					break
				}
				e.rule(rs.flags[id], id)
			}
		}
	}
	return e.denyNoAddr, e.allow, e.addrDepends
}

// ruleName is the name of rule i: its Name, or "rules[i]".
func (rs *ruleSet) ruleName(i int) string {
	if j, ok := slices.BinarySearchFunc(rs.names, int32(i), func(r ruleName, i int32) int { return int(r.i - i) }); ok {
		return rs.names[j].name
	}
	slot := &rs.unnamed[i%len(rs.unnamed)]
	if c := slot.Load(); c != nil && c.i == int32(i) {
		return c.name
	}
	c := &ruleName{int32(i), "rules[" + strconv.Itoa(i) + "]"}
	slot.Store(c)
	return c.name
}

// rules rebuilds the rules the set was compiled from.
func (rs *ruleSet) rules() []Rule {
	if rs.nilRules {
		return nil
	}
	out := make([]Rule, rs.n)
	strs := slices.Clone(rs.strs)
	field := func(k int) []string {
		lo, hi := rs.strOff[k], rs.strOff[k+1]
		if lo == hi {
			return nil
		}
		return strs[lo:hi:hi]
	}
	names := rs.names
	for i := range out {
		r := &out[i]
		r.Action = Allow
		if rs.flags[i]&rfDeny != 0 {
			r.Action = Deny
		}
		if len(names) > 0 && names[0].i == int32(i) {
			r.Name = names[0].name
			names = names[1:]
		}
		r.Hosts, r.Addrs, r.Ports = field(3*i), field(3*i+1), field(3*i+2)
	}
	return out
}
