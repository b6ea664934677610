package egress

import (
	"math/bits"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/net/idna"
)

// Action is what a rule, or a policy's default, does with a connection.
type Action string

const (
	// Allow lets the connection through.
	Allow Action = "allow"
	// Deny refuses it with [sockets.ErrDenied].
	Deny Action = "deny"
)

// Rule is one line of an egress policy. A rule matches a connection when
// every field that is set matches: one of its Hosts, one of its Addrs, and
// one of its Ports. An empty field matches anything.
//
// Precedence: if any Deny rule matches, the connection is denied (the first
// such rule is reported); otherwise, if any Allow rule matches, it is
// allowed; otherwise the policy's default decides. Port 25 is the exception
// to the last two steps: it is denied unless a matching Allow rule lists 25
// by itself in its Ports, so an allow rule for a host does not open SMTP to
// it by accident.
type Rule struct {
	// Name identifies the rule in log records and error messages. Empty
	// means "rules[i]", its position in the policy.
	Name string `json:"name,omitempty" yaml:"name,omitempty"`

	// Action is Allow or Deny.
	Action Action `json:"action" yaml:"action"`

	// Hosts are hostnames: "example.com" matches that name only,
	// "*.example.com" matches every name under it (at any depth) but not
	// example.com itself. Matching ignores case and a trailing dot;
	// internationalised names may be written in Unicode or punycode. A host
	// rule matches the name given to Connect, never an IP literal: use
	// Addrs for addresses.
	Hosts []string `json:"hosts,omitempty" yaml:"hosts,omitempty"`

	// Addrs are IP addresses ("10.1.2.3", "::1"), CIDR prefixes
	// ("10.0.0.0/8", "fd00::/8") and class names (see [AddrClasses]):
	// "public", "private", "loopback", "link-local", "unspecified",
	// "multicast", "cgnat", "metadata", "documentation", "benchmarking",
	// "reserved", "broadcast". They are checked against each address the
	// socket actually connects to, at dial time.
	Addrs []string `json:"addrs,omitempty" yaml:"addrs,omitempty"`

	// Ports are ports ("443") and inclusive ranges ("8000-8999").
	Ports []string `json:"ports,omitempty" yaml:"ports,omitempty"`
}

// specError is a problem with one item of a rule; the file loader turns it
// into a message with a line number.
type specError struct {
	field string // "hosts", "addrs", "ports", "action", "name"
	item  int    // index in the field, -1 for the field itself
	msg   string
}

func (e *specError) Error() string { return e.msg }

// RuleError reports an invalid rule: where it is and what to write
// instead. It matches [sockets.ErrInvalidOptions].
type RuleError struct {
	Index int    // the rule's position in the rules
	Name  string // the rule's Name, if it has one
	Field string // "action", "hosts", "addrs" or "ports"
	Item  int    // the index of the bad value in Field, or -1 for the field itself
	Msg   string // what is wrong and what to write instead
}

// Error says "invalid options: policy rules[i] ("name").field[item]: what is wrong".
func (e *RuleError) Error() string {
	where := "rules[" + strconv.Itoa(e.Index) + "]"
	if e.Name != "" {
		where += " (" + quote(e.Name) + ")"
	}
	field := e.Field
	if e.Item >= 0 {
		field += "[" + strconv.Itoa(e.Item) + "]"
	}
	return errInvalidOptions.Error() + ": policy " + where + "." + field + ": " + e.Msg
}

// Unwrap returns [sockets.ErrInvalidOptions].
func (e *RuleError) Unwrap() error { return errInvalidOptions }

// CheckRules compiles rules as [NewPolicy] does and reports the first
// invalid one as a [*RuleError].
func CheckRules(rules []Rule) error {
	_, i, err := compileRules(rules)
	if err != nil {
		return ruleError(rules, i, err)
	}
	return nil
}

