package egress

import (
	"strconv"

	"github.com/outboundhq/outbound/sockets"
)

// detailError pairs a sentinel of package sockets with a message that says
// what happened and what to change. errors.Is(err, kind) holds.
type detailError struct {
	kind error
	msg  string
}

func (e *detailError) Error() string { return e.kind.Error() + ": " + e.msg }
func (e *detailError) Unwrap() error { return e.kind }

func errorf(kind error, msg string) error { return &detailError{kind: kind, msg: msg} }

func quote(s string) string { return strconv.Quote(s) }

// ErrInvalidOptions and ErrDenied are the sentinels of package sockets.
var (
	errInvalidOptions = sockets.ErrInvalidOptions
	errDenied         = sockets.ErrDenied
)

const maxHostname = 253

func checkLabel(l, host string) error {
	if l == "" {
		return errorf(errInvalidOptions, "hostname "+quote(host)+" has an empty label (\"..\")")
	}
	if len(l) > 63 {
		return errorf(errInvalidOptions, "hostname "+quote(host)+" has a label longer than 63 bytes")
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return errorf(errInvalidOptions, "hostname "+quote(host)+" has a label that starts or ends with '-'")
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return errorf(errInvalidOptions, "hostname "+quote(host)+" contains "+strconv.QuoteRune(rune(c))+"; use letters, digits, '-' and '.'")
		}
	}
	return nil
}

// isNumberLabel reports whether a label is a decimal, octal or hex
// number as inet_aton reads it. A name all of whose labels are numbers, at
// most four of them, or whose last label is one (no real DNS name has a
// numeric top-level label), would be read as an IPv4 address
// (2130706433, 0x7f000001, 0177.0.0.1, 127.1).
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
