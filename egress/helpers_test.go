package egress_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func serve(t *testing.T) func(s *sockettest.Server, err error) *sockettest.Server {
	return func(s *sockettest.Server, err error) *sockettest.Server {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func connect(t *testing.T, addr string, o *sockets.Options) *sockets.Socket {
	t.Helper()
	s, err := sockets.Connect(ctxT(t), addr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func opened(t *testing.T, s *sockets.Socket) sockets.SocketInfo {
	t.Helper()
	info, err := s.Opened(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func readN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return string(b)
}

// --- helpers ---------------------------------------------------------------

// logRecords is a slog.Handler that keeps every record's message and attributes.
type logRecords struct {
	mu   sync.Mutex
	recs []logRecord
}

type logRecord struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func (h *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecords) Handle(_ context.Context, r slog.Record) error {
	rec := logRecord{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	h.mu.Lock()
	h.recs = append(h.recs, rec)
	h.mu.Unlock()
	return nil
}
func (h *logRecords) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *logRecords) WithGroup(string) slog.Handler      { return h }

func (h *logRecords) all() []logRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.recs)
}

// resolverFunc is a Resolver the test controls.
type resolverFunc func(host string) ([]netip.Addr, error)

func (f resolverFunc) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	return f(host)
}

// resolveTo answers every name with addrs.
func resolveTo(addrs ...string) egress.Resolver {
	return resolverFunc(func(string) ([]netip.Addr, error) {
		out := make([]netip.Addr, len(addrs))
		for i, a := range addrs {
			out[i] = netip.MustParseAddr(a)
		}
		return out, nil
	})
}

func newPolicy(t testing.TB, cfg egress.PolicyConfig) *egress.Policy {
	t.Helper()
	p, err := egress.NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// denylist is the policy a deny-list user writes: default allow, internal
// classes denied. The bypass tests use it because under it a check that is
// missing lets the connection through (under PublicInternetOnly an
// unrecognised address would fall to the default deny by luck).
func denylist() egress.PolicyConfig {
	return egress.PolicyConfig{Rules: []egress.Rule{{
		Name:   "internal",
		Action: egress.Deny,
		Addrs:  []string{"loopback", "private", "link-local", "unspecified", "metadata", "cgnat"},
	}}}
}

// listener accepts connections on addr ("127.0.0.1:0") and counts them.
type listener struct {
	net.Listener
	accepted atomic.Int32
	wg       sync.WaitGroup
}

func listen(t *testing.T, addr string) *listener {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	ln := &listener{Listener: l}
	ln.wg.Add(1)
	go func() {
		defer ln.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			ln.accepted.Add(1)
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); ln.wg.Wait() })
	return ln
}

func (l *listener) port() string {
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

func isDenied(err error) bool { return errors.Is(err, sockets.ErrDenied) }

// openErr connects and returns the error of Connect or, failing that, Opened.
func openErr(t *testing.T, addr string, o *sockets.Options) error {
	t.Helper()
	s, err := sockets.Connect(ctxT(t), addr, o)
	if err != nil {
		return err
	}
	defer s.Close()
	_, err = s.Opened(ctxT(t))
	return err
}
