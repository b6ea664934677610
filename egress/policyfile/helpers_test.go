package policyfile_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
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

func newPolicy(t testing.TB, cfg egress.PolicyConfig) *egress.Policy {
	t.Helper()
	p, err := egress.NewPolicy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
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
