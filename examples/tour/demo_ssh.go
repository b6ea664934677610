package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/dialers/sshdial"
	"github.com/outboundhq/outbound/dialers/sshdial/sshtest"
)

// openSSH is the sshd of the integration tests (key login only), set up by
// .ci/setup/50-ssh.sh; compose.yaml has no SSH server.
var openSSH = &server{
	envVar: "OUTBOUND_TEST_SSH",
	start:  "bash .ci/setup/50-ssh.sh (as root; see .ci/README.md)",
	addr:   plainAddr,
}

// demoSSH logs in to an in-process SSH server (sshtest) with a key made for
// the occasion, over an outbound socket opened by sshdial.Dial, runs a
// command and copies 64 KiB there and back with SFTP on the same connection.
// SSH encrypts on its own, so the socket is plain TCP.
func demoSSH(ctx context.Context, e *env) error {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	key, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return err
	}
	srv, err := sshtest.NewServer(&sshtest.Options{AuthorizedKeys: map[string][]ssh.PublicKey{"tour": {key.PublicKey()}}})
	if err != nil {
		return err
	}
	defer srv.Close()
	cfg := &ssh.ClientConfig{
		User:            "tour",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.FixedHostKey(srv.HostKey()),
	}
	if err := sshSession(ctx, e, srv.Addr(), cfg, "whoami", "tour\n"); err != nil {
		return err
	}
	srv.Close() // waits for the server's side of the connection to end
	if errs := srv.Errs(); len(errs) > 0 {
		return fmt.Errorf("the server saw: %v", errs)
	}
	return nil
}

// demoOpenSSH does the same against OpenSSH, with the key and known_hosts
// file of the integration tests.
func demoOpenSSH(ctx context.Context, e *env) error {
	user := e.lookup("OUTBOUND_TEST_SSH_USER")
	keyFile := e.lookup("OUTBOUND_TEST_SSH_KEY")
	pem, err := os.ReadFile(keyFile)
	if err != nil {
		return fmt.Errorf("%w (set OUTBOUND_TEST_SSH_KEY; .ci/setup/50-ssh.sh makes the key)", err)
	}
	key, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return fmt.Errorf("%s: %w", keyFile, err)
	}
	hostKeys, err := knownhosts.New(e.lookup("OUTBOUND_TEST_SSH_KNOWN_HOSTS"))
	if err != nil {
		return fmt.Errorf("known hosts: %w (set OUTBOUND_TEST_SSH_KNOWN_HOSTS)", err)
	}
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(key)}, HostKeyCallback: hostKeys}
	return sshSession(ctx, e, e.addr, cfg, "echo $((6*7)) from $(whoami)", "42 from "+user+"\n")
}

// sshSession dials addr through outbound, runs command (whose output must
// be want) and round-trips 64 KiB with SFTP, checking its SHA-256.
func sshSession(ctx context.Context, e *env, addr string, cfg *ssh.ClientConfig, command, want string) error {
	client, err := sshdial.Dial(ctx, &dialers.Dialer{}, addr, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	e.step("logged in to %s as %s (server %s) over an outbound socket", addr, cfg.User, client.ServerVersion())

	sess, err := client.NewSession()
	if err != nil {
		return err
	}
	out, err := sess.CombinedOutput(command)
	sess.Close()
	if err != nil {
		return fmt.Errorf("%s: %w: %s", command, err, out)
	}
	if string(out) != want {
		return fmt.Errorf("%s printed %q, want %q", command, out, want)
	}
	e.step("$ %s -> %s", command, strings.TrimSpace(string(out)))

	files, err := sftp.NewClient(client)
	if err != nil {
		return fmt.Errorf("start SFTP: %w", err)
	}
	defer files.Close()
	payload := make([]byte, 64<<10)
	mrand.NewChaCha8([32]byte{}).Read(payload)
	sum := sha256.Sum256(payload)
	name := fmt.Sprintf("outbound-tour-%d.bin", time.Now().UnixNano())
	f, err := files.Create(name)
	if err != nil {
		return fmt.Errorf("sftp: create %s: %w", name, err)
	}
	defer files.Remove(name)
	if _, err := f.ReadFrom(bytes.NewReader(payload)); err != nil {
		f.Close()
		return fmt.Errorf("sftp: write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sftp: close %s: %w", name, err)
	}
	f, err = files.Open(name)
	if err != nil {
		return fmt.Errorf("sftp: open %s: %w", name, err)
	}
	h := sha256.New()
	n, err := f.WriteTo(h)
	f.Close()
	if err != nil {
		return fmt.Errorf("sftp: read %s: %w", name, err)
	}
	if got := h.Sum(nil); !bytes.Equal(got, sum[:]) {
		return fmt.Errorf("sftp: %s came back as %d bytes with sha256 %x, want %x", name, n, got, sum)
	}
	e.step("sftp: %d bytes up and back, sha256 %x matches", n, sum[:8])
	return nil
}
