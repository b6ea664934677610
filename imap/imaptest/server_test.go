package imaptest_test

import (
	"testing"

	"github.com/emersion/go-imap/v2/imapclient"
	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/imap/imaptest"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestServer(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := imaptest.NewServer(&imaptest.Options{ImplicitTLS: true}); err == nil {
		t.Fatal("ImplicitTLS without TLSConfig accepted")
	}
	s, err := imaptest.NewServer(&imaptest.Options{TLSConfig: cfg, Users: map[string]string{"bob": "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Deliver("nobody", []byte("x")); err == nil {
		t.Fatal("Deliver to an unknown user succeeded")
	}
	for _, box := range []string{"INBOX", "Archive", "Archive"} {
		if err := s.Append("bob", box, []byte("Subject: a\r\n\r\nb\r\n")); err != nil {
			t.Fatalf("Append %s: %v", box, err)
		}
	}
	c, err := imapclient.DialStartTLS(s.Addr(), &imapclient.Options{TLSConfig: ca.ClientConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login("bob", "wrong").Wait(); err == nil {
		t.Fatal("a wrong password logged in")
	}
	if err := c.Login("bob", "pw").Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("Archive", nil).Wait()
	if err != nil || sel.NumMessages != 2 {
		t.Fatalf("SELECT Archive = %+v, %v; want 2 messages", sel, err)
	}
	if n := s.Logins(); n != 2 {
		t.Fatalf("Logins = %d, want 2", n)
	}
	c.Logout().Wait()
	s.Close()
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
