package imap

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"
)

// recorder is a net.Conn that records what is written to it.
type recorder struct {
	net.Conn
	buf bytes.Buffer
}

func (r *recorder) Write(p []byte) (int, error)     { return r.buf.Write(p) }
func (r *recorder) SetReadDeadline(time.Time) error { return nil }

func TestGuardDropsCredentials(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		sent   string // what reaches the server
		nos    int    // generated NO replies
	}{
		{"login", []string{"T1 LOGIN alice secret\r\n"}, "", 1},
		{"login in pieces", []string{"T1 LO", "GIN alice ", "secret\r\n", "T2 NOOP\r\n"}, "T1 LOT2 NOOP\r\n", 1},
		{"lowercase", []string{"a1 login alice secret\r\n"}, "", 1},
		{"authenticate with initial response", []string{"T1 AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==\r\n"}, "", 1},
		{"pipelined around it", []string{"T1 NOOP\r\nT2 LOGIN a b\r\nT3 NOOP\r\n"}, "T1 NOOP\r\nT3 NOOP\r\n", 1},
		{"literal password", []string{"T1 LOGIN alice {6}\r\n"}, "", 1},
		{"non-synchronizing literal", []string{"T1 LOGIN alice {6+}\r\nsecret\r\nT2 NOOP\r\n"}, "T2 NOOP\r\n", 1},
		{"LOGIN inside a literal is data", []string{"T1 APPEND INBOX {16}\r\n", "\r\nx LOGIN a b\r\n\r\n", "\r\n"}, "T1 APPEND INBOX {16}\r\n\r\nx LOGIN a b\r\n\r\n\r\n", 0},
		{"other commands", []string{"T1 CAPABILITY\r\nT2 SELECT LOGIN\r\n"}, "T1 CAPABILITY\r\nT2 SELECT LOGIN\r\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{}
			g := newGuard(r, "test:143", false)
			for _, w := range tt.writes {
				if n, err := g.Write([]byte(w)); err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := r.buf.String(); got != tt.sent {
				t.Errorf("sent %q, want %q", got, tt.sent)
			}
			if got := strings.Count(string(g.synth), "NO [PRIVACYREQUIRED]"); got != tt.nos {
				t.Errorf("%d NO replies (%q), want %d", got, g.synth, tt.nos)
			}
			if strings.Contains(r.buf.String(), "secret") {
				t.Error("the password reached the server")
			}
		})
	}
}

func TestGuardAllowsInsecureAuthWhenAsked(t *testing.T) {
	r := &recorder{}
	g := newGuard(r, "test:143", true)
	g.Write([]byte("T1 LOGIN alice secret\r\n"))
	if r.buf.String() != "T1 LOGIN alice secret\r\n" || len(g.synth) != 0 {
		t.Fatalf("sent %q, synth %q", r.buf.String(), g.synth)
	}
}

func FuzzGuardScan(f *testing.F) {
	f.Add([]byte("T1 LOGIN a b\r\n"), 3)
	f.Add([]byte("T1 APPEND INBOX {5+}\r\nab\r\nc\r\nT2 LOGIN x y\r\n"), 7)
	f.Add([]byte("T1 STARTTLS\r\n"), 1)
	f.Fuzz(func(t *testing.T, p []byte, split int) {
		r := &recorder{}
		g := newGuard(r, "test:143", false)
		if split < 0 || split > len(p) {
			split = len(p) / 2
		}
		g.Write(p[:split])
		g.Write(p[split:])
		if r.buf.Len() > len(p) {
			t.Fatalf("sent %d bytes of %d", r.buf.Len(), len(p))
		}
		// No literal, no refused line may reach the server whole.
		if !bytes.Contains(p, []byte("{")) {
			for _, line := range strings.SplitAfter(r.buf.String(), "\n") {
				f := strings.Fields(line)
				if len(f) >= 3 && strings.HasSuffix(line, "\n") && strings.EqualFold(f[1], "LOGIN") {
					t.Fatalf("sent %q", line)
				}
			}
		}
	})
}
