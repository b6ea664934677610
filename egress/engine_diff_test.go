package egress

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/idna"
)

// The differential tests check the compiled rule engine against refPolicy,
// the definition in Rule's doc comment written as a linear loop over the
// rules, on randomized rule lists and queries: Decide (decideAddr, with the
// embedded IPv4 checks) and decideName, proxied or not, must agree on
// Allowed, Reason, the deciding rule, the carried address and final.

// refRule is a rule as the reference reads it.
type refRule struct {
	name     string
	deny     bool
	lists25  bool // Ports lists 25 by itself
	hosts    []refHost
	hasAddrs bool
	prefixes []netip.Prefix // IPv4-mapped ones as IPv4
	classes  addrClass
	ports    [][2]int
}

type refHost struct {
	name string
	wild bool
}

type refPolicy struct {
	rules       []refRule
	defaultDeny bool
}

func newRefPolicy(t testing.TB, rules []Rule, defaultDeny bool) *refPolicy {
	t.Helper()
	rp := &refPolicy{defaultDeny: defaultDeny}
	for i, r := range rules {
		rr := refRule{name: r.Name, deny: r.Action == Deny, hasAddrs: len(r.Addrs) > 0}
		if rr.name == "" {
			rr.name = "rules[" + strconv.Itoa(i) + "]"
		}
		for _, h := range r.Hosts {
			n, wild, err := refNormalizeHostPattern(h)
			if err != nil {
				t.Fatalf("rules[%d]: host %q: %v", i, h, err)
			}
			rr.hosts = append(rr.hosts, refHost{n, wild})
		}
		for _, a := range r.Addrs {
			a = strings.TrimSpace(a)
			if c, ok := classByName(strings.ToLower(a)); ok {
				rr.classes |= c
				continue
			}
			var p netip.Prefix
			if strings.Contains(a, "/") {
				p = netip.MustParsePrefix(a)
			} else {
				x := netip.MustParseAddr(a)
				p = netip.PrefixFrom(x, x.BitLen())
			}
			if p.Addr().Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			rr.prefixes = append(rr.prefixes, p)
		}
		for _, s := range r.Ports {
			lo, hi, err := parsePortRange(s)
			if err != nil {
				t.Fatalf("rules[%d]: port %q: %v", i, s, err)
			}
			if lo == 25 && hi == 25 {
				rr.lists25 = true
			}
			rr.ports = append(rr.ports, [2]int{lo, hi})
		}
		rp.rules = append(rp.rules, rr)
	}
	return rp
}

// matchHost: host is a normalised name, "" for an IP literal.
func (r *refRule) matchHost(host string) bool {
	if len(r.hosts) == 0 {
		return true
	}
	for _, h := range r.hosts {
		if host != "" && (!h.wild && host == h.name || h.wild && strings.HasSuffix(host, "."+h.name)) {
			return true
		}
	}
	return false
}

// matchPort compares the low 16 bits of port, as the engine always has
// (only Decide can be given a port outside 0-65535).
func (r *refRule) matchPort(port int) bool {
	if len(r.ports) == 0 {
		return true
	}
	p := int(uint16(port))
	for _, pr := range r.ports {
		if p >= pr[0] && p <= pr[1] {
			return true
		}
	}
	return false
}

