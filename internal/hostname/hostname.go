// Package hostname holds the hostname checks that package sockets (for
// connect addresses) and package egress (for host rules) share, so that an
// address and a rule are held to one set of rules. Standard library only:
// sockets imports it.
package hostname

import "strconv"

// LabelProblem says what is wrong with l, one dot-separated label of a
// hostname, as the end of a sentence that starts with the hostname ("has an
// empty label ..."), or returns "" when l is a valid label: 1 to 63 bytes of
// letters, digits, '-' and '_', neither starting nor ending with '-'.
func LabelProblem(l string) string {
	if l == "" {
		return "has an empty label (\"..\")"
	}
	if len(l) > 63 {
		return "has a label longer than 63 bytes"
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return "has a label that starts or ends with '-'"
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return "contains " + strconv.QuoteRune(rune(c)) + "; use letters, digits, '-' and '.'"
		}
	}
	return ""
}

// LooksNumeric reports whether a name would be read by inet_aton as an IPv4
// address (2130706433, 0x7f000001, 0177.0.0.1, 127.1): every label a
// decimal, octal or hex number, and at most four of them. No real DNS name
// has a numeric top-level label, so more labels with a numeric last one
// count too.
func LooksNumeric(labels []string) bool {
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
