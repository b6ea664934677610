package redisdemo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/internal/exampletest"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func commandLines(prefix string) []string {
	p := regexp.QuoteMeta(prefix)
	return []string{
		`^PING: PONG$`,
		`^GET ` + p + `greeting: hello from go-redis over an outbound socket$`,
		`^INCR ` + p + `counter three times in a pipeline: 3$`,
	}
}

func TestRunInProcess(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), nil, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := append([]string{`^in-process Redis \(a RESP subset, over TLS\) on 127\.0\.0\.1:\d+$`}, commandLines("outbound:example:")...)
	want = append(want, `^pool: [12] outbound socket\(s\) to 127\.0\.0\.1:\d+, TLS by the socket \(TLS 1\.3\)$`)
	exampletest.MatchLines(t, out.String(), want)
}

// Against the real Redis: plain, and TLS by the socket through an
// in-process TLS terminator (the local Redis has no TLS port), with the CA
// given as a file as a user would.
func TestRunRealServer(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_REDIS")
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := ca.WriteCertPEM(caFile); err != nil {
		t.Fatal(err)
	}
	srvCfg, _ := ca.ServerConfig()
	term, err := sockettest.NewTLSServer(srvCfg, func(c net.Conn) {
		b, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		defer b.Close()
		go func() { io.Copy(b, c); b.(*net.TCPConn).CloseWrite() }()
		io.Copy(c, b)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()

	prefix := "outbound:test:example:" + strconv.FormatInt(time.Now().UnixNano(), 36) + ":"
	tests := []struct {
		name string
		args []string
		pool string
	}{
		{"plain", []string{"-addr", addr, "-prefix", prefix}, `^pool: [12] outbound socket\(s\) to ` + regexp.QuoteMeta(addr) + `, plain TCP$`},
		{"TLS", []string{"-addr", term.Addr(), "-tls", "-ca", caFile, "-prefix", prefix}, `^pool: [12] outbound socket\(s\) to 127\.0\.0\.1:\d+, TLS by the socket \(TLS 1\.3\)$`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Run(context.Background(), tt.args, &out); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			exampletest.MatchLines(t, out.String(), append(commandLines(prefix), tt.pool))
		})
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		is   error
		want string
	}{
		{"port 25", []string{"-addr", "127.0.0.1:25"}, sockets.ErrDenied, "port 25"},
		{"missing CA file", []string{"-addr", "127.0.0.1:6380", "-tls", "-ca", "/nonexistent/ca.pem"}, nil, "/nonexistent/ca.pem"},
		{"not a CA", []string{"-addr", "127.0.0.1:6380", "-tls", "-ca", "redisdemo.go"}, nil, "no PEM certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(context.Background(), tt.args, &out)
			if err == nil {
				t.Fatal("run succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
