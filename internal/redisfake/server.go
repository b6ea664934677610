package redisfake

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
)

// Server is just enough of a Redis server for go-redis: RESP2 with PING,
// ECHO, SET (with EX), GET, INCR, DEL, and +OK for CLIENT (go-redis sends
// CLIENT SETINFO). It refuses HELLO, which makes go-redis fall back from
// RESP3 to RESP2, as it does with Redis before 6. Expiry is not enforced.
// Its methods are safe for concurrent use.
type Server struct {
	mu sync.Mutex
	kv map[string]string
}

// New returns an empty Server.
func New() *Server { return &Server{kv: map[string]string{}} }

// Serve answers the commands of one connection until it closes.
func (f *Server) Serve(c net.Conn) {
	r := bufio.NewReader(c)
	w := bufio.NewWriter(c)
	for {
		args, err := readCommand(r)
		if err != nil {
			return
		}
		f.do(w, args)
		if r.Buffered() == 0 { // answer a whole pipeline with one write
			if w.Flush() != nil {
				return
			}
		}
	}
}

func (f *Server) do(w *bufio.Writer, args []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch cmd := strings.ToUpper(args[0]); {
	case cmd == "PING" && len(args) == 1:
		w.WriteString("+PONG\r\n")
	case cmd == "ECHO" && len(args) == 2:
		fmt.Fprintf(w, "$%d\r\n%s\r\n", len(args[1]), args[1])
	case cmd == "SET" && (len(args) == 3 || len(args) == 5 && strings.EqualFold(args[3], "ex")):
		f.kv[args[1]] = args[2]
		w.WriteString("+OK\r\n")
	case cmd == "GET" && len(args) == 2:
		v, ok := f.kv[args[1]]
		if !ok {
			w.WriteString("$-1\r\n")
			return
		}
		fmt.Fprintf(w, "$%d\r\n%s\r\n", len(v), v)
	case cmd == "INCR" && len(args) == 2:
		n, err := strconv.ParseInt(f.kv[args[1]], 10, 64)
		if err != nil && f.kv[args[1]] != "" {
			w.WriteString("-ERR value is not an integer or out of range\r\n")
			return
		}
		n++
		f.kv[args[1]] = strconv.FormatInt(n, 10)
		fmt.Fprintf(w, ":%d\r\n", n)
	case cmd == "DEL" && len(args) > 1:
		n := 0
		for _, k := range args[1:] {
			if _, ok := f.kv[k]; ok {
				delete(f.kv, k)
				n++
			}
		}
		fmt.Fprintf(w, ":%d\r\n", n)
	case cmd == "CLIENT":
		w.WriteString("+OK\r\n")
	default:
		fmt.Fprintf(w, "-ERR unknown command '%s'\r\n", args[0])
	}
}

// readCommand reads one command: a RESP array of bulk strings,
// "*<n>\r\n" then n times "$<len>\r\n<bytes>\r\n".
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
