package imap_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goimap "github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/imap"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/smtp"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// folder creates a mailbox of the test's own in Dovecot (others share the
// account) and deletes it when the test ends.
func folder(t *testing.T, c *imapclient.Client) string {
	t.Helper()
	name := "outbound-test-" + token(t)
	if err := c.Create(name, nil).Wait(); err != nil {
		t.Fatalf("CREATE %s: %v", name, err)
	}
	t.Cleanup(func() { c.Delete(name).Wait() })
	return name
}

func appendMsg(t *testing.T, c *imapclient.Client, mailbox string, msg []byte) {
	t.Helper()
	cmd := c.Append(mailbox, int64(len(msg)), nil)
	if _, err := cmd.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := cmd.Wait(); err != nil {
		t.Fatalf("APPEND: %v", err)
	}
}

// Every secure way in, against Dovecot: log in, put a message in a folder of
// the test's own, find it by Message-ID, fetch it byte for byte.
func TestDovecotDialModes(t *testing.T) {
	d := dovecot(t)
	for _, m := range []struct {
		name string
		dial dialFunc
		addr string
	}{
		{"IMAPS", imap.DialTLS, d.imaps},
		{"STARTTLS by go-imap", imap.DialStartTLS, d.imap},
		{"STARTTLS by Socket.StartTLS", imap.DialSocketStartTLS, d.imap},
	} {
		t.Run(m.name, func(t *testing.T) {
			c, err := m.dial(ctx(t), m.addr, &imap.Options{TLSConfig: d.tls})
			if err != nil {
				t.Fatal(err)
			}
			closeClient(t, c)
			login(t, c, d.user, d.pass)
			if !c.Caps().Has(goimap.CapIdle) {
				t.Errorf("capabilities after TLS and LOGIN lack IDLE: %v", c.Caps())
			}
			box := folder(t, c)
			msg, id := message(t, m.name)
			appendMsg(t, c, box, msg)
			if _, err := c.Select(box, nil).Wait(); err != nil {
				t.Fatal(err)
			}
			uids, err := imap.FindMessageID(ctx(t), c, id)
			if err != nil || len(uids) != 1 {
				t.Fatalf("FindMessageID = %v, %v", uids, err)
			}
			var got bytes.Buffer
			if _, err := imap.FetchBody(ctx(t), c, uids[0], &got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), msg) {
				t.Fatalf("fetched %q, want %q", got.Bytes(), msg)
			}
		})
	}
}

