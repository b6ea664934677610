package faults_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/faults"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// The injector rides in the one dialer: every driver given d feels the
// rules, and rules change while connections are open.
func ExampleInjector() {
	srv, _ := sockettest.NewEcho()
	defer srv.Close()

	in := faults.New(nil)
	d := &dialers.Dialer{Options: &sockets.Options{Layers: []sockets.Layer{in}}}
	in.Add(faults.Rule{Name: "short", Match: faults.Match{Port: int(srv.Port())},
		Toxic: faults.LimitData{Bytes: 5}})

	c, err := d.DialContext(context.Background(), "tcp", srv.Addr())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	c.Write([]byte("hello, world"))
	got, err := io.ReadAll(c)
	fmt.Printf("%q %v\n", got, err)

	// A reset: the next read fails as after a peer's RST.
	in.Add(faults.Rule{Name: "short", Toxic: faults.ResetPeer{}}) // replaces the rule
	c2, _ := d.DialContext(context.Background(), "tcp", srv.Addr())
	defer c2.Close()
	_, err = c2.Read(make([]byte, 1))
	fmt.Println(errors.Is(err, syscall.ECONNRESET))
	// Output:
	// "hello" <nil>
	// true
}

// A blackholed connect hangs until the dial's context ends, as a dropped
// SYN does.
func ExampleBlackhole() {
	in := faults.New(nil)
	in.Add(faults.Rule{Name: "down", Match: faults.Match{Host: "db.internal"}, Toxic: faults.Blackhole{}})
	d := &dialers.Dialer{Options: &sockets.Options{Layers: []sockets.Layer{in},
		// Resolve nothing: the example's name exists only here.
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return nil, errors.New("unreachable")
		}}}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := d.DialContext(ctx, "tcp", "db.internal:5432")
	var ne interface{ Timeout() bool }
	fmt.Println(errors.As(err, &ne) && ne.Timeout())
	// Output: true
}
