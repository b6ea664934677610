package egress

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/outboundhq/outbound/sockets"
)

// Mode says whether a policy enforces its denials or only reports them.
type Mode string

const (
	// ModeEnforce refuses denied connections with [sockets.ErrDenied] (the default).
	ModeEnforce Mode = "enforce"
	// ModeReport lets every connection through but logs and counts the
	// ones the rules would deny, to try a policy on live traffic first.
	ModeReport Mode = "report"
)

// Reasons a decision gives, as they appear in log records ("reason") and
// in [Stats] (Denied and Reported are keyed by them). The set is fixed, so
// they are safe as metric labels.
const (
	ReasonRule         = "rule"                          // a rule decided
	ReasonDefault      = "default"                       // no rule matched; the policy's default decided
	ReasonPort25       = "port-25"                       // port 25 without an allow rule that lists it
	ReasonRequireScope = "require-scope"                 // Connect without a Scope under a policy that requires one
	ReasonSpelling     = "non-standard address spelling" // an IPv4 address spelled as inet_aton reads it (2130706433, 0x7f.1, 127.1), refused
	ReasonProxy        = "proxy"                         // an egress proxy's rules refused the connection (see Decision.By)
)

// Resolver looks up a hostname's addresses; [*net.Resolver] implements it.
// A policy with address rules resolves names itself, so that it can check
// and dial exactly the addresses it resolved.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// PolicyConfig describes an egress policy. Mode, Default, RequireScope and
// Rules are what a policy file holds (see package egress/policyfile); Logger, Metrics
// and Resolver are set in code.
type PolicyConfig struct {
	// Mode is ModeEnforce (the default when empty) or ModeReport.
	Mode Mode
	// Default is the action when no rule matches: Allow (the default when
	// empty) or Deny.
	Default Action
	// RequireScope makes Connect without a [sockets.Scope] in its context fail, as
	// Workers refuses connect() outside a request handler.
	RequireScope bool
	// Rules, in order; see [Rule] for how they combine.
	Rules []Rule

	// Logger receives one record per decision (nil: no logging).
	Logger *slog.Logger
	// Metrics counts decisions, open sockets and bytes (nil: no counting).
	// Several policies may share one Metrics, so counts survive a reload.
	Metrics *Metrics
	// Resolver resolves hostnames when address rules need the addresses;
	// nil means [net.DefaultResolver].
	Resolver Resolver
}

// PublicInternetOnly returns the configuration of the SSRF-safe preset for
// programs that connect to addresses their users supply: the default is
// deny and one rule, named "public", allows the public internet, so
// loopback, private, link-local, CGNAT, cloud metadata, multicast,
// unspecified (0.0.0.0, ::) and reserved addresses are refused, including
// when a name resolves to them or an IPv6 address embeds them. Port 25 stays
// denied. Append allow rules for the internal services you do need.
//
// A rule named "localhost" denies the names that are loopback by
// definition (localhost and *.localhost, RFC 6761 section 6.3) at Connect,
// before any proxy sees them: a proxy resolves names itself, so without it
// "localhost:8080" through a SOCKS5 proxy would reach the proxy's loopback.
// As a deny rule it wins over allow rules you append: to reach a local
// service, allow its IP address (127.0.0.1), or drop the rule.
func PublicInternetOnly() PolicyConfig {
	return PolicyConfig{
		Mode:    ModeEnforce,
		Default: Deny,
		Rules: []Rule{
			{Name: "localhost", Action: Deny, Hosts: []string{"localhost", "*.localhost"}},
			{Name: "public", Action: Allow, Addrs: []string{"public"}},
		},
	}
}

// Policy is a compiled egress policy. It is immutable and safe for
// concurrent use; to change the policy of a running program, swap in a new
// one with a [PolicyHolder].
//
// A nil *Policy is the default policy: everything is allowed but port 25,
// as on Cloudflare Workers.
type Policy struct {
	cfg         PolicyConfig // without Rules, which rs keeps compactly
	rs          *ruleSet
	report      bool
	defaultDeny bool
}

var (
	_ sockets.Policy = (*Policy)(nil)
	_ sockets.Policy = (*PolicyHolder)(nil)
)

