package capture_test

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/outboundhq/outbound/capture"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestFlags(t *testing.T) {
	srv := serve(t)(sockettest.NewEcho())
	file := filepath.Join(t.TempDir(), "wire.pcapng")
	for _, tc := range []struct {
		args         []string
		layers       int
		file, traced bool
		keylog       bool
	}{
		{nil, 0, false, false, false},
		{[]string{"-capture", file}, 1, true, false, true},
		{[]string{"-trace"}, 1, false, true, false},
		{[]string{"-capture", file, "-trace"}, 2, true, true, true},
	} {
		os.Remove(file)
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		wire := capture.RegisterFlags(fs)
		var trace syncBuffer
		wire.Stderr = &trace
		if err := fs.Parse(tc.args); err != nil {
			t.Fatal(err)
		}
		layers, err := wire.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if len(layers) != tc.layers || (wire.KeyLogWriter() != nil) != tc.keylog {
			t.Fatalf("%q: %d layers, key log %v", tc.args, len(layers), wire.KeyLogWriter() != nil)
		}
		again, _ := wire.Layers()
		if len(again) != len(layers) {
			t.Fatal("a second Layers call differs")
		}
		s := dial(t, srv.Addr(), &sockets.Options{Layers: layers})
		s.Write([]byte("flags"))
		readN(t, s, 5)
		s.Close()
		if err := wire.Close(); err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(file)
		if tc.file {
			p, err := parsePcapng(b)
			if err != nil || len(p.packets) == 0 {
				t.Fatalf("%q: capture file: %d packets, %v", tc.args, len(p.packets), err)
			}
		} else if len(b) != 0 {
			t.Fatalf("%q wrote a capture file", tc.args)
		}
		if got := strings.Contains(trace.String(), "> 5 bytes"); got != tc.traced {
			t.Fatalf("%q: trace %q", tc.args, trace.String())
		}
	}
}

func TestFlagsBadFile(t *testing.T) {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	wire := capture.RegisterFlags(fs)
	fs.Parse([]string{"-capture", filepath.Join(t.TempDir(), "no", "such", "dir.pcapng")})
	if _, err := wire.Layers(); err == nil || !strings.HasPrefix(err.Error(), "-capture: ") {
		t.Fatalf("Layers = %v, want an error naming -capture", err)
	}
}