func ruleError(rules []Rule, i int, err error) error {
	se := err.(*specError)
	return &RuleError{Index: i, Name: rules[i].Name, Field: se.field, Item: se.item, Msg: se.msg}
}

// compiledRule is a rule's identity, kept for messages.
type compiledRule struct {
	name    string
	action  Action
	summary string // "deny rule \"x\" (addrs private)"
	lists25 bool
}

// bitset is a set of rule indices.
type bitset []uint64

func (b bitset) set(i int32) { b[i>>6] |= 1 << (uint(i) & 63) }

func (b bitset) setIDs(ids []int32) {
	for _, i := range ids {
		b[i>>6] |= 1 << (uint(i) & 63)
	}
}

// idSet is a set of rules in the cheaper of two forms for OR-ing into a
// bitset: a list of indices, or (when long) a bitset of its own.
type idSet struct {
	ids []int32
	bs  bitset
}

func makeIDSet(ids []int32, nw int) idSet {
	if len(ids) > 2*nw {
		bs := make(bitset, nw)
		bs.setIDs(ids)
		return idSet{bs: bs}
	}
	return idSet{ids: ids}
}

func (s *idSet) orInto(b bitset) {
	if s.bs != nil {
		for i, w := range s.bs {
			b[i] |= w
		}
		return
	}
	b.setIDs(s.ids)
}

// trie is a binary prefix tree over keys of up to 128 bits; each node holds
// the rules whose prefix ends there.
type trie struct {
	nodes []trieNode
	sets  []idSet
	build [][]int32 // per node while building
}

type trieNode struct {
	child [2]int32 // 0: none (the root is never a child)
	set   int32    // index in sets, -1 for none
}

func newTrie() *trie { return &trie{nodes: make([]trieNode, 1), build: make([][]int32, 1)} }

func keyBit(key *[16]byte, i int) int { return int(key[i>>3]>>(7-uint(i)&7)) & 1 }

func (t *trie) insert(key [16]byte, nbits int, id int32) {
	n := int32(0)
	for i := 0; i < nbits; i++ {
		b := keyBit(&key, i)
		c := t.nodes[n].child[b]
		if c == 0 {
			c = int32(len(t.nodes))
			t.nodes = append(t.nodes, trieNode{})
			t.build = append(t.build, nil)
			t.nodes[n].child[b] = c
		}
		n = c
	}
	t.build[n] = appendID(t.build[n], id)
}

func (t *trie) finish(nw int) {
	for i, ids := range t.build {
		t.nodes[i].set = -1
		if len(ids) > 0 {
			t.nodes[i].set = int32(len(t.sets))
			t.sets = append(t.sets, makeIDSet(ids, nw))
		}
	}
	t.build = nil
}

// collect adds to bs every rule whose prefix contains the first nbits of key.
func (t *trie) collect(key *[16]byte, nbits int, bs bitset) {
	nodes := t.nodes
	n := int32(0)
	for i := 0; ; i++ {
		nd := &nodes[n]
		if nd.set >= 0 {
			t.sets[nd.set].orInto(bs)
		}
		if i == nbits {
			return
		}
		n = nd.child[keyBit(key, i)]
		if n == 0 {
			return
		}
	}
}

func (t *trie) empty() bool { return len(t.nodes) == 1 && len(t.sets) == 0 }

// ruleSet is a compiled list of rules: per dimension, an index from a value
// to the rules it matches, so a decision costs a few lookups and word-wise
// ANDs, not a scan of the rules.
type ruleSet struct {
	rules []compiledRule
	nw    int // words per bitset

	deny, allow, lists25 bitset
	hostAny, portAny     bitset
	addrAny, addrDep     bitset // rules without / with an address constraint

	exact, suffix map[string]idSet
	ports         *trie
	v4, v6        *trie
	classes       [numClasses]bitset
}