// defaultPolicy is what a nil policy means. It is never modified.
var defaultPolicy = &Policy{rs: mustCompile(nil)}

func mustCompile(rules []Rule) *ruleSet {
	rs, _, _ := compileRules(rules)
	return rs
}

// NewPolicy compiles cfg. It reports the first invalid rule with its
// position and what to write instead. cfg's Rules are copied.
func NewPolicy(cfg PolicyConfig) (*Policy, error) {
	switch cfg.Mode {
	case "":
		cfg.Mode = ModeEnforce
	case ModeEnforce, ModeReport:
	default:
		return nil, errorf(errInvalidOptions, "policy mode "+quote(string(cfg.Mode))+" is not \"enforce\" or \"report\"")
	}
	switch cfg.Default {
	case "":
		cfg.Default = Allow
	case Allow, Deny:
	default:
		return nil, errorf(errInvalidOptions, "policy default "+quote(string(cfg.Default))+" is not \"allow\" or \"deny\"")
	}
	rs, i, err := compileRules(cfg.Rules)
	if err != nil {
		return nil, ruleError(cfg.Rules, i, err)
	}
	cfg.Rules = nil
	return &Policy{cfg: cfg, rs: rs, report: cfg.Mode == ModeReport, defaultDeny: cfg.Default == Deny}, nil
}

// Config returns a copy of the configuration p was compiled from, with
// Mode and Default filled in. For a nil Policy it is the default policy's.
func (p *Policy) Config() PolicyConfig {
	if p == nil {
		return PolicyConfig{Mode: ModeEnforce, Default: Allow}
	}
	c := p.cfg
	c.Rules = p.rs.rules()
	return c
}

func (p *Policy) orDefault() *Policy {
	if p == nil {
		return defaultPolicy
	}
	return p
}

// PolicyHolder holds the current policy of a running program; Connect reads
// it once per connection, so a policy swapped in with Store (or policyfile.Reload)
// applies to every later Connect, while sockets already open keep going.
// The zero value holds the default policy. It is safe for concurrent use.
type PolicyHolder struct {
	p atomic.Pointer[Policy]
}

// NewPolicyHolder returns a holder with p in force.
func NewPolicyHolder(p *Policy) *PolicyHolder {
	h := &PolicyHolder{}
	h.p.Store(p)
	return h
}

// Policy returns the policy in force (nil: the default policy).
func (h *PolicyHolder) Policy() *Policy {
	if h == nil {
		return nil
	}
	return h.p.Load()
}

// Store puts p in force atomically and returns the policy it replaces.
// Store on a nil *PolicyHolder panics, as Store on a nil *atomic.Pointer
// does: there is nowhere to put p, and dropping it silently would leave
// the caller believing a policy is in force.
func (h *PolicyHolder) Store(p *Policy) (old *Policy) { return h.p.Swap(p) }

// CheckConnect implements [sockets.Policy] with the policy in force.
func (h *PolicyHolder) CheckConnect(ctx context.Context, r sockets.Request) (sockets.Verdict, error) {
	return h.Policy().CheckConnect(ctx, r)
}

// Decision is what a policy says about one connection to one address.
type Decision struct {
	// Allowed reports whether the rules allow the connection. In report
	// mode a connection is let through even when Allowed is false.
	Allowed bool
	// Rule names what decided: a rule's Name (or "rules[i]"), "default",
	// "port-25", "require-scope" or "address-spelling".
	Rule string
	// Reason is ReasonRule, ReasonDefault, ReasonPort25,
	// ReasonRequireScope or ReasonSpelling.
	Reason string
	// Host, IP and Port describe the connection. IP is the zero Addr when
	// the decision did not depend on it (made before resolving, or left to
	// a proxy).
	Host string
	IP   netip.Addr
	Port int
	// Scope is the name of the connection's [sockets.Scope] ("" for none).
	Scope string
	// By is where the decision was made: "" for this process's policy, or
	// the URL of the egress proxy ("https://smokescreen:4750") whose rules
	// refused the connection; then Reason is ReasonProxy and Rule is the
	// proxy's stated reason.
	By string

	rule    int        // index of the deciding rule, -1 for built-in
	carried netip.Addr // the embedded IPv4 address that decided, if any
	literal bool       // Host is an IP literal
	proxied bool
}

