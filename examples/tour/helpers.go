package main

import (
	"crypto/tls"
	"net"
	"net/http"
	"time"
)

// startHTTP serves handler on 127.0.0.1 and a free port, over TLS when cfg
// is not nil. It returns the server's base URL and a function that stops it.
func startHTTP(handler http.Handler, cfg *tls.Config) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	url = "http://" + ln.Addr().String()
	if cfg != nil {
		ln = tls.NewListener(ln, cfg)
		url = "https://" + ln.Addr().String()
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return url, func() { srv.Close() }, nil
}

// flushWriter flushes the HTTP response after every write, so that what is
// copied into it streams through.
type flushWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func newFlushWriter(w http.ResponseWriter) flushWriter {
	return flushWriter{w, http.NewResponseController(w)}
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}
