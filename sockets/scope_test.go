package sockets_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// arrivals is a server that records the first line each connection sends,
// in arrival order, and keeps connections open until the client closes.
type arrivals struct {
	srv  *sockettest.Server
	mu   sync.Mutex
	seen []string
	ch   chan string
}

func newArrivals(t *testing.T) *arrivals {
	a := &arrivals{ch: make(chan string, 100)}
	a.srv = serve(t)(sockettest.NewServer(func(c net.Conn) {
		buf := make([]byte, 64)
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		line := strings.TrimSpace(string(buf[:n]))
		a.mu.Lock()
		a.seen = append(a.seen, line)
		a.mu.Unlock()
		a.ch <- line
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}))
	return a
}

func (a *arrivals) next(t *testing.T) string {
	t.Helper()
	select {
	case s := <-a.ch:
		return s
	case <-time.After(10 * time.Second):
		t.Fatal("no connection arrived")
		return ""
	}
}

// mustConnect is sockets.Connect that fails the test on an error.
func mustConnect(t *testing.T, ctx context.Context, addr string, o *sockets.Options) *sockets.Socket {
	t.Helper()
	s, err := sockets.Connect(ctx, addr, o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func scopeState(t *testing.T, sc *sockets.Scope, open, waiting int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, w := sc.Open()
		if o == open && w == waiting {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("scope: %d open, %d waiting; want %d and %d", o, w, open, waiting)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestScopeLimitFIFO(t *testing.T) {
	srv := newArrivals(t)
	sc := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Name: "fifo"})
	defer sc.Close()
	if sc.Limit() != sockets.DefaultScopeLimit || sockets.DefaultScopeLimit != 6 {
		t.Fatalf("limit = %d", sc.Limit())
	}
	ctx := sockets.WithScope(ctxT(t), sc)
	var socks []*sockets.Socket
	for i := 1; i <= 9; i++ {
		s, err := sockets.Connect(ctx, srv.srv.Addr(), nil)
		if err != nil {
			t.Fatalf("Connect %d: %v (a Connect beyond the limit must return at once, pending)", i, err)
		}
		defer s.Close()
		socks = append(socks, s)
		// Each socket says who it is as soon as it opens.
		go s.Write([]byte(strconv.Itoa(i) + "\n"))
	}
	got := map[string]bool{}
	for i := 0; i < 6; i++ {
		got[srv.next(t)] = true
	}
	for i := 1; i <= 6; i++ {
		if !got[strconv.Itoa(i)] {
			t.Fatalf("the first six to connect were %v, want 1-6", got)
		}
	}
	scopeState(t, sc, 6, 3)
	// Each close lets the longest-waiting socket dial.
	for i, want := range []string{"7", "8", "9"} {
		socks[i].Close()
		if got := srv.next(t); got != want {
			t.Fatalf("after closing socket %d, socket %s connected; want %s (first come, first served)", i+1, got, want)
		}
	}
	scopeState(t, sc, 6, 0)
	if _, err := socks[8].Opened(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestScopeWaitBoundedByContext(t *testing.T) {
	srv := newArrivals(t)
	sc := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Limit: 1})
	defer sc.Close()
	first, err := sockets.Connect(sockets.WithScope(ctxT(t), sc), srv.srv.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	opened(t, first)
	ctx, cancel := context.WithTimeout(sockets.WithScope(context.Background(), sc), 50*time.Millisecond)
	defer cancel()
	s, err := sockets.Connect(ctx, srv.srv.Addr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Opened(ctxT(t))
	if !errors.Is(err, sockets.ErrLimit) || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "ScopeOptions.Limit") {
		t.Fatalf("Opened = %v, want ErrLimit wrapping the context's deadline", err)
	}
	waitClosed(t, s)
	scopeState(t, sc, 1, 0)
	// The slot is still usable once the first socket closes.
	first.Close()
	scopeState(t, sc, 0, 0)
	third := connect(t, srv.srv.Addr(), nil)
	_ = third
}

func TestScopeFailFast(t *testing.T) {
	srv := newArrivals(t)
	var m egress.Metrics
	p := newPolicy(t, egress.PolicyConfig{Metrics: &m})
	sc := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Limit: 2, FailFast: true, Name: "ff"})
	defer sc.Close()
	ctx := sockets.WithScope(ctxT(t), sc)
	o := &sockets.Options{Policy: p}
	a := mustConnect(t, ctx, srv.srv.Addr(), o)
	defer a.Close()
	b := mustConnect(t, ctx, srv.srv.Addr(), o)
	defer b.Close()
	_, err := sockets.Connect(ctx, srv.srv.Addr(), o)
	if !errors.Is(err, sockets.ErrLimit) || !strings.Contains(err.Error(), `scope "ff" already has 2 open sockets`) {
		t.Fatalf("third Connect = %v, want ErrLimit at once", err)
	}
	a.Close()
	c, err := sockets.Connect(ctx, srv.srv.Addr(), o)
	if err != nil {
		t.Fatalf("after a close: %v", err)
	}
	c.Close()
	if st := m.Stats(); st.Limited != 1 || st.Opened != 3 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestScopeCloseClosesEverySocket(t *testing.T) {
	srv := newArrivals(t)
	g := newGate()
	sc := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Limit: 2})
	ctx := sockets.WithScope(ctxT(t), sc)
	open1 := mustConnect(t, ctx, srv.srv.Addr(), nil)
	opened(t, open1)
	dialing := mustConnect(t, ctx, srv.srv.Addr(), &sockets.Options{Dial: g.dial})
	<-g.started
	waiting := mustConnect(t, ctx, srv.srv.Addr(), nil)
	scopeState(t, sc, 2, 1)
	sc.Close()
	for i, s := range []*sockets.Socket{open1, dialing, waiting} {
		select {
		case <-s.Closed():
		case <-time.After(10 * time.Second):
			t.Fatalf("socket %d not closed by Scope.Close", i)
		}
	}
	if _, err := open1.Write([]byte("x")); !isClosedErr(err) {
		t.Fatalf("write after Scope.Close = %v", err)
	}
	select {
	case <-sc.Done():
	default:
		t.Fatal("Done not closed")
	}
	scopeState(t, sc, 0, 0)
	_, err := sockets.Connect(ctx, srv.srv.Addr(), nil)
	if !errors.Is(err, sockets.ErrClosed) || !strings.Contains(err.Error(), "has ended") {
		t.Fatalf("Connect in a closed scope = %v, want ErrClosed", err)
	}
	if err := sc.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestScopeEndsWithContext(t *testing.T) {
	srv := newArrivals(t)
	ctx, cancel := context.WithCancel(context.Background())
	sc := sockets.NewScope(ctx, nil)
	s := mustConnect(t, sockets.WithScope(ctxT(t), sc), srv.srv.Addr(), nil)
	opened(t, s)
	cancel()
	waitClosed(t, s)
	<-sc.Done()
}

func TestScopeUnlimited(t *testing.T) {
	srv := newArrivals(t)
	sc := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Limit: -1})
	defer sc.Close()
	ctx := sockets.WithScope(ctxT(t), sc)
	for i := 0; i < 10; i++ {
		s := mustConnect(t, ctx, srv.srv.Addr(), nil)
		defer s.Close()
		opened(t, s)
	}
	scopeState(t, sc, 10, 0)
}

