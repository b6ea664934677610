package httpgetdemo

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// refusedAddr returns a 127.0.0.1 address nothing listens on.
func refusedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestRunOnce(t *testing.T) {
	refused := refusedAddr(t)
	tests := []struct {
		name    string
		args    []string
		want    []string
		wantErr string
	}{
		{
			name: "in-process web server",
			args: []string{"-once"},
			want: []string{
				"the handler answered 200 OK; its body:\n",
				"HTTP/1.0 200 OK\r\n",
				"Content-Type: text/plain; charset=utf-8\r\n",
				"\r\n\r\nHello from the in-process web server: you asked for / with HTTP/1.0.\n",
			},
		},
		{
			name: "refused port",
			args: []string{"-once", "-target", refused},
			want: []string{
				"the handler answered 500 Internal Server Error; its body:\n",
				"Socket connection failed: sockets: connect " + refused + ": ",
				"connection refused",
			},
			wantErr: "500 Internal Server Error",
		},
		{
			name: "invalid address",
			args: []string{"-once", "-target", "example.com"},
			want: []string{
				"the handler answered 500 Internal Server Error; its body:\n",
				"Socket connection failed: sockets: connect example.com: ",
			},
			wantErr: "500 Internal Server Error",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(context.Background(), tt.args, &out)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("run: %v\noutput:\n%s", err, out.String())
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("run error = %v, want one containing %q", err, tt.wantErr)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q; output:\n%s", w, out.String())
				}
			}
		})
	}
}

// TestHandlerSendsRawRequest checks the exact bytes the handler writes to the
// socket and that the reply comes back untouched.
func TestHandlerSendsRawRequest(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- err.Error()
			return
		}
		defer c.Close()
		var req []byte
		buf := make([]byte, 256)
		for !bytes.HasSuffix(req, []byte("\r\n\r\n")) {
			n, err := c.Read(buf)
			req = append(req, buf[:n]...)
			if err != nil {
				break
			}
		}
		got <- string(req)
		io.WriteString(c, "HTTP/1.0 418 I'm a teapot\r\n\r\nshort and stout")
	}()

	web := httptest.NewServer(httpGetHandler(ln.Addr().String(), nil))
	defer web.Close()
	client := web.Client()
	defer client.CloseIdleConnections()
	resp, err := client.Get(web.URL + "/ignored")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if want := "GET / HTTP/1.0\r\nHost: " + ln.Addr().String() + "\r\n\r\n"; <-got != want {
		t.Errorf("the server did not receive %q", want)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("handler status = %s, want 200 (the raw reply is the body)", resp.Status)
	}
	if want := "HTTP/1.0 418 I'm a teapot\r\n\r\nshort and stout"; string(body) != want {
		t.Errorf("body = %q, want %q", body, want)
	}
}
