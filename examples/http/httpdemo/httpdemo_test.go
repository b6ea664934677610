package httpdemo

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

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), nil, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := []string{
		`^in-process HTTPS server \(HTTP/2\) on 127\.0\.0\.1:\d+$`,
		`^GET https://127\.0\.0\.1:\d+/hello: 200 OK, HTTP/2\.0, TLS 1\.3: hello over HTTP/2\.0$`,
		`^GET http://169\.254\.169\.254/latest/meta-data/: refused by the egress policy$`,
		`^GET http://127\.0\.0\.1:6379/: refused by the egress policy$`,
		`^GET http://10\.0\.0\.1/: refused by the egress policy$`,
		`^handler fetched it: 200 OK, HTTP/2\.0, TLS 1\.3: hello over HTTP/2\.0; 1 socket\(s\) open in the request's scope$`,
		`^after the request: its 1 connection\(s\) closed with its scope$`,
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
}

// A URL on a private address is refused: the policy protects against SSRF.
func TestRunRefusesPrivateURL(t *testing.T) {
	tests := []struct {
		url  string
		want error
	}{
		{"http://127.0.0.1:8080/", sockets.ErrDenied},
		{"http://[::1]:8080/", sockets.ErrDenied},
		{"http://192.168.1.1/", sockets.ErrDenied},
		{"http://[::ffff:169.254.169.254]/", sockets.ErrDenied},
		{"http://0x7f.1:80/", sockets.ErrInvalidAddress}, // numeric spellings are refused outright
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(context.Background(), []string{"-url", tt.url}, &out)
			if !errors.Is(err, tt.want) {
				t.Fatalf("run -url %s = %v, want %v", tt.url, err, tt.want)
			}
		})
	}
}