func compileRules(rules []Rule) (*ruleSet, int, error) {
	n := len(rules)
	nw := (n + 63) / 64
	if nw == 0 {
		nw = 1
	}
	rs := &ruleSet{
		rules:  make([]compiledRule, n),
		nw:     nw,
		exact:  map[string]idSet{},
		suffix: map[string]idSet{},
		ports:  newTrie(),
		v4:     newTrie(),
		v6:     newTrie(),
	}
	mk := func() bitset { return make(bitset, nw) }
	rs.deny, rs.allow, rs.lists25 = mk(), mk(), mk()
	rs.hostAny, rs.portAny, rs.addrAny, rs.addrDep = mk(), mk(), mk(), mk()
	exact, suffix := map[string][]int32{}, map[string][]int32{}
	for i := range rs.classes {
		rs.classes[i] = mk()
	}
	for i, r := range rules {
		id := int32(i)
		cr := compiledRule{name: r.Name, action: r.Action}
		if cr.name == "" {
			cr.name = "rules[" + strconv.Itoa(i) + "]"
		}
		switch r.Action {
		case Allow:
			rs.allow.set(id)
		case Deny:
			rs.deny.set(id)
		case "":
			return nil, i, &specError{field: "action", item: -1, msg: "the rule has no action; set action to \"allow\" or \"deny\""}
		default:
			return nil, i, &specError{field: "action", item: -1, msg: "action " + quote(string(r.Action)) + " is not \"allow\" or \"deny\""}
		}
		if len(r.Hosts) == 0 {
			rs.hostAny.set(id)
		}
		for j, h := range r.Hosts {
			name, wild, err := normalizeHostPattern(h)
			if err != nil {
				return nil, i, &specError{field: "hosts", item: j, msg: msgOf(err)}
			}
			if wild {
				suffix[name] = appendID(suffix[name], id)
			} else {
				exact[name] = appendID(exact[name], id)
			}
		}
		if len(r.Addrs) == 0 {
			rs.addrAny.set(id)
		} else {
			rs.addrDep.set(id)
		}
		for j, a := range r.Addrs {
			if err := rs.addAddr(a, id); err != nil {
				return nil, i, &specError{field: "addrs", item: j, msg: msgOf(err)}
			}
		}
		if len(r.Ports) == 0 {
			rs.portAny.set(id)
		}
		for j, p := range r.Ports {
			lo, hi, err := parsePortRange(p)
			if err != nil {
				return nil, i, &specError{field: "ports", item: j, msg: msgOf(err)}
			}
			if lo == 25 && hi == 25 {
				cr.lists25 = true
				if r.Action == Allow {
					rs.lists25.set(id)
				}
			}
			for _, pp := range portPrefixes(lo, hi) {
				var key [16]byte
				key[0], key[1] = byte(pp.v>>8), byte(pp.v)
				rs.ports.insert(key, pp.bits, id)
			}
		}
		cr.summary = summarize(cr.name, r)
		rs.rules[i] = cr
	}
	for k, ids := range exact {
		rs.exact[k] = makeIDSet(ids, nw)
	}
	for k, ids := range suffix {
		rs.suffix[k] = makeIDSet(ids, nw)
	}
	rs.ports.finish(nw)
	rs.v4.finish(nw)
	rs.v6.finish(nw)
	return rs, -1, nil
}

// msgOf returns an error's message without its sentinel's prefix.
func msgOf(err error) string {
	if d, ok := err.(*detailError); ok {
		return d.msg
	}
	return err.Error()
}

func appendID(ids []int32, id int32) []int32 {
	if len(ids) > 0 && ids[len(ids)-1] == id {
		return ids // the same value twice in one rule
	}
	return append(ids, id)
}

func summarize(name string, r Rule) string {
	var b strings.Builder
	b.WriteString(string(r.Action))
	b.WriteString(" rule ")
	b.WriteString(quote(name))
	b.WriteString(" (")
	sep := ""
	for _, f := range []struct {
		k string
		v []string
	}{{"hosts", r.Hosts}, {"addrs", r.Addrs}, {"ports", r.Ports}} {
		if len(f.v) == 0 {
			continue
		}
		b.WriteString(sep)
		b.WriteString(f.k)
		b.WriteByte(' ')
		b.WriteString(strings.Join(f.v, ","))
		sep = "; "
	}
	if sep == "" {
		b.WriteString("everything")
	}
	b.WriteByte(')')
	return b.String()
}

