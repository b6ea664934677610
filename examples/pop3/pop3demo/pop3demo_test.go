package pop3demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/internal/exampletest"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/smtp"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunInProcess(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"STLS", nil, []string{
			`^in-process POP3 server on 127\.0\.0\.1:\d+ \(TLS from the first byte: false\)$`,
			`^greeting: outbound example POP3 server ready$`,
			`^STLS: the connection is TLS now$`,
			`^logged in as outbound$`,
			`^STAT: 2 messages, 268 bytes$`,
			`^RETR 2: 159 bytes, Subject: a dot-stuffed line$`,
			`^QUIT: bye$`,
		}},
		{"POP3S", []string{"-tls", "-message-id", "<first@pop3.example>"}, []string{
			`^in-process POP3 server on 127\.0\.0\.1:\d+ \(TLS from the first byte: true\)$`,
			`^greeting: outbound example POP3 server ready$`,
			`^logged in as outbound$`,
			`^STAT: 2 messages, 268 bytes$`,
			`^RETR 1: 109 bytes, Subject: first$`,
			`^QUIT: bye$`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Run(context.Background(), tt.args, &out); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			exampletest.MatchLines(t, out.String(), tt.want)
		})
	}
}

// The transcript shows dot-stuffing undone, and never the password.
func TestRunVerbose(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"-v", "-password", "s3cret"}, &out); err == nil {
		t.Fatal("a wrong password logged in")
	}
	out.Reset()
	if err := Run(context.Background(), []string{"-v"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{"> STLS\n", "< +OK begin TLS\n", "> PASS ********\n", "< ..signature\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if strings.Contains(out.String(), "PASS outbound") {
		t.Error("the transcript shows the password")
	}
}

// A scripted server answers STLS with +OK and, in the same write, a forged
// +OK: the injection is refused and no USER or PASS is sent.
func TestSTLSInjectionRefused(t *testing.T) {
	got := make(chan string, 1)
	s, err := sockettest.NewServer(func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte("+OK ready\r\n"))
		buf := make([]byte, 4096)
		var seen strings.Builder
		for {
			n, err := c.Read(buf)
			seen.Write(buf[:n])
			if strings.Contains(seen.String(), "CAPA\r\n") && !strings.Contains(seen.String(), "STLS") {
				c.Write([]byte("+OK\r\nSTLS\r\n.\r\n"))
			}
			if strings.Contains(seen.String(), "STLS\r\n") {
				c.Write([]byte("+OK begin TLS\r\n+OK injected: logged in\r\n"))
				c.Read(buf) // the client hangs up (or says hello)
				got <- seen.String()
				return
			}
			if err != nil {
				got <- seen.String()
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var out bytes.Buffer
	err = Run(context.Background(), []string{"-server", s.Addr()}, &out)
	if !errors.Is(err, sockets.ErrPlaintextInjection) {
		t.Fatalf("run: %v, want ErrPlaintextInjection", err)
	}
	if seen := <-got; strings.Contains(seen, "USER") || strings.Contains(seen, "PASS") {
		t.Fatalf("the client sent credentials: %q", seen)
	}
}

func TestNoSTLSRefused(t *testing.T) {
	s, err := sockettest.NewServer(func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write([]byte("+OK ready\r\n"))
		buf := make([]byte, 512)
		c.Read(buf)
		c.Write([]byte("+OK\r\nUSER\r\n.\r\n"))
		c.Read(buf)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = Run(context.Background(), []string{"-server", s.Addr()}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "offers no STLS") {
		t.Fatalf("run: %v, want a refusal to log in without STLS", err)
	}
}

// Against Dovecot: deliver a message of our own through Postfix, then find
// it over STLS and over POP3S.
func TestRunDovecot(t *testing.T) {
	pop3 := testenv.Get(t, "OUTBOUND_TEST_POP3")
	pop3s := testenv.Get(t, "OUTBOUND_TEST_POP3S")
	user := testenv.Get(t, "OUTBOUND_TEST_MAIL_USER")
	pass := testenv.Get(t, "OUTBOUND_TEST_MAIL_PASSWORD")
	ca := testenv.Get(t, "OUTBOUND_TEST_MAIL_CA")
	smtpAddr := testenv.Get(t, "OUTBOUND_TEST_SMTP")
	testenv.Get(t, "OUTBOUND_TEST_SMTP_MAILBOX") // Postfix delivers where Dovecot reads

	var b [8]byte
	rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	id := "<" + tok + "@pop3.test.outbound>"
	subject := "pop3 example " + tok
	msg := fmt.Sprintf("From: outbound@localhost\r\nTo: outbound@localhost\r\nSubject: %s\r\nMessage-ID: %s\r\n\r\nfound by POP3\r\n", subject, id)
	pem, err := readCA(ca)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := smtp.SendMail(ctx, smtpAddr, nil, "outbound@localhost", []string{"outbound@localhost"}, strings.NewReader(msg), &smtp.Options{TLSConfig: pem}); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []struct {
		name string
		args []string
	}{{"STLS", []string{"-server", pop3}}, {"POP3S", []string{"-server", pop3s, "-tls"}}} {
		t.Run(mode.name, func(t *testing.T) {
			args := append(mode.args, "-ca", ca, "-user", user, "-password", pass, "-message-id", id)
			var out bytes.Buffer
			var err error
			// Postfix delivers within moments; look again until it has.
			for deadline := time.Now().Add(15 * time.Second); ; {
				out.Reset()
				err = Run(context.Background(), args, &out)
				if err == nil || !strings.Contains(err.Error(), "no message with Message-ID") || time.Now().After(deadline) {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
			if err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			if !strings.Contains(out.String(), "Subject: "+subject+"\n") || !strings.Contains(out.String(), "logged in as "+user+"\n") {
				t.Fatalf("output:\n%s", out.String())
			}
		})
	}
}

func readCA(path string) (*tls.Config, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return &tls.Config{RootCAs: pool}, nil
}
