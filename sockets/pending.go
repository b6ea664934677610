package sockets

import "net"

// A transport that reads ahead holds bytes the socket has not seen: a
// proxy's connection holding what came with the proxy's reply, a Layer's
// wrapper. It should report them, so that [Socket.StartTLS] can refuse
// plaintext waiting before the handshake ([ErrPlaintextInjection]):
//
//	Buffered() int      // bytes read ahead and not yet returned by Read
//	NetConn() net.Conn  // the connection it wraps (as *tls.Conn has)
//
// pendingBytes walks such wrappers down to the socket and reports whether
// any bytes are waiting anywhere on the way, without consuming them and
// without blocking. It returns 0 when it cannot tell.
func pendingBytes(c net.Conn) int {
	for i := 0; c != nil && i < 16; i++ {
		if b, ok := c.(interface{ Buffered() int }); ok {
			if n := b.Buffered(); n > 0 {
				return n
			}
		}
		if n := kernelPending(c); n > 0 {
			return n
		}
		w, ok := c.(interface{ NetConn() net.Conn })
		if !ok {
			return 0
		}
		c = w.NetConn()
	}
	return 0
}
