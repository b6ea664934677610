//go:build !linux

package faults

import "net"

// disconnect is Linux only; elsewhere abort closes with SO_LINGER 0.
func disconnect(*net.TCPConn) bool { return false }
