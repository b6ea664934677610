// Package httpgetdemo is the httpget example, run by `go run ./examples/httpget` and by
// the tour. It is the "Handle errors" example of the Cloudflare Workers
// "TCP sockets" page, in Go: an HTTP handler opens a TCP socket to a web
// server, waits for it to open, sends a raw HTTP/1.0 request and returns the
// socket's readable side, the server's raw reply, as its response. A failed
// connect becomes a 500 response carrying the error text.
//
//	go run ./examples/httpget                          # in-process web server, HTTP on 127.0.0.1:8080
//	curl http://127.0.0.1:8080/                        # (in another terminal) the raw reply
//	go run ./examples/httpget -target example.com:80
//	go run ./examples/httpget -once                    # fetch once through the handler, print it, exit
//	go run ./examples/httpget -once -target 127.0.0.1:1  # a refused connect: a 500 with the error
//
// HTTP/1.0 is the easiest way to speak HTTP by hand: send the request line,
// the headers and an empty line, then read until the server closes the
// connection, which is how an HTTP/1.0 reply without keep-alive ends.
package httpgetdemo

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/sockets"
)

// run parses the flags and either serves HTTP until ctx ends or, with -once,
// fetches one page through the handler and prints it.
// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("httpget")
	target := fs.String("target", "", "`host:port` of a real web server, such as example.com:80 (default: start an in-process one)")
	listen := fs.String("listen", "127.0.0.1:8080", "`address` this program's HTTP server listens on")
	once := fs.Bool("once", false, "fetch once through the handler, print the result and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()

	if *target == "" {
		srv, addr, err := startWebServer()
		if err != nil {
			return err
		}
		defer srv.Close()
		*target = addr
	}

	addr := *listen
	if *once {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for HTTP on %s: %w (choose another address with -listen)", addr, err)
	}
	web := &http.Server{Handler: httpGetHandler(*target, fs.Options()), ReadHeaderTimeout: 10 * time.Second}
	go web.Serve(ln)
	defer web.Close()

	base := "http://" + ln.Addr().String() + "/"
	if *once {
		return fetch(ctx, base, stdout)
	}
	fmt.Fprintf(stdout, "serving %s ; each request sends GET / to %s over a socket\n", base, *target)
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return web.Shutdown(shutdown)
}

// httpGetHandler is the Workers example's fetch handler. In JavaScript,
// after the Workers docs:
//
//	const socket = connect({ hostname: "example.com", port: 80 });
//	try {
//	  await socket.opened;
//	} catch (error) {
//	  return new Response(`Socket connection failed: ${error}`, { status: 500 });
//	}
//	const writer = socket.writable.getWriter();
//	await writer.write(new TextEncoder().encode("GET / HTTP/1.0\r\nHost: example.com\r\n\r\n"));
//	return new Response(socket.readable);
func httpGetHandler(target string, opts *sockets.Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// connect(address) returns at once, before the TCP connect is done;
		// its error is only for what is known at once (a bad address, a
		// denied destination).
		socket, err := sockets.Connect(r.Context(), target, opts)
		if err != nil {
			http.Error(w, "Socket connection failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		defer socket.Close()

		// await socket.opened: wait for the connection. A refused port, an
		// unknown host or a timeout is reported here. Opened's ctx bounds
		// only this wait.
		if _, err := socket.Opened(r.Context()); err != nil {
			http.Error(w, "Socket connection failed: "+err.Error(), http.StatusInternalServerError)
			return
		}

		// writer.write(...): the whole HTTP/1.0 request. Host is the address
		// as given (host:port is a valid Host header).
		if _, err := io.WriteString(socket, "GET / HTTP/1.0\r\nHost: "+target+"\r\n\r\n"); err != nil {
			http.Error(w, "Socket write failed: "+err.Error(), http.StatusInternalServerError)
			return
		}

		// new Response(socket.readable): the server's raw reply, status line
		// and headers included, streamed as this response's body until the
		// server closes the connection.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if _, err := io.Copy(flushWriter{w, http.NewResponseController(w)}, socket.Readable()); err != nil {
			// Headers are sent already: abort so the client sees a broken
			// body rather than a complete one.
			panic(http.ErrAbortHandler)
		}
	})
}

// flushWriter flushes the HTTP response after every write, so the reply
// streams through.
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

// fetch GETs url, prints the handler's status and body, and returns an error
// for a status other than 200.
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
	fmt.Fprintf(stdout, "the handler answered %s; its body:\n", resp.Status)
	if _, err := io.Copy(stdout, resp.Body); err != nil {
		return fmt.Errorf("GET %s: reading the body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// startWebServer starts the in-process web server the handler fetches from
// by default, on 127.0.0.1 and a free port.
func startWebServer() (*http.Server, string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			fmt.Fprintf(w, "Hello from the in-process web server: you asked for %s with %s.\n", r.URL.Path, r.Proto)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go srv.Serve(ln)
	return srv, ln.Addr().String(), nil
}
