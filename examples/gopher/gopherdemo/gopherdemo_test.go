package gopherdemo

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/sockets/sockettest"
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
	scripted, err := sockettest.NewScripted(
		sockettest.ExpectLine("/"),
		sockettest.Send("iHello from a scripted Gopher server\tfake\t(NULL)\t0\r\n.\r\n"),
		sockettest.CloseConn(),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer scripted.Close()

	tests := []struct {
		name    string
		args    []string
		want    []string // substrings of the output
		wantErr string   // substring of run's error; "" for none
	}{
		{
			name: "menu",
			args: []string{"-once"},
			want: []string{
				"iWelcome to the outbound Gopher example.\tfake\t(NULL)\t0\r\n",
				"0About Gopher\t/about\t127.0.0.1\t",
				"\r\n.\r\n",
			},
		},
		{
			name: "document",
			args: []string{"-once", "/about"},
			want: []string{"Gopher is a protocol from 1991 (RFC 1436)", "\r\n.\r\n"},
		},
		{
			name: "unknown selector",
			args: []string{"-once", "/nope"},
			want: []string{"3\"/nope\" does not exist on this server\terror\terror.host\t1\r\n"},
		},
		{
			name: "real server flag",
			args: []string{"-gopher", scripted.Addr(), "-once", "/"},
			want: []string{"iHello from a scripted Gopher server"},
		},
		{
			name:    "refused",
			args:    []string{"-gopher", refusedAddr(t), "-once"},
			want:    []string{"Socket connection failed: sockets: connect 127.0.0.1:", "connection refused"},
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
	for _, err := range scripted.Errs() {
		t.Errorf("scripted Gopher server: %v", err)
	}
}

// TestHandlerStreams shows that the handler streams: the Gopher server sends
// its first chunk and waits until the test has received that chunk over HTTP
// before it sends the rest. A handler that buffered the whole reply would
// never deliver the first chunk on its own.
func TestHandlerStreams(t *testing.T) {
	received := make(chan struct{}) // closed once the HTTP client has the first chunk
	selectors := make(chan string, 1)
	gopher, err := sockettest.NewServer(func(c net.Conn) {
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return
		}
		selectors <- line
		io.WriteString(c, "first chunk\r\n")
		select {
		case <-received:
		case <-time.After(5 * time.Second):
			io.WriteString(c, "gave up waiting: the first chunk never reached the client\r\n")
			return
		}
		io.WriteString(c, "second chunk\r\n.\r\n")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer gopher.Close()
	web := httptest.NewServer(gopherHandler(gopher.Addr(), nil))
	defer web.Close()
	client := web.Client()
	defer client.CloseIdleConnections()

	resp, err := client.Get(web.URL + "/stream/me")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q, want text/plain", ct)
	}
	if got := <-selectors; got != "/stream/me\r\n" {
		t.Errorf("the Gopher server received %q, want %q", got, "/stream/me\r\n")
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the first chunk: %v", err)
	}
	close(received)
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("reading the rest: %v", err)
	}
	if got, want := first+string(rest), "first chunk\r\nsecond chunk\r\n.\r\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
}

func TestHandlerRefusesLineBreaksInPath(t *testing.T) {
	web := httptest.NewServer(gopherHandler("127.0.0.1:1", nil))
	defer web.Close()
	client := web.Client()
	defer client.CloseIdleConnections()
	resp, err := client.Get(web.URL + "/a%0D%0Ab")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status = %s, want 400", resp.Status)
	}
}