// TestScopeStartTLSKeepsSlot: the socket StartTLS returns takes over the
// old socket's slot, is closed by the scope, and counts once.
func TestScopeStartTLSKeepsSlot(t *testing.T) {
	ca := newCA(t)
	srv := starttlsServer(t, ca)
	other := newArrivals(t)
	var m egress.Metrics
	p := newPolicy(t, egress.PolicyConfig{Metrics: &m})
	sc := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Limit: 1})
	defer sc.Close()
	ctx := sockets.WithScope(ctxT(t), sc)
	s := mustConnect(t, ctx, srv.Addr(), &sockets.Options{Policy: p, SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: ca.ClientConfig()})
	defer s.Close()
	readN(t, s, 7)
	s.Write([]byte("STARTTLS\r\n"))
	readN(t, s, 4)
	ts, err := s.StartTLS(&sockets.StartTLSOptions{ExpectedServerHostname: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	opened(t, ts) // did not wait for a slot: it holds the old one
	waitClosed(t, s)
	scopeState(t, sc, 1, 0)
	if st := m.Stats(); st.Open != 1 || st.Opened != 1 {
		t.Fatalf("after StartTLS: %+v, want one connection", st)
	}
	ts.Write([]byte("PING\r\n"))
	if got := readN(t, ts, 6); got != "PONG\r\n" {
		t.Fatalf("got %q", got)
	}
	// The old socket ending did not free the slot: another Connect waits.
	w := mustConnect(t, ctx, other.srv.Addr(), &sockets.Options{Policy: p})
	defer w.Close()
	scopeState(t, sc, 1, 1)
	// Closing the scope closes the upgraded socket.
	sc.Close()
	waitClosed(t, ts)
	waitClosed(t, w)
	if st := m.Stats(); st.Open != 0 || st.Opened != 2 {
		t.Fatalf("after Scope.Close: %+v", st)
	}
}

// TestScopeConcurrent hammers one scope from many goroutines (run with -race).
func TestScopeConcurrent(t *testing.T) {
	srv := serve(t)(sockettest.NewEcho())
	sc := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Limit: 3})
	defer sc.Close()
	ctx := sockets.WithScope(ctxT(t), sc)
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := sockets.Connect(ctx, srv.Addr(), nil)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			if o, _ := sc.Open(); o > 3 {
				errs <- errors.New("more than 3 open")
			}
			if _, err := s.Write([]byte("x")); err != nil {
				errs <- err
				return
			}
			b := make([]byte, 1)
			if _, err := s.Read(b); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	scopeState(t, sc, 0, 0)
}

func TestScopeFromContext(t *testing.T) {
	if sockets.ScopeFrom(context.Background()) != nil {
		t.Fatal("scope from an empty context")
	}
	sc := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Name: "n"})
	defer sc.Close()
	type k struct{}
	ctx := context.WithValue(sockets.WithScope(context.Background(), sc), k{}, 1)
	if sockets.ScopeFrom(ctx) != sc || sc.Name() != "n" {
		t.Fatal("ScopeFrom does not find the scope through derived contexts")
	}
	var nilScope *sockets.Scope
	if nilScope.Name() != "" {
		t.Fatal("nil scope name")
	}
}

// A scope that ends while Connect is putting a socket in it must not race
// with the connect attempt being set up (run with -race).
func TestConnectScopeClosedDuringConnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for range 300 {
		sc := sockets.NewScope(context.Background(), nil)
		ctx := sockets.WithScope(context.Background(), sc)
		var wg sync.WaitGroup
		wg.Go(func() { sc.Close() })
		s, err := sockets.Connect(ctx, ln.Addr().String(), nil)
		wg.Wait()
		if err == nil {
			s.Opened(context.Background())
			s.Close()
			select {
			case <-s.Closed():
			case <-time.After(5 * time.Second):
				t.Fatal("a socket of an ended scope did not close")
			}
		}
	}
}
