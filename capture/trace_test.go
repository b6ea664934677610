package capture_test

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/outboundhq/outbound/capture"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var traceLine = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d{6} #\d+ `)

// TestTracePlain: direction marks, byte counts and the hexdump of each
// read and write, one numbered socket.
func TestTracePlain(t *testing.T) {
	srv := serve(t)(sockettest.NewEcho())
	var out syncBuffer
	tr := capture.NewTrace(&out)
	s := dial(t, srv.Addr(), &sockets.Options{Layers: []sockets.Layer{tr}})
	s.Write([]byte("hello\x00\xff"))
	readN(t, s, 7)
	s.Close()
	got := out.String()
	for _, want := range []string{
		" #1 connected to " + srv.Addr() + " from ",
		" #1 > 7 bytes\n  00000000  68 65 6c 6c 6f 00 ff                              |hello..|\n",
		" #1 < 7 bytes\n  00000000  68 65 6c 6c 6f 00 ff ",
		" #1 closed: 7 bytes sent, 7 received on the wire\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("trace lacks %q:\n%s", want, got)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(got), "\n") {
		if !strings.HasPrefix(line, "  ") && !traceLine.MatchString(line) {
			t.Errorf("line %q has no timestamp and socket number", line)
		}
	}
}

// TestTraceTLS: inside TLS the trace shows the plaintext, for "on" and for
// StartTLS, and never the plaintext's ciphertext as if it were data.
func TestTraceTLS(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	srv := tlsLineServer(t, ca, true)
	var out syncBuffer
	tr := capture.NewTrace(&out)
	s := dial(t, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: ca.ClientConfig(), Layers: []sockets.Layer{tr}})
	readN(t, s, 21)
	s.Write([]byte("STARTTLS\r\n"))
	readN(t, s, 20)
	ts, err := s.StartTLS(&sockets.StartTLSOptions{ExpectedServerHostname: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	ts.Write([]byte("PING\r\n"))
	readN(t, ts, 6)
	ts.Close()
	got := out.String()
	for _, want := range []string{
		" #1 > 10 bytes\n  00000000  53 54 41 52 54 54 4c 53  0d 0a ",
		" #1 TLS handshake, server name \"localhost\"\n",
		" #1 TLS up: TLS 1.3, ",
		" #1 > 6 bytes (TLS plaintext)\n  00000000  50 49 4e 47 0d 0a ",
		" #1 < 6 bytes (TLS plaintext)\n  00000000  50 4f 4e 47 0d 0a ",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("trace lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "|.....") && strings.Count(got, " bytes\n") > 4 {
		t.Errorf("trace dumps TLS records:\n%s", got)
	}
	// Closed: nothing more.
	tr.Close()
	n := len(out.String())
	s2 := dial(t, srv.Addr(), &sockets.Options{Layers: []sockets.Layer{tr}})
	readN(t, s2, 21)
	if len(out.String()) != n {
		t.Error("a closed trace kept writing")
	}
}
