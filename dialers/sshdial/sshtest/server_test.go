package sshtest_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"strings"
	"testing"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"

	"github.com/outboundhq/outbound/dialers/sshdial/sshtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestServer(t *testing.T) {
	srv, err := sshtest.NewServer(&sshtest.Options{Passwords: map[string]string{"bob": "pw"}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if !strings.HasPrefix(srv.KnownHostsLine(), "["+strings.Replace(srv.Addr(), ":", "]:", 1)+" ssh-ed25519 ") {
		t.Fatalf("KnownHostsLine = %q", srv.KnownHostsLine())
	}
	// A refused login is recorded; a good one runs commands.
	if _, err := ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{User: "bob", Auth: []ssh.AuthMethod{ssh.Password("nope")}, HostKeyCallback: ssh.FixedHostKey(srv.HostKey())}); err == nil {
		t.Fatal("wrong password accepted")
	}
	c, err := ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{User: "bob", Auth: []ssh.AuthMethod{ssh.Password("pw")}, HostKeyCallback: ssh.FixedHostKey(srv.HostKey())})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tests := []struct {
		cmd    string
		out    string
		status int
	}{
		{"echo a  b", "a b\n", 0},
		{"whoami", "bob\n", 0},
		{"exit 7", "", 7},
		{"ls", "", 127},
	}
	for _, tt := range tests {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		out, err := sess.Output(tt.cmd)
		sess.Close()
		var exit *ssh.ExitError
		status := 0
		if errors.As(err, &exit) {
			status = exit.ExitStatus()
		} else if err != nil {
			t.Fatalf("%s: %v", tt.cmd, err)
		}
		if string(out) != tt.out || status != tt.status {
			t.Errorf("%s = %q, status %d; want %q, %d", tt.cmd, out, status, tt.out, tt.status)
		}
	}
	if got := srv.Commands(); len(got) != 4 || got[0] != "bob: echo a  b" {
		t.Fatalf("Commands = %q", got)
	}
	if errs := srv.Errs(); len(errs) != 1 || !strings.Contains(errs[0].Error(), "wrong password") {
		t.Fatalf("Errs = %v, want the refused login", errs)
	}
}

func ExampleNewServer() {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	key, _ := ssh.NewSignerFromKey(priv)
	srv, err := sshtest.NewServer(&sshtest.Options{AuthorizedKeys: map[string][]ssh.PublicKey{"alice": {key.PublicKey()}}})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	client, err := ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{
		User:            "alice",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(key)},
		HostKeyCallback: ssh.FixedHostKey(srv.HostKey()),
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	sess, _ := client.NewSession()
	defer sess.Close()
	out, _ := sess.Output("whoami")
	fmt.Print(string(out))
	fmt.Println(srv.Commands())
	// Output:
	// alice
	// [alice: whoami]
}