// Classes returns the address classes (see [AddrClasses]) of the address
// that decided: IP, or the IPv4 address it carries when that one decided.
// It is nil when the decision did not depend on an address.
func (d Decision) Classes() []string {
	a := d.IP
	if d.carried.IsValid() {
		a = d.carried
	}
	return AddrClasses(a)
}

// internal returns the non-public classes of the deciding address.
func (d Decision) internal() addrClass {
	a := d.IP
	if d.carried.IsValid() {
		a = d.carried
	}
	if !a.IsValid() {
		return 0
	}
	return classify(canonical(a)) &^ classPublic
}

// String says in one line what was decided and why, in the words of the
// rule or the address class: "127.0.0.1 is loopback, denied by the rule
// \"no-internal\"". User-supplied strings (hostnames, rule names) are
// quoted.
func (d Decision) String() string {
	var b strings.Builder
	d.describe(&b, d.target())
	return b.String()
}

func (d Decision) describe(b *strings.Builder, target string) {
	rule := "the rule " + strconv.Quote(d.Rule)
	port := " port " + strconv.Itoa(d.Port)
	cls := d.internal()
	is := func() {
		b.WriteString(target)
		if d.carried.IsValid() {
			b.WriteString(" carries " + d.carried.String() + ", which")
		} else if e := embeddedIPv4(canonical(d.IP)); e.n > 0 {
			b.WriteString(" carries ")
			for i, a := range e.v4[:e.n] {
				if i > 0 {
					b.WriteString(" or ")
				}
				b.WriteString(a.String())
			}
			b.WriteString(", which")
		}
		b.WriteString(" is " + strings.Join(cls.names(), " and "))
	}
	switch {
	case d.Allowed && d.Reason == ReasonRule:
		b.WriteString(target + port + " is allowed by " + rule)
	case d.Allowed:
		b.WriteString(target + port + " is allowed by the policy's default")
	case d.Reason == ReasonProxy:
		b.WriteString(target + port + " is denied by the egress proxy " + d.By + ": " + strconv.Quote(d.Rule))
	case d.Reason == ReasonSpelling:
		b.WriteString(target + " is a non-standard address spelling, refused")
	case d.Reason == ReasonRequireScope:
		b.WriteString("Connect to " + target + " without a scope, denied: the policy requires one")
	case d.Reason == ReasonPort25:
		b.WriteString("port 25 (SMTP) to " + target + " is blocked by default, as on Cloudflare Workers")
	case d.Reason == ReasonRule && cls != 0:
		is()
		b.WriteString(", denied by " + rule)
	case d.Reason == ReasonRule:
		b.WriteString(target + port + " is denied by " + rule)
	case cls != 0:
		is()
		b.WriteString(", denied by default: no rule allows it")
	default:
		b.WriteString(target + port + " is denied by default: no rule allows it")
	}
}

// target names the connection: the IP for a literal, else the quoted name
// and, once resolved, its address.
func (d Decision) target() string {
	if d.literal || d.Host == "" {
		if d.IP.IsValid() {
			return d.IP.String()
		}
		return strconv.Quote(d.Host)
	}
	if d.IP.IsValid() {
		return strconv.Quote(d.Host) + " (" + d.IP.String() + ")"
	}
	return strconv.Quote(d.Host)
}

// hint says what to change for a denial, or "" when the denial is the
// policy doing its job: it never suggests allowing an address that an
// address class rule or the policy's default refuses for being internal.
func (p *Policy) hint(d *Decision) string {
	cls := d.internal()
	switch {
	case d.Allowed:
		return ""
	case d.Reason == ReasonSpelling:
		return "write IPv4 addresses in dotted-decimal form (a.b.c.d); numeric spellings such as 2130706433 or 0x7f.1 are refused"
	case d.Reason == ReasonRequireScope:
		return "create a scope with sockets.NewScope and connect with the context sockets.WithScope(ctx, scope), or serve HTTP through scopehttp.Middleware"
	case d.Reason == ReasonPort25:
		h := "use a submission port (587 or 465)"
		if cls == 0 {
			h += ", or allow port 25 explicitly with the rule " + d.suggest("25")
		}
		return h
	case d.Reason == ReasonRule && d.rule >= 0 && p.rs.classes[d.rule]&cls != 0:
		return "the rule " + strconv.Quote(d.Rule) + " refuses " + strings.Join((p.rs.classes[d.rule]&cls).names(), " and ") + " addresses on purpose; connect to an address it does not cover"
	case d.Reason == ReasonRule:
		return "deny rules win over allow rules; this connection is allowed only if the rule " + strconv.Quote(d.Rule) + " is narrowed or removed"
	case cls != 0:
		if !d.literal && d.Host != "" {
			return "check what " + strconv.Quote(d.Host) + " resolves to: " + strings.Join(cls.names(), " and ") + " addresses are not allowed by this policy"
		}
		return strings.Join(cls.names(), " and ") + " addresses are not allowed by this policy"
	default:
		return "allow it with the rule " + d.suggest(strconv.Itoa(d.Port))
	}
}

