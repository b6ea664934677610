package ftpfake_test

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/textproto"
	"testing"
	"time"

	"github.com/jlaffaye/ftp"
	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/internal/ftpfake"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const password = "correct horse battery staple"

// start runs a server for alice and returns it with a client TLS config
// that trusts it.
func start(t *testing.T) (*sockettest.Server, *tls.Config) {
	t.Helper()
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sockettest.NewServer(ftpfake.New(cfg, "alice", password).Serve)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	client := ca.ClientConfig()
	client.ServerName = "127.0.0.1"
	return srv, client
}

// A whole session with jlaffaye/ftp over plain net connections: the
// server's side of what the examples do over outbound sockets.
func TestRoundTrip(t *testing.T) {
	srv, cfg := start(t)
	c, err := ftp.Dial(srv.Addr(), ftp.DialWithExplicitTLS(cfg), ftp.DialWithTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Quit()
	if err := c.Login("alice", password); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("outbound "), 10000)
	if err := c.Stor("f.bin", bytes.NewReader(payload)); err != nil {
		t.Fatal(err)
	}
	if n, err := c.FileSize("f.bin"); err != nil || n != int64(len(payload)) {
		t.Fatalf("SIZE = %d, %v; want %d", n, err, len(payload))
	}
	r, err := c.Retr("f.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("RETR: %d bytes, %v; want the %d bytes stored", len(got), err, len(payload))
	}
	if err := c.Delete("f.bin"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.FileSize("f.bin"); err == nil {
		t.Error("SIZE of a deleted file succeeded")
	}
}

// The server wants TLS before login and on data connections, and the right
// password.
func TestRefusals(t *testing.T) {
	srv, cfg := start(t)
	raw, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(10 * time.Second))
	c := textproto.NewConn(raw)
	tests := []struct {
		cmd  string
		code int
	}{
		{"", 220},
		{"USER alice", 530}, // AUTH TLS first
		{"AUTH TLS", 234},
		{"TLS", 0}, // the handshake; the commands below run over TLS
		{"USER alice", 331},
		{"PASS wrong", 530},
		{"STOR x", 530}, // not logged in
		{"USER alice", 331},
		{"PASS " + password, 230},
		{"PROT C", 536},
		{"EPSV", 229},
		{"STOR x", 521}, // data without PROT P
		{"RETR absent", 550},
		{"QUIT", 221},
	}
	for _, tt := range tests {
		if tt.cmd == "TLS" {
			c = textproto.NewConn(tls.Client(raw, cfg))
			continue
		}
		if tt.cmd != "" {
			if err := c.PrintfLine("%s", tt.cmd); err != nil {
				t.Fatal(err)
			}
		}
		if _, msg, err := c.ReadResponse(tt.code); err != nil {
			t.Fatalf("%q: %v (%s)", tt.cmd, err, msg)
		}
	}
}
