// Package sshdemo is the ssh example, run by `go run ./examples/ssh` and by
// the tour. It logs in to an SSH server through an outbound socket, runs a
// command, and copies a file there and back with SFTP, checking its SHA-256
// both ways.
//
//	go run ./examples/ssh                     # against an in-process SSH server
//	go run ./examples/ssh -addr host.example.com:22 -user deploy \
//		-key ~/.ssh/id_ed25519 -known-hosts ~/.ssh/known_hosts
//
// The SSH client is golang.org/x/crypto/ssh and the SFTP client
// github.com/pkg/sftp; the connection under them is a socket from
// sockets.Connect (through dialers/sshdial), so the egress policy decides
// whether it may open, exactly as for a database or an HTTP request. SSH
// encrypts on its own, so the socket is plain TCP (secureTransport "off").
//
// The Cloudflare Workers docs name SSH as a use of the socket API. With no
// -addr this program starts an in-process server (dialers/sshdial/sshtest)
// that lets user alice in with a key made for the occasion, so it runs
// anywhere.
package sshdemo

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/outboundhq/outbound/dialers/sshdial"
	"github.com/outboundhq/outbound/dialers/sshdial/sshtest"
	"github.com/outboundhq/outbound/examples/internal/example"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("ssh")
	addr := fs.String("addr", "", "SSH server `host:port` (default: an in-process server)")
	user := fs.String("user", "alice", "user `name` to log in as")
	keyFile := fs.String("key", "", "private key `file` (PEM or OpenSSH format, no passphrase); required with -addr")
	knownHosts := fs.String("known-hosts", "", "known_hosts `file` that holds the server's key (default with -addr: ~/.ssh/known_hosts)")
	command := fs.String("cmd", "whoami", "`command` to run on the server")
	size := fs.Int("size", 1<<20, "size in `bytes` of the file copied with SFTP")
	remote := fs.String("remote", "outbound-example.bin", "remote file `name` (removed afterwards)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()
	if *size < 0 || *size > 1<<30 {
		return fmt.Errorf("-size %d: give 0 to 1073741824 bytes", *size)
	}

	cfg := &ssh.ClientConfig{User: *user, Timeout: 10 * time.Second}
	if *addr == "" {
		srv, err := startServer(cfg)
		if err != nil {
			return err
		}
		defer srv.Close()
		*addr = srv.Addr()
		fmt.Fprintf(stdout, "in-process SSH server on %s, user %s with a new ed25519 key\n", *addr, *user)
	} else {
		if err := clientAuth(cfg, *keyFile, *knownHosts); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()

	// The TCP connection is an outbound socket; the SSH handshake runs
	// over it, bounded by ctx.
	client, err := sshdial.Dial(ctx, fs.Dialer(), *addr, cfg)
	if err != nil {
		return err
	}
	defer client.Close()
	fmt.Fprintf(stdout, "logged in to %s as %s (server %s)\n", *addr, *user, client.ServerVersion())

	// One command per session, as "ssh host command" does.
	sess, err := client.NewSession()
	if err != nil {
		return err
	}
	out, err := sess.CombinedOutput(*command)
	sess.Close()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", *command, err, out)
	}
	fmt.Fprintf(stdout, "$ %s\n%s", *command, out)

	// SFTP runs as a subsystem on another channel of the same connection.
	files, err := sftp.NewClient(client)
	if err != nil {
		return fmt.Errorf("start SFTP: %w", err)
	}
	defer files.Close()
	payload := make([]byte, *size)
	mrand.NewChaCha8([32]byte{}).Read(payload) // the same bytes every run
	sum := sha256.Sum256(payload)
	if err := upload(files, *remote, payload); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "sftp: uploaded %s, %d bytes, sha256 %s\n", *remote, len(payload), hex.EncodeToString(sum[:8]))
	back, err := download(files, *remote)
	if err != nil {
		return err
	}
	if got := sha256.Sum256(back); got != sum {
		return fmt.Errorf("sftp: %s came back with sha256 %x, want %x", *remote, got, sum)
	}
	fmt.Fprintf(stdout, "sftp: downloaded it back, sha256 matches\n")
	if err := files.Remove(*remote); err != nil {
		return fmt.Errorf("sftp: remove %s: %w", *remote, err)
	}
	return nil
}

func upload(files *sftp.Client, name string, data []byte) error {
	f, err := files.Create(name)
	if err != nil {
		return fmt.Errorf("sftp: create %s: %w", name, err)
	}
	if _, err := f.ReadFrom(bytes.NewReader(data)); err != nil {
		f.Close()
		return fmt.Errorf("sftp: write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("sftp: close %s: %w", name, err)
	}
	return nil
}

func download(files *sftp.Client, name string) ([]byte, error) {
	f, err := files.Open(name)
	if err != nil {
		return nil, fmt.Errorf("sftp: open %s: %w", name, err)
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := f.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("sftp: read %s: %w", name, err)
	}
	return b.Bytes(), nil
}

// clientAuth loads the private key and the known_hosts file for a real server.
func clientAuth(cfg *ssh.ClientConfig, keyFile, knownHostsFile string) error {
	if keyFile == "" {
		return fmt.Errorf("-key: give the private key file to log in with (such as ~/.ssh/id_ed25519)")
	}
	pem, err := os.ReadFile(expand(keyFile))
	if err != nil {
		return err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return fmt.Errorf("%s: %w (a key with a passphrase is not supported here)", keyFile, err)
	}
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(signer)}
	if knownHostsFile == "" {
		knownHostsFile = "~/.ssh/known_hosts"
	}
	cfg.HostKeyCallback, err = knownhosts.New(expand(knownHostsFile))
	if err != nil {
		return fmt.Errorf("known hosts: %w (add the server's key with ssh-keyscan, or give -known-hosts)", err)
	}
	return nil
}

// expand replaces a leading "~/" with the home directory.
func expand(p string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// startServer starts the in-process server with a new key for cfg.User,
// and sets cfg's authentication and host key check for it.
func startServer(cfg *ssh.ClientConfig) (*sshtest.Server, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	key, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	srv, err := sshtest.NewServer(&sshtest.Options{AuthorizedKeys: map[string][]ssh.PublicKey{cfg.User: {key.PublicKey()}}})
	if err != nil {
		return nil, err
	}
	cfg.Auth = []ssh.AuthMethod{ssh.PublicKeys(key)}
	cfg.HostKeyCallback = ssh.FixedHostKey(srv.HostKey())
	return srv, nil
}
