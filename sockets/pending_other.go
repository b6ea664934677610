//go:build !unix

package sockets

import "net"

// kernelPending cannot peek here; the TLS handshake itself refuses plaintext.
func kernelPending(net.Conn) int { return 0 }
