package sshbastion_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	gomysql "github.com/go-sql-driver/mysql"
	"golang.org/x/crypto/ssh"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/pg"
	"github.com/outboundhq/outbound/proxy/sshbastion"
	"github.com/outboundhq/outbound/sockets"
)

// recorder reaches the bastion and keeps its connections, so a test can cut
// them as a bastion that dies would.
type recorder struct {
	mu    sync.Mutex
	conns []net.Conn
	dials atomic.Int32
}

func (r *recorder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err == nil {
		r.dials.Add(1)
		r.mu.Lock()
		r.conns = append(r.conns, c)
		r.mu.Unlock()
	}
	return c, err
}

func (r *recorder) cut() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		c.Close()
	}
	r.conns = nil
}

// openSSH returns a Bastion on the OpenSSH server of OUTBOUND_TEST_SSH.
func openSSH(t *testing.T, known string) (*sshbastion.Bastion, *recorder) {
	t.Helper()
	addr := testenv.Get(t, "OUTBOUND_TEST_SSH")
	user := testenv.Get(t, "OUTBOUND_TEST_SSH_USER")
	keyPEM, err := os.ReadFile(repoPath(testenv.Get(t, "OUTBOUND_TEST_SSH_KEY")))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if known == "" {
		known = repoPath(testenv.Get(t, "OUTBOUND_TEST_SSH_KNOWN_HOSTS"))
	}
	hostKeys, err := sshbastion.KnownHosts(known)
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{}
	b, err := sshbastion.New(addr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: hostKeys},
		&sshbastion.Options{Dial: r.dial})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, r
}

// repoPath makes a relative path (as compose users set them) absolute from the repository root.
func repoPath(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join("..", "..", p)
}

func TestOpenSSHPostgres(t *testing.T) {
	url := testenv.Get(t, "OUTBOUND_TEST_POSTGRES")
	b, r := openSSH(t, "")
	d := &dialers.Dialer{Options: &sockets.Options{Proxy: b}}
	ctx := ctxT(t)
	for _, socketTLS := range []bool{false, true} {
		conn, err := pg.Connect(ctx, withParam(url, "sslmode=require"), &pg.Options{Dialer: d, SocketTLS: socketTLS})
		if err != nil {
			t.Fatalf("pg.Connect through the bastion (socketTLS %v): %v", socketTLS, err)
		}
		var addr string
		if err := conn.QueryRow(ctx, "SELECT inet_client_addr()::text").Scan(&addr); err != nil {
			t.Fatal(err)
		}
		// The bastion (sshd on this machine) is the client PostgreSQL sees.
		if !strings.HasPrefix(addr, "127.0.0.1") && !strings.HasPrefix(addr, "::1") {
			t.Errorf("client address %q", addr)
		}
		// TLS is on either way: pgx's over the tunnel, or the socket's.
		var ssl bool
		if err := conn.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil || !ssl {
			t.Errorf("pg_stat_ssl through the bastion (socketTLS %v): ssl=%v, %v", socketTLS, ssl, err)
		}
		conn.Close(ctx)
	}

	// The bastion dies mid-query: a clear error, then a new SSH connection.
	// (Plaintext, so that the socket is the connection pgx reads from.)
	conn, err := pg.Connect(ctx, withParam(url, "sslmode=disable"), &pg.Options{Dialer: d})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	before := r.dials.Load()
	if err := conn.Ping(ctx); err != nil {
		t.Fatalf("ping before the drop: %v", err)
	}
	time.AfterFunc(300*time.Millisecond, r.cut)
	start := time.Now()
	_, err = conn.Exec(ctx, "SELECT pg_sleep(5)")
	if err == nil || time.Since(start) > 4*time.Second {
		t.Fatalf("query while the bastion died: %v after %v, want an error at once", err, time.Since(start))
	}
	// pgx reports "conn closed" (its NextResult drops the read error); the
	// socket under it says why.
	sock, ok := conn.PgConn().Conn().(*sockets.Socket)
	if !ok {
		t.Fatalf("pgx's connection is a %T, want the *sockets.Socket", conn.PgConn().Conn())
	}
	select {
	case <-sock.Closed():
	case <-time.After(5 * time.Second):
		t.Fatal("the socket did not end when the bastion died")
	}
	var lost *sshbastion.LostError
	if err := sock.Err(); !errors.As(err, &lost) || !strings.Contains(err.Error(), "the SSH connection was lost") {
		t.Fatalf("socket's Err after the bastion died: %v, want a *sshbastion.LostError", err)
	}
	conn2, err := pg.Connect(ctx, url, &pg.Options{Dialer: d})
	if err != nil {
		t.Fatalf("connect after the bastion came back: %v", err)
	}
	defer conn2.Close(ctx)
	var one int
	if err := conn2.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 after reconnecting: %d, %v", one, err)
	}
	if got := r.dials.Load() - before; got != 1 {
		t.Fatalf("%d new SSH connections after the drop, want 1", got)
	}
}

func withParam(url, p string) string {
	if strings.Contains(url, "?") {
		return url + "&" + p
	}
	return url + "?" + p
}

func TestOpenSSHMySQL(t *testing.T) {
	cfg, err := gomysql.ParseDSN(testenv.Get(t, "OUTBOUND_TEST_MYSQL"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := openSSH(t, "")
	d := &dialers.Dialer{Options: &sockets.Options{Proxy: b}}
	cfg.DialFunc = d.DialContext
	conn, err := gomysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctxT(t), "SELECT VERSION()").Scan(&v); err != nil {
		t.Fatalf("query through the bastion: %v", err)
	}
	if !strings.Contains(strings.ToLower(v), "mariadb") {
		t.Fatalf("VERSION() = %q, want MariaDB's", v)
	}
}

func TestOpenSSHSMTP(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_SMTP")
	pem, err := os.ReadFile(repoPath(testenv.Get(t, "OUTBOUND_TEST_SMTP_CA")))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	b, _ := openSSH(t, "")
	d := &dialers.Dialer{Options: &sockets.Options{Proxy: b}}
	conn, err := d.DialContext(ctxT(t), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(addr)
	c, err := gosmtp.NewClientStartTLS(conn, &tls.Config{RootCAs: roots, ServerName: host})
	if err != nil {
		t.Fatalf("STARTTLS through the bastion: %v", err)
	}
	defer c.Close()
	if err := c.Mail("outbound-test@localhost", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("outbound@localhost", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("Subject: through an SSH bastion\r\n\r\nhello\r\n"))
	if err := w.Close(); err != nil {
		t.Fatalf("DATA through the bastion: %v", err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenSSHWrongHostKey(t *testing.T) {
	// A known_hosts line for the bastion with a key that is not its own.
	_, pub := newClient(t)
	addr := testenv.Get(t, "OUTBOUND_TEST_SSH")
	host, port, _ := net.SplitHostPort(addr)
	line := "[" + host + "]:" + port + " " + string(ssh.MarshalAuthorizedKey(pub))
	file := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(file, []byte(line), 0o600)
	b, r := openSSH(t, file)
	_, err := b.DialContext(ctxT(t), "tcp", "127.0.0.1:5432")
	if err == nil || !strings.Contains(err.Error(), "does not match known_hosts") {
		t.Fatalf("dial with a wrong host key: %v, want a host key mismatch", err)
	}
	if r.dials.Load() != 1 {
		t.Fatalf("%d connections to the bastion, want 1", r.dials.Load())
	}
}