// suggest writes an allow rule for the connection in Go and in a policy
// file.
func (d Decision) suggest(port string) string {
	field, val := "Hosts", d.Host
	if d.literal || d.Host == "" {
		field, val = "Addrs", d.IP.String()
	}
	return "egress.Rule{Action: egress.Allow, " + field + ": []string{" + strconv.Quote(val) + "}, Ports: []string{\"" + port + "\"}} " +
		"(policy file: - {action: allow, " + strings.ToLower(field) + ": [" + strconv.Quote(val) + "], ports: [" + port + "]})"
}

// deny turns a denial into the error Connect returns.
func (p *Policy) deny(d *Decision) error {
	return &DeniedError{Decision: *d, Hint: p.hint(d)}
}

// Decide reports what p's rules say about a connection to host (a name as
// given to Connect, or an IP literal) at the address ip and port. It does
// not log or count; Connect does that for the decisions it makes. The
// address is checked as Connect checks it: zone removed, IPv4-mapped
// addresses unmapped, and an IPv6 address carrying IPv4 addresses (NAT64,
// 6to4, Teredo, IPv4-compatible) is allowed only if it and every address it
// carries are allowed. A nil p is the default policy.
func (p *Policy) Decide(host string, ip netip.Addr, port int) Decision {
	p = p.orDefault()
	h, literal := matchHost(host)
	if literal && !ip.IsValid() {
		ip, _ = netip.ParseAddr(strings.Trim(host, "[]"))
	}
	d := p.decideAddr(h, ip, port)
	d.Host, d.literal = normHost(host), literal
	return d
}

// matchHost returns the form host rules match (lower case, no trailing dot)
// and whether host is an IP literal (which host rules never match).
func matchHost(host string) (string, bool) {
	h := strings.Trim(host, "[]")
	if _, ok := parseLiteral(h); ok {
		return "", true
	}
	return normHost(h), false
}

// parseLiteral parses an IP literal without the cost of a failed parse for
// names (only digits, dots, hex and colons can spell an address).
func parseLiteral(h string) (netip.Addr, bool) {
	colon := false
	for i := 0; i < len(h); i++ {
		switch c := h[i]; {
		case c >= '0' && c <= '9' || c == '.':
		case c == ':':
			colon = true
		case colon && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == '%'):
		case c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
			// hex digits appear in IPv6 literals, which hold a colon
			// somewhere; decide once the whole string is seen.
		default:
			return netip.Addr{}, false
		}
	}
	a, err := netip.ParseAddr(h)
	return a, err == nil
}

func normHost(h string) string {
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	for i := 0; i < len(h); i++ {
		if c := h[i]; c >= 'A' && c <= 'Z' {
			return strings.ToLower(h)
		}
	}
	return h
}

