package starttlsdemo

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wantTranscript = `connected to ADDR with secureTransport "starttls": plain text for now
C: HELLO outbound
S: HELLO outbound, STARTTLS available
C: STARTTLS
S: GO AHEAD
StartTLS returned a new socket; the old one is retired
old socket: the waiting read failed: sockets: read ADDR: use of closed socket: the socket was upgraded by StartTLS; use the socket StartTLS returned
old socket: errors.Is(err, net.ErrClosed) = true
old socket: Closed() fired, Err() = <nil>, Upgraded() = true
new socket: opened to ADDR from ADDR; TLS 1.3, secureTransport "on"
new socket: the server's certificate (CN=localhost) was verified for 127.0.0.1
C: PING
S: PONG
C: QUIT
S: BYE
`

var loopback = regexp.MustCompile(`127\.0\.0\.1:\d+`)

// newCA returns a CA and the path of its certificate in PEM.
func newCA(t *testing.T) (*sockettest.CA, string) {
	t.Helper()
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := ca.WriteCertPEM(path); err != nil {
		t.Fatal(err)
	}
	return ca, path
}

func TestRun(t *testing.T) {
	ca, caFile := newCA(t)
	_, otherCAFile := newCA(t)
	cfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	// A server that sends a line after GO AHEAD, before the handshake: the
	// STARTTLS injection the client must refuse.
	injecting, err := sockettest.NewScripted(
		sockettest.ExpectLine("HELLO outbound"),
		sockettest.Send("HELLO outbound, STARTTLS available\r\n"),
		sockettest.ExpectLine("STARTTLS"),
		sockettest.Send("GO AHEAD\r\nPONG\r\n"),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer injecting.Close()

	tests := []struct {
		name      string
		serve     bool // start a server of the protocol signed by ca and pass -addr
		args      []string
		want      string // the whole output, addresses replaced by ADDR
		wantErrIn []string
	}{
		{name: "in-process", want: "started an in-process server with a throwaway CA\n" + wantTranscript},
		{name: "addr and ca flags", serve: true, args: []string{"-ca", caFile}, want: wantTranscript},
		{name: "untrusted CA", serve: true, args: []string{"-ca", otherCAFile}, wantErrIn: []string{"certificate signed by unknown authority"}},
		{
			name:      "plaintext injection",
			args:      []string{"-addr", injecting.Addr(), "-ca", caFile},
			wantErrIn: []string{"refusing to upgrade", "plaintext received before the TLS handshake"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.serve {
				srv, err := sockettest.NewScripted(
					sockettest.ExpectLine("HELLO outbound"),
					sockettest.Send("HELLO outbound, STARTTLS available\r\n"),
					sockettest.ExpectLine("STARTTLS"),
					sockettest.Send("GO AHEAD\r\n"),
					sockettest.StartTLS(cfg),
					sockettest.ExpectLine("PING"),
					sockettest.Send("PONG\r\n"),
					sockettest.ExpectLine("QUIT"),
					sockettest.Send("BYE\r\n"),
				)
				if err != nil {
					t.Fatal(err)
				}
				defer srv.Close()
				args = append([]string{"-addr", srv.Addr()}, args...)
			}
			var out bytes.Buffer
			err := Run(context.Background(), args, &out)
			if tt.wantErrIn != nil {
				if err == nil {
					t.Fatalf("run succeeded; want an error containing one of %q\noutput:\n%s", tt.wantErrIn, out.String())
				}
				for _, w := range tt.wantErrIn {
					if strings.Contains(err.Error(), w) {
						return
					}
				}
				t.Fatalf("run error = %v, want one containing one of %q", err, tt.wantErrIn)
			}
			if err != nil {
				t.Fatalf("run: %v\noutput:\n%s", err, out.String())
			}
			if got := loopback.ReplaceAllString(out.String(), "ADDR"); got != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
