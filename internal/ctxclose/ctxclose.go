// Package ctxclose ends a blocking client call when its context ends, by
// closing the connection under it: for clients (go-smtp, go-imap) that set
// their own deadlines on the connection, so a context cannot be mapped to
// deadlines.
package ctxclose

import (
	"context"
	"fmt"
	"io"
	"sync"
)

// Watch closes its connection when the context it watches ends. It costs
// no goroutine (context.AfterFunc). Its methods are safe for concurrent use.
type Watch struct {
	mu   sync.Mutex
	c    io.Closer
	stop func() bool
}

// New watches ctx, closing c when it ends.
func New(ctx context.Context, c io.Closer) *Watch {
	w := &Watch{c: c}
	w.stop = context.AfterFunc(ctx, func() {
		w.mu.Lock()
		c := w.c
		w.mu.Unlock()
		c.Close()
	})
	return w
}

// Set makes c the connection closed when ctx ends (after an upgrade).
func (w *Watch) Set(c io.Closer) {
	w.mu.Lock()
	w.c = c
	w.mu.Unlock()
}

// Stop stops watching. It reports false if ctx ended first (and so may
// have closed the connection).
func (w *Watch) Stop() bool { return w.stop() }

// Err returns err, naming ctx's cause too when ctx has ended (its closing
// the connection is then the likely cause of err).
func Err(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("%w (%w)", context.Cause(ctx), err)
}
