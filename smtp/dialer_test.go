package smtp_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/smtp"
	"github.com/outboundhq/outbound/smtp/smtptest"
	"github.com/outboundhq/outbound/sockets"
)

// TestDialerTLSRoots: the Dialer's Options.TLSConfig gives the roots when
// Options.TLSConfig is nil, so one Dialer with a private CA serves SMTP as
// it serves net/http; Options.TLSConfig, when set, replaces it.
func TestDialerTLSRoots(t *testing.T) {
	for _, d := range dials {
		t.Run(d.name, func(t *testing.T) {
			srv, opts := tlsServer(t, d.sec, smtptest.Options{})
			dl := &dialers.Dialer{Options: &sockets.Options{TLSConfig: opts.TLSConfig}}
			c, err := d.dial(context.Background(), srv.Addr(), &smtp.Options{Dialer: dl})
			if err != nil {
				t.Fatalf("with the Dialer's roots: %v", err)
			}
			c.Close()
			other := mustCA(t)
			_, err = d.dial(context.Background(), srv.Addr(), &smtp.Options{Dialer: dl, TLSConfig: other.ClientConfig()})
			if err == nil || !strings.Contains(err.Error(), "certificate") {
				t.Fatalf("Options.TLSConfig of another CA = %v; want a certificate error", err)
			}
		})
	}
}

// TestDialerRefused: a Dialer whose settings cannot apply fails every Dial
// function and SendMail before any connection, naming the fix.
func TestDialerRefused(t *testing.T) {
	cases := []struct {
		name string
		d    *dialers.Dialer
		hint string
	}{
		{"SecureTransport", &dialers.Dialer{Options: &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS}}, "leave it empty"},
		{"half-open both ways", &dialers.Dialer{NoHalfOpen: true, Options: &sockets.Options{AllowHalfOpen: true}}, "drop one of them"},
	}
	all := append(dials[:len(dials):len(dials)], struct {
		name string
		sec  smtp.Security
		dial dialFunc
	}{"Dial", smtp.SecurityPlaintext, smtp.Dial})
	for _, tc := range cases {
		for _, d := range all {
			t.Run(tc.name+"/"+d.name, func(t *testing.T) {
				o := &smtp.Options{Dialer: tc.d, AllowPlaintext: true, TLSConfig: &tls.Config{}}
				_, err := d.dial(context.Background(), "127.0.0.1:1", o)
				if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.hint) || errors.Is(err, errConnRefused) {
					t.Fatalf("err = %v; want ErrInvalidOptions naming %q, before any dial", err, tc.hint)
				}
				o.Security = d.sec
				err = smtp.SendMail(context.Background(), "127.0.0.1:1", nil, "a@example.com", []string{"b@example.com"}, strings.NewReader("x\r\n"), o)
				if !errors.Is(err, sockets.ErrInvalidOptions) || errors.Is(err, errConnRefused) {
					t.Fatalf("SendMail: err = %v; want ErrInvalidOptions before any dial", err)
				}
			})
		}
	}
}
