package sockettest_test

import (
	"fmt"
	"io"
	"log"
	"net"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

func ExampleNewEcho() {
	srv, err := sockettest.NewEcho()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "hello, half-open world"); err != nil {
		log.Fatal(err)
	}
	// Half-close: the server echoes what it read, then closes its side too.
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		log.Fatal(err)
	}
	reply, err := io.ReadAll(conn)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", reply)
	// Output: hello, half-open world
}
