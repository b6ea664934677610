package sockets

// Proxy routes connections through an egress proxy ([Options].Proxy).
type Proxy interface {
	// ProxyFor returns the function that dials a through the proxy, or nil
	// to connect directly. Connect calls it once per connection, before any
	// network traffic; it must not block.
	ProxyFor(a Address) (DialFunc, error)
}
