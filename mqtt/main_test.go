package mqtt_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// inbox collects the messages a client receives.
type inbox struct {
	mu   sync.Mutex
	msgs []message
	cond chan struct{} // closed and replaced on every new message
}

func newInbox() *inbox { return &inbox{cond: make(chan struct{})} }

func (b *inbox) add(m message) {
	b.mu.Lock()
	b.msgs = append(b.msgs, m)
	close(b.cond)
	b.cond = make(chan struct{})
	b.mu.Unlock()
}

// wait returns the messages received so far once ok accepts them, or an
// error when ctx ends first.
func (b *inbox) wait(ctx context.Context, ok func([]message) bool) ([]message, error) {
	for {
		b.mu.Lock()
		msgs := append([]message(nil), b.msgs...)
		c := b.cond
		b.mu.Unlock()
		if ok(msgs) {
			return msgs, nil
		}
		select {
		case <-c:
		case <-ctx.Done():
			return msgs, fmt.Errorf("%w; %d messages received: %v", ctx.Err(), len(msgs), short(msgs))
		}
	}
}

// waitTopic waits for the first message on topic.
func (b *inbox) waitTopic(ctx context.Context, topic string) (message, error) {
	msgs, err := b.wait(ctx, func(ms []message) bool {
		for _, m := range ms {
			if m.Topic == topic {
				return true
			}
		}
		return false
	})
	if err != nil {
		return message{}, err
	}
	for _, m := range msgs {
		if m.Topic == topic {
			return m, nil
		}
	}
	return message{}, nil
}

func short(ms []message) []message {
	if len(ms) > 5 {
		return ms[len(ms)-5:]
	}
	return ms
}

func testContext(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
