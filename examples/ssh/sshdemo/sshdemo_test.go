package sshdemo

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"

	"github.com/outboundhq/outbound/internal/exampletest"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/sockets"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunInProcess(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), nil, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	exampletest.MatchLines(t, out.String(), []string{
		`^in-process SSH server on 127\.0\.0\.1:\d+, user alice with a new ed25519 key$`,
		`^logged in to 127\.0\.0\.1:\d+ as alice \(server SSH-2\.0-Go\)$`,
		`^\$ whoami$`,
		`^alice$`,
		// The payload is the same every run, so is its checksum.
		`^sftp: uploaded outbound-example\.bin, 1048576 bytes, sha256 d0525653b324f479$`,
		`^sftp: downloaded it back, sha256 matches$`,
	})
}

// Against OpenSSH with the CI's key and known_hosts.
func TestRunRealServer(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_SSH")
	user := testenv.Get(t, "OUTBOUND_TEST_SSH_USER")
	key := testenv.Get(t, "OUTBOUND_TEST_SSH_KEY")
	known := testenv.Get(t, "OUTBOUND_TEST_SSH_KNOWN_HOSTS")
	remote := "outbound-example-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ".bin"
	var out bytes.Buffer
	args := []string{"-addr", addr, "-user", user, "-key", key, "-known-hosts", known, "-cmd", "echo $((6*7)) from $(whoami)", "-remote", remote}
	if err := Run(context.Background(), args, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	exampletest.MatchLines(t, out.String(), []string{
		`^logged in to ` + regexp.QuoteMeta(addr) + ` as ` + user + ` \(server SSH-2\.0-OpenSSH_.*\)$`,
		`^\$ echo \$\(\(6\*7\)\) from \$\(whoami\)$`,
		`^42 from ` + user + `$`,
		`^sftp: uploaded ` + regexp.QuoteMeta(remote) + `, 1048576 bytes, sha256 [0-9a-f]{16}$`,
		`^sftp: downloaded it back, sha256 matches$`,
	})
}

func TestRunErrors(t *testing.T) {
	// A key and a known_hosts file, so that the run gets as far as dialing.
	dir := t.TempDir()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile, knownFile := filepath.Join(dir, "id_ed25519"), filepath.Join(dir, "known_hosts")
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	os.WriteFile(knownFile, nil, 0o600)
	tests := []struct {
		name string
		args []string
		is   error
		want string
	}{
		{"no key for a real server", []string{"-addr", "127.0.0.1:22"}, nil, "-key"},
		{"not a key", []string{"-addr", "127.0.0.1:22", "-key", "sshdemo.go"}, nil, "ssh: no key found"},
		{"port 25 refused by the policy", []string{"-addr", "127.0.0.1:25", "-key", keyFile, "-known-hosts", knownFile}, sockets.ErrDenied, "port 25"},
		{"size", []string{"-size", "-1"}, nil, "-size"},
		{"failing command", []string{"-cmd", "false"}, nil, "command not found"},
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
