package imap_test

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/imap/imaptest"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// token is a string no other test (or run) uses.
func token(t testing.TB) string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// message returns an RFC 5322 message with a unique Message-ID and body.
func message(t testing.TB, body string) (msg []byte, id string) {
	tok := token(t)
	id = "<" + tok + "@imap.test.outbound>"
	msg = []byte(fmt.Sprintf("From: test <outbound@localhost>\r\nTo: outbound@localhost\r\nSubject: imap test %s\r\nMessage-ID: %s\r\nDate: %s\r\n\r\n%s %s\r\n",
		tok, id, time.Now().Format(time.RFC1123Z), body, tok))
	return msg, id
}

var users = map[string]string{"alice": "wonderland"}

type inproc struct {
	ca  *sockettest.CA
	srv *imaptest.Server
	tls *tls.Config // client side, trusting ca
}

// newInproc starts an in-process IMAP server (STARTTLS, or implicit TLS).
func newInproc(t testing.TB, implicit bool) *inproc {
	t.Helper()
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	s, err := imaptest.NewServer(&imaptest.Options{TLSConfig: cfg, ImplicitTLS: implicit, Users: users})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &inproc{ca: ca, srv: s, tls: ca.ClientConfig()}
}

// dove is the Dovecot of .ci/setup/31-dovecot.sh (or compose.yaml).
type dove struct {
	imap, imaps string // STARTTLS and implicit TLS addresses
	user, pass  string
	tls         *tls.Config
}

func dovecot(t testing.TB) dove {
	t.Helper()
	d := dove{
		imap:  testenv.Get(t, "OUTBOUND_TEST_IMAP"),
		imaps: testenv.Get(t, "OUTBOUND_TEST_IMAPS"),
		user:  testenv.Get(t, "OUTBOUND_TEST_MAIL_USER"),
		pass:  testenv.Get(t, "OUTBOUND_TEST_MAIL_PASSWORD"),
	}
	pem, err := os.ReadFile(testenv.Get(t, "OUTBOUND_TEST_MAIL_CA"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("no certificate in OUTBOUND_TEST_MAIL_CA")
	}
	d.tls = &tls.Config{RootCAs: pool}
	return d
}

// closeClient logs out and closes c when the test ends.
func closeClient(t testing.TB, c *imapclient.Client) {
	t.Cleanup(func() {
		c.Logout().Wait()
		c.Close()
	})
}

func login(t testing.TB, c *imapclient.Client, user, pass string) {
	t.Helper()
	if err := c.Login(user, pass).Wait(); err != nil {
		t.Fatalf("LOGIN: %v", err)
	}
}

func errContains(t testing.TB, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("err = %q, want it to contain %q", err, p)
		}
	}
}

// newInprocInsecure starts a plaintext server that accepts LOGIN without TLS.
func newInprocInsecure(t testing.TB) *imaptest.Server {
	t.Helper()
	s, err := imaptest.NewServer(&imaptest.Options{Users: users, InsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