// matchAddr: a is canonical; the invalid Addr (a name decided without an
// address) is compared as :: is, with the classes classify gives it.
func (r *refRule) matchAddr(a netip.Addr, cls addrClass) bool {
	if !r.hasAddrs {
		return true
	}
	if r.classes&cls != 0 {
		return true
	}
	if !a.IsValid() {
		a = netip.IPv6Unspecified()
	}
	for _, p := range r.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type refDecision struct {
	allowed bool
	reason  string
	rule    int
	carried netip.Addr
	final   bool
}

func (rp *refPolicy) name(i int) string {
	switch {
	case i >= 0:
		return rp.rules[i].name
	}
	return ""
}

// decideAddr is Policy.decideAddr by the definition.
func (rp *refPolicy) decideAddr(host string, ip netip.Addr, port int) refDecision {
	ip = canonical(ip)
	one := func(a netip.Addr, cls addrClass) (deny, allow int) {
		deny, allow = -1, -1
		for i := range rp.rules {
			r := &rp.rules[i]
			if !r.matchHost(host) || !r.matchPort(port) || !r.matchAddr(a, cls) {
				continue
			}
			if r.deny {
				if deny < 0 {
					deny = i
				}
			} else if allow < 0 && (port != 25 || r.lists25) {
				allow = i
			}
		}
		return deny, allow
	}
	d := refDecision{rule: -1, final: true}
	// check is the decision for one address: false when it is denied.
	check := func(a netip.Addr, cls addrClass, carried bool) (bool, int) {
		deny, allow := one(a, cls)
		switch {
		case deny >= 0:
			d.rule, d.reason = deny, ReasonRule
			if carried {
				d.carried = a
			}
			return false, 0
		case allow >= 0:
			return true, allow
		case port == 25:
			d.reason = ReasonPort25
			return false, 0
		case rp.defaultDeny:
			d.reason = ReasonDefault
			if carried {
				d.carried = a
			}
			return false, 0
		}
		return true, -1
	}
	ok, allowRule := check(ip, classify(ip), false)
	if ok && ip.Is6() {
		e := embeddedIPv4(ip)
		for _, c := range e.v4[:e.n] {
			if ok, _ = check(c, classify4(c), true); !ok {
				break
			}
		}
	}
	if ok {
		d.allowed, d.rule, d.reason = true, allowRule, ReasonRule
		if allowRule < 0 {
			d.reason = ReasonDefault
		}
	}
	return d
}

// decideName is Policy.decideName by the definition.
func (rp *refPolicy) decideName(host string, port int, proxied bool) refDecision {
	denyNoAddr, allow, dep := -1, -1, false
	for i := range rp.rules {
		r := &rp.rules[i]
		if !r.matchHost(host) || !r.matchPort(port) {
			continue
		}
		if r.hasAddrs {
			dep = true
		}
		if r.deny {
			if !r.hasAddrs && denyNoAddr < 0 {
				denyNoAddr = i
			}
		} else if allow < 0 && (port != 25 || r.lists25) {
			allow = i
		}
	}
	d := refDecision{rule: -1, final: true}
	switch {
	case denyNoAddr >= 0:
		d.rule, d.reason = denyNoAddr, ReasonRule
	case !proxied && dep && (allow >= 0 || port != 25 && !rp.defaultDeny):
		d.final = false
	case allow >= 0:
		d.allowed, d.rule, d.reason = true, allow, ReasonRule
	case port == 25:
		d.reason = ReasonPort25
	case rp.defaultDeny:
		d.reason = ReasonDefault
	default:
		d.allowed, d.reason = true, ReasonDefault
	}
	return d
}

// query is one decision to compare.
type query struct {
	host string // as given to Decide: a name (any case, trailing dot) or an IP literal
	ip   netip.Addr
	port int
}

// compare decides q with p and with the reference and reports the first
// difference.
func compare(p *Policy, rp *refPolicy, q query) error {
	h, literal := matchHost(q.host)
	ip := q.ip
	if literal && !ip.IsValid() {
		ip, _ = netip.ParseAddr(strings.Trim(q.host, "[]"))
	}
	got := p.Decide(q.host, q.ip, q.port)
	want := rp.decideAddr(h, ip, q.port)
	if err := same("Decide", p, rp, got, true, want); err != nil {
		return err
	}
	if literal {
		return nil
	}
	for _, proxied := range []bool{false, true} {
		got, final := p.decideName(h, q.port, proxied)
		want := rp.decideName(h, q.port, proxied)
		if err := same("decideName(proxied "+strconv.FormatBool(proxied)+")", p, rp, got, final, want); err != nil {
			return err
		}
	}
	return nil
}

func same(what string, p *Policy, rp *refPolicy, got Decision, final bool, want refDecision) error {
	if final != want.final {
		return fmt.Errorf("%s: final %v, want %v (engine: %+v)", what, final, want.final, got)
	}
	if !final {
		return nil
	}
	wantName := rp.name(want.rule)
	if want.rule < 0 {
		wantName = got.Rule // built-in names are not the engine's
	}
	if got.Allowed != want.allowed || got.Reason != want.reason || got.rule != want.rule || got.Rule != wantName || got.carried != want.carried {
		return fmt.Errorf("%s: allowed %v, reason %s, rule %d %q, carried %v; want allowed %v, reason %s, rule %d %q, carried %v",
			what, got.Allowed, got.Reason, got.rule, got.Rule, got.carried, want.allowed, want.reason, want.rule, wantName, want.carried)
	}
	if got.rule >= 0 && ruleClasses(p, got.rule) != rp.rules[got.rule].classes {
		return fmt.Errorf("%s: rule %d has classes %v, want %v", what, got.rule, ruleClasses(p, got.rule).names(), rp.rules[got.rule].classes.names())
	}
	return nil
}

// ruleClasses is what hint reads: the classes the rule's Addrs name.
func ruleClasses(p *Policy, i int) addrClass { return p.rs.classes[i] }

// refNormalizeHostPattern is normalizeHostPattern as first written, the
// definition a faster one must agree with: a host rule's name in the form
// Connect compares (lower case, no trailing dot, punycode) and whether it
// is a "*.suffix" pattern.
func refNormalizeHostPattern(h string) (name string, wild bool, err error) {
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
	if refLooksNumeric(labels) {
		return "", false, errorf(errInvalidOptions, "host "+quote(orig)+" is a numeric spelling of an IPv4 address; put addresses in addrs")
	}
	return h, wild, nil
}

// refLooksNumeric reports whether a name would be read by inet_aton as an IPv4
// address (2130706433, 0x7f000001, 0177.0.0.1, 127.1): every label a decimal,
// octal or hex number, and at most four of them. No real DNS name has a
// numeric top-level label.
func refLooksNumeric(labels []string) bool {
	if len(labels) > 4 {
		return isNumberLabel(labels[len(labels)-1])
	}
	for _, l := range labels {
		if !isNumberLabel(l) {
			return false
		}
	}
	return true
}

// --- the generator ---------------------------------------------------------

// picker draws the choices of the generator: from a seeded PRNG, or from
// fuzz bytes (zero once they run out).
type picker interface{ intn(n int) int }

type randPicker struct{ r *rand.Rand }

func (p randPicker) intn(n int) int { return p.r.IntN(n) }

type bytePicker struct{ b []byte }

func (p *bytePicker) intn(n int) int {
	if len(p.b) == 0 || n <= 1 {
		return 0
	}
	v := int(p.b[0])
	p.b = p.b[1:]
	if n > 256 {
		v = v<<8 | p.intn(256)
	}
	return v % n
}

var (
	genNames = []string{"a.example", "b.a.example", "example", "c.test", "x.y.z.test", "test", "api.partner.example",
		"xn--bcher-kva.example", "tenant1.example.net", "w.tenant1.example.net", "localhost", "other.org"}
	genV4 = []string{"10.1.2.3", "127.0.0.1", "192.168.1.1", "8.8.8.8", "169.254.169.254", "100.64.1.1", "0.0.0.0",
		"255.255.255.255", "198.60.3.9", "1.1.1.1", "20.55.1.2", "172.16.5.4"}
	genV6 = []string{"::1", "::", "fd00::5", "2001:db8::1", "fe80::1", "2606:4700::1111", "ff02::1", "2001:db8:2a::1",
		"fd00:ec2::254", "3fff::1"}
	genPorts  = []int{25, 80, 443, 22, 8080, 1, 65535, 6950, 8050, 5432}
	genRanges = [][2]int{{25, 25}, {1, 65535}, {20, 30}, {24, 25}, {25, 26}, {1, 24}, {26, 65535}, {8000, 8999}, {443, 443}, {1024, 2047}, {65535, 65535}, {1, 1}}
)

// genHostPattern is a host rule: one of the names or "*." and one, in the
// spellings the rules accept.
func genHostPattern(p picker) string {
	var h string
	switch p.intn(8) {
	case 0:
		h = "bücher.example"
	default:
		h = genNames[p.intn(len(genNames))]
	}
	if p.intn(3) == 0 {
		h = "*." + h
	}
	switch p.intn(10) {
	case 0:
		h = strings.ToUpper(h)
	case 1:
		h += "."
	case 2:
		h = " " + h + " "
	}
	return h
}

func genAddr4(p picker) netip.Addr {
	a := netip.MustParseAddr(genV4[p.intn(len(genV4))]).As4()
	if p.intn(2) == 0 {
		a[3] ^= byte(1 << p.intn(8))
	}
	if p.intn(4) == 0 {
		a[2] ^= byte(1 << p.intn(8))
	}
	return netip.AddrFrom4(a)
}

func genAddr6(p picker) netip.Addr {
	a := netip.MustParseAddr(genV6[p.intn(len(genV6))]).As16()
	if p.intn(2) == 0 {
		a[15] ^= byte(1 << p.intn(8))
	}
	if p.intn(4) == 0 {
		a[5] ^= byte(1 << p.intn(8))
	}
	return netip.AddrFrom16(a)
}

// genAddrRule is an address rule: a class name, an address, or a prefix of
// either family (from /0 to a host route), IPv4-mapped ones included.
func genAddrRule(p picker) string {
	switch p.intn(10) {
	case 0, 1:
		c := classNames[p.intn(len(classNames))]
		if p.intn(6) == 0 {
			c = strings.ToUpper(c)
		}
		return c
	case 2:
		return genAddr4(p).String()
	case 3:
		return genAddr6(p).String()
	case 4, 5, 6:
		bits := []int{0, 1, 8, 12, 16, 24, 31, 32}[p.intn(8)]
		return netip.PrefixFrom(genAddr4(p), bits).Masked().String()
	case 7:
		bits := []int{96, 104, 112, 120, 128}[p.intn(5)]
		a := netip.AddrFrom16(genAddr4(p).As16())
		return netip.PrefixFrom(a, bits).Masked().String()
	default:
		bits := []int{0, 3, 7, 8, 10, 16, 32, 48, 64, 96, 127, 128}[p.intn(12)]
		return netip.PrefixFrom(genAddr6(p), bits).Masked().String()
	}
}

func genPortRule(p picker) string {
	switch p.intn(4) {
	case 0:
		return strconv.Itoa(genPorts[p.intn(len(genPorts))])
	case 1:
		lo := 1 + p.intn(65535)
		hi := lo + p.intn(min(65536-lo, 3000))
		return strconv.Itoa(lo) + "-" + strconv.Itoa(hi)
	default:
		r := genRanges[p.intn(len(genRanges))]
		if r[0] == r[1] && p.intn(2) == 0 {
			return " " + strconv.Itoa(r[0]) + " "
		}
		return strconv.Itoa(r[0]) + "-" + strconv.Itoa(r[1])
	}
}

func genRules(p picker, n int) []Rule {
	rules := make([]Rule, n)
	field := func(gen func(picker) string) []string {
		k := p.intn(7) // 0 (often: an empty field) to 3 values
		if k > 3 {
			k = 0
		}
		var out []string
		for ; k > 0; k-- {
			out = append(out, gen(p))
		}
		return out
	}
	for i := range rules {
		r := Rule{Action: Allow, Hosts: field(genHostPattern), Addrs: field(genAddrRule), Ports: field(genPortRule)}
		if p.intn(3) == 0 {
			r.Action = Deny
		}
		if p.intn(4) == 0 {
			r.Name = "r" + strconv.Itoa(i)
		}
		rules[i] = r
	}
	return rules
}

func genQuery(p picker) query {
	q := query{port: []int{0, 25, 443, 65535, 80, 22, 8080, 8050, 6950, 1, 65561, -1}[p.intn(12)]}
	if p.intn(4) == 0 {
		q.port = p.intn(65536)
	}
	v4 := genAddr4(p)
	b := v4.As4()
	switch p.intn(12) {
	case 0, 1, 2:
		q.ip = v4
	case 3, 4:
		q.ip = genAddr6(p)
	case 5:
		q.ip = netip.AddrFrom16(v4.As16()) // IPv4-mapped
	case 6:
		q.ip = netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 10: 0, 11: 0, 12: b[0], 13: b[1], 14: b[2], 15: b[3]}) // NAT64
	case 7:
		q.ip = netip.AddrFrom16([16]byte{0x20, 0x02, b[0], b[1], b[2], b[3], 15: 1}) // 6to4
	case 8:
		c := genAddr4(p).As4()
		q.ip = netip.AddrFrom16([16]byte{0x20, 0x01, 0, 0, b[0], b[1], b[2], b[3], 12: ^c[0], 13: ^c[1], 14: ^c[2], 15: ^c[3]}) // Teredo
	case 9:
		q.ip = netip.AddrFrom16([16]byte{0, 0x64, 0xff, 0x9b, 0, 1, b[0], b[1], 9: b[2], 10: b[3], 15: 7}) // local-use NAT64
	case 10:
		q.ip = netip.AddrFrom16([16]byte{12: b[0], 13: b[1], 14: b[2], 15: b[3]}) // IPv4-compatible
	}
	if q.ip.Is6() && p.intn(8) == 0 {
		q.ip = q.ip.WithZone("eth0")
	}
	switch p.intn(6) {
	case 0:
		// an IP literal, with or without the address
		if q.ip.IsValid() {
			q.host = q.ip.WithZone("").String()
			if q.ip.Is6() && p.intn(2) == 0 {
				q.host = "[" + q.host + "]"
			}
		} else {
			q.host = v4.String()
		}
		if p.intn(2) == 0 {
			q.ip = netip.Addr{}
		}
	default:
		h := genNames[p.intn(len(genNames))]
		switch p.intn(6) {
		case 0:
			h = "q." + h
		case 1:
			h = "deep.q." + h
		case 2:
			h = "notexample"
		}
		switch p.intn(8) {
		case 0:
			h = strings.ToUpper(h)
		case 1:
			h += "."
		}
		q.host = h
	}
	return q
}

