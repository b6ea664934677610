package ftpdemo

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/internal/exampletest"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/sockets"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// transferLines are the lines every successful run ends with.
func transferLines(name string) []string {
	n := regexp.QuoteMeta(name)
	return []string{
		`^STOR ` + n + `: 1048576 bytes, sha256 d0525653b324f479$`,
		`^RETR ` + n + `: 1048576 bytes, sha256 matches$`,
		`^connection 1: control, outbound socket, TLS by jlaffaye/ftp after AUTH TLS$`,
		`^connection 2: data, outbound socket, TLS by the socket \(TLS 1\.3, session resumed\)$`,
		`^connection 3: data, outbound socket, TLS by the socket \(TLS 1\.3, session resumed\)$`,
	}
}

func TestRunInProcess(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), nil, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	exampletest.MatchLines(t, out.String(), append([]string{
		`^in-process FTP server \(AUTH TLS required, PROT P\) on 127\.0\.0\.1:\d+, user alice$`,
		`^logged in to 127\.0\.0\.1:\d+ as alice over AUTH TLS$`,
	}, transferLines("outbound-example.bin")...))
}

// Against vsftpd with AUTH TLS.
func TestRunRealServer(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_FTP")
	user := testenv.Get(t, "OUTBOUND_TEST_FTP_USER")
	t.Setenv("FTP_PASSWORD", testenv.Get(t, "OUTBOUND_TEST_FTP_PASSWORD"))
	ca := testenv.Get(t, "OUTBOUND_TEST_FTP_CA")
	remote := "outbound-example-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ".bin"
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"-addr", addr, "-user", user, "-ca", ca, "-remote", remote}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	exampletest.MatchLines(t, out.String(), append([]string{
		`^logged in to ` + regexp.QuoteMeta(addr) + ` as ` + user + ` over AUTH TLS$`,
	}, transferLines(remote)...))
}

func TestRunErrors(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		password string
		is       error
		want     string
	}{
		{"port 25", []string{"-addr", "127.0.0.1:25"}, "", sockets.ErrDenied, "port 25"},
		{"port 0", []string{"-addr", "127.0.0.1:0"}, "", sockets.ErrInvalidAddress, "port"},
		{"size", []string{"-size", "-5"}, "", nil, "-size"},
		{"bad address", []string{"-addr", "no-port"}, "", nil, "no-port"},
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
