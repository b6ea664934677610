// Package gopherdemo is the gopher example, run by `go run ./examples/gopher` and by
// the tour. It is the first example on the Cloudflare Workers "TCP sockets"
// page, in Go: an HTTP server whose handler opens a TCP socket to a Gopher
// server, sends the request's path, and streams the socket's readable side
// back as the HTTP response body.
//
//	go run ./examples/gopher                          # in-process Gopher server, HTTP on 127.0.0.1:8070
//	curl http://127.0.0.1:8070/                       # (in another terminal) the menu
//	curl http://127.0.0.1:8070/about                  # a text document
//	go run ./examples/gopher -gopher gopher.floodgap.com:70
//	go run ./examples/gopher -once /about             # fetch one page through the handler, print it, exit
//
// Gopher (RFC 1436) is about the simplest protocol there is on TCP: the
// client connects, sends a selector (a path) followed by CRLF, and the server
// answers with the document and closes the connection. A menu is a list of
// tab-separated lines (type and title, selector, host, port) ending with a
// line holding a single ".".
package gopherdemo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// run parses the flags and either serves HTTP until ctx ends or, with -once,
// fetches one page through the handler and prints it.
// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("gopher")
	gopherAddr := fs.String("gopher", "", "`host:port` of a real Gopher server, such as gopher.floodgap.com:70 (default: start an in-process one)")
	listen := fs.String("listen", "127.0.0.1:8070", "`address` the HTTP server listens on")
	once := fs.Bool("once", false, "fetch one page (the path argument, default /) through the handler, print it and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: gopher [-gopher host:port] [-listen address] [-once [path]]\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()
	path := "/"
	if fs.NArg() > 0 {
		path = fs.Arg(0)
	}

	if *gopherAddr == "" {
		srv, err := startGopherServer()
		if err != nil {
			return err
		}
		defer srv.Close()
		*gopherAddr = srv.Addr()
	}

	addr := *listen
	if *once {
		addr = "127.0.0.1:0" // any free port: nobody else will use it
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for HTTP on %s: %w (choose another address with -listen)", addr, err)
	}
	web := &http.Server{Handler: gopherHandler(*gopherAddr, fs.Options()), ReadHeaderTimeout: 10 * time.Second}
	go web.Serve(ln)
	defer web.Close()

	base := "http://" + ln.Addr().String()
	if *once {
		return fetch(ctx, base+path, stdout)
	}
	fmt.Fprintf(stdout, "serving %s/ ; each request is sent to the Gopher server at %s\n", base, *gopherAddr)
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return web.Shutdown(shutdown)
}

// gopherHandler is the Workers example's fetch handler. In JavaScript (from
// the Workers docs):
//
//	const socket = connect({ hostname: "gopher.floodgap.com", port: 70 });
//	const writer = socket.writable.getWriter();
//	await writer.write(new TextEncoder().encode(url.pathname + "\r\n"));
//	await writer.close();
//	return new Response(socket.readable, { headers: { "Content-Type": "text/plain" } });
//
// and on an exception: new Response("Socket connection failed: " + error, { status: 500 }).
func gopherHandler(gopherAddr string, opts *sockets.Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A selector is one line: refuse a path that would end it early
		// ("%0D%0A" in the URL) and smuggle a second request to the server.
		if strings.ContainsAny(r.URL.Path, "\r\n") {
			http.Error(w, "the path must not contain CR or LF", http.StatusBadRequest)
			return
		}

		// connect(address): returns at once, with the socket pending; the
		// TCP connect runs behind it. The request's context bounds the
		// connect attempt only. An error here is one known at once: a bad
		// address or a destination the egress policy refuses.
		socket, err := sockets.Connect(r.Context(), gopherAddr, opts)
		if err != nil {
			http.Error(w, "Socket connection failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		defer socket.Close()

		// writer.write(selector + "\r\n"): the whole Gopher request. The
		// write waits for the socket to open; if the connect fails, its
		// error comes back here, as the JavaScript write's promise rejects.
		writer := socket.Writable()
		if _, err := io.WriteString(writer, r.URL.Path+"\r\n"); err != nil {
			http.Error(w, "Socket connection failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		// writer.close(): send FIN. The request is complete; the socket can
		// still read, and closes itself once the server's reply has ended
		// (allowHalfOpen is false by default).
		if err := writer.Close(); err != nil {
			http.Error(w, "Socket connection failed: "+err.Error(), http.StatusInternalServerError)
			return
		}

		// new Response(socket.readable): copy the readable side into the
		// response as it arrives. Each piece is flushed at once, so the
		// reply streams through instead of being buffered whole.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if _, err := io.Copy(flushWriter{w, http.NewResponseController(w)}, socket.Readable()); err != nil {
			// The status line has gone out already. Aborting the response
			// makes the client see a broken body, not a complete page.
			panic(http.ErrAbortHandler)
		}
	})
}

// flushWriter flushes the HTTP response after every write.
type flushWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}

// fetch GETs url and prints the body; a status other than 200 is an error.
func fetch(ctx context.Context, url string, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		return fmt.Errorf("GET %s: reading the body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// startGopherServer starts the in-process Gopher server: a small menu and two
// text documents.
func startGopherServer() (*sockettest.Server, error) {
	return sockettest.NewServer(serveGopher)
}

// serveGopher answers one Gopher request: it reads the selector line, writes
// the document and returns (the server then closes the connection, which is
// how a Gopher reply ends).
func serveGopher(c net.Conn) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return
	}
	selector := strings.TrimRight(line, "\r\n")
	port := c.LocalAddr().(*net.TCPAddr).Port
	io.WriteString(c, gopherDocument(selector, port))
}

// gopherDocument returns the reply to selector. Menu lines link back to this
// server, at 127.0.0.1:port.
func gopherDocument(selector string, port int) string {
	link := func(kind byte, title, sel string) string {
		return fmt.Sprintf("%c%s\t%s\t127.0.0.1\t%d\r\n", kind, title, sel, port)
	}
	info := func(text string) string { return "i" + text + "\tfake\t(NULL)\t0\r\n" }
	switch selector {
	case "", "/":
		return info("Welcome to the outbound Gopher example.") +
			info("This menu came over a TCP socket opened with sockets.Connect.") +
			link('0', "About Gopher", "/about") +
			link('0', "About this server", "/server") +
			".\r\n"
	case "/about":
		return "Gopher is a protocol from 1991 (RFC 1436): send a selector and CRLF,\r\n" +
			"read the reply until the server closes the connection.\r\n" +
			".\r\n"
	case "/server":
		return "This server runs inside the example program, on 127.0.0.1.\r\n" +
			"Point the example at a real one with -gopher gopher.floodgap.com:70.\r\n" +
			".\r\n"
	}
	return fmt.Sprintf("3%q does not exist on this server\terror\terror.host\t1\r\n.\r\n", selector)
}
