package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

// repoRoot is the repository's root, seen from this package's directory.
const repoRoot = "../.."

// TestStartCommands checks that the command each real server's skip
// message names exists: a compose.yaml service, or .ci/setup scripts.
func TestStartCommands(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	service := regexp.MustCompile(`^docker compose up -d --wait ([a-z0-9-]+)$`)
	script := regexp.MustCompile(`\.ci/setup/[0-9]+-[a-z0-9]+\.sh`)
	for _, d := range allDemos() {
		if d.server == nil {
			continue
		}
		if m := service.FindStringSubmatch(d.server.start); m != nil {
			if _, ok := compose.Services[m[1]]; !ok {
				t.Errorf("%s: compose.yaml has no service %q", d.name, m[1])
			}
			continue
		}
		scripts := script.FindAllString(d.server.start, -1)
		if len(scripts) == 0 {
			t.Errorf("%s: %q names neither a compose.yaml service nor a .ci/setup script", d.name, d.server.start)
		}
		for _, s := range scripts {
			if _, err := os.Stat(filepath.Join(repoRoot, s)); err != nil {
				t.Errorf("%s: %v", d.name, err)
			}
		}
	}
}

// TestExtraDefaults checks the tour's defaults of the variables testenv
// does not list against what .ci/run exports.
func TestExtraDefaults(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot, ".ci/run"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	exported := map[string]string{}
	export := regexp.MustCompile(`^export (OUTBOUND_TEST_[A-Z0-9_]+)="([^"]*)"$`)
	for sc := bufio.NewScanner(f); sc.Scan(); {
		if m := export.FindStringSubmatch(sc.Text()); m != nil {
			exported[m[1]] = strings.TrimPrefix(m[2], "$root/")
		}
	}
	for name, want := range extraDefaults {
		if got, ok := exported[name]; !ok || got != want {
			t.Errorf("%s: .ci/run exports %q (relative to the root), the tour defaults to %q", name, got, want)
		}
	}
}

func TestIRCFields(t *testing.T) {
	tests := []struct {
		line string
		want []string
	}{
		{"PING :5417", []string{"PING", "5417"}},
		{":irc.test 001 tour :Welcome to the tour network", []string{"001", "tour", "Welcome to the tour network"}},
		{":a!b@c privmsg #x :hi: there", []string{"PRIVMSG", "#x", "hi: there"}},
		{"@time=2024-01-01T00:00:00Z :a!b@c JOIN #x", []string{"JOIN", "#x"}},
		{":a!b@c JOIN :#x", []string{"JOIN", "#x"}},
		{"ERROR :Closing link", []string{"ERROR", "Closing link"}},
		{"", nil},
		{":only-a-prefix", nil},
		{"  : ", nil},
	}
	for _, tt := range tests {
		if got := ircFields(tt.line); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ircFields(%q) = %q, want %q", tt.line, got, tt.want)
		}
	}
}

func FuzzIRCFields(f *testing.F) {
	for _, s := range []string{"PING :x", ":p 001 n :w", "@t :p JOIN :#c", ": :", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		m := ircFields(line)
		if len(m) > 0 && (m[0] != strings.ToUpper(m[0]) || strings.Contains(m[0], " ")) {
			t.Fatalf("ircFields(%q): command %q is not one upper-case word", line, m[0])
		}
	})
}

// TestIRCSessionFailures checks that the IRC client reports what a server
// refuses, instead of passing or hanging.
func TestIRCSessionFailures(t *testing.T) {
	welcome := sockettest.Send(":irc.test 001 tour :Welcome\r\n:irc.test 422 tour :MOTD File is missing\r\n")
	register := []sockettest.Step{sockettest.ExpectLine("NICK tour"), sockettest.ExpectLine("USER tour 0 * :outbound tour")}
	tests := []struct {
		name  string
		steps []sockettest.Step
		want  string
	}{
		{"nickname in use", []sockettest.Step{sockettest.ExpectLine("NICK tour"), sockettest.Send(":irc.test 433 * tour :Nickname is already in use\r\n"), sockettest.Sleep(time.Second)},
			"registering: the server refused: :irc.test 433 * tour :Nickname is already in use"},
		{"closed during registration", append(register, sockettest.Send("ERROR :Closing link: (Access denied)\r\n")),
			"registering: the server closed the link: ERROR :Closing link: (Access denied)"},
		{"message altered", append(register, welcome,
			sockettest.ExpectLine("JOIN #outbound"), sockettest.Send(":irc.test 366 tour #outbound :End\r\n"),
			sockettest.ExpectLine("PING :tour"), sockettest.Send(":irc.test PONG irc.test :tour\r\n"),
			sockettest.ExpectLine("PRIVMSG tour :"+ircText), sockettest.Send(":tour!t@h PRIVMSG tour :something else\r\n"),
			sockettest.Sleep(time.Second)),
			`PRIVMSG came back as "something else"`},
		{"server hangs up", append(register, sockettest.CloseConn()), "registering: EOF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := sockettest.NewScripted(tt.steps...)
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			e := &env{name: "irc", progress: io.Discard}
			err = ircSession(ctx, e, srv.Addr(), nil, "tour")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ircSession = %v, want an error with %q", err, tt.want)
			}
		})
	}
}
