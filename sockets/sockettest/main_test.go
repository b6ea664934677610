package sockettest_test

import (
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// dial connects to s and closes the connection when the test ends.
func dial(t *testing.T, s *sockettest.Server) *net.TCPConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return c.(*net.TCPConn)
}

// serve returns a function that fails the test if a constructor failed and
// closes the server when the test ends: s := serve(t)(sockettest.NewEcho()).
func serve(t *testing.T) func(*sockettest.Server, error) *sockettest.Server {
	return func(s *sockettest.Server, err error) *sockettest.Server {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

// waitDone waits for the first connection of s to finish and returns its errors.
func waitDone(t *testing.T, s *sockettest.Server) []error {
	t.Helper()
	select {
	case <-s.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("timed out waiting for Done")
	}
	return s.Errs()
}

// noErrs fails the test for every error s recorded.
func noErrs(t *testing.T, s *sockettest.Server) {
	t.Helper()
	for _, err := range s.Errs() {
		t.Errorf("server error: %v", err)
	}
}

func mustCA(t *testing.T) *sockettest.CA {
	t.Helper()
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	return ca
}
