package mqtt_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/mqtt"
	"github.com/outboundhq/outbound/sockets"
)

// TestDialerRefused: a Dialer whose settings cannot apply to MQTT is
// refused before anything is dialled, with an error naming the fix.
func TestDialerRefused(t *testing.T) {
	var dials atomic.Int64
	dial := func(context.Context, string, string) (net.Conn, error) {
		dials.Add(1)
		return nil, errors.New("dialled")
	}
	cases := []struct {
		name string
		d    *dialers.Dialer
		hint string
	}{
		{"SecureTransport", &dialers.Dialer{Options: &sockets.Options{Dial: dial, SecureTransport: sockets.SecureTransportOn}}, "leave it empty"},
		{"AllowHalfOpen", &dialers.Dialer{Options: &sockets.Options{Dial: dial, AllowHalfOpen: true}}, "without AllowHalfOpen"},
		{"half-open both ways", &dialers.Dialer{NoHalfOpen: true, Options: &sockets.Options{Dial: dial, AllowHalfOpen: true}}, "drop one of them"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, broker := range []string{"mqtt://127.0.0.1:1883", "mqtts://127.0.0.1:8883"} {
				_, err := mqtt.Dial(context.Background(), mustURL(t, broker), &mqtt.Options{Dialer: tc.d})
				if !errors.Is(err, sockets.ErrInvalidOptions) || !strings.Contains(err.Error(), tc.hint) {
					t.Errorf("%s: Dial = %v; want ErrInvalidOptions naming %q", broker, err, tc.hint)
				}
			}
			if n := dials.Load(); n != 0 {
				t.Fatalf("dialled %d times", n)
			}
		})
	}
}
