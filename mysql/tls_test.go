package mysql_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// serverCA returns a pool holding the CA that signed MariaDB's certificate
// (OUTBOUND_TEST_MYSQL_CA).
func serverCA(t *testing.T) *x509.CertPool {
	t.Helper()
	testenv.Get(t, "OUTBOUND_TEST_MYSQL_CA")
	pem, err := os.ReadFile(caFile())
	if err != nil {
		t.Fatalf("OUTBOUND_TEST_MYSQL_CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("OUTBOUND_TEST_MYSQL_CA (%s) holds no PEM certificate", caFile())
	}
	return pool
}

// requireServerTLS fails the test when the server has TLS off: .ci/run turns
// it on, and without it every TLS case would only prove the driver's refusal.
func requireServerTLS(t *testing.T, cfg *gomysql.Config) {
	t.Helper()
	var name, have string
	if err := openAdmin(t, cfg).QueryRowContext(ctxT(t), "SHOW VARIABLES LIKE 'have_ssl'").Scan(&name, &have); err != nil {
		t.Fatal(err)
	}
	if have != "YES" {
		t.Fatalf("the server at %s has have_ssl=%s: give it a certificate signed by OUTBOUND_TEST_MYSQL_CA and turn TLS on (as .ci/run does)", cfg.Addr, have)
	}
}

// registerTLS registers cfg with the driver under a name unique to the test.
func registerTLS(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	name := fmt.Sprintf("outbound-%s-%d", strings.NewReplacer("/", "-", "=", "-").Replace(t.Name()), time.Now().UnixNano())
	if err := gomysql.RegisterTLSConfig(name, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gomysql.DeregisterTLSConfig(name) })
	return name
}

// sessionCipher returns the server's view of the session's TLS cipher ("" for plaintext).
func sessionCipher(ctx context.Context, db *sql.DB) (string, error) {
	var name, cipher string
	err := db.QueryRowContext(ctx, "SHOW SESSION STATUS LIKE 'Ssl_cipher'").Scan(&name, &cipher)
	return cipher, err
}

func TestTLS(t *testing.T) {
	base := serverConfig(t)
	roots := serverCA(t)
	requireServerTLS(t, base)
	host := strings.Split(base.Addr, ":")[0]

	tests := []struct {
		name      string
		configure func(t *testing.T, cfg *gomysql.Config) // sets up TLS the way a user would
		encrypted bool
	}{
		{"none", func(t *testing.T, cfg *gomysql.Config) {}, false},
		{"tls=true", func(t *testing.T, cfg *gomysql.Config) {
			// Verified against the system roots, to which TestMain adds the test CA.
			setDSNParam(t, cfg, "tls", "true")
		}, true},
		{"tls=skip-verify", func(t *testing.T, cfg *gomysql.Config) { setDSNParam(t, cfg, "tls", "skip-verify") }, true},
		{"tls=preferred", func(t *testing.T, cfg *gomysql.Config) { setDSNParam(t, cfg, "tls", "preferred") }, true},
		{"tls=registered", func(t *testing.T, cfg *gomysql.Config) {
			setDSNParam(t, cfg, "tls", registerTLS(t, &tls.Config{RootCAs: roots}))
		}, true},
		{"Config.TLS", func(t *testing.T, cfg *gomysql.Config) {
			cfg.TLS = &tls.Config{RootCAs: roots, ServerName: host, MinVersion: tls.VersionTLS12}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			cfg := base.Clone()
			tt.configure(t, cfg)
			var rec recorder
			db := openRecorded(t, cfg, nil, &rec)
			cipher, err := sessionCipher(ctx, db)
			if err != nil {
				t.Fatalf("SHOW STATUS through outbound: %v", err)
			}
			if tt.encrypted && cipher == "" {
				t.Errorf("the server reports no TLS cipher for the session; want an encrypted session")
			}
			if !tt.encrypted && cipher != "" {
				t.Errorf("the server reports cipher %q; want a plaintext session", cipher)
			}
			socks := rec.sockets(t)
			if len(socks) == 0 {
				t.Fatal("no outbound socket was dialled")
			}
			// The driver runs TLS over a plain socket.
			if st := socks[0].SecureTransport(); st != "off" {
				t.Errorf("socket secureTransport %q; want \"off\"", st)
			}
			t.Logf("Ssl_cipher=%q", cipher)
		})
	}
}

