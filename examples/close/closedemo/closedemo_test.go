package closedemo

import (
	"bytes"
	"context"
	"net"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const wantTranscript = `connected to ADDR
wrote "hello\n", read back "hello\n"
closed: Closed() has fired, Err() = <nil> (a clean close)
read after Close: sockets: read ADDR: use of closed socket
errors.Is(err, net.ErrClosed) = true
errors.Is(err, sockets.ErrClosed) = true
write after Close: sockets: write ADDR: use of closed socket
Close again: <nil>
`

var loopback = regexp.MustCompile(`127\.0\.0\.1:\d+`)

func TestRun(t *testing.T) {
	echo, err := sockettest.NewEcho()
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := ln.Addr().String()
	ln.Close()

	tests := []struct {
		name    string
		args    []string
		want    string // the whole output, addresses replaced by ADDR
		wantErr string
	}{
		{name: "in-process echo", args: nil, want: "started an in-process echo server\n" + wantTranscript},
		{name: "addr flag", args: []string{"-addr", echo.Addr()}, want: wantTranscript},
		{name: "refused", args: []string{"-addr", refused}, wantErr: "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(context.Background(), tt.args, &out)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("run error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v\noutput:\n%s", err, out.String())
			}
			if got := loopback.ReplaceAllString(out.String(), "ADDR"); got != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
	for _, err := range echo.Errs() {
		t.Errorf("echo server: %v", err)
	}
}
