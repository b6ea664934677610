package egress

import (
	"strconv"

	"github.com/outboundhq/outbound/sockets"

	"github.com/outboundhq/outbound/internal/hostname"
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
	if p := hostname.LabelProblem(l); p != "" {
		return errorf(errInvalidOptions, "hostname "+quote(host)+" "+p)
	}
	return nil
}

func looksNumeric(labels []string) bool { return hostname.LooksNumeric(labels) }
