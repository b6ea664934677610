package dialers_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// get fetches url with client and ctx and returns the body.
func get(ctx context.Context, t *testing.T, client *http.Client, url string) (string, *http.Response) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), resp
}

func TestNewHTTPTransport(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Proto)
	})
	tests := []struct {
		name      string
		tls, h2   bool
		wantProto string
	}{
		{"http", false, false, "HTTP/1.1"},
		{"https HTTP/1.1 server", true, false, "HTTP/1.1"},
		{"https HTTP/2 server", true, true, "HTTP/2.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewUnstartedServer(handler)
			srv.EnableHTTP2 = tt.h2
			if tt.tls {
				cfg, err := ca.ServerConfig()
				if err != nil {
					t.Fatal(err)
				}
				srv.TLS = cfg
				srv.StartTLS()
			} else {
				srv.Start()
			}
			defer srv.Close()

			var mu sync.Mutex
			var dialed []*sockets.Socket
			d := &dialers.Dialer{Options: &sockets.Options{TLSConfig: ca.ClientConfig()}}
			tr := dialers.NewHTTPTransport(d)
			dial := tr.DialContext
			tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := dial(ctx, network, addr)
				if err == nil {
					mu.Lock()
					dialed = append(dialed, c.(*sockets.Socket))
					mu.Unlock()
				}
				return c, err
			}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr}
			for i := 0; i < 3; i++ {
				body, resp := get(context.Background(), t, client, srv.URL)
				if body != tt.wantProto {
					t.Fatalf("request %d: proto %q, want %q", i, body, tt.wantProto)
				}
				if (resp.TLS != nil) != tt.tls {
					t.Fatalf("Response.TLS = %v, want TLS %v", resp.TLS, tt.tls)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(dialed) != 1 {
				t.Fatalf("dialed %d sockets for 3 requests, want 1 kept alive", len(dialed))
			}
			if got := dialed[0].SecureTransport(); got != sockets.SecureTransportOff {
				t.Fatalf("socket transport %q; the transport must do TLS over a plain socket", got)
			}
		})
	}
}

func TestNewHTTPTransportIgnoresProxyEnvironment(t *testing.T) {
	tr := dialers.NewHTTPTransport(nil)
	if tr.Proxy != nil {
		t.Fatal("Proxy is set: the policy would judge the proxy instead of the server")
	}
	if tr.DialContext == nil || tr.DialTLSContext != nil {
		t.Fatal("want DialContext set and DialTLSContext nil (TLS by the transport, so HTTP/2 works)")
	}
	if tr.TLSClientConfig != nil {
		t.Fatal("TLSClientConfig set without Options.TLSConfig")
	}
}

// The egress policy decides for every connection the transport makes.
func TestHTTPTransportPolicy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	pol, err := egress.NewPolicy(egress.PolicyConfig{
		Default: egress.Deny,
		Rules: []egress.Rule{
			{Name: "local-api", Action: egress.Allow, Addrs: []string{"loopback"}, Ports: []string{port}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tr := dialers.NewHTTPTransport(&dialers.Dialer{Options: &sockets.Options{Policy: pol}})
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	tests := []struct {
		name    string
		url     string
		wantErr string // "" means allowed
	}{
		{"allowed by rule", srv.URL, ""},
		{"other port denied by default", "http://127.0.0.1:1/", "denied"},
		{"private address denied", "http://10.0.0.1:" + port + "/", "denied"},
		{"port 25 denied", "http://127.0.0.1:25/", "port 25"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tt.url, nil)
			resp, err := client.Do(req)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("allowed request failed: %v", err)
				}
				resp.Body.Close()
				return
			}
			if err == nil {
				resp.Body.Close()
				t.Fatalf("GET %s succeeded; want a policy denial", tt.url)
			}
			if !errors.Is(err, sockets.ErrDenied) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v; want ErrDenied mentioning %q", err, tt.wantErr)
			}
		})
	}
}

// A request's scope owns the connection it dials: ending the scope closes
// it, even while it sits idle in the transport's pool.
func TestHTTPTransportRequestScope(t *testing.T) {
	var mu sync.Mutex
	states := map[string][]http.ConnState{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.RemoteAddr)
	}))
	closed := make(chan string, 4)
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		mu.Lock()
		states[c.RemoteAddr().String()] = append(states[c.RemoteAddr().String()], s)
		mu.Unlock()
		if s == http.StateClosed {
			closed <- c.RemoteAddr().String()
		}
	}
	srv.Start()
	defer srv.Close()

	tr := dialers.NewHTTPTransport(nil)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}

	var clients []string
	for i := 0; i < 2; i++ {
		sc := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Name: "request " + strconv.Itoa(i)})
		ctx := sockets.WithScope(context.Background(), sc)
		from, _ := get(ctx, t, client, srv.URL)
		if open, _ := sc.Open(); open != 1 {
			t.Fatalf("scope holds %d sockets after the request, want 1 (the pooled connection)", open)
		}
		sc.Close()
		if open, _ := sc.Open(); open != 0 {
			t.Fatalf("scope holds %d sockets after Close", open)
		}
		select {
		case addr := <-closed:
			if addr != from {
				t.Fatalf("server saw %s close, want %s", addr, from)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the pooled connection stayed open after its scope ended")
		}
		clients = append(clients, from)
	}
	if clients[0] == clients[1] {
		t.Fatalf("the second request reused %s, a connection whose scope had ended", clients[0])
	}

	// A request in a scope that has already ended cannot connect.
	sc := sockets.NewScope(context.Background(), nil)
	sc.Close()
	tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(sockets.WithScope(context.Background(), sc), http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err == nil {
		resp.Body.Close()
		t.Fatal("request in an ended scope succeeded")
	}
	if !errors.Is(err, sockets.ErrClosed) {
		t.Fatalf("request in an ended scope: %v, want ErrClosed", err)
	}
}
