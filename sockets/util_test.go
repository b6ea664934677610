package sockets_test

import (
	"crypto/sha256"
	"crypto/x509"
	"hash"
	"math/rand/v2"
)

type x509HostnameError = x509.HostnameError

type hashSink struct{ h hash.Hash }

func (s *hashSink) Write(b []byte) {
	if s.h == nil {
		s.h = sha256.New()
	}
	s.h.Write(b)
}
func (s *hashSink) Sum() []byte { return s.h.Sum(nil) }

type rnd struct{ *rand.Rand }

func newRand(seed uint64) rnd { return rnd{rand.New(rand.NewPCG(seed, seed))} }

func (r rnd) Intn(n int) int { return r.IntN(n) }

func (r rnd) Fill(b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
}
