package sockets

// TLSPendingBytes reports how much ciphertext s's TLS transport keeps back
// after a write timed out mid-record.
func TLSPendingBytes(s *Socket) int {
	if s.tlsConn == nil {
		return 0
	}
	tt := s.transport()
	tt.mu.Lock()
	defer tt.mu.Unlock()
	return len(tt.pending)
}

// AttemptDone returns a channel closed once s's connect attempt has finished.
func AttemptDone(s *Socket) <-chan struct{} {
	if p := s.pending(); p != nil {
		ready, _ := p.waitChans()
		return ready
	}
	return closedChan
}
