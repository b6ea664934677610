package sockettest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// DefaultStepTimeout is the deadline each step of a script gets unless a
// [Timeout] step changes it.
const DefaultStepTimeout = 10 * time.Second

// NewScripted starts a plain TCP server that runs steps, in order, against
// every accepted connection. The first step that fails is recorded in
// [Server.Errs] (naming the connection, the step and what went wrong) and the
// rest of the script is skipped. When the script ends the connection is
// closed.
//
// Steps read only the bytes they need, never ahead, so a [StartTLS] step sees
// the client's handshake intact.
func NewScripted(steps ...Step) (*Server, error) {
	return newServer(nil, script(steps))
}

// NewTLSScripted is like [NewScripted] but completes a TLS handshake with
// configuration cfg before the script starts, so every step runs over TLS.
func NewTLSScripted(cfg *tls.Config, steps ...Step) (*Server, error) {
	if cfg == nil {
		return nil, errors.New("sockettest: NewTLSScripted: nil tls.Config")
	}
	return newServer(cfg, script(steps))
}

// scriptRun is the state of one connection running a script.
type scriptRun struct {
	ci      *connInfo
	conn    net.Conn // ci.raw, or a *tls.Conn over it
	timeout time.Duration
}

// errStop ends a script early without recording an error.
var errStop = errors.New("sockettest: script stopped")

func script(steps []Step) handlerFunc {
	steps = append([]Step(nil), steps...)
	return func(ci *connInfo, conn net.Conn) error {
		s := &scriptRun{ci: ci, conn: conn, timeout: DefaultStepTimeout}
		defer func() { s.conn.Close() }()
		for i, st := range steps {
			err := s.run(st)
			if err == errStop {
				return nil
			}
			if err != nil {
				return fmt.Errorf("sockettest: %s: step %d %s: %w", connName(ci), i+1, st.String(), err)
			}
		}
		return nil
	}
}

// run executes one step under the script's current step deadline.
func (s *scriptRun) run(st Step) error {
	if st.run == nil {
		return errors.New("zero Step (use the constructors such as Send and Expect)")
	}
	if s.timeout > 0 {
		s.conn.SetDeadline(time.Now().Add(s.timeout))
	} else {
		s.conn.SetDeadline(time.Time{})
	}
	err := st.run(s)
	if err != nil && err != errStop {
		switch {
		case isClosed(s.ci):
			err = fmt.Errorf("%w (interrupted by Server.Close)", err)
		case errors.Is(err, os.ErrDeadlineExceeded):
			err = fmt.Errorf("%w (step deadline of %v exceeded)", err, s.timeout)
		}
	}
	return err
}
