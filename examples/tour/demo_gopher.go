package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// demoGopher is examples/gopher, the Workers docs' first example: an HTTP
// handler connects to a Gopher server, writes the request path and CRLF, and
// returns the socket's readable side as the response body.
//
// The in-process Gopher server sends the first line of its menu and waits
// until the HTTP client has received it before sending the rest, so the demo
// passes only if the body streams through the handler.
func demoGopher(ctx context.Context, e *env) error {
	received := make(chan struct{}) // closed once the HTTP client has the first line
	selectors := make(chan string, 1)
	gopher, err := sockettest.NewServer(func(c net.Conn) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return
		}
		selectors <- line
		io.WriteString(c, "iWelcome to Gopher over outbound\tfake\t(NULL)\t0\r\n")
		select {
		case <-received:
		case <-time.After(5 * time.Second):
			return // the first line never reached the client: it was buffered
		}
		io.WriteString(c, "0About Gopher\t/about\t127.0.0.1\t70\r\n.\r\n")
	})
	if err != nil {
		return err
	}
	defer gopher.Close()

	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// connect(gopherAddr), writer.write(path + "\r\n"), writer.close()
		socket, err := sockets.Connect(r.Context(), gopher.Addr(), nil)
		if err != nil {
			http.Error(w, "Socket connection failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		defer socket.Close()
		writer := socket.Writable()
		if _, err := io.WriteString(writer, r.URL.Path+"\r\n"); err != nil {
			http.Error(w, "Socket connection failed: "+err.Error(), http.StatusInternalServerError)
			return
		}
		writer.Close()
		// new Response(socket.readable)
		w.Header().Set("Content-Type", "text/plain")
		if _, err := io.Copy(newFlushWriter(w), socket.Readable()); err != nil {
			panic(http.ErrAbortHandler)
		}
	})
	url, stop, err := startHTTP(handler, nil)
	if err != nil {
		return err
	}
	defer stop()

	e.step("GET %s/ through the handler to the Gopher server at %s", url, gopher.Addr())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/", nil)
	if err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("the handler answered %s: %s", resp.Status, body)
	}
	if got := <-selectors; got != "/\r\n" {
		return fmt.Errorf("the Gopher server received %q, want %q", got, "/\r\n")
	}
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString('\n')
	if err != nil {
		return fmt.Errorf("reading the first line of the menu: %w", err)
	}
	close(received)
	rest, err := io.ReadAll(br)
	if err != nil {
		return err
	}
	if !strings.HasPrefix(first, "iWelcome to Gopher over outbound\t") {
		return fmt.Errorf("the menu starts with %q", first)
	}
	if !strings.HasSuffix(string(rest), "\r\n.\r\n") {
		return fmt.Errorf("the reply stopped after its first line (%q): the handler buffered instead of streaming", first)
	}
	e.step("the first menu line arrived before the server sent the rest: the body streams")
	return nil
}
