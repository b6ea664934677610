package mqttdemo

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"path/filepath"
	"regexp"
	"testing"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const transcript = `outbound socket opened to ADDR (secureTransport "SECURE")
subscriber (paho.mqtt.golang, MQTT 3.1.1) connected
subscribed to TOPIC at QoS 2
outbound socket opened to ADDR (secureTransport "SECURE")
publisher (autopaho, MQTT 5) connected
received "hello at QoS 0" at QoS 0
received "hello at QoS 1" at QoS 1
received "hello at QoS 2" at QoS 2
outbound socket to ADDR ended, error: <nil>
outbound socket to ADDR ended, error: <nil>
`

var (
	addrRE  = regexp.MustCompile(`(127\.0\.0\.1|localhost):\d+`)
	topicRE = regexp.MustCompile(`outbound/example/\d+`)
)

func normalize(s string) string {
	return topicRE.ReplaceAllString(addrRE.ReplaceAllString(s, "ADDR"), "TOPIC")
}

func want(secure sockets.SecureTransport) string {
	return regexp.MustCompile(`SECURE`).ReplaceAllString(transcript, string(secure))
}

func TestRun(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	scfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stop, err := startBroker(tls.NewListener(l, scfg))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := ca.WriteCertPEM(caFile); err != nil {
		t.Fatal(err)
	}
	other, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(t.TempDir(), "other.pem")
	if err := other.WriteCertPEM(otherFile); err != nil {
		t.Fatal(err)
	}
	mqtts := "mqtts://" + l.Addr().String()

	tests := []struct {
		name    string
		args    []string
		want    string
		wantErr func(error) bool
	}{
		{name: "in-process broker", args: nil, want: "started an in-process MQTT broker\n" + want(sockets.SecureTransportOff)},
		{name: "mqtts", args: []string{"-broker", mqtts, "-ca", caFile}, want: want(sockets.SecureTransportOn)},
		{name: "wrong CA", args: []string{"-broker", mqtts, "-ca", otherFile}, wantErr: func(err error) bool {
			var unknown x509.UnknownAuthorityError
			return errors.As(err, &unknown)
		}},
		{name: "denied", args: []string{"-broker", "mqtt://127.0.0.1:25"}, wantErr: func(err error) bool {
			return errors.Is(err, sockets.ErrDenied)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Run(context.Background(), tt.args, &out)
			if tt.wantErr != nil {
				if err == nil || !tt.wantErr(err) {
					t.Fatalf("run error = %v, want a different one\noutput:\n%s", err, out.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v\noutput:\n%s", err, out.String())
			}
			if got := normalize(out.String()); got != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestRunMosquitto(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_MQTT")
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"-broker", "mqtt://" + addr}, &out); err != nil {
		t.Fatalf("run: %v\noutput:\n%s", err, out.String())
	}
	if got, want := normalize(out.String()), want(sockets.SecureTransportOff); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}
