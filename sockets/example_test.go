package sockets_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"strings"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// Connect returns at once; the first Write waits for the connection and is
// not lost. This is the Workers docs' first example, against an echo peer.
func ExampleConnect() {
	echo, _ := sockettest.NewEcho()
	defer echo.Close()

	s, err := sockets.Connect(context.Background(), echo.Addr(), nil)
	if err != nil {
		log.Fatal(err) // bad address, bad options, or denied by policy
	}
	defer s.Close()

	s.Write([]byte("hello from outbound\n"))
	line, err := bufio.NewReader(s).ReadString('\n')
	if err != nil {
		log.Fatal(err) // a failed connect surfaces here too
	}
	fmt.Print(line)
	// Output: hello from outbound
}

// Opened waits for the connection (and the TLS handshake with "on") and
// reports where the socket is connected; connect and certificate errors
// surface here.
func ExampleSocket_Opened() {
	ca, _ := sockettest.NewCA()
	cfg, _ := ca.ServerConfig()
	srv, _ := sockettest.NewTLSEcho(cfg)
	defer srv.Close()

	s, err := sockets.Connect(context.Background(), srv.Addr(), &sockets.Options{
		SecureTransport: sockets.SecureTransportOn,
		TLSConfig:       ca.ClientConfig(), // trust the test CA
	})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	info, err := s.Opened(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	state := s.ConnectionState()
	fmt.Println(info.RemoteAddress == srv.Addr(), state.HandshakeComplete)
	// Output: true true
}

// StartTLS upgrades a "starttls" socket once the protocol says so, as in the
// Workers docs' example. The old socket ends cleanly and must not be used.
func ExampleSocket_StartTLS() {
	ca, _ := sockettest.NewCA()
	cfg, _ := ca.ServerConfig()
	srv, _ := sockettest.NewScripted(
		sockettest.ExpectLine("STARTTLS"),
		sockettest.Send("GO\r\n"),
		sockettest.StartTLS(cfg),
		sockettest.ExpectLine("PING"),
		sockettest.Send("PONG\r\n"),
	)
	defer srv.Close()

	plain, err := sockets.Connect(context.Background(), srv.Addr(), &sockets.Options{
		SecureTransport: sockets.SecureTransportStartTLS,
		TLSConfig:       ca.ClientConfig(),
	})
	if err != nil {
		log.Fatal(err)
	}
	plain.Write([]byte("STARTTLS\r\n"))
	goAhead := make([]byte, 4) // read exactly the reply: nothing beyond it
	io.ReadFull(plain, goAhead)

	secure, err := plain.StartTLS(nil) // server name: the connect hostname
	if err != nil {
		log.Fatal(err)
	}
	defer secure.Close()
	secure.Write([]byte("PING\r\n"))
	reply, _ := bufio.NewReader(secure).ReadString('\n')
	fmt.Println(strings.TrimSpace(string(goAhead)), strings.TrimSpace(reply), plain.Upgraded(), plain.Err())
	// Output: GO PONG true <nil>
}

// With AllowHalfOpen the socket can keep writing after the peer has finished
// sending; it closes once both directions are done.
func ExampleOptions_allowHalfOpen() {
	srv, _ := sockettest.NewScripted(
		sockettest.Send("question?"),
		sockettest.CloseWrite(), // the peer is done sending
		sockettest.Expect("answer!"),
		sockettest.ExpectEOF(),
	)
	defer srv.Close()

	s, _ := sockets.Connect(context.Background(), srv.Addr(), &sockets.Options{AllowHalfOpen: true})
	q, _ := io.ReadAll(s) // reads until the peer's EOF
	s.Write([]byte("answer!"))
	s.CloseWrite() // both sides done: the socket closes cleanly
	<-s.Closed()
	fmt.Println(string(q), s.Err())
	// Output: question? <nil>
}

// A Scope closes every socket connected in it when it ends.
func ExampleNewScope() {
	srv, _ := sockettest.NewEcho()
	defer srv.Close()

	scope := sockets.NewScope(context.Background(), &sockets.ScopeOptions{Name: "job-1", Limit: 2})
	ctx := sockets.WithScope(context.Background(), scope)
	s, _ := sockets.Connect(ctx, srv.Addr(), nil)
	s.Opened(ctx)

	scope.Close()
	<-s.Closed()
	fmt.Println("closed with the scope:", s.Err() == nil)
	// Output:
	// closed with the scope: true
}
