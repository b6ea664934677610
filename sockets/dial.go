package sockets

import (
	"context"
	"net"
	"strconv"
)

// checkConnect runs the checks that can be decided when Connect is called,
// before any network traffic: the hostname- and port-level egress rules.
func checkConnect(_ context.Context, _ *Options, a Address) error {
	if a.Port == 25 {
		return errorf(ErrDenied, "port 25 (SMTP) is blocked by default, as on Cloudflare Workers; use a submission port (587 or 465) or allow port 25 with an egress policy rule")
	}
	return nil
}

// dial opens the transport for a under o.
func dial(ctx context.Context, o *Options, a Address) (net.Conn, error) {
	addr := net.JoinHostPort(a.Hostname, strconv.Itoa(a.Port))
	if o.Dial != nil {
		return o.Dial(ctx, "tcp", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}
