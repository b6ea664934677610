package scopehttp_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/scopehttp"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func echo(t *testing.T) *sockettest.Server {
	t.Helper()
	srv, err := sockettest.NewEcho()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// TestMiddlewareClosesSockets: a handler that leaves its socket open (a
// leak) still has it closed when the request ends.
func TestMiddlewareClosesSockets(t *testing.T) {
	backend := echo(t)
	leaked := make(chan *sockets.Socket, 1)
	var scopeName string
	h := scopehttp.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sc := sockets.ScopeFrom(r.Context())
		if sc == nil {
			http.Error(w, "no scope", 500)
			return
		}
		scopeName = sc.Name()
		s, err := sockets.Connect(r.Context(), backend.Addr(), nil)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		if _, err := s.Write([]byte("ping")); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		b := make([]byte, 4)
		if _, err := io.ReadFull(s, b); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		leaked <- s // never closed by the handler
		w.Write(b)
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/fetch", nil))
	if rec.Code != 200 || rec.Body.String() != "ping" {
		t.Fatalf("response %d %q", rec.Code, rec.Body.String())
	}
	s := <-leaked
	select {
	case <-s.Closed():
	default:
		t.Fatal("the handler's socket is still open after the request")
	}
	if _, err := s.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after the request = %v", err)
	}
	if scopeName != "GET /fetch" {
		t.Fatalf("scope name %q", scopeName)
	}
}

// TestMiddlewareLimitAndRequireScope: with a policy that requires a scope,
// only code running inside a request may connect, and each request gets its
// own limit.
func TestMiddlewareLimitAndRequireScope(t *testing.T) {
	backend := echo(t)
	p, err := egress.NewPolicy(egress.PolicyConfig{RequireScope: true})
	if err != nil {
		t.Fatal(err)
	}
	opts := &sockets.Options{Policy: p}
	if _, err := sockets.Connect(context.Background(), backend.Addr(), opts); !errors.Is(err, sockets.ErrDenied) {
		t.Fatalf("Connect outside a request = %v, want ErrDenied", err)
	}
	h := scopehttp.WithOptions(&sockets.ScopeOptions{Limit: 2, FailFast: true})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var errs []string
		for i := 0; i < 3; i++ {
			s, err := sockets.Connect(r.Context(), backend.Addr(), opts)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			defer s.Close()
		}
		io.WriteString(w, strings.Join(errs, "\n"))
	}))
	srv := httptest.NewServer(h)
	defer srv.Close()
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ { // concurrent requests do not share a budget
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.Count(string(body), "connection limit reached") != 1 {
				t.Errorf("body %q, want exactly one ErrLimit (the third socket of the request)", body)
			}
		}()
	}
	wg.Wait()
	http.DefaultClient.CloseIdleConnections()
}

func ExampleMiddleware() {
	backend, _ := sockettest.NewEcho()
	defer backend.Close()
	policy, _ := egress.NewPolicy(egress.PolicyConfig{RequireScope: true})
	opts := &sockets.Options{Policy: policy}

	handler := scopehttp.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := sockets.Connect(r.Context(), backend.Addr(), opts)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		// No defer s.Close(): the request's scope closes it.
		s.Write([]byte("hello"))
		b := make([]byte, 5)
		io.ReadFull(s, b)
		w.Write(b)
	}))

	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	fmt.Println(rec.Body.String())

	_, err := sockets.Connect(context.Background(), backend.Addr(), opts)
	fmt.Println(errors.Is(err, sockets.ErrDenied))
	// Output:
	// hello
	// true
}
