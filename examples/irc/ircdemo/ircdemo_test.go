package ircdemo

import (
	"bytes"
	"context"
	"errors"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/internal/exampletest"
	"github.com/outboundhq/outbound/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// matchLines checks that out has exactly the lines of want, each a regexp.

func TestRunInProcess(t *testing.T) {
	for _, tls := range []bool{false, true} {
		t.Run("tls="+strconv.FormatBool(tls), func(t *testing.T) {
			var out bytes.Buffer
			args := []string{"-message", "hi there: a message with spaces"}
			if tls {
				args = append(args, "-tls")
			}
			if err := Run(context.Background(), args, &out); err != nil {
				t.Fatalf("run: %v\n%s", err, out.String())
			}
			exampletest.MatchLines(t, out.String(), []string{
				`^in-process IRC server on 127\.0\.0\.1:\d+ \(TLS ` + strconv.FormatBool(tls) + `\)$`,
				`^bob registered and joined #outbound$`,
				`^alice registered and joined #outbound$`,
				`^answered 2 PING from the server with PONG$`,
				`^alice sent PING, the server answered PONG$`,
				`^bob received in #outbound from alice: hi there: a message with spaces$`,
				`^both quit$`,
			})
		})
	}
}

func TestRunVerbose(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"-v"}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"bob > NICK bob\n",
		"bob > USER bob 0 * :outbound IRC example\n",
		"bob < PING :",
		"bob > PONG :",
		"bob < :irc.outbound.test 001 bob :Welcome",
		"alice > JOIN #outbound\n",
		"bob < :alice!alice@127.0.0.1 JOIN #outbound\n",
		"alice > PRIVMSG #outbound :hello from an outbound socket\n",
		"bob < :alice!alice@127.0.0.1 PRIVMSG #outbound :hello from an outbound socket\n",
		"alice < ERROR :Closing link: alice (Quit: bye)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out.String())
	}
}

// Against ngIRCd (or the server OUTBOUND_TEST_IRC names).
func TestRunRealServer(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_IRC")
	channel := "#outbound-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"-server", addr, "-channel", channel}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	// Nicknames may carry underscores if alice or bob are taken; whether
	// the server PINGs during registration depends on the server.
	got := regexp.MustCompile(`(?m)^answered \d+ PING from the server with PONG\n`).ReplaceAllString(out.String(), "")
	exampletest.MatchLines(t, got, []string{
		`^bob_* registered and joined ` + channel + `$`,
		`^alice_* registered and joined ` + channel + `$`,
		`^alice sent PING, the server answered PONG$`,
		`^bob received in ` + channel + ` from alice_*: hello from an outbound socket$`,
		`^both quit$`,
	})
}

func TestRunErrors(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := l.Addr().String()
	l.Close()
	tests := []struct {
		name string
		args []string
		is   error
		want string
	}{
		{"refused", []string{"-server", closed}, syscall.ECONNREFUSED, ""},
		{"bad channel", []string{"-channel", "outbound"}, nil, "starts with #"},
		{"two-line message", []string{"-message", "a\r\nQUIT"}, nil, "one line"},
		{"TLS to a plain server", []string{"-server", "127.0.0.1:1", "-tls", "-ca", "/nonexistent.pem"}, nil, "nonexistent.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(context.Background(), tt.args, &out)
			if err == nil {
				t.Fatal("run succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		line    string
		prefix  string
		command string
		params  []string
	}{
		{"PING :irc.example.net", "", "PING", []string{"irc.example.net"}},
		{":irc.example.net 001 alice :Welcome to IRC", "irc.example.net", "001", []string{"alice", "Welcome to IRC"}},
		{":bob!b@host PRIVMSG #go :hi :)", "bob!b@host", "PRIVMSG", []string{"#go", "hi :)"}},
		{"@time=2024-01-01T00:00:00Z :n!u@h JOIN #go", "n!u@h", "JOIN", []string{"#go"}},
		{"privmsg  bob   :x", "", "PRIVMSG", []string{"bob", "x"}},
		{"PONG srv :", "", "PONG", []string{"srv", ""}},
	}
	for _, tt := range tests {
		m := parse(tt.line)
		if m.prefix != tt.prefix || m.command != tt.command || strings.Join(m.params, "|") != strings.Join(tt.params, "|") || len(m.params) != len(tt.params) {
			t.Errorf("parse(%q) = %q %q %q, want %q %q %q", tt.line, m.prefix, m.command, m.params, tt.prefix, tt.command, tt.params)
		}
	}
	if n := parse(":bob!b@host QUIT").nick(); n != "bob" {
		t.Errorf("nick = %q", n)
	}
}
