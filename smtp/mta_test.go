package smtp_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/smtp"
)

// The real MTA (Postfix in CI) on OUTBOUND_TEST_SMTP offers STARTTLS with a
// certificate from OUTBOUND_TEST_SMTP_CA and delivers mail for
// outbound@localhost to the mbox OUTBOUND_TEST_SMTP_MAILBOX. Deliver one
// message each way STARTTLS can be done and find it there.
func TestRealMTA(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_SMTP")
	roots := loadCA(t, testenv.Get(t, "OUTBOUND_TEST_SMTP_CA"))

	for _, sec := range []smtp.Security{smtp.SecurityStartTLS, smtp.SecuritySocketStartTLS} {
		t.Run(string(sec), func(t *testing.T) {
			id := fmt.Sprintf("<%d.%s@outbound.test>", time.Now().UnixNano(), sec)
			msg := "From: outbound test <outbound-test@localhost>\r\n" +
				"To: outbound@localhost\r\n" +
				"Subject: outbound smtp " + string(sec) + "\r\n" +
				"Message-ID: " + id + "\r\n" +
				"Date: " + time.Now().Format(time.RFC1123Z) + "\r\n" +
				"\r\n" +
				"Sent through an outbound socket with " + string(sec) + ".\r\n"
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			opts := &smtp.Options{Security: sec, TLSConfig: &tls.Config{RootCAs: roots}, LocalName: "outbound.test"}
			if err := smtp.SendMail(ctx, addr, nil, "outbound-test@localhost", []string{"outbound@localhost"}, strings.NewReader(msg), opts); err != nil {
				t.Fatalf("SendMail: %v", err)
			}

			mbox := testenv.Get(t, "OUTBOUND_TEST_SMTP_MAILBOX")
			got := waitForMessage(t, mbox, id, 30*time.Second)
			// Postfix records a TLS session as "with ESMTPS" in its Received header.
			if !strings.Contains(got, "with ESMTPS") {
				t.Errorf("delivered message does not show a TLS session (want \"with ESMTPS\"):\n%s", got)
			}
			if !strings.Contains(got, "Sent through an outbound socket with "+string(sec)+".") {
				t.Errorf("body missing in the delivered message:\n%s", got)
			}
		})
	}
}

// loadCA reads a PEM file; a relative path is taken from the repository root
// (where .ci/ lives) as well as the package directory.
func loadCA(t *testing.T, path string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(path)
	if err != nil && !filepath.IsAbs(path) {
		pem, err = os.ReadFile(filepath.Join("..", path))
	}
	if err != nil {
		t.Fatalf("OUTBOUND_TEST_SMTP_CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("OUTBOUND_TEST_SMTP_CA %s holds no PEM certificate", path)
	}
	return pool
}

// waitForMessage polls the mbox until a message with the Message-ID id is in
// it, and returns that message (from its "From " line to the next one).
func waitForMessage(t *testing.T, mbox, id string, limit time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		data, err := os.ReadFile(mbox)
		if err != nil && !os.IsNotExist(err) {
			t.Fatalf("read mailbox: %v", err)
		}
		if i := bytes.Index(data, []byte("Message-ID: "+id)); i >= 0 {
			start := bytes.LastIndex(data[:i], []byte("\nFrom ")) + 1
			end := bytes.Index(data[i:], []byte("\nFrom "))
			if end < 0 {
				return string(data[start:])
			}
			return string(data[start : i+end])
		}
		if time.Now().After(deadline) {
			t.Fatalf("no message with Message-ID %s in %s after %v", id, mbox, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The real MTA's refusals reach the caller as go-smtp's *SMTPError: an
// unknown local user (550) and a domain it does not relay for (554).
func TestRealMTARefusals(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_SMTP")
	roots := loadCA(t, testenv.Get(t, "OUTBOUND_TEST_SMTP_CA"))
	tests := []struct {
		to   string
		code int
	}{
		{"no-such-user-outbound-test@localhost", 550},
		{"someone@example.com", 554},
	}
	for _, tt := range tests {
		t.Run(tt.to, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			opts := &smtp.Options{TLSConfig: &tls.Config{RootCAs: roots}}
			err := smtp.SendMail(ctx, addr, nil, "outbound-test@localhost", []string{tt.to}, strings.NewReader("Subject: x\r\n\r\nx\r\n"), opts)
			var se *gosmtp.SMTPError
			if !errors.As(err, &se) || se.Code != tt.code || se.Temporary() {
				t.Fatalf("err = %v; want a permanent SMTPError %d", err, tt.code)
			}
			var e *smtp.Error
			if !errors.As(err, &e) || e.Op != "RCPT TO <"+tt.to+">" {
				t.Errorf("err = %v; want the failing step named RCPT TO <%s>", err, tt.to)
			}
		})
	}
}
