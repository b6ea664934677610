package mysqldemo

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	dsn := testenv.Get(t, "OUTBOUND_TEST_MYSQL")
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	ca := testenv.Get(t, "OUTBOUND_TEST_MYSQL_CA")
	tests := []struct {
		name string
		args []string
		want []string // regular expressions, one per output line
	}{
		{"plain", []string{"-dsn", dsn}, []string{
			`^opened an outbound socket to 127\.0\.0\.1:\d+ \(secureTransport "off"\) from 127\.0\.0\.1:\d+$`,
			`^server version: \d+\.\d+\.\d+`,
			`^SELECT 6 \* 7 = 42$`,
			`^TLS cipher, as the server sees it: none \(add tls=true to the DSN, or -ca, to encrypt\)$`,
		}},
		{"verified with -ca", []string{"-dsn", dsn, "-ca", ca}, []string{
			`^opened an outbound socket to 127\.0\.0\.1:\d+ \(secureTransport "off"\) from 127\.0\.0\.1:\d+$`,
			`^server version: \d+\.\d+\.\d+`,
			`^SELECT 6 \* 7 = 42$`,
			`^TLS cipher, as the server sees it: TLS_\w+$`,
		}},
		{"tls", []string{"-dsn", dsn + sep + "tls=skip-verify"}, []string{
			`^opened an outbound socket to 127\.0\.0\.1:\d+ \(secureTransport "off"\) from 127\.0\.0\.1:\d+$`,
			`^server version: \d+\.\d+\.\d+`,
			`^SELECT 6 \* 7 = 42$`,
			`^TLS cipher, as the server sees it: TLS_\w+$`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Run(context.Background(), tt.args, &out); err != nil {
				t.Fatalf("run: %v\noutput:\n%s", err, out.String())
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d lines; want %d:\n%s", len(lines), len(tt.want), out.String())
			}
			for i, re := range tt.want {
				if !regexp.MustCompile(re).MatchString(lines[i]) {
					t.Errorf("line %d = %q; want a match for %s", i+1, lines[i], re)
				}
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		// Port 25 is refused by the egress policy before any connection is made.
		{"denied by policy", []string{"-dsn", "root@tcp(127.0.0.1:25)/test"}, "denied by egress policy"},
		{"bad DSN", []string{"-dsn", "root@tcp(127.0.0.1:3306"}, "invalid DSN"},
		{"missing CA file", []string{"-ca", "testdata/no-such-ca.pem"}, "no-such-ca.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(context.Background(), tt.args, &out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run(%q): %v; want an error containing %q", tt.args, err, tt.wantErr)
			}
			if out.Len() != 0 {
				t.Errorf("output before the error: %q", out.String())
			}
		})
	}
}