// decideAddr decides a connection to a known address. host is "" for an
// IP literal.
func (p *Policy) decideAddr(host string, ip netip.Addr, port int) Decision {
	rs := p.rs
	ip = canonical(ip)
	d := Decision{IP: ip, Port: port, rule: -1}
	// check decides one address (the connection's, or one it carries):
	// false when it is denied, with d saying why; else the allowing rule
	// (-1 for the default).
	check := func(c netip.Addr, cls addrClass, carried bool) (bool, int) {
		deny, allow := rs.evalAddr(host, port, c, cls)
		switch {
		case deny != none:
			d.rule, d.Reason = int(deny), ReasonRule
			if carried {
				d.carried = c
			}
			return false, 0
		case allow != none:
			return true, int(allow)
		case port == 25:
			d.Reason = ReasonPort25
			return false, 0
		case p.defaultDeny:
			d.Reason = ReasonDefault
			if carried {
				d.carried = c
			}
			return false, 0
		}
		return true, -1
	}
	ok, allowRule := check(ip, classify(ip), false)
	if ok && ip.Is6() {
		if e := embeddedIPv4(ip); e.n > 0 {
			for _, c := range e.v4[:e.n] {
				if ok, _ = check(c, classify4(c), true); !ok {
					break
				}
			}
		}
	}
	if ok {
		d.Allowed = true
		d.rule = allowRule
		d.Reason = ReasonRule
		if allowRule < 0 {
			d.Reason = ReasonDefault
		}
	}
	p.name(&d)
	return d
}

func (p *Policy) name(d *Decision) {
	switch {
	case d.rule >= 0:
		d.Rule = p.rs.ruleName(d.rule)
	case d.Reason == ReasonPort25:
		d.Rule = "port-25"
	case d.Reason == ReasonRequireScope:
		d.Rule = "require-scope"
	case d.Reason == ReasonSpelling:
		d.Rule = "address-spelling"
	default:
		d.Rule = "default"
	}
}

// decideName decides what can be decided about a connection to the name
// host before resolving it. final is false when the answer depends on the
// addresses. proxied means addresses are never known here: deny rules
// with address constraints are left to the proxy and allow rules with them
// count as matching.
func (p *Policy) decideName(host string, port int, proxied bool) (d Decision, final bool) {
	denyNoAddr, allow, addrDepends := p.rs.evalName(host, port)
	d = Decision{Host: host, Port: port, rule: -1, proxied: proxied}
	if denyNoAddr != none {
		d.rule, d.Reason = int(denyNoAddr), ReasonRule
		p.name(&d)
		return d, true
	}
	r := -1
	if allow != none {
		r = int(allow)
	}
	// Unless no allow rule can match whatever the address (then only the
	// deny outcome remains), the addresses decide.
	if !proxied && addrDepends && (r >= 0 || (port != 25 && !p.defaultDeny)) {
		return d, false
	}
	switch {
	case r >= 0:
		d.Allowed, d.rule, d.Reason = true, r, ReasonRule
	case port == 25:
		d.Reason = ReasonPort25
	case p.defaultDeny:
		d.Reason = ReasonDefault
	default:
		d.Allowed, d.Reason = true, ReasonDefault
	}
	p.name(&d)
	return d, true
}

// record logs and counts a decision made for a connection.
func (p *Policy) record(ctx context.Context, d *Decision, sc *sockets.Scope) {
	d.Scope = sc.Name()
	if m := p.cfg.Metrics; m != nil {
		m.decision(d.Allowed, p.report, d.Reason)
	}
	l := p.cfg.Logger
	if l == nil {
		return
	}
	level, msg, verdict := slog.LevelInfo, "egress allowed", "allow"
	if !d.Allowed {
		level, msg, verdict = slog.LevelWarn, "egress denied", "deny"
		if p.report {
			msg, verdict = "egress would be denied (report mode)", "report"
		}
	}
	if !l.Enabled(ctx, level) {
		return
	}
	ip := ""
	if d.IP.IsValid() {
		ip = d.IP.String()
	}
	attrs := []slog.Attr{
		slog.String("decision", verdict),
		slog.String("rule", d.Rule),
		slog.String("reason", d.Reason),
		slog.String("host", d.Host),
		slog.String("ip", ip),
		slog.Int("port", d.Port),
		slog.String("scope", d.Scope),
	}
	if d.proxied {
		attrs = append(attrs, slog.Bool("proxied", true))
	}
	if !d.Allowed {
		if c := d.internal(); c != 0 {
			attrs = append(attrs, slog.String("class", strings.Join(c.names(), ",")))
		}
		attrs = append(attrs, slog.String("detail", d.String()))
	}
	l.LogAttrs(ctx, level, msg, attrs...)
}

