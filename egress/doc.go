// Package egress is the egress policy engine for package sockets: it
// decides, and records, where a program's sockets may connect.
//
// A [Policy] is compiled from a [PolicyConfig]: host rules (exact names
// and "*.suffix", case- and trailing-dot-insensitive, IDN in Unicode or
// punycode), address rules (IP addresses, CIDR prefixes and named classes
// such as "public", "private", "loopback", "metadata"; see [AddrClasses])
// and port rules, combined as [Rule] documents; a default action; and the
// modes [ModeEnforce] and [ModeReport]. [PublicInternetOnly] is the
// SSRF-safe preset for programs that connect where their users say.
//
// A *Policy (or a [PolicyHolder], whose policy can be swapped atomically
// while the program runs) is a sockets.Policy, so it plugs into
// [sockets.Options]:
//
//	p, err := egress.NewPolicy(egress.PublicInternetOnly())
//	...
//	s, err := sockets.Connect(ctx, addr, &sockets.Options{Policy: p})
//
// Address rules are checked on every address a name resolves to, at dial
// time, and again on the address the kernel is asked to connect to, so DNS
// rebinding, IPv4-mapped and embedded IPv6 spellings (NAT64, 6to4, Teredo)
// and 0.0.0.0 cannot slip past. Each decision writes one log/slog record
// (PolicyConfig.Logger) and updates [Metrics].
//
// Policy files (YAML or JSON) are read by package
// github.com/outboundhq/outbound/egress/policyfile, the only package that
// imports a YAML parser; egress proxies are in package
// github.com/outboundhq/outbound/proxy.
package egress
