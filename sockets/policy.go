package sockets

import (
	"context"
	"net/netip"
	"strconv"
	"strings"
)

// Policy decides where sockets may connect: [Options.Policy] takes one.
// Package egress implements it (egress.Policy, egress.PolicyHolder, and
// presets such as egress.PublicInternetOnly), so that
//
//	&sockets.Options{Policy: p}
//
// applies a rule set to a socket. A nil Options.Policy is the default
// policy: everything is allowed but port 25, as on Cloudflare Workers.
//
// A Policy must be safe for concurrent use. Its methods are called on the
// connect path, so they must not block beyond what they document.
type Policy interface {
	// CheckConnect is called once per Connect, before any network
	// traffic, with what is known then. It decides what can be decided
	// without the connection's addresses (for an IP literal, everything),
	// logs and counts that decision, and returns an error that matches
	// [ErrDenied] to refuse the connection. Otherwise it returns the
	// Verdict: a Checker when the addresses a name resolves to decide, and
	// a Counter when the policy counts sockets and bytes.
	CheckConnect(ctx context.Context, r Request) (Verdict, error)
}

// Request describes one connection to a [Policy].
type Request struct {
	// Address is the connect address, normalised: hostname in lower case,
	// without a trailing dot or brackets.
	Address Address
	// Scope is the [Scope] in Connect's context, or nil.
	Scope *Scope
	// Proxied reports that the connection goes through a proxy that is
	// handed names unresolved, so the addresses of a name are never known
	// here and address rules for names are the proxy's job. (With
	// [Options.Dial], or a [LocalResolver] proxy, Proxied is false: names
	// are resolved here and each address is checked.)
	Proxied bool
	// Spelling reports that the hostname is a non-standard spelling of an
	// IPv4 address, as inet_aton reads it (2130706433, 0x7f.1, 127.1),
	// which Connect refuses whatever the policy says. The policy is told
	// so that it records and counts the attempt; its error (a denial) is
	// what Connect returns.
	Spelling bool
}

// Verdict is a [Policy]'s answer to a Connect it lets through.
type Verdict struct {
	// Check, when not nil, decides the addresses the name resolves to,
	// at dial time.
	Check Checker
	// Count, when not nil, counts the connection's socket and bytes.
	Count Counter
}

// Checker decides, at dial time, the addresses of one connection: it
// resolves the name and says which of its addresses may be dialled.
// Connect dials only those, and checks again on the address the kernel is
// asked to connect to.
type Checker interface {
	// LookupNetIP resolves host as [net.Resolver.LookupNetIP] does. ctx
	// bounds the lookup.
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
	// CheckAddrs decides each of addrs (with r's port), logs and counts
	// each decision, and returns the addresses that may be dialled, in
	// order. When it allows none it returns an error that matches
	// [ErrDenied].
	CheckAddrs(ctx context.Context, r Request, addrs []netip.Addr) ([]netip.Addr, error)
}

// Counter counts a policy's sockets and bytes. Its methods are called on
// the data path and must be cheap and safe for concurrent use.
type Counter interface {
	// SocketOpened counts a socket admitted to connect (a socket and the
	// one StartTLS returns for it count once); SocketClosed counts it
	// ending.
	SocketOpened()
	SocketClosed()
	// ConnectLimited counts a Connect a fail-fast [Scope] refused with
	// [ErrLimit].
	ConnectLimited()
	// BytesRead and BytesWritten count bytes moved, as the application
	// sees them (plaintext for TLS).
	BytesRead(n int64)
	BytesWritten(n int64)
}

// checkDefault is the default policy: port 25 is refused, everything else
// allowed.
func checkDefault(a Address) error {
	if a.Port != 25 {
		return nil
	}
	field, val := "Hosts", a.Hostname
	if _, err := netip.ParseAddr(a.Hostname); err == nil {
		field = "Addrs"
	}
	return errorf(ErrDenied, "port 25 (SMTP) is blocked by default, as on Cloudflare Workers; use a submission port (587 or 465), or allow port 25 explicitly with an egress policy (Options.Policy) holding the rule "+
		"egress.Rule{Action: egress.Allow, "+field+": []string{"+strconv.Quote(val)+"}, Ports: []string{\"25\"}} "+
		"(policy file: - {action: allow, "+strings.ToLower(field)+": ["+quote(val)+"], ports: [25]})")
}

// LocalResolver is implemented by a [Proxy] that asks for names to be
// resolved in this process: when ResolvesLocally reports true, Connect
// resolves the name, the policy decides each address (so address rules
// apply before the proxy is contacted), and the proxy is asked for an
// allowed IP literal. A proxy that does not implement it receives names
// unresolved, and address rules for names are the proxy's job.
type LocalResolver interface {
	ResolvesLocally() bool
}

func resolvesLocally(p Proxy) bool {
	l, ok := p.(LocalResolver)
	return ok && l.ResolvesLocally()
}

// refusedSpelling gives the policy in opts a numeric address spelling
// that ParseAddress or Validate refused (err), so that the attempt is
// recorded and counted as a denial; it returns the policy's denial, or err.
func refusedSpelling(ctx context.Context, host string, port int, opts *Options, err error) error {
	if ctx == nil || opts == nil || opts.Policy == nil {
		return err
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if _, perr := netip.ParseAddr(h); perr == nil || h == "" || !looksNumeric(h) {
		return err // a standard address (refused for another reason) or a name
	}
	r := Request{Address: Address{Hostname: h, Port: port}, Scope: ScopeFrom(ctx), Spelling: true}
	if _, perr := opts.Policy.CheckConnect(ctx, r); perr != nil {
		return perr
	}
	return err
}

// splitSpelling returns the host and port of an address ParseAddress
// refused, as far as they can be read (port 0 when not).
func splitSpelling(s string) (string, int) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return s, 0
	}
	port, err := parsePort(s[i+1:], s)
	if err != nil {
		port = 0
	}
	return s[:i], port
}
