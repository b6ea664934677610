package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/outboundhq/outbound/sockets"
)

// demoHTTPGet is examples/httpget, the Workers docs' "Handle errors"
// example: the handler waits for socket.opened, sends a raw
// "GET / HTTP/1.0" and returns the raw reply; a failed connect becomes a
// 500 carrying the error. It runs against an in-process web server, then
// against a port nothing listens on.
func demoHTTPGet(ctx context.Context, e *env) error {
	web, stopWeb, err := startHTTP(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello over %s\n", r.Proto)
	}), nil)
	if err != nil {
		return err
	}
	defer stopWeb()
	refused, err := refusedAddr()
	if err != nil {
		return err
	}

	handler := func(target string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			socket, err := sockets.Connect(r.Context(), target, nil)
			if err != nil {
				http.Error(w, "Socket connection failed: "+err.Error(), http.StatusInternalServerError)
				return
			}
			defer socket.Close()
			// await socket.opened
			if _, err := socket.Opened(r.Context()); err != nil {
				http.Error(w, "Socket connection failed: "+err.Error(), http.StatusInternalServerError)
				return
			}
			io.WriteString(socket, "GET / HTTP/1.0\r\nHost: "+target+"\r\n\r\n")
			if _, err := io.Copy(newFlushWriter(w), socket.Readable()); err != nil {
				panic(http.ErrAbortHandler)
			}
		})
	}

	for _, c := range []struct {
		target     string
		wantStatus int
		wantBody   string
	}{
		{strings.TrimPrefix(web, "http://"), http.StatusOK, "HTTP/1.0 200 OK\r\n"},
		{refused, http.StatusInternalServerError, "Socket connection failed: sockets: connect " + refused},
	} {
		url, stop, err := startHTTP(handler(c.target), nil)
		if err != nil {
			return err
		}
		status, body, err := get(ctx, url)
		stop()
		if err != nil {
			return err
		}
		if status != c.wantStatus || !strings.HasPrefix(body, c.wantBody) {
			return fmt.Errorf("GET through the handler to %s: %d %q, want %d and a body starting %q", c.target, status, body, c.wantStatus, c.wantBody)
		}
		e.step("target %s: %d, %s", c.target, status, firstLine(body))
	}
	return nil
}

// get fetches url without keeping the connection.
func get(ctx context.Context, url string) (status int, body string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// refusedAddr returns a 127.0.0.1 address nothing listens on.
func refusedAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(line)
}
