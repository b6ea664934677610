package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/outboundhq/outbound/sockets"
)

// demoPolicy shows the Workers rule that outbound keeps by default: port 25
// (SMTP) is refused, before anything is dialled, with an error that matches
// sockets.ErrDenied and says what to do instead.
func demoPolicy(ctx context.Context, e *env) error {
	s, err := sockets.Connect(ctx, "127.0.0.1:25", nil)
	if err == nil {
		s.Close()
		return errors.New("connecting to port 25 succeeded; it must be refused by default")
	}
	if !errors.Is(err, sockets.ErrDenied) {
		return fmt.Errorf("connecting to port 25 returned %v, want an error matching sockets.ErrDenied", err)
	}
	e.step("%v", err)
	return nil
}
