//go:build !unix

package sockets

import "net"

// pendingBytes cannot peek here; the TLS handshake itself refuses plaintext.
func pendingBytes(net.Conn) int { return 0 }
