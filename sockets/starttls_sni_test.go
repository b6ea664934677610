package sockets_test

import (
	"crypto/tls"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// sniServer is starttlsServer recording the server name of each ClientHello.
func sniServer(t *testing.T, ca *sockettest.CA) (*sockettest.Server, func() []string) {
	var mu sync.Mutex
	var names []string
	cfg := serverTLS(t, ca).Clone()
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		mu.Lock()
		names = append(names, h.ServerName)
		mu.Unlock()
		return nil, nil
	}
	srv := serve(t)(sockettest.NewScripted(
		sockettest.Send("HELLO\r\n"),
		sockettest.ExpectLine("STARTTLS"),
		sockettest.Send("GO\r\n"),
		sockettest.StartTLS(cfg), sockettest.ExpectLine("PING"), sockettest.Send("PONG\r\n")))
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), names...)
	}
}

func TestStartTLSNoServerName(t *testing.T) {
	ca := newCA(t)
	for _, tc := range []struct {
		name string
		opts sockets.StartTLSOptions
		sni  string
	}{
		{"default sends the connect hostname", sockets.StartTLSOptions{}, "localhost"},
		{"NoServerName sends none", sockets.StartTLSOptions{NoServerName: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, names := sniServer(t, ca)
			cfg := ca.ClientConfig()
			cfg.InsecureSkipVerify = true
			s := connect(t, "localhost:"+strings.Split(srv.Addr(), ":")[1], &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: cfg})
			readN(t, s, 7)
			s.Write([]byte("STARTTLS\r\n"))
			readN(t, s, 4)
			ts, err := s.StartTLS(&tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer ts.Close()
			opened(t, ts)
			ts.Write([]byte("PING\r\n"))
			if got := readN(t, ts, 6); got != "PONG\r\n" {
				t.Fatal(got)
			}
			<-srv.Done()
			if got := names(); len(got) != 1 || got[0] != tc.sni {
				t.Fatalf("server saw SNI %q, want [%q]", got, tc.sni)
			}
		})
	}
}

func TestStartTLSNoServerNameRefused(t *testing.T) {
	ca := newCA(t)
	insecure := ca.ClientConfig()
	insecure.InsecureSkipVerify = true
	named := insecure.Clone()
	named.ServerName = "db.example"
	for _, tc := range []struct {
		name string
		opts sockets.StartTLSOptions
		want string
	}{
		{"names still verified", sockets.StartTLSOptions{NoServerName: true, TLSConfig: ca.ClientConfig()}, "InsecureSkipVerify"},
		{"with ExpectedServerHostname", sockets.StartTLSOptions{NoServerName: true, TLSConfig: insecure, ExpectedServerHostname: "db.example"}, "no ExpectedServerHostname"},
		{"with TLSConfig.ServerName", sockets.StartTLSOptions{NoServerName: true, TLSConfig: named}, "TLSConfig.ServerName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := sniServer(t, ca)
			s := connect(t, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS})
			ts, err := s.StartTLS(&tc.opts)
			if ts != nil {
				ts.Close()
			}
			if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("StartTLS = %v; want ErrInvalidOptions naming %q", err, tc.want)
			}
			if s.Upgraded() {
				t.Fatal("a refused StartTLS upgraded the socket")
			}
			s.Close()
		})
	}
}
