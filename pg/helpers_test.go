package pg_test

import (
	"context"
	"crypto/tls"
	"encoding/pem"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/pg"
	"github.com/outboundhq/outbound/sockets"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// ways are the two arrangements of TLS the package offers.
var ways = []struct {
	name      string
	socketTLS bool
}{
	{"driverTLS", false},
	{"socketTLS", true},
}

// testCtx bounds a test's server work.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// pgURL is the PostgreSQL server of the integration tests.
func pgURL(t *testing.T) *url.URL {
	t.Helper()
	s := testenv.Get(t, "OUTBOUND_TEST_POSTGRES")
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("OUTBOUND_TEST_POSTGRES=%q is not a URL: %v", s, err)
	}
	return u
}

// withParams returns u with its host replaced (when host is not "") and the
// query parameters kv (key, value, key, value...) set.
func withParams(u *url.URL, host string, kv ...string) string {
	c := *u
	if host != "" {
		c.Host = host
	}
	q := c.Query()
	for i := 0; i+1 < len(kv); i += 2 {
		q.Set(kv[i], kv[i+1])
	}
	c.RawQuery = q.Encode()
	return c.String()
}

// recorder is a socket Dial function that records the addresses the socket
// layer dials (so a test sees hostnames kept and dials counted) and, when to
// is set, sends every one of them to that address instead.
type recorder struct {
	to    string
	mu    sync.Mutex
	addrs []string
}

func (r *recorder) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	r.mu.Lock()
	r.addrs = append(r.addrs, addr)
	r.mu.Unlock()
	if r.to != "" {
		addr = r.to
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func (r *recorder) dialed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.addrs...)
}

func (r *recorder) options(socketTLS bool) *pg.Options {
	return &pg.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{Dial: r.dial}}, SocketTLS: socketTLS}
}

// connect opens a pgx connection through outbound and closes it at the end of the test.
func connect(t *testing.T, ctx context.Context, connString string, opts *pg.Options) *pgx.Conn {
	t.Helper()
	c, err := pg.Connect(ctx, connString, opts)
	if err != nil {
		t.Fatalf("pg.Connect(%s): %v", connString, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// sslOn asks the server whether this connection uses TLS.
func sslOn(t *testing.T, ctx context.Context, c *pgx.Conn) bool {
	t.Helper()
	var on bool
	if err := c.QueryRow(ctx, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&on); err != nil {
		t.Fatalf("pg_stat_ssl: %v", err)
	}
	return on
}

// serverTLS is what the tests need to verify the real server's certificate.
type serverTLS struct {
	rootFile string // PEM file holding the certificate the server presents
	host     string // a name that certificate is valid for
}

// realServerTLS fetches the certificate the server presents (Debian's
// snakeoil, or the CI certificate) with pgx's own dialer, so that the
// verify-ca and verify-full tests can trust it as a root.
func realServerTLS(t *testing.T, ctx context.Context, u *url.URL) serverTLS {
	t.Helper()
	c, err := pgconn.Connect(ctx, withParams(u, "", "sslmode", "require"))
	if err != nil {
		t.Fatalf("connecting with sslmode=require to read the server certificate: %v", err)
	}
	defer c.Close(context.Background())
	tc, ok := c.Conn().(*tls.Conn)
	if !ok {
		t.Fatalf("sslmode=require gave a %T, not TLS", c.Conn())
	}
	certs := tc.ConnectionState().PeerCertificates
	leaf := certs[0]
	var pemData []byte
	for _, c := range certs {
		pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	file := filepath.Join(t.TempDir(), "server.pem")
	if err := os.WriteFile(file, pemData, 0o600); err != nil {
		t.Fatal(err)
	}
	host := leaf.Subject.CommonName
	if len(leaf.DNSNames) > 0 {
		host = leaf.DNSNames[0]
	}
	if host == "" {
		t.Fatalf("the server's certificate names no host (subject %q)", leaf.Subject)
	}
	return serverTLS{rootFile: file, host: host}
}
