package sockettest_test

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

// readLine reads one line byte by byte, so nothing after it is consumed.
func readLine(t *testing.T, r io.Reader) string {
	t.Helper()
	var line []byte
	b := make([]byte, 1)
	for {
		if _, err := io.ReadFull(r, b); err != nil {
			t.Fatalf("read line after %q: %v", line, err)
		}
		line = append(line, b[0])
		if b[0] == '\n' {
			return string(line)
		}
	}
}

func write(t *testing.T, w io.Writer, s string) {
	t.Helper()
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
}

func TestScripted(t *testing.T) {
	s := serve(t)(sockettest.NewScripted(
		sockettest.Send("220 hello\r\n"),
		sockettest.ExpectLine("EHLO client"),
		sockettest.ExpectLine("PLAIN\n"),
		sockettest.Expect("DATA"),
		sockettest.Discard(3),
		sockettest.Send("250 ok\r\n"),
		sockettest.ExpectEOF(),
		sockettest.Send("bye"),
		sockettest.CloseWrite(),
	))
	c := dial(t, s)
	if got := readLine(t, c); got != "220 hello\r\n" {
		t.Fatalf("greeting = %q", got)
	}
	write(t, c, "EHLO client\r\nPLAIN\nDATAxyz")
	if got := readLine(t, c); got != "250 ok\r\n" {
		t.Fatalf("reply = %q", got)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	rest, err := io.ReadAll(c)
	if err != nil || string(rest) != "bye" {
		t.Fatalf("after CloseWrite read %q, %v; want %q, EOF", rest, err, "bye")
	}
	if errs := waitDone(t, s); len(errs) != 0 {
		t.Fatalf("Errs() = %v", errs)
	}
}

func TestScriptedEveryConnection(t *testing.T) {
	s := serve(t)(sockettest.NewScripted(sockettest.Send("hi\n"), sockettest.CloseConn()))
	for range 3 {
		b, err := io.ReadAll(dial(t, s))
		if err != nil || string(b) != "hi\n" {
			t.Fatalf("read %q, %v", b, err)
		}
	}
	if n := s.Accepted(); n != 3 {
		t.Errorf("Accepted() = %d, want 3", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	noErrs(t, s)
}

func TestScriptedReset(t *testing.T) {
	s := serve(t)(sockettest.NewScripted(
		sockettest.Expect("x"),
		sockettest.Reset(),
		sockettest.Send("never sent"),
	))
	c := dial(t, s)
	write(t, c, "x")
	_, err := c.Read(make([]byte, 1))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after Reset: %v, want ECONNRESET", err)
	}
	if errs := waitDone(t, s); len(errs) != 0 {
		t.Fatalf("Errs() = %v", errs)
	}
}

func TestScriptedStartTLS(t *testing.T) {
	ca := mustCA(t)
	srvCfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t)(sockettest.NewScripted(
		sockettest.Send("220 ready\r\n"),
		sockettest.ExpectLine("STARTTLS"),
		sockettest.Send("220 go ahead\r\n"),
		sockettest.StartTLS(srvCfg),
		sockettest.ExpectLine("PING"),
		sockettest.Send("PONG\r\n"),
		sockettest.StartTLS(srvCfg), // fails: already TLS
	))
	c := dial(t, s)
	readLine(t, c)
	write(t, c, "STARTTLS\r\n")
	if got := readLine(t, c); got != "220 go ahead\r\n" {
		t.Fatalf("STARTTLS reply = %q", got)
	}
	cfg := ca.ClientConfig()
	cfg.ServerName = "localhost"
	tc := tls.Client(c, cfg)
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	write(t, tc, "PING\r\n")
	if got := readLine(t, tc); got != "PONG\r\n" {
		t.Fatalf("reply over TLS = %q", got)
	}
	errs := waitDone(t, s)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "step 7 StartTLS()") ||
		!strings.Contains(errs[0].Error(), "already TLS") {
		t.Fatalf("Errs() = %v, want step 7 to fail as already TLS", errs)
	}
}

