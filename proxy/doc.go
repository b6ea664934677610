// Package proxy dials through egress proxies for [sockets.Options].Proxy:
// SOCKS5 ([SOCKS5], RFC 1928 with RFC 1929 passwords), HTTP CONNECT
// ([HTTP], over plain TCP or TLS), a proxy URL ([FromURL]) and the usual
// proxy environment variables ([FromEnvironment]).
//
//	opts := &sockets.Options{Proxy: &proxy.SOCKS5{Addr: "proxy.internal:1080"}, Policy: policy}
//
// What is checked where. By default, through a proxy, the egress policy's
// hostname and port rules apply in this process before anything is sent,
// and address rules apply to IP literals; a name is handed to the proxy
// unresolved (as curl's socks5h:// does), so which addresses it reaches is
// the proxy's decision: address rules for names are NOT checked here.
// Configure the proxy's own egress rules (dante's "socks block", squid's
// ACLs, smokescreen) as the place that enforces them for a fleet. With
// ResolveLocally set ([SOCKS5.ResolveLocally], [HTTP.ResolveLocally]),
// the name is resolved in this process, every address is decided by the
// policy before the proxy is contacted, and the proxy is asked for an
// allowed IP literal: everything is checked here.
//
// A proxy's refusal is an [*Error], which matches [sockets.ErrDenied] when
// the proxy's rules refused it.
package proxy
