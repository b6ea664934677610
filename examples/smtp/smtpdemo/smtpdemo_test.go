package smtpdemo

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/sockets"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRun(t *testing.T) {
	for sec, mode := range map[string]string{"starttls": "STARTTLS", "socket-starttls": "STARTTLS", "tls": "implicit TLS"} {
		t.Run(sec, func(t *testing.T) {
			var out bytes.Buffer
			if err := Run(context.Background(), []string{"-security", sec, "-to", "bob@example.com,carol@example.com"}, &out); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			want := []string{
				`^in-process SMTP server \(` + mode + `, AUTH PLAIN LOGIN\) on 127\.0\.0\.1:\d+$`,
				`^sent "Hello from outbound" from alice@example\.com to bob@example\.com, carol@example\.com with ` + regexp.QuoteMeta(sec) + `$`,
				`^server received: from alice@example\.com to \[bob@example\.com carol@example\.com\], user "alice", TLS true$`,
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != len(want) {
				t.Fatalf("output has %d lines, want %d:\n%s", len(lines), len(want), out.String())
			}
			for i, w := range want {
				if !regexp.MustCompile(w).MatchString(lines[i]) {
					t.Errorf("line %d = %q, want match for %s", i+1, lines[i], w)
				}
			}
		})
	}
}

func TestRunPort25Refused(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), []string{"-addr", "mx.example.com:25"}, &out)
	if !errors.Is(err, sockets.ErrDenied) || !strings.Contains(err.Error(), "port 25") {
		t.Fatalf("err = %v; want the port 25 policy refusal", err)
	}
}

func TestRunBadFlag(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"-security", "ssl"}, &out); err == nil {
		t.Fatal("run accepted -security ssl")
	}
}
