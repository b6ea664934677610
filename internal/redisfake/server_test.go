package redisfake

import (
	"bufio"
	"net"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestServe(t *testing.T) {
	c, s := net.Pipe()
	defer c.Close()
	go func() {
		New().Serve(s)
		s.Close()
	}()
	r := bufio.NewReader(c)
	for _, step := range []struct{ send, want string }{
		{"*1\r\n$4\r\nPING\r\n", "+PONG\r\n"},
		{"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\n", "+OK\r\n"},
		{"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "$2\r\nv1\r\n"},
		{"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n", ":1\r\n"},
		{"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n", ":1\r\n"},
		{"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "$-1\r\n"},
		{"*1\r\n$5\r\nHELLO\r\n", "-ERR unknown command 'HELLO'\r\n"},
	} {
		if _, err := c.Write([]byte(step.send)); err != nil {
			t.Fatal(err)
		}
		got, err := r.ReadString('\n')
		if err == nil && strings.HasPrefix(got, "$") && got != "$-1\r\n" {
			var rest string
			rest, err = r.ReadString('\n')
			got += rest
		}
		if err != nil || got != step.want {
			t.Fatalf("%q: got %q, %v; want %q", step.send, got, err, step.want)
		}
	}
}

func FuzzReadCommand(f *testing.F) {
	for _, s := range []string{"*1\r\n$4\r\nPING\r\n", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", "*0\r\n", "$-1\r\n", "*1\r\n$-5\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		args, err := readCommand(bufio.NewReader(strings.NewReader(in)))
		if err == nil && len(args) == 0 {
			t.Fatalf("readCommand(%q) accepted an empty command", in)
		}
	})
}