// Dovecot takes plaintext LOGIN from loopback (it counts it as secure), so
// the refusal here is this package's own: with the opt-in the same LOGIN
// succeeds.
func TestDovecotLoginRefusedBeforeTLS(t *testing.T) {
	d := dovecot(t)
	c, err := imap.Dial(ctx(t), d.imap, &imap.Options{AllowPlaintext: true})
	if err != nil {
		t.Fatal(err)
	}
	closeClient(t, c)
	if err := c.Login(d.user, d.pass).Wait(); !imap.IsInsecureAuth(err) {
		t.Fatalf("LOGIN before TLS: %v, want the insecure-auth refusal", err)
	}
	if st := c.State(); st != goimap.ConnStateNotAuthenticated {
		t.Fatalf("state after the refusal: %v", st)
	}
	c2, err := imap.Dial(ctx(t), d.imap, &imap.Options{AllowPlaintext: true, AllowInsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	closeClient(t, c2)
	login(t, c2, d.user, d.pass)
}

func TestDovecotWrongCA(t *testing.T) {
	d := dovecot(t)
	other, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []struct {
		name string
		dial dialFunc
		addr string
	}{
		{"DialTLS", imap.DialTLS, d.imaps},
		{"DialStartTLS", imap.DialStartTLS, d.imap},
		{"DialSocketStartTLS", imap.DialSocketStartTLS, d.imap},
	} {
		t.Run(m.name, func(t *testing.T) {
			c, err := m.dial(ctx(t), m.addr, &imap.Options{TLSConfig: other.ClientConfig()})
			if err == nil {
				c.Close()
				t.Fatal("connected with a CA that did not sign the server's certificate")
			}
			var ua x509.UnknownAuthorityError
			if !errors.As(err, &ua) && !strings.Contains(err.Error(), "unknown authority") {
				t.Fatalf("%v, want an unknown-authority error", err)
			}
		})
	}
}

// IDLE wakes when Postfix delivers a message sent with outbound's smtp.
func TestDovecotIdleWokenByDelivery(t *testing.T) {
	d := dovecot(t)
	smtpAddr := testenv.Get(t, "OUTBOUND_TEST_SMTP")
	testenv.Get(t, "OUTBOUND_TEST_SMTP_MAILBOX") // set only where the MTA delivers into Dovecot's INBOX
	exists := make(chan uint32, 16)
	c, err := imap.DialTLS(ctx(t), d.imaps, &imap.Options{TLSConfig: d.tls, Client: &imapclient.Options{
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(data *imapclient.UnilateralDataMailbox) {
				if data.NumMessages != nil {
					select {
					case exists <- *data.NumMessages:
					default:
					}
				}
			},
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	closeClient(t, c)
	login(t, c, d.user, d.pass)
	// EXAMINE: read-only, so Dovecot never rewrites the shared mbox.
	sel, err := c.Select("INBOX", &goimap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	msg, id := message(t, "woken from IDLE")
	err = smtp.SendMail(ctx(t), smtpAddr, nil, "outbound@localhost", []string{"outbound@localhost"}, bytes.NewReader(msg),
		&smtp.Options{TLSConfig: d.tls})
	if err != nil {
		idle.Close()
		t.Fatal(err)
	}
	select {
	case n := <-exists:
		if n <= sel.NumMessages {
			t.Errorf("EXISTS %d after a delivery, had %d", n, sel.NumMessages)
		}
	case <-time.After(20 * time.Second):
		idle.Close()
		t.Fatal("IDLE was not woken within 20s of the delivery")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	uids, err := imap.FindMessageID(ctx(t), c, id)
	if err != nil || len(uids) != 1 {
		t.Fatalf("FindMessageID = %v, %v", uids, err)
	}
	var got bytes.Buffer
	if _, err := imap.FetchBody(ctx(t), c, uids[0], &got); err != nil {
		t.Fatal(err)
	}
	// Postfix adds its trace headers on top; what was sent follows intact.
	if !bytes.HasSuffix(got.Bytes(), msg) {
		t.Fatalf("the delivered message does not end with the one sent:\n%q\nsent:\n%q", got.Bytes(), msg)
	}
}

// A 10 MiB message goes in with APPEND and comes back intact, streamed.
func TestDovecotLargeMessage(t *testing.T) {
	t.Parallel() // the slowest test: let the others run meanwhile
	d := dovecot(t)
	c, err := imap.DialTLS(ctx(t), d.imaps, &imap.Options{TLSConfig: d.tls})
	if err != nil {
		t.Fatal(err)
	}
	closeClient(t, c)
	login(t, c, d.user, d.pass)
	box := folder(t, c)
	head, id := message(t, "large")
	var body bytes.Buffer
	body.Write(bytes.TrimSuffix(head, []byte("\r\n")))
	body.WriteString("\r\n")
	raw := make([]byte, 57)
	for i := 0; body.Len() < 10<<20; i++ {
		for j := range raw {
			raw[j] = byte(i*31 + j*7)
		}
		body.WriteString(base64.StdEncoding.EncodeToString(raw))
		body.WriteString("\r\n")
	}
	msg := body.Bytes()
	appendMsg(t, c, box, msg)
	if _, err := c.Select(box, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	uids, err := imap.FindMessageID(ctx(t), c, id)
	if err != nil || len(uids) != 1 {
		t.Fatalf("FindMessageID = %v, %v", uids, err)
	}
	h := sha256.New()
	n, err := imap.FetchBody(ctx(t), c, uids[0], h)
	if err != nil {
		t.Fatal(err)
	}
	if want := sha256.Sum256(msg); n != int64(len(msg)) || !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatalf("fetched %d bytes with another digest, want %d intact", n, len(msg))
	}
}

// Denied by the egress policy: Dovecot is never dialled.
func TestDovecotPolicyDenied(t *testing.T) {
	d := dovecot(t)
	var dialled atomic.Int32
	p, err := egress.NewPolicy(egress.PolicyConfig{Rules: []egress.Rule{
		{Name: "no-mail-readers", Action: egress.Deny, Ports: []string{"2143", "2993", "143", "993"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	dl := &dialers.Dialer{Options: &sockets.Options{Policy: p, Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dialled.Add(1)
		var nd net.Dialer
		return nd.DialContext(ctx, network, addr)
	}}}
	for _, m := range []struct {
		dial dialFunc
		addr string
	}{{imap.DialTLS, d.imaps}, {imap.DialStartTLS, d.imap}, {imap.DialSocketStartTLS, d.imap}} {
		_, err := m.dial(ctx(t), m.addr, &imap.Options{Dialer: dl, TLSConfig: d.tls})
		if !errors.Is(err, sockets.ErrDenied) {
			t.Errorf("%s: %v, want ErrDenied", m.addr, err)
		}
		errContains(t, err, "no-mail-readers")
	}
	if n := dialled.Load(); n != 0 {
		t.Fatalf("dialled %d times despite the policy", n)
	}
}
