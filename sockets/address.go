package sockets

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// Address is the structured form of a connect address, the Sockets API's
// SocketAddress { hostname, port }.
//
// Hostname is a DNS name, a dotted-decimal IPv4 address or an IPv6 address,
// with or without brackets. Port is 1 to 65535.
type Address struct {
	Hostname string
	Port     int
}

// String returns "host:port", with brackets around an IPv6 hostname.
func (a Address) String() string {
	return net.JoinHostPort(strings.Trim(a.Hostname, "[]"), strconv.Itoa(a.Port))
}

// ParseAddress parses "host:port" as [Connect] does. IPv6 literals must be in
// brackets ("[::1]:443"). The port must be a decimal number from 1 to 65535
// with no sign and no leading zeros; unlike the Node polyfill, a missing port
// is an error rather than a silent 443.
func ParseAddress(s string) (Address, error) {
	if s == "" {
		return Address{}, errorf(ErrInvalidAddress, "empty address; write \"host:port\", for example \"example.com:443\"")
	}
	if err := checkBytes(s); err != nil {
		return Address{}, err
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return Address{}, errorf(ErrInvalidAddress, quote(s)+" has no port; write \"host:port\", for example \""+s+":443\"")
	}
	host, portStr := s[:i], s[i+1:]
	if strings.HasPrefix(host, "[") {
		if !strings.HasSuffix(host, "]") {
			return Address{}, errorf(ErrInvalidAddress, quote(s)+" has an unclosed '['; write IPv6 addresses as \"[::1]:443\"")
		}
		host = host[1 : len(host)-1]
		if !strings.Contains(host, ":") {
			return Address{}, errorf(ErrInvalidAddress, quote(s)+": brackets are only for IPv6 addresses")
		}
	} else if strings.Contains(host, ":") {
		return Address{}, errorf(ErrInvalidAddress, quote(s)+" looks like an IPv6 address without brackets; write \"[host]:port\", for example \"[::1]:443\"")
	}
	port, err := parsePort(portStr, s)
	if err != nil {
		return Address{}, err
	}
	a := Address{Hostname: host, Port: port}
	if err := a.validateHost(); err != nil {
		return Address{}, err
	}
	return a, nil
}

func parsePort(p, whole string) (int, error) {
	if p == "" {
		return 0, errorf(ErrInvalidAddress, quote(whole)+" has an empty port; give a port from 1 to 65535")
	}
	return ParsePort(p)
}

// ParsePort parses a port as [Connect] and policy files read it: a
// decimal number from 1 to 65535 with no sign, no spaces and no leading
// zero. Its error matches [ErrInvalidAddress] and says what to write.
func ParsePort(p string) (int, error) {
	if p == "" {
		return 0, errorf(ErrInvalidAddress, "empty port; give a port from 1 to 65535")
	}
	n := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c < '0' || c > '9' {
			return 0, errorf(ErrInvalidAddress, "port "+strconv.Quote(p)+" is not a port number; write a decimal number from 1 to 65535")
		}
		if n <= 65535 {
			n = n*10 + int(c-'0')
		}
	}
	if len(p) > 1 && p[0] == '0' {
		trimmed := strings.TrimLeft(p, "0")
		if trimmed == "" {
			trimmed = "0"
		}
		return 0, errorf(ErrInvalidAddress, "port "+strconv.Quote(p)+" has a leading zero; write it as "+trimmed)
	}
	if n < 1 || n > 65535 {
		return 0, errorf(ErrInvalidAddress, "port "+strconv.Quote(p)+" is out of range; give a port from 1 to 65535")
	}
	return n, nil
}

// Validate reports whether the address can be dialled as written.
func (a Address) Validate() error {
	if a.Port < 1 || a.Port > 65535 {
		return errorf(ErrInvalidAddress, "port "+strconv.Itoa(a.Port)+" is out of range; give a port from 1 to 65535")
	}
	if err := checkBytes(a.Hostname); err != nil {
		return err
	}
	return a.validateHost()
}

// normalized returns the address with brackets removed from an IPv6 hostname
// and a hostname lower-cased. A trailing dot stays: the caller marked the
// name absolute, so the resolver's search domains must not apply to it.
// Policy rules match names without it (see [Address.ruleHost]).
func (a Address) normalized() Address {
	h := strings.Trim(a.Hostname, "[]")
	return Address{Hostname: strings.ToLower(h), Port: a.Port}
}

// ruleHost is the hostname as the policy's host rules match it: a
// normalized hostname without its trailing dot.
func (a Address) ruleHost() string { return strings.TrimSuffix(a.Hostname, ".") }