// enforced reports whether a denial stops the connection.
func (p *Policy) enforced(d *Decision) bool { return !d.Allowed && !p.report }

// Control is a [net.Dialer] Control function that checks each address the
// dialer connects to against p's address and port rules (host rules cannot
// match: the hostname is not known here). It does not log or count. Use it
// to give the policy to code that dials with its own net.Dialer; Connect
// already applies it, host rules included.
func (p *Policy) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return errorf(errDenied, "cannot check "+quote(address)+" against the egress policy: "+err.Error())
	}
	pp := p.orDefault()
	d := pp.decideAddr("", ap.Addr(), int(ap.Port()))
	d.Host, d.literal = ap.Addr().String(), true
	if pp.enforced(&d) {
		return pp.deny(&d)
	}
	return nil
}

// CheckConnect implements [sockets.Policy]: [sockets.Connect] calls it once
// per connection, before any network traffic. It decides the scope
// requirement and the hostname and port rules, and for an IP literal the
// address rules too; it logs and counts that decision and returns its
// denial. When the answer depends on the addresses a name resolves to, the
// Verdict's Checker decides each of them at dial time.
func (p *Policy) CheckConnect(ctx context.Context, r sockets.Request) (sockets.Verdict, error) {
	p = p.orDefault()
	a := r.Address
	if r.Spelling {
		// Connect refuses the address whatever the rules say; the policy
		// records the refusal, as the attempt an operator must see.
		d := Decision{Host: a.Hostname, Port: a.Port, rule: -1, Reason: ReasonSpelling}
		p.name(&d)
		p.record(ctx, &d, r.Scope)
		if p.enforced(&d) {
			return sockets.Verdict{}, p.deny(&d)
		}
		return sockets.Verdict{}, nil
	}
	if p == defaultPolicy && a.Port != 25 {
		return sockets.Verdict{}, nil // no decision to make, nothing to record
	}
	if p.cfg.RequireScope && r.Scope == nil {
		d := Decision{Host: a.Hostname, Port: a.Port, rule: -1, Reason: ReasonRequireScope}
		p.name(&d)
		p.record(ctx, &d, nil)
		if p.enforced(&d) {
			return sockets.Verdict{}, p.deny(&d)
		}
	}
	var v sockets.Verdict
	if ip, ok := parseLiteral(a.Hostname); ok {
		d := p.decideAddr("", ip, a.Port)
		d.Host, d.literal, d.proxied = a.Hostname, true, r.Proxied
		p.record(ctx, &d, r.Scope)
		if p.enforced(&d) {
			return sockets.Verdict{}, p.deny(&d)
		}
	} else {
		d, final := p.decideName(a.Hostname, a.Port, r.Proxied)
		if final {
			p.record(ctx, &d, r.Scope)
			if p.enforced(&d) {
				return sockets.Verdict{}, p.deny(&d)
			}
		} else {
			v.Check = (*checker)(p)
		}
	}
	if m := p.cfg.Metrics; m != nil {
		v.Count = (*counter)(m)
	}
	return v, nil
}

// checker is a Policy as the [sockets.Checker] of a name's addresses.
type checker Policy

func (c *checker) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	r := c.cfg.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	return r.LookupNetIP(ctx, network, host)
}

func (c *checker) CheckAddrs(ctx context.Context, r sockets.Request, addrs []netip.Addr) ([]netip.Addr, error) {
	p := (*Policy)(c)
	host := r.Address.Hostname // already lower case, no trailing dot
	var allowed []netip.Addr   // nil while every address so far is allowed
	var denied []Decision
	for i, ip := range addrs {
		d := p.decideAddr(host, ip, r.Address.Port)
		d.Host = host
		p.record(ctx, &d, r.Scope)
		if p.enforced(&d) {
			if allowed == nil {
				allowed = append(make([]netip.Addr, 0, len(addrs)), addrs[:i]...)
			}
			denied = append(denied, d)
			continue
		}
		if allowed != nil {
			allowed = append(allowed, ip) // dialled as resolved (zone kept); decisions use the canonical form
		}
	}
	if denied == nil {
		return addrs, nil // all allowed: no copy
	}
	if len(allowed) == 0 {
		return nil, p.noneAllowed(host, denied)
	}
	return allowed, nil
}
