package ctxclose_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/outboundhq/outbound/internal/ctxclose"
)

type closer struct{ n atomic.Int32 }

func (c *closer) Close() error { c.n.Add(1); return nil }

func TestWatch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	a, b := &closer{}, &closer{}
	w := ctxclose.New(ctx, a)
	w.Set(b)
	cancel()
	if w.Stop() {
		t.Fatal("Stop after the context ended reported true")
	}
	// The close runs in context.AfterFunc's goroutine: wait for it.
	for deadline := time.Now().Add(5 * time.Second); b.n.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if a.n.Load() != 0 || b.n.Load() != 1 {
		t.Fatalf("closed a %d times, b %d times; want 0 and 1 (the connection Set last)", a.n.Load(), b.n.Load())
	}
	if err := ctxclose.Err(ctx, io.EOF); !errors.Is(err, context.Canceled) || !errors.Is(err, io.EOF) {
		t.Fatalf("Err = %v, want both the context's cause and the error", err)
	}

	c := &closer{}
	w = ctxclose.New(context.Background(), c)
	if !w.Stop() || c.n.Load() != 0 {
		t.Fatal("a stopped watch of a live context closed its connection")
	}
	if err := ctxclose.Err(context.Background(), io.EOF); err != io.EOF {
		t.Fatalf("Err with a live context = %v, want the error itself", err)
	}
}
