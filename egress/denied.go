package egress

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/outboundhq/outbound/sockets"
)

// maxListed is how many denied addresses a message names before it
// counts the rest.
const maxListed = 3

// DeniedError is a denial by an egress policy: what [sockets.Connect]
// returns (wrapped in a [*sockets.SocketError]) when the policy refuses a
// connection. It matches [sockets.ErrDenied] with errors.Is, and a refused
// numeric address spelling matches [sockets.ErrInvalidAddress] too; use
// errors.As to read the Decision:
//
//	var de *egress.DeniedError
//	if errors.As(err, &de) {
//		log.Print(de.Decision.Rule, de.Decision.Classes(), de.Hint)
//	}
type DeniedError struct {
	// Decision is the denial; for a name none of whose addresses is
	// allowed, the first address's.
	Decision Decision
	// Denied holds every address's denial when a name resolved to several
	// addresses and none is allowed; nil otherwise.
	Denied []Decision
	// Hint says what to change, or is empty when the denial is the policy
	// working as meant. It never suggests allowing an address that an
	// address-class rule or the policy's default refuses as internal.
	Hint string
}

// Error says in one short line what was refused and why, in the words of
// the rule or class: "127.0.0.1 is loopback, denied by the rule
// \"no-internal\"". For many addresses it names the first few and counts
// the rest. The hint is not part of it.
func (e *DeniedError) Error() string {
	if len(e.Denied) <= 1 {
		return e.Decision.String()
	}
	var b strings.Builder
	b.WriteString(strconv.Quote(e.Decision.Host) + " resolved to " + strconv.Itoa(len(e.Denied)) + " addresses, none allowed: ")
	for i, d := range e.Denied {
		if i == maxListed {
			b.WriteString("; and " + strconv.Itoa(len(e.Denied)-maxListed) + " more")
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		d.describe(&b, d.IP.String())
	}
	return b.String()
}

// Is reports whether target is [sockets.ErrDenied], or
// [sockets.ErrInvalidAddress] for a refused address spelling.
func (e *DeniedError) Is(target error) bool {
	return target == sockets.ErrDenied || (target == sockets.ErrInvalidAddress && e.Decision.Reason == ReasonSpelling)
}

func (p *Policy) noneAllowed(host string, denied []Decision) error {
	if len(denied) == 1 {
		return p.deny(&denied[0])
	}
	e := &DeniedError{Decision: denied[0], Denied: denied, Hint: p.hint(&denied[0])}
	if e.Decision.internal() != 0 {
		e.Hint = "check what " + strconv.Quote(host) + " resolves to; its addresses are refused by the policy"
	}
	return e
}

// ProxyDenial is the denial of a connection to host:port by the rules of
// the egress proxy at by (its URL), for reason (what the proxy said). Proxy
// packages return it (package proxy does, through errors.As on a
// *proxy.Error), so that a program branches on a fleet denial as on a local
// one: the Decision's By names where it was made.
func ProxyDenial(by, host string, port int, reason string) *DeniedError {
	d := Decision{Rule: reason, Reason: ReasonProxy, Host: host, Port: port, By: by, rule: -1}
	if ip, err := netip.ParseAddr(host); err == nil {
		d.IP, d.literal = ip, true
	}
	return &DeniedError{Decision: d, Hint: "the egress proxy " + by + " refused it; its rules (for smokescreen, the ACL of the role in your client certificate) decide what it may reach"}
}
