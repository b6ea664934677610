package halfopendemo

import (
	"bytes"
	"context"
	"testing"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/internal/exampletest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), nil, &out); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	exampletest.MatchLines(t, out.String(), []string{
		`^allowHalfOpen false: the peer's EOF closed the socket; a later write fails with ErrClosed$`,
		`^allowHalfOpen true: wrote after the peer's EOF; the socket closed once both sides were done$`,
		`^CloseWrite on our side: the echo still came back in full, then EOF$`,
	})
}

func TestRunRefusesArguments(t *testing.T) {
	if err := Run(context.Background(), []string{"-nonsense"}, new(bytes.Buffer)); err == nil {
		t.Fatal("Run accepted an unknown flag")
	}
}
