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
