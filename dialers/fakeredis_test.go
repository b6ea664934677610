package dialers_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

// fakeRedis is just enough of a Redis server (RESP2: PING, SET, GET, DEL,
// INCR, ECHO) for go-redis to talk to. It refuses HELLO, so go-redis falls
// back to RESP2, and answers +OK to CLIENT (SETINFO).
type fakeRedis struct {
	mu sync.Mutex
	kv map[string]string
}

// newFakeRedis starts a fake Redis on 127.0.0.1, over TLS when cfg is not nil.
func newFakeRedis(cfg *tls.Config) (*sockettest.Server, error) {
	f := &fakeRedis{kv: map[string]string{}}
	if cfg != nil {
		return sockettest.NewTLSServer(cfg, f.serve)
	}
	return sockettest.NewServer(f.serve)
}

func (f *fakeRedis) serve(c net.Conn) {
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		f.do(w, args)
		if r.Buffered() == 0 { // flush once a pipeline is answered
			if w.Flush() != nil {
				return
			}
		}
	}
}

func (f *fakeRedis) do(w *bufio.Writer, args []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch cmd := strings.ToUpper(args[0]); {
	case cmd == "PING" && len(args) == 1:
		w.WriteString("+PONG\r\n")
	case cmd == "ECHO" && len(args) == 2:
		writeBulk(w, args[1])
	case cmd == "SET" && len(args) == 3:
		f.kv[args[1]] = args[2]
		w.WriteString("+OK\r\n")
	case cmd == "GET" && len(args) == 2:
		v, ok := f.kv[args[1]]
		if !ok {
			w.WriteString("$-1\r\n")
			return
		}
		writeBulk(w, v)
	case cmd == "DEL":
		n := 0
		for _, k := range args[1:] {
			if _, ok := f.kv[k]; ok {
				delete(f.kv, k)
				n++
			}
		}
		fmt.Fprintf(w, ":%d\r\n", n)
	case cmd == "INCR" && len(args) == 2:
		n, _ := strconv.Atoi(f.kv[args[1]])
		n++
		f.kv[args[1]] = strconv.Itoa(n)
		fmt.Fprintf(w, ":%d\r\n", n)
	case cmd == "CLIENT":
		w.WriteString("+OK\r\n")
	default:
		fmt.Fprintf(w, "-ERR unknown command '%s'\r\n", args[0])
	}
}

func writeBulk(w *bufio.Writer, s string) { fmt.Fprintf(w, "$%d\r\n%s\r\n", len(s), s) }

// readCommand reads one RESP array of bulk strings, the form clients send.
func readCommand(r *bufio.Reader) ([]string, error) {
	line, err := readLine(r, '*')
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(line)
	if err != nil || n < 1 || n > 1024 {
		return nil, fmt.Errorf("bad array length %q", line)
	}
	args := make([]string, n)
	for i := range args {
		line, err := readLine(r, '$')
		if err != nil {
			return nil, err
		}
		size, err := strconv.Atoi(line)
		if err != nil || size < 0 || size > 1<<20 {
			return nil, fmt.Errorf("bad bulk length %q", line)
		}
		b := make([]byte, size+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		args[i] = string(b[:size])
	}
	return args, nil
}

func readLine(r *bufio.Reader, prefix byte) (string, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if len(line) < 1 || line[0] != prefix {
		return "", fmt.Errorf("want %q, got %q", prefix, line)
	}
	return line[1:], nil
}