func checkRandom(t *testing.T, p picker, nRules, nQueries int) {
	t.Helper()
	rules := genRules(p, nRules)
	defaultDeny := p.intn(2) == 0
	cfg := PolicyConfig{Rules: rules, Default: Allow}
	if defaultDeny {
		cfg.Default = Deny
	}
	pol, err := NewPolicy(cfg)
	if err != nil {
		t.Fatalf("NewPolicy: %v\nrules: %+v", err, rules)
	}
	rp := newRefPolicy(t, rules, defaultDeny)
	for k := 0; k < nQueries; k++ {
		q := genQuery(p)
		if err := compare(pol, rp, q); err != nil {
			t.Fatalf("%d rules (default deny %v), query %+v: %v\nrules: %+v", len(rules), defaultDeny, q, err, rules)
		}
	}
}

func TestEngineAgreesWithDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(20261202, 1))
	p := randPicker{r}
	for round := 0; round < 400; round++ {
		n := r.IntN(40)
		if round%50 == 0 {
			n = 1500 + r.IntN(1000)
		}
		checkRandom(t, p, n, 150)
	}
}

// FuzzEngineAgreesWithDefinition is TestEngineAgreesWithDefinition with
// the choices taken from the fuzz input: the rule count, the rules, the
// default, then queries until the input runs out. It also checks host
// pattern normalisation against its definition on a string of the input.
func FuzzEngineAgreesWithDefinition(f *testing.F) {
	f.Add([]byte("\x05\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"), "Example.COM.")
	f.Add([]byte("\x10\xff\x00\xff\x00\x01\x19\x00\x19\x02\x03\x40\x41\x42"), "*.bücher.example")
	f.Fuzz(func(t *testing.T, data []byte, host string) {
		n1, w1, e1 := normalizeHostPattern(host)
		n2, w2, e2 := refNormalizeHostPattern(host)
		if n1 != n2 || w1 != w2 || fmt.Sprint(e1) != fmt.Sprint(e2) {
			t.Fatalf("normalizeHostPattern(%q) = %q, %v, %v; want %q, %v, %v", host, n1, w1, e1, n2, w2, e2)
		}
		p := &bytePicker{data}
		n := p.intn(24)
		rules := genRules(p, n)
		defaultDeny := p.intn(2) == 0
		cfg := PolicyConfig{Rules: rules, Default: Allow}
		if defaultDeny {
			cfg.Default = Deny
		}
		pol, err := NewPolicy(cfg)
		if err != nil {
			t.Fatalf("NewPolicy: %v\nrules: %+v", err, rules)
		}
		rp := newRefPolicy(t, rules, defaultDeny)
		for k := 0; k == 0 || len(p.b) > 0 && k < 64; k++ {
			q := genQuery(p)
			if err := compare(pol, rp, q); err != nil {
				t.Fatalf("query %+v: %v\nrules: %+v", q, err, rules)
			}
		}
	})
}
