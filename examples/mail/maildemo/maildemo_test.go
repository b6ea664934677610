package maildemo

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/internal/exampletest"
	"github.com/outboundhq/outbound/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunInProcess(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), nil, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	exampletest.MatchLines(t, out.String(), []string{
		`^in-process SMTP server on 127\.0\.0\.1:\d+ delivers into the in-process IMAP server on 127\.0\.0\.1:\d+$`,
		`^egress policy: allow 127\.0\.0\.1:\d+ and 127\.0\.0\.1:\d+, deny the rest$`,
		`^policy check: 127\.0\.0\.1:25 is refused before dialling$`,
		`^sent (\d+) bytes with Message-ID <[0-9a-f]{16}@mail\.example\.outbound> through 127\.0\.0\.1:\d+ \(STARTTLS\)$`,
		`^logged in to 127\.0\.0\.1:\d+ \(implicit TLS\) as outbound$`,
		`^found it by Message-ID and fetched (\d+) bytes: the (\d+) bytes sent arrived intact \(0 bytes of trace headers on top\)$`,
	})
}

func TestRunBadFlags(t *testing.T) {
	err := Run(context.Background(), []string{"-smtp", "127.0.0.1:2587"}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "both -smtp and -imap") {
		t.Fatalf("run: %v", err)
	}
}

// Postfix and Dovecot: Postfix delivers to the mbox Dovecot serves as INBOX.
func TestRunPostfixDovecot(t *testing.T) {
	smtpAddr := testenv.Get(t, "OUTBOUND_TEST_SMTP")
	testenv.Get(t, "OUTBOUND_TEST_SMTP_MAILBOX") // set only where the MTA delivers into Dovecot's INBOX
	ca := testenv.Get(t, "OUTBOUND_TEST_MAIL_CA")
	user := testenv.Get(t, "OUTBOUND_TEST_MAIL_USER")
	pass := testenv.Get(t, "OUTBOUND_TEST_MAIL_PASSWORD")
	for _, m := range []struct {
		name string
		args []string
		how  string
	}{
		{"IMAPS", []string{"-imap", testenv.Get(t, "OUTBOUND_TEST_IMAPS")}, "implicit TLS"},
		{"STARTTLS", []string{"-imap", testenv.Get(t, "OUTBOUND_TEST_IMAP"), "-imap-starttls"}, "STARTTLS by Socket.StartTLS"},
	} {
		t.Run(m.name, func(t *testing.T) {
			args := append([]string{"-smtp", smtpAddr, "-ca", ca, "-user", user, "-password", pass, "-to", user + "@localhost"}, m.args...)
			var out bytes.Buffer
			if err := Run(context.Background(), args, &out); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			exampletest.MatchLines(t, out.String(), []string{
				`^egress policy: allow `,
				`^policy check: .*:25 is refused before dialling$`,
				`^sent \d+ bytes with Message-ID `,
				`^logged in to .* \(` + m.how + `\) as ` + user + `$`,
				`^found it by Message-ID and fetched \d+ bytes: the \d+ bytes sent arrived intact \([1-9]\d* bytes of trace headers on top\)$`,
			})
		})
	}
}
