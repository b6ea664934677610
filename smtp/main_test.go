package smtp_test

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/smtp/smtptest"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func mustCA(t testing.TB) *sockettest.CA {
	t.Helper()
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func serverTLS(t testing.TB, ca *sockettest.CA) *tls.Config {
	t.Helper()
	cfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// newServer starts an smtptest server closed when the test ends.
func newServer(t testing.TB, o *smtptest.Options) *smtptest.Server {
	t.Helper()
	s, err := smtptest.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// scripted starts a sockettest scripted server closed when the test ends.
func scripted(t testing.TB, steps ...sockettest.Step) *sockettest.Server {
	t.Helper()
	s, err := sockettest.NewScripted(steps...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// scriptErrs waits for the first connection's script to end and fails the
// test for every error it recorded.
func scriptErrs(t testing.TB, s *sockettest.Server) {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("timed out waiting for the scripted server")
	}
	for _, err := range s.Errs() {
		t.Errorf("server: %v", err)
	}
}

// attachment is one file of a test message.
type attachment struct {
	Name string
	Type string
	Data []byte
}

// buildMessage writes a multipart/mixed message with a text body and
// base64-encoded attachments, with CRLF line endings.
func buildMessage(from string, to []string, subject, body string, atts ...attachment) []byte {
	var parts bytes.Buffer
	mw := multipart.NewWriter(&parts)
	tp := textproto.MIMEHeader{}
	tp.Set("Content-Type", "text/plain; charset=utf-8")
	w, _ := mw.CreatePart(tp)
	io.WriteString(w, strings.ReplaceAll(body, "\n", "\r\n"))
	for _, a := range atts {
		ph := textproto.MIMEHeader{}
		ph.Set("Content-Type", a.Type)
		ph.Set("Content-Transfer-Encoding", "base64")
		ph.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": a.Name}))
		w, _ := mw.CreatePart(ph)
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			io.WriteString(w, enc[:76]+"\r\n")
			enc = enc[76:]
		}
		io.WriteString(w, enc+"\r\n")
	}
	mw.Close()

	var b bytes.Buffer
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", from)
	h("To", strings.Join(to, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", subject))
	h("Message-ID", "<"+fmt.Sprint(time.Now().UnixNano())+"@outbound.test>")
	h("MIME-Version", "1.0")
	h("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	b.WriteString("\r\n")
	b.Write(parts.Bytes())
	return b.Bytes()
}

// parseMessage returns the text body and the attachments of a message made
// by buildMessage.
func parseMessage(t testing.TB, data []byte) (string, []attachment) {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("content type: %v", err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	var body string
	var atts []attachment
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		raw, err := io.ReadAll(p)
		if err != nil {
			t.Fatalf("read part: %v", err)
		}
		if p.FileName() == "" {
			body = string(raw)
			continue
		}
		dec, err := base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(string(raw)))
		if err != nil {
			t.Fatalf("attachment %s: %v", p.FileName(), err)
		}
		atts = append(atts, attachment{Name: p.FileName(), Type: p.Header.Get("Content-Type"), Data: dec})
	}
	return body, atts
}
