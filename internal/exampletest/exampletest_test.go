package exampletest

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestMatchLines(t *testing.T) {
	MatchLines(t, "connected to 127.0.0.1:22\nok\n", []string{`^connected to 127\.0\.0\.1:\d+$`, `^ok$`})
	inner := &testing.T{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		MatchLines(inner, "a\nb", []string{"^a$"})
	}()
	<-done
	if !inner.Failed() {
		t.Fatal("a line-count mismatch did not fail")
	}
}
