// Package dialers plugs outbound sockets into code that takes a dial
// function: [net/http.Transport] (DialContext, DialTLSContext),
// golang.org/x/net/proxy (ContextDialer), database drivers, RPC clients.
//
//	d := &dialers.Dialer{}
//	client := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
//
// Every connection then goes through [sockets.Connect], with its options,
// egress policy and request scope.
package dialers
