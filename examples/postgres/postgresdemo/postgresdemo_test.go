package postgresdemo

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serverCert writes the certificate the server presents to a PEM file, to be
// trusted as the root, and returns a name the certificate covers.
func serverCert(t *testing.T, connString string) (file, name string) {
	t.Helper()
	u, err := url.Parse(connString)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("sslmode", "require")
	u.RawQuery = q.Encode()
	c, err := pgconn.Connect(context.Background(), u.String())
	if err != nil {
		t.Fatalf("reading the server's certificate: %v", err)
	}
	defer c.Close(context.Background())
	tc, ok := c.Conn().(*tls.Conn)
	if !ok {
		t.Fatalf("sslmode=require gave %T", c.Conn())
	}
	var data []byte
	certs := tc.ConnectionState().PeerCertificates
	for _, cert := range certs {
		data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
	}
	file = filepath.Join(t.TempDir(), "server.pem")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	name = certs[0].Subject.CommonName
	if len(certs[0].DNSNames) > 0 {
		name = certs[0].DNSNames[0]
	}
	return file, name
}

func TestRun(t *testing.T) {
	connString := testenv.Get(t, "OUTBOUND_TEST_POSTGRES")
	root, name := serverCert(t, connString)
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"-url", connString, "-rootcert", root, "-servername", name}, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	want := []string{
		`^connected to 127\.0\.0\.1:\d+ \(secureTransport "starttls"\)$`,
		`^sent SSLRequest, the server answered 'S'$`,
		`^StartTLS: TLS 1\.[23], certificate verified for "` + regexp.QuoteMeta(name) + `"; the old socket is upgraded: true$`,
		`^PostgreSQL \d+\.\d+.*, user postgres, database test$`,
		`^the server says: ssl true, TLSv1\.[23]$`,
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines; want %d:\n%s", len(lines), len(want), out.String())
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(lines[i]) {
			t.Errorf("line %d = %q; want a match for %s", i+1, lines[i], re)
		}
	}
}

// TestRunRequire runs without a root: encrypted, and saying it is not verified.
func TestRunRequire(t *testing.T) {
	connString := testenv.Get(t, "OUTBOUND_TEST_POSTGRES")
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"-url", connString, "-sslmode", "require"}, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	if !regexp.MustCompile(`(?m)^StartTLS: TLS 1\.[23], certificate NOT verified \(-sslmode require\); the old socket is upgraded: true$`).MatchString(out.String()) ||
		!regexp.MustCompile(`(?m)^the server says: ssl true, TLSv1\.[23]$`).MatchString(out.String()) {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestRunErrors(t *testing.T) {
	connString := testenv.Get(t, "OUTBOUND_TEST_POSTGRES")
	root, _ := serverCert(t, connString)
	refuser, err := sockettest.NewScripted(
		sockettest.Expect("\x00\x00\x00\x08\x04\xd2\x16\x2f"),
		sockettest.Send("N"),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer refuser.Close()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"wrong name", []string{"-url", connString, "-rootcert", root, "-servername", "wrong.example"}, "wrong.example"},
		{"server refuses TLS", []string{"-url", "postgres://postgres@" + refuser.Addr() + "/test"}, "refuses TLS"},
		// Port 25 is refused by the egress policy before any connection is made.
		{"denied by policy", []string{"-url", "postgres://postgres@127.0.0.1:25/test"}, "denied by egress policy"},
		{"bad sslmode", []string{"-sslmode", "prefer"}, `-sslmode "prefer"`},
		{"bad URL", []string{"-url", "postgres://postgres@127.0.0.1:notaport/test"}, "invalid port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(context.Background(), tt.args, &out)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run(%q): %v; want an error containing %q\noutput:\n%s", tt.args, err, tt.wantErr, out.String())
			}
		})
	}
}

// TestRunCapture: with -capture, tshark reads the query from the file,
// decrypted (the README's "See the wire" command).
func TestRunCapture(t *testing.T) {
	connString := testenv.Get(t, "OUTBOUND_TEST_POSTGRES")
	bin, err := exec.LookPath(testenv.Get(t, "OUTBOUND_TEST_TSHARK"))
	if err != nil {
		t.Fatal(err)
	}
	root, name := serverCert(t, connString)
	file := filepath.Join(t.TempDir(), "pg.pcapng")
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"-url", connString, "-rootcert", root, "-servername", name, "-capture", file}, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	cmd := exec.Command(bin, "-n", "-r", file, "-Y", "pgsql.query", "-T", "fields", "-e", "pgsql.query")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	if !strings.Contains(string(got), "SELECT current_setting('server_version')") {
		t.Fatalf("tshark -Y pgsql.query shows %q, want the example's query", got)
	}
}
