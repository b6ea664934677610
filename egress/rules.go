package egress

import (
	"math/bits"
	"net/netip"
	"strconv"
	"strings"

	"github.com/outboundhq/outbound/sockets"
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

// msgOf returns an error's message without its sentinel's prefix.
func msgOf(err error) string {
	if d, ok := err.(*detailError); ok {
		return d.msg
	}
	return err.Error()
}

// parseAddrRule parses one of a rule's Addrs: a class name (c != 0) or an
// address or prefix, IPv4-mapped ones as IPv4.
func parseAddrRule(s string) (c addrClass, p netip.Prefix, err error) {
	s = strings.TrimSpace(s)
	if c, ok := classByName(strings.ToLower(s)); ok {
		return c, netip.Prefix{}, nil
	}
	if strings.ContainsRune(s, '%') {
		return 0, netip.Prefix{}, errorf(errInvalidOptions, "address "+quote(s)+" has a zone id; write it without \"%zone\" (zones are ignored when matching)")
	}
	if strings.ContainsRune(s, '/') {
		var err error
		p, err = netip.ParsePrefix(s)
		if err != nil {
			return 0, netip.Prefix{}, errorf(errInvalidOptions, quote(s)+" is not a CIDR prefix, an IP address or a class name ("+strings.Join(classNames[:], ", ")+")")
		}
		if m := p.Masked(); m != p {
			return 0, netip.Prefix{}, errorf(errInvalidOptions, "prefix "+quote(s)+" has bits set after its length; write "+quote(m.String()))
		}
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return 0, netip.Prefix{}, errorf(errInvalidOptions, quote(s)+" is not an IP address, a CIDR prefix or a class name ("+strings.Join(classNames[:], ", ")+")")
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
	}
	return 0, p, nil
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
	if mayBeAddr(strings.Trim(h, "[]")) {
		if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
			return "", false, errorf(errInvalidOptions, "host "+quote(orig)+" is an IP address; put addresses in addrs, hosts match names")
		}
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
	// The labels one by one, without splitting: each must be valid, and
	// the name must not read as inet_aton's IPv4 (see isNumberLabel).
	labels, numeric, last := 0, true, ""
	for rest := h; ; {
		l := rest
		i := strings.IndexByte(rest, '.')
		if i >= 0 {
			l, rest = rest[:i], rest[i+1:]
		}
		if err := checkLabel(l, h); err != nil {
			return "", false, errorf(errInvalidOptions, "host "+quote(orig)+": "+err.(*detailError).msg)
		}
		labels++
		numeric = numeric && isNumberLabel(l)
		last = l
		if i < 0 {
			break
		}
	}
	if labels > 4 && isNumberLabel(last) || labels <= 4 && numeric {
		return "", false, errorf(errInvalidOptions, "host "+quote(orig)+" is a numeric spelling of an IPv4 address; put addresses in addrs")
	}
	return h, wild, nil
}

// mayBeAddr reports whether netip.ParseAddr can accept s: an IPv6 address
// has a colon, an IPv4 one only digits and dots. It spares names the cost
// of a failed parse.
func mayBeAddr(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == ':' {
			return true
		} else if c != '.' && (c < '0' || c > '9') {
			return strings.IndexByte(s[i:], ':') >= 0
		}
	}
	return true
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

// portNumber parses one end of a port rule with Connect's parser, so that
// a port a rule names is one Connect accepts, with the same message.
func portNumber(p, whole string) (int, error) {
	if p == "" {
		return 0, errorf(errInvalidOptions, "port "+quote(whole)+" is not a port (\"443\") or a range (\"8000-8999\")")
	}
	n, err := sockets.ParsePort(p)
	if err != nil {
		return 0, errorf(errInvalidOptions, strings.TrimPrefix(err.Error(), sockets.ErrInvalidAddress.Error()+": "))
	}
	return n, nil
}

type portPrefix struct {
	v    int
	bits int // prefix length over 16 bits
}

// portPrefixes splits [lo, hi] into aligned power-of-two blocks.
func portPrefixes(lo, hi int) []portPrefix { return appendPortPrefixes(nil, lo, hi) }

// appendPortPrefixes appends the blocks of [lo, hi] to out.
func appendPortPrefixes(out []portPrefix, lo, hi int) []portPrefix {
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
