package sshdial_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/dialers/sshdial"
	"github.com/outboundhq/outbound/dialers/sshdial/sshtest"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newSigner(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// run runs cmd in a new session with stdin and returns its standard output.
func run(t *testing.T, c *ssh.Client, cmd string, stdin io.Reader) (string, error) {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatalf("NewSession: %v", err)
	}
	defer sess.Close()
	sess.Stdin = stdin
	out, err := sess.Output(cmd)
	return string(out), err
}

// sftpRoundTrip uploads payload as name, checks its size, downloads it and
// compares checksums, and returns the hex SHA-256.
func sftpRoundTrip(t *testing.T, c *ssh.Client, name string, payload []byte) string {
	t.Helper()
	fs, err := sftp.NewClient(c)
	if err != nil {
		t.Fatalf("sftp.NewClient: %v", err)
	}
	defer fs.Close()
	f, err := fs.Create(name)
	if err != nil {
		t.Fatalf("Create %s: %v", name, err)
	}
	if n, err := f.ReadFrom(bytes.NewReader(payload)); err != nil || n != int64(len(payload)) {
		t.Fatalf("upload wrote %d, %v", n, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if fi, err := fs.Stat(name); err != nil || fi.Size() != int64(len(payload)) {
		t.Fatalf("Stat = %v, %v; want size %d", fi, err, len(payload))
	}
	r, err := fs.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := r.WriteTo(h); err != nil {
		t.Fatalf("download: %v", err)
	}
	r.Close()
	want := sha256.Sum256(payload)
	if got := h.Sum(nil); !bytes.Equal(got, want[:]) {
		t.Fatalf("sha256 of the download %x, want %x", got, want)
	}
	return hex.EncodeToString(want[:])
}

func TestDialInProcess(t *testing.T) {
	alice := newSigner(t)
	srv, err := sshtest.NewServer(&sshtest.Options{
		AuthorizedKeys: map[string][]ssh.PublicKey{"alice": {alice.PublicKey()}},
		Passwords:      map[string]string{"bob": "hunter2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	other, _ := sshtest.NewServer(nil)
	defer other.Close()

	tests := []struct {
		name    string
		cfg     *ssh.ClientConfig
		wantErr string
	}{
		{"public key", &ssh.ClientConfig{User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(alice)}, HostKeyCallback: ssh.FixedHostKey(srv.HostKey())}, ""},
		{"password", &ssh.ClientConfig{User: "bob", Auth: []ssh.AuthMethod{ssh.Password("hunter2")}, HostKeyCallback: ssh.FixedHostKey(srv.HostKey())}, ""},
		{"unknown key", &ssh.ClientConfig{User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(newSigner(t))}, HostKeyCallback: ssh.FixedHostKey(srv.HostKey())}, "unable to authenticate"},
		{"wrong host key", &ssh.ClientConfig{User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(alice)}, HostKeyCallback: ssh.FixedHostKey(other.HostKey())}, "host key mismatch"},
	}
	payload := make([]byte, 1<<20)
	rand.Read(payload)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := sshdial.Dial(ctx, &dialers.Dialer{}, srv.Addr(), tt.cfg)
			if tt.wantErr != "" {
				if err == nil {
					c.Close()
					t.Fatal("Dial succeeded")
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Dial = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if out, err := run(t, c, "echo hello outbound", nil); err != nil || out != "hello outbound\n" {
				t.Fatalf("echo = %q, %v", out, err)
			}
			if out, err := run(t, c, "whoami", nil); err != nil || out != tt.cfg.User+"\n" {
				t.Fatalf("whoami = %q, %v", out, err)
			}
			var exit *ssh.ExitError
			if _, err := run(t, c, "exit 3", nil); !errors.As(err, &exit) || exit.ExitStatus() != 3 {
				t.Fatalf("exit 3: %v", err)
			}
			sum := sftpRoundTrip(t, c, "upload-"+tt.cfg.User+".bin", payload)
			// The server hashes what it receives on stdin too.
			if out, err := run(t, c, "sha256sum", bytes.NewReader(payload)); err != nil || out != sum+"  -\n" {
				t.Fatalf("sha256sum = %q, %v; want %s", out, err, sum)
			}
		})
	}
	if n := len(srv.Commands()); n != 8 {
		t.Fatalf("server ran %d commands, want 8: %q", n, srv.Commands())
	}
}

// ctx bounds the SSH handshake, which x/crypto/ssh cannot on its own.
func TestDialHandshakeBoundedByContext(t *testing.T) {
	silent, err := sockettest.NewServer(func(c net.Conn) { io.Copy(io.Discard, c) })
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	cfg := &ssh.ClientConfig{User: "x", HostKeyCallback: ssh.InsecureIgnoreHostKey()}
	c, err := sshdial.Dial(ctx, nil, silent.Addr(), cfg)
	if err == nil {
		c.Close()
		t.Fatal("handshake with a silent server succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Dial = %v, want context.DeadlineExceeded", err)
	}
}

func TestDialErrors(t *testing.T) {
	deny, err := egress.NewPolicy(egress.PolicyConfig{Rules: []egress.Rule{{Name: "no-loopback", Action: egress.Deny, Addrs: []string{"loopback"}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := sshtest.NewServer(nil)
	defer srv.Close()
	cfg := &ssh.ClientConfig{User: "x", HostKeyCallback: ssh.InsecureIgnoreHostKey()}
	tests := []struct {
		name string
		d    *dialers.Dialer
		addr string
		cfg  *ssh.ClientConfig
		want error
	}{
		{"port 25", nil, "127.0.0.1:25", cfg, sockets.ErrDenied},
		{"policy denies loopback", &dialers.Dialer{Options: &sockets.Options{Policy: deny}}, srv.Addr(), cfg, sockets.ErrDenied},
		{"bad address", nil, "no-port", cfg, sockets.ErrInvalidAddress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := sshdial.Dial(context.Background(), tt.d, tt.addr, tt.cfg)
			if err == nil {
				c.Close()
				t.Fatal("Dial succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Dial = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := sshdial.Dial(context.Background(), nil, srv.Addr(), nil); err == nil || !strings.Contains(err.Error(), "HostKeyCallback") {
		t.Fatalf("nil config: %v", err)
	}
}

// The scope in the dial context owns the SSH connection.
func TestDialScope(t *testing.T) {
	key := newSigner(t)
	srv, err := sshtest.NewServer(&sshtest.Options{AuthorizedKeys: map[string][]ssh.PublicKey{"alice": {key.PublicKey()}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sc := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Name: "deploy job"})
	ctx := sockets.WithScope(context.Background(), sc)
	c, err := sshdial.Dial(ctx, nil, srv.Addr(), &ssh.ClientConfig{User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(key)}, HostKeyCallback: ssh.FixedHostKey(srv.HostKey())})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	sc.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the SSH connection outlived its scope")
	}
	if _, err := c.NewSession(); err == nil {
		t.Fatal("NewSession after the scope ended succeeded")
	}
}

// NewClient runs SSH over a socket from sockets.Connect, still pending.
func TestNewClientOverPendingSocket(t *testing.T) {
	key := newSigner(t)
	srv, err := sshtest.NewServer(&sshtest.Options{AuthorizedKeys: map[string][]ssh.PublicKey{"alice": {key.PublicKey()}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx := context.Background()
	s, err := sockets.Connect(ctx, srv.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := sshdial.NewClient(ctx, s, srv.Addr(), &ssh.ClientConfig{User: "alice", Auth: []ssh.AuthMethod{ssh.PublicKeys(key)}, HostKeyCallback: ssh.FixedHostKey(srv.HostKey())})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if out, err := run(t, c, "echo over a socket", nil); err != nil || out != "over a socket\n" {
		t.Fatalf("echo = %q, %v", out, err)
	}
	c.Close()
	select {
	case <-s.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("closing the client left the socket open")
	}
}

// Against OpenSSH: key login, known_hosts, commands and SFTP, with the
// server computing the checksum of the uploaded file.
func TestRealOpenSSH(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_SSH")
	user := testenv.Get(t, "OUTBOUND_TEST_SSH_USER")
	keyPEM, err := os.ReadFile(testenv.Get(t, "OUTBOUND_TEST_SSH_KEY"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	hostKeys, err := knownhosts.New(testenv.Get(t, "OUTBOUND_TEST_SSH_KNOWN_HOSTS"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hostKeys}
	c, err := sshdial.Dial(ctx, &dialers.Dialer{}, addr, cfg)
	if err != nil {
		t.Fatalf("Dial %s: %v", addr, err)
	}
	defer c.Close()
	if !strings.HasPrefix(string(c.ServerVersion()), "SSH-2.0-OpenSSH") {
		t.Fatalf("server version %q, want OpenSSH", c.ServerVersion())
	}
	if out, err := run(t, c, "whoami", nil); err != nil || out != user+"\n" {
		t.Fatalf("whoami = %q, %v", out, err)
	}

	payload := make([]byte, 1<<20)
	rand.Read(payload)
	name := "outbound-test-" + strconv.FormatInt(time.Now().UnixNano(), 36) + ".bin"
	sum := sftpRoundTrip(t, c, name, payload)
	out, err := run(t, c, "sha256sum "+name+" && rm "+name, nil)
	if err != nil || out != sum+"  "+name+"\n" {
		t.Fatalf("server-side sha256sum = %q, %v; want %s", out, err, sum)
	}

	// An unknown host key is refused.
	empty := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(empty, nil, 0o600)
	none, _ := knownhosts.New(empty)
	bad := &ssh.ClientConfig{User: user, Auth: cfg.Auth, HostKeyCallback: none}
	if c2, err := sshdial.Dial(ctx, nil, addr, bad); err == nil {
		c2.Close()
		t.Fatal("Dial with an empty known_hosts succeeded")
	} else if !strings.Contains(err.Error(), "key is unknown") {
		t.Fatalf("Dial with an empty known_hosts = %v, want knownhosts' refusal", err)
	}
}

// TestDialRefusesInvalidDialer: a Dialer whose settings cannot apply is
// refused before anything is dialled.
func TestDialRefusesInvalidDialer(t *testing.T) {
	d := &dialers.Dialer{NoHalfOpen: true, Options: &sockets.Options{AllowHalfOpen: true}}
	cfg := &ssh.ClientConfig{User: "u", HostKeyCallback: ssh.InsecureIgnoreHostKey()}
	_, err := sshdial.Dial(context.Background(), d, "127.0.0.1:1", cfg)
	if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), "drop one of them") {
		t.Fatalf("Dial = %v; want the Dialer's refusal", err)
	}
}