func checkBytes(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == 0:
			return errorf(ErrInvalidAddress, "address contains a NUL byte; remove it")
		case c < 0x20 || c == 0x7f:
			return errorf(ErrInvalidAddress, "address contains control byte "+strconv.QuoteRune(rune(c))+"; remove it")
		case c >= 0x80:
			return errorf(ErrInvalidAddress, "address contains non-ASCII characters; write internationalised names in punycode (\"xn--...\")")
		case c == ' ':
			return errorf(ErrInvalidAddress, "address contains a space; remove it")
		}
	}
	return nil
}

const maxHostname = 253

func (a Address) validateHost() error {
	h := a.Hostname
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if h == "" {
		return errorf(ErrInvalidAddress, "empty hostname; give a name or an IP address")
	}
	if strings.ContainsRune(h, '%') {
		return errorf(ErrInvalidAddress, "hostname "+quote(h)+" has an IPv6 zone id; zone ids are refused, use an address without \"%zone\"")
	}
	if strings.Contains(h, ":") {
		if _, err := netip.ParseAddr(h); err != nil {
			return errorf(ErrInvalidAddress, quote(h)+" is not a valid IPv6 address")
		}
		return nil
	}
	if dotsAndDigits(h) {
		if _, err := netip.ParseAddr(h); err == nil {
			return nil // dotted-decimal IPv4
		}
	}
	name := strings.TrimSuffix(h, ".")
	if len(name) > maxHostname {
		return errorf(ErrInvalidAddress, "hostname is "+strconv.Itoa(len(name))+" bytes long; DNS names are at most 253")
	}
	if name == "" {
		return errorf(ErrInvalidAddress, "hostname "+quote(h)+" is empty")
	}
	for rest := name; ; {
		l, more, found := strings.Cut(rest, ".")
		if err := checkLabel(l, h); err != nil {
			return err
		}
		if !found {
			break
		}
		rest = more
	}
	if looksNumeric(name) {
		return errorf(ErrInvalidAddress, quote(h)+" is a non-standard spelling of an IPv4 address; write it in dotted-decimal form (a.b.c.d)")
	}
	return nil
}

func checkLabel(l, host string) error {
	if l == "" {
		return errorf(ErrInvalidAddress, "hostname "+quote(host)+" has an empty label (\"..\")")
	}
	if len(l) > 63 {
		return errorf(ErrInvalidAddress, "hostname "+quote(host)+" has a label longer than 63 bytes")
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return errorf(ErrInvalidAddress, "hostname "+quote(host)+" has a label that starts or ends with '-'")
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return errorf(ErrInvalidAddress, "hostname "+quote(host)+" contains "+strconv.QuoteRune(rune(c))+"; use letters, digits, '-' and '.'")
		}
	}
	return nil
}

// looksNumeric reports whether a name would be read by inet_aton as an IPv4
// address (2130706433, 0x7f000001, 0177.0.0.1, 127.1): every label a decimal,
// octal or hex number, and at most four of them. No real DNS name has a
// numeric top-level label.
func looksNumeric(name string) bool {
	if strings.Count(name, ".") >= 4 {
		return isNumberLabel(name[strings.LastIndexByte(name, '.')+1:])
	}
	for rest := name; ; {
		l, more, found := strings.Cut(rest, ".")
		if !isNumberLabel(l) {
			return false
		}
		if !found {
			return true
		}
		rest = more
	}
}

// dotsAndDigits reports whether h holds only digits and dots: the only
// hostnames that can be dotted-decimal IPv4 (checked before parsing one,
// since a failed parse allocates its error).
func dotsAndDigits(h string) bool {
	for i := 0; i < len(h); i++ {
		if c := h[i]; c != '.' && (c < '0' || c > '9') {
			return false
		}
	}
	return h != ""
}

func isNumberLabel(l string) bool {
	if len(l) > 2 && (l[:2] == "0x" || l[:2] == "0X") {
		for i := 2; i < len(l); i++ {
			c := l[i]
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return l != ""
}

// join is net.JoinHostPort(a.Hostname, port) for the dial: given, the
// address as the caller wrote it, when it is already in that form (as it
// nearly always is), so that the dial costs no new string.
func (a Address) join(given string) string {
	h := a.Hostname
	rest, ok := "", false
	if strings.IndexByte(h, ':') >= 0 {
		if len(given) > len(h)+2 && given[0] == '[' && given[1:len(h)+1] == h && given[len(h)+1] == ']' && given[len(h)+2] == ':' {
			rest, ok = given[len(h)+3:], true
		}
	} else if len(given) > len(h) && given[:len(h)] == h && given[len(h)] == ':' {
		rest, ok = given[len(h)+1:], true
	}
	if ok && isPortString(rest, a.Port) {
		return given
	}
	return net.JoinHostPort(h, strconv.Itoa(a.Port))
}

// isPortString reports whether s is port in decimal, without a sign or
// leading zeros.
func isPortString(s string, port int) bool {
	if s == "" || len(s) > 5 || (s[0] == '0' && len(s) > 1) {
		return false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n == port
}