func TestTLSScripted(t *testing.T) {
	ca := mustCA(t)
	srvCfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t)(sockettest.NewTLSScripted(srvCfg,
		sockettest.Expect("a"),
		sockettest.Send("b"),
		sockettest.CloseWrite(),
		sockettest.ExpectEOF(),
	))
	cfg := ca.ClientConfig()
	cfg.ServerName = "localhost"
	tc := tls.Client(dial(t, s), cfg)
	write(t, tc, "a")
	got, err := io.ReadAll(tc)
	if err != nil || string(got) != "b" {
		t.Fatalf("read %q, %v; want %q then close_notify", got, err, "b")
	}
	if err := tc.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if errs := waitDone(t, s); len(errs) != 0 {
		t.Fatalf("Errs() = %v", errs)
	}
}

func TestScriptedMismatch(t *testing.T) {
	tests := []struct {
		name   string
		step   sockettest.Step
		send   string
		wants  []string
		closeW bool
	}{
		{"Expect", sockettest.Expect("HELLO"), "HELLx", []string{`step 1 Expect("HELLO")`, `got "HELLx", want "HELLO"`}, false},
		{"ExpectShort", sockettest.Expect("HELLO"), "HE", []string{`got "HE" then unexpected EOF, want "HELLO"`}, true},
		{"ExpectLine", sockettest.ExpectLine("EHLO a"), "EHLO b\r\n", []string{`got line "EHLO b", want "EHLO a"`}, false},
		{"ExpectEOF", sockettest.ExpectEOF(), "extra", []string{`got "extra", want EOF`}, false},
		{"Discard", sockettest.Discard(4), "ab", []string{"discarded 2 of 4 bytes"}, true},
		{"ZeroStep", sockettest.Step{}, "", []string{"step 1 Step{}: zero Step"}, false},
		{"NilFunc", sockettest.Func(nil), "", []string{"nil func"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := serve(t)(sockettest.NewScripted(tt.step, sockettest.Send("unreached")))
			c := dial(t, s)
			write(t, c, tt.send)
			if tt.closeW {
				c.CloseWrite()
			}
			errs := waitDone(t, s)
			if len(errs) != 1 {
				t.Fatalf("Errs() = %v, want one error", errs)
			}
			for _, want := range tt.wants {
				if !strings.Contains(errs[0].Error(), want) {
					t.Errorf("error %q does not contain %q", errs[0], want)
				}
			}
			if b, _ := io.ReadAll(c); len(b) != 0 {
				t.Errorf("script went on after failing: read %q", b)
			}
		})
	}
}

func TestScriptedStepTimeout(t *testing.T) {
	s := serve(t)(sockettest.NewScripted(
		sockettest.Timeout(50*time.Millisecond),
		sockettest.Expect("never"),
	))
	dial(t, s)
	errs := waitDone(t, s)
	if len(errs) != 1 || !errors.Is(errs[0], os.ErrDeadlineExceeded) ||
		!strings.Contains(errs[0].Error(), "step deadline of 50ms exceeded") {
		t.Fatalf("Errs() = %v, want a deadline error", errs)
	}
}

func TestScriptedFunc(t *testing.T) {
	s := serve(t)(sockettest.NewScripted(
		sockettest.Func(func(c net.Conn) error {
			_, err := io.WriteString(c, "from func")
			return err
		}),
		sockettest.Sleep(10*time.Millisecond),
		sockettest.Func(func(net.Conn) error { return errors.New("boom") }),
	))
	b, err := io.ReadAll(dial(t, s))
	if err != nil || string(b) != "from func" {
		t.Fatalf("read %q, %v", b, err)
	}
	errs := waitDone(t, s)
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "step 3 Func(): boom") {
		t.Fatalf("Errs() = %v", errs)
	}
}
