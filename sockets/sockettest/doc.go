// Package sockettest provides in-process network peers for tests and for
// runnable example programs that exercise outbound's sockets: plain and TLS
// echo servers, a throwaway certificate authority, and a scripted peer that
// plays a fixed sequence of wire-level steps against every connection.
//
// Every server listens on 127.0.0.1 on a port chosen by the kernel. Nothing in
// this package takes a testing.TB: constructors return errors, so the same
// helpers work in an example's main function.
//
// A [Server] handles each accepted connection in its own goroutine and closes
// the connection when the handler returns. [Server.Close] stops the listener,
// closes connections that are still open and waits for every handler, so a
// closed Server leaves no goroutines behind. Failures seen by handlers, scripts
// and TLS handshakes are not fatal; they are recorded and returned by
// [Server.Errs] for the test to inspect.
//
// A typical scripted test:
//
//	srv, err := sockettest.NewScripted(
//		sockettest.Send("220 ready\r\n"),
//		sockettest.ExpectLine("QUIT"),
//		sockettest.Send("221 bye\r\n"),
//		sockettest.CloseConn(),
//	)
//	if err != nil {
//		t.Fatal(err)
//	}
//	defer srv.Close()
//	// ... connect to srv.Addr() and talk ...
//	<-srv.Done()
//	for _, err := range srv.Errs() {
//		t.Error(err)
//	}
package sockettest
