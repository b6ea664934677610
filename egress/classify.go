package egress

import (
	"net/netip"
)

// addrClass is a set of named address classes, one bit each.
type addrClass uint16

const (
	classPublic addrClass = 1 << iota
	classPrivate
	classLoopback
	classLinkLocal
	classUnspecified
	classMulticast
	classCGNAT
	classMetadata
	classDocumentation
	classBenchmarking
	classReserved
	classBroadcast

	numClasses = iota
)

// classNames are the names rules use, in bit order.
var classNames = [numClasses]string{
	"public", "private", "loopback", "link-local", "unspecified", "multicast",
	"cgnat", "metadata", "documentation", "benchmarking", "reserved", "broadcast",
}

func classByName(name string) (addrClass, bool) {
	for i, n := range classNames {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

func (c addrClass) names() []string {
	var out []string
	for i, n := range classNames {
		if c&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

type classRange struct {
	p netip.Prefix
	c addrClass
}

// Special-purpose ranges (IANA IPv4 and IPv6 Special-Purpose Address
// Registries, plus cloud metadata endpoints). An address in none of them is
// public. These tables are read-only.
var v4Ranges = []classRange{
	{netip.MustParsePrefix("0.0.0.0/8"), classUnspecified},                  // "this network"
	{netip.MustParsePrefix("0.0.0.0/32"), classUnspecified | classLoopback}, // connecting to it reaches the local host
	{netip.MustParsePrefix("10.0.0.0/8"), classPrivate},
	{netip.MustParsePrefix("100.64.0.0/10"), classCGNAT},
	{netip.MustParsePrefix("100.100.100.200/32"), classMetadata}, // Alibaba Cloud
	{netip.MustParsePrefix("127.0.0.0/8"), classLoopback},
	{netip.MustParsePrefix("168.63.129.16/32"), classMetadata}, // Azure WireServer
	{netip.MustParsePrefix("169.254.0.0/16"), classLinkLocal},
	{netip.MustParsePrefix("169.254.169.254/32"), classMetadata}, // AWS, GCP, Azure, OpenStack, ...
	{netip.MustParsePrefix("169.254.170.2/32"), classMetadata},   // AWS ECS task metadata
	{netip.MustParsePrefix("169.254.170.23/32"), classMetadata},  // AWS EKS Pod Identity
	{netip.MustParsePrefix("172.16.0.0/12"), classPrivate},
	{netip.MustParsePrefix("192.0.0.0/24"), classReserved},   // IETF protocol assignments
	{netip.MustParsePrefix("192.0.0.192/32"), classMetadata}, // Oracle Cloud (classic)
	{netip.MustParsePrefix("192.0.2.0/24"), classDocumentation},
	{netip.MustParsePrefix("192.88.99.0/24"), classReserved},  // former 6to4 relay anycast
	{netip.MustParsePrefix("192.31.196.0/24"), classReserved}, // AS112
	{netip.MustParsePrefix("192.52.193.0/24"), classReserved}, // AMT
	{netip.MustParsePrefix("192.168.0.0/16"), classPrivate},
	{netip.MustParsePrefix("192.175.48.0/24"), classReserved}, // AS112 direct delegation
	{netip.MustParsePrefix("198.18.0.0/15"), classBenchmarking},
	{netip.MustParsePrefix("198.51.100.0/24"), classDocumentation},
	{netip.MustParsePrefix("203.0.113.0/24"), classDocumentation},
	{netip.MustParsePrefix("224.0.0.0/4"), classMulticast},
	{netip.MustParsePrefix("240.0.0.0/4"), classReserved},
	{netip.MustParsePrefix("255.255.255.255/32"), classBroadcast},
}

var v6Ranges = []classRange{
	{netip.MustParsePrefix("::/128"), classUnspecified | classLoopback}, // connecting to it reaches the local host
	{netip.MustParsePrefix("::1/128"), classLoopback},
	{netip.MustParsePrefix("100::/64"), classReserved},  // discard-only
	{netip.MustParsePrefix("2001::/23"), classReserved}, // IETF protocol assignments (Teredo is handled as embedded IPv4)
	{netip.MustParsePrefix("2001:2::/48"), classBenchmarking},
	{netip.MustParsePrefix("2001:db8::/32"), classDocumentation},
	{netip.MustParsePrefix("2620:4f:8000::/48"), classReserved}, // AS112 direct delegation
	{netip.MustParsePrefix("3fff::/20"), classDocumentation},
	{netip.MustParsePrefix("fc00::/7"), classPrivate},           // unique local
	{netip.MustParsePrefix("fd00:ec2::23/128"), classMetadata},  // AWS EKS Pod Identity
	{netip.MustParsePrefix("fd00:ec2::254/128"), classMetadata}, // AWS instance metadata
	{netip.MustParsePrefix("fe80::/10"), classLinkLocal},
	{netip.MustParsePrefix("fec0::/10"), classPrivate}, // deprecated site-local
	{netip.MustParsePrefix("ff00::/8"), classMulticast},
}

var global6 = netip.MustParsePrefix("2000::/3")

// embedded holds the IPv4 addresses carried inside an IPv6 address.
type embedded struct {
	v4    [4]netip.Addr
	n     int
	local bool // inside the local-use NAT64 prefix 64:ff9b:1::/48
}

// embeddedIPv4 extracts the IPv4 addresses an IPv6 address carries:
// IPv4-compatible (::a.b.c.d, deprecated), IPv4-translated (::ffff:0:a.b.c.d),
// NAT64 (64:ff9b::/96, and 64:ff9b:1::/48 in each RFC 6052 layout that fits
// it), 6to4 (2002::/16) and Teredo (2001::/32: the server and the client,
// whose address is the inverted last 32 bits). IPv4-mapped addresses are
// unmapped before this is called.
func embeddedIPv4(a netip.Addr) embedded {
	var e embedded
	if !a.Is6() {
		return e
	}
	b := a.As16()
	v4 := func(p0, p1, p2, p3 byte) {
		e.v4[e.n] = netip.AddrFrom4([4]byte{p0, p1, p2, p3})
		e.n++
	}
	zero := func(bs []byte) bool {
		for _, x := range bs {
			if x != 0 {
				return false
			}
		}
		return true
	}
	switch {
	case zero(b[:12]):
		// ::/96, IPv4-compatible. :: and ::1 are their own classes.
		if !zero(b[12:15]) || b[15] > 1 {
			v4(b[12], b[13], b[14], b[15])
		}
	case zero(b[:8]) && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0:
		v4(b[12], b[13], b[14], b[15]) // ::ffff:0:0:0/96, IPv4-translated
	case b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && zero(b[4:12]):
		v4(b[12], b[13], b[14], b[15]) // 64:ff9b::/96
	case b[0] == 0 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1:
		// 64:ff9b:1::/48, local-use NAT64: the operator picks a prefix of
		// /48, /56, /64 or /96 inside it (RFC 6052 section 2.2), so every
		// layout that fits is considered.
		e.local = true
		v4(b[6], b[7], b[9], b[10])    // /48
		v4(b[7], b[9], b[10], b[11])   // /56
		v4(b[9], b[10], b[11], b[12])  // /64
		v4(b[12], b[13], b[14], b[15]) // /96
	case b[0] == 0x20 && b[1] == 0x02:
		v4(b[2], b[3], b[4], b[5]) // 6to4
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0:
		v4(b[4], b[5], b[6], b[7])         // Teredo server
		v4(^b[12], ^b[13], ^b[14], ^b[15]) // Teredo client (obfuscated)
	}
	return e
}

// canonical strips a zone and unmaps an IPv4-mapped IPv6 address.
func canonical(a netip.Addr) netip.Addr {
	return a.WithZone("").Unmap()
}

// classify returns the classes of a canonical address. An IPv6 address that
// embeds IPv4 addresses has the classes of those addresses (local-use NAT64
// adds private), and is public only if every embedded address is public.
func classify(a netip.Addr) addrClass {
	if a.Is4() {
		return classify4(a)
	}
	if e := embeddedIPv4(a); e.n > 0 {
		var c addrClass
		public := true
		for _, x := range e.v4[:e.n] {
			xc := classify4(x)
			if xc != classPublic {
				public = false
			}
			c |= xc &^ classPublic
		}
		if e.local {
			c |= classPrivate
			public = false
		}
		if public {
			c = classPublic
		}
		return c
	}
	var c addrClass
	for _, r := range v6Ranges {
		if r.p.Contains(a) {
			c |= r.c
		}
	}
	if c == 0 {
		if !global6.Contains(a) {
			return classReserved
		}
		return classPublic
	}
	return c
}

func classify4(a netip.Addr) addrClass {
	var c addrClass
	for _, r := range v4Ranges {
		if r.p.Contains(a) {
			c |= r.c
		}
	}
	if c == 0 {
		return classPublic
	}
	return c
}

// AddrClasses returns the names of the address classes ip belongs to, as
// address rules use them: "public", "private" (RFC 1918 and IPv6 unique
// local and site-local), "loopback", "link-local", "unspecified" (0.0.0.0/8
// and ::), "multicast", "cgnat" (100.64.0.0/10), "metadata" (cloud instance
// metadata endpoints), "documentation", "benchmarking", "reserved" and
// "broadcast". An address may be in several classes (169.254.169.254 is
// link-local and metadata); an address in no other class is "public".
// 0.0.0.0 and :: are "loopback" as well as "unspecified", because
// connecting to them reaches the local host.
//
// The zone is ignored and IPv4-mapped addresses are unmapped. An IPv6
// address that carries an IPv4 address (IPv4-compatible, NAT64, 6to4,
// Teredo) has the classes of the IPv4 address(es) it carries, so
// 64:ff9b::7f00:1 is "loopback".
func AddrClasses(ip netip.Addr) []string {
	if !ip.IsValid() {
		return nil
	}
	return classify(canonical(ip)).names()
}