func TestTLSWrongCA(t *testing.T) {
	base := serverConfig(t)
	requireServerTLS(t, base)
	wrong, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	host := strings.Split(base.Addr, ":")[0]

	tests := []struct {
		name      string
		configure func(t *testing.T, cfg *gomysql.Config)
	}{
		{"tls=registered", func(t *testing.T, cfg *gomysql.Config) {
			setDSNParam(t, cfg, "tls", registerTLS(t, &tls.Config{RootCAs: wrong.Pool()}))
		}},
		{"Config.TLS", func(t *testing.T, cfg *gomysql.Config) {
			cfg.TLS = &tls.Config{RootCAs: wrong.Pool(), ServerName: host}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := ctxT(t)
			cfg := base.Clone()
			tt.configure(t, cfg)
			var rec recorder
			db := openRecorded(t, cfg, nil, &rec)
			err := db.PingContext(ctx)
			if err == nil {
				t.Fatal("Ping succeeded with a CA that did not sign the server's certificate")
			}
			var unknown x509.UnknownAuthorityError
			if !errors.As(err, &unknown) || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
				t.Fatalf("Ping: %v (%T); want x509's unknown-authority error", err, err)
			}
			t.Logf("wrong CA: %v", err)
			// Every socket the failed handshakes used was closed.
			for _, s := range rec.sockets(t) {
				waitClosed(t, s, 5*time.Second)
			}
		})
	}
}

// wrongRootsChild is set in the environment of the child process that
// TestTLSTrueWrongCA starts with a system roots file of a foreign CA.
const wrongRootsChild = "OUTBOUND_MYSQL_TEST_WRONG_ROOTS"

// TestTLSTrueWrongCA checks that tls=true (verification against the system
// roots) fails clearly when the roots do not hold the server's CA. The roots
// are loaded once per process, so the test runs itself again in a child
// process whose SSL_CERT_FILE holds only a CA generated here.
func TestTLSTrueWrongCA(t *testing.T) {
	base := serverConfig(t)
	if os.Getenv(wrongRootsChild) != "" {
		cfg := base.Clone()
		setDSNParam(t, cfg, "tls", "true")
		var rec recorder
		db := openRecorded(t, cfg, nil, &rec)
		err := db.PingContext(ctxT(t))
		var unknown x509.UnknownAuthorityError
		if !errors.As(err, &unknown) || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Fatalf("Ping with tls=true and foreign system roots: %v (%T); want x509's unknown-authority error", err, err)
		}
		for _, s := range rec.sockets(t) {
			waitClosed(t, s, 5*time.Second)
		}
		fmt.Printf("child: %v\n", err)
		return
	}
	requireServerTLS(t, base)
	wrong, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	roots := filepath.Join(t.TempDir(), "roots.pem")
	if err := wrong.WriteCertPEM(roots); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctxT(t), os.Args[0], "-test.run=^TestTLSTrueWrongCA$", "-test.v")
	cmd.Env = append(os.Environ(), wrongRootsChild+"=1", "SSL_CERT_FILE="+roots, "SSL_CERT_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "child: ") {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "child: ") {
			t.Log(strings.TrimPrefix(line, "child: "))
		}
	}
}

// setDSNParam applies a DSN parameter to cfg the way the driver does when it
// parses one, by round-tripping through the DSN.
func setDSNParam(t *testing.T, cfg *gomysql.Config, key, value string) {
	t.Helper()
	dsn := cfg.FormatDSN()
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	parsed, err := gomysql.ParseDSN(dsn + sep + key + "=" + value)
	if err != nil {
		t.Fatal(err)
	}
	*cfg = *parsed
}
