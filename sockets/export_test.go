package sockets

// TLSPendingBytes reports how much ciphertext s's TLS transport keeps back
// after a write timed out mid-record.
func TLSPendingBytes(s *Socket) int {
	if s.tt == nil {
		return 0
	}
	s.tt.mu.Lock()
	defer s.tt.mu.Unlock()
	return len(s.tt.pending)
}

// AttemptDone returns a channel closed once s's connect attempt has finished.
func AttemptDone(s *Socket) <-chan struct{} {
	if p := s.pending(); p != nil {
		return p.ready
	}
	c := make(chan struct{})
	close(c)
	return c
}