func (rs *ruleSet) addAddr(s string, id int32) error {
	s = strings.TrimSpace(s)
	if c, ok := classByName(strings.ToLower(s)); ok {
		rs.classes[bits.TrailingZeros16(uint16(c))].set(id)
		return nil
	}
	if strings.ContainsRune(s, '%') {
		return errorf(errInvalidOptions, "address "+quote(s)+" has a zone id; write it without \"%zone\" (zones are ignored when matching)")
	}
	var p netip.Prefix
	if strings.ContainsRune(s, '/') {
		var err error
		p, err = netip.ParsePrefix(s)
		if err != nil {
			return errorf(errInvalidOptions, quote(s)+" is not a CIDR prefix, an IP address or a class name ("+strings.Join(classNames[:], ", ")+")")
		}
		if m := p.Masked(); m != p {
			return errorf(errInvalidOptions, "prefix "+quote(s)+" has bits set after its length; write "+quote(m.String()))
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return errorf(errInvalidOptions, quote(s)+" is not an IP address, a CIDR prefix or a class name ("+strings.Join(classNames[:], ", ")+")")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	a := p.Addr()
	if a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		a = p.Addr()
	}
	var key [16]byte
	if a.Is4() {
		b := a.As4()
		copy(key[:], b[:])
		rs.v4.insert(key, p.Bits(), id)
	} else {
		key = a.As16()
		rs.v6.insert(key, p.Bits(), id)
	}
	return nil
}

// normalizeHostPattern returns a host rule's name in the form Connect
// compares (lower case, no trailing dot, punycode) and whether it is a
// "*.suffix" pattern.
func normalizeHostPattern(h string) (name string, wild bool, err error) {
	orig := h
	h = strings.TrimSpace(h)
	if strings.HasPrefix(h, "*.") {
		wild = true
		h = h[2:]
	}
	h = strings.TrimSuffix(h, ".")
	if h == "" || h == "*" {
		return "", false, errorf(errInvalidOptions, "host "+quote(orig)+" is empty; leave hosts out to match every host")
	}
	if strings.Contains(h, "*") {
		return "", false, errorf(errInvalidOptions, "host "+quote(orig)+": '*' is only allowed as a whole first label (\"*.example.com\")")
	}
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return "", false, errorf(errInvalidOptions, "host "+quote(orig)+" is an IP address; put addresses in addrs, hosts match names")
	}
	ascii := true
	for i := 0; i < len(h); i++ {
		if h[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		p, err := idna.Lookup.ToASCII(h)
		if err != nil {
			return "", false, errorf(errInvalidOptions, "host "+quote(orig)+" is not a valid internationalised name: "+err.Error())
		}
		h = p
	}
	h = strings.ToLower(h)
	if len(h) > maxHostname {
		return "", false, errorf(errInvalidOptions, "host "+quote(orig)+" is longer than 253 bytes")
	}
	labels := strings.Split(h, ".")
	for _, l := range labels {
		if err := checkLabel(l, h); err != nil {
			return "", false, errorf(errInvalidOptions, "host "+quote(orig)+": "+err.(*detailError).msg)
		}
	}
	if looksNumeric(labels) {
		return "", false, errorf(errInvalidOptions, "host "+quote(orig)+" is a numeric spelling of an IPv4 address; put addresses in addrs")
	}
	return h, wild, nil
}

func parsePortRange(s string) (lo, hi int, err error) {
	s = strings.TrimSpace(s)
	a, b, isRange := strings.Cut(s, "-")
	lo, err = portNumber(strings.TrimSpace(a), s)
	if err != nil {
		return 0, 0, err
	}
	hi = lo
	if isRange {
		if hi, err = portNumber(strings.TrimSpace(b), s); err != nil {
			return 0, 0, err
		}
		if hi < lo {
			return 0, 0, errorf(errInvalidOptions, "port range "+quote(s)+" ends before it starts; write \""+strconv.Itoa(hi)+"-"+strconv.Itoa(lo)+"\"")
		}
	}
	return lo, hi, nil
}

func portNumber(p, whole string) (int, error) {
	n, err := strconv.Atoi(p)
	if err != nil || p == "" || p[0] == '+' {
		return 0, errorf(errInvalidOptions, "port "+quote(whole)+" is not a port (\"443\") or a range (\"8000-8999\")")
	}
	if n < 1 || n > 65535 {
		return 0, errorf(errInvalidOptions, "port "+quote(whole)+" is out of range; ports are 1 to 65535")
	}
	return n, nil
}

type portPrefix struct {
	v    int
	bits int // prefix length over 16 bits
}

// portPrefixes splits [lo, hi] into aligned power-of-two blocks.
func portPrefixes(lo, hi int) []portPrefix {
	var out []portPrefix
	for lo <= hi {
		size := 1
		for lo&(size*2-1) == 0 && lo+size*2-1 <= hi && size*2 <= 1<<16 {
			size *= 2
		}
		out = append(out, portPrefix{v: lo, bits: 16 - bits.TrailingZeros(uint(size))})
		lo += size
	}
	return out
}

// match computes the rules that match (host, port, addr) into m. host is a
// normalised name, or "" for an IP literal (host rules never match it).
// When addr is invalid the address dimension is left out: m holds the rules
// whose host and port match. scratch must hold 2*nw words.
func (rs *ruleSet) hostPort(host string, port int, m, scratch bitset) {
	copy(m, rs.hostAny)
	if host != "" {
		if ids, ok := rs.exact[host]; ok {
			ids.orInto(m)
		}
		if len(rs.suffix) > 0 {
			for i := 0; i < len(host); i++ {
				if host[i] == '.' {
					if ids, ok := rs.suffix[host[i+1:]]; ok {
						ids.orInto(m)
					}
				}
			}
		}
	}
	p := scratch[:rs.nw]
	copy(p, rs.portAny)
	var key [16]byte
	key[0], key[1] = byte(port>>8), byte(port)
	rs.ports.collect(&key, 16, p)
	for i := range m {
		m[i] &= p[i]
	}
}

// addrMatch sets in a the rules whose address constraint matches the
// canonical address ip (with classes c), plus those without one.
func (rs *ruleSet) addrMatch(ip netip.Addr, c addrClass, a bitset) {
	copy(a, rs.addrAny)
	if ip.Is4() {
		if !rs.v4.empty() {
			b := ip.As4()
			var key [16]byte
			copy(key[:], b[:])
			rs.v4.collect(&key, 32, a)
		}
	} else if !rs.v6.empty() {
		key := ip.As16()
		rs.v6.collect(&key, 128, a)
	}
	for c != 0 {
		i := bits.TrailingZeros16(uint16(c))
		c &^= 1 << i
		cb := rs.classes[i]
		for w := range a {
			a[w] |= cb[w]
		}
	}
}

// first returns the lowest rule index in x & y, or -1.
func first(x, y bitset) int {
	for i := range x {
		if v := x[i] & y[i]; v != 0 {
			return i*64 + bits.TrailingZeros64(v)
		}
	}
	return -1
}

func first3(x, y, z bitset) int {
	for i := range x {
		if v := x[i] & y[i] & z[i]; v != 0 {
			return i*64 + bits.TrailingZeros64(v)
		}
	}
	return -1
}

func first4(x, y, z, w bitset) int {
	for i := range x {
		if v := x[i] & y[i] & z[i] & w[i]; v != 0 {
			return i*64 + bits.TrailingZeros64(v)
		}
	}
	return -1
}
