package capture

import (
	"errors"
	"flag"
	"io"
	"os"
	"sync"

	"github.com/outboundhq/outbound/sockets"
)

// Flags are the command-line flags every example takes to show its wire:
// -capture FILE.pcapng and -trace. Register them with [RegisterFlags]
// before parsing, then add [Flags.Layers] to the socket options:
//
//	wire := capture.RegisterFlags(flag.CommandLine)
//	flag.Parse()
//	layers, err := wire.Layers()
//	if err != nil { ... }
//	defer wire.Close()
//	opts := &sockets.Options{Layers: layers}
type Flags struct {
	file  *string
	trace *bool

	// Stderr is where -trace writes; nil means os.Stderr.
	Stderr io.Writer

	mu     sync.Mutex
	opened bool
	cap    *Capture
	tr     *Trace
}

// RegisterFlags defines -capture and -trace on fs and returns them.
func RegisterFlags(fs *flag.FlagSet) *Flags {
	return &Flags{
		file:  fs.String("capture", "", "write every socket's traffic, TLS secrets included, to this pcapng `file` (open it with Wireshark, or tshark -r)"),
		trace: fs.Bool("trace", false, "print every socket's traffic (plaintext inside TLS) to standard error"),
	}
}

// Layers opens what the flags ask for, after the flags are parsed, and
// returns the Layers to add to [sockets.Options.Layers]: none when both
// flags are off. Later calls return the same Layers.
func (f *Flags) Layers() ([]sockets.Layer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.opened {
		f.opened = true
		if *f.file != "" {
			c, err := Create(*f.file)
			if err != nil {
				return nil, errors.New("-capture: " + err.Error())
			}
			f.cap = c
		}
		if *f.trace {
			w := f.Stderr
			if w == nil {
				w = os.Stderr
			}
			f.tr = NewTrace(w)
		}
	}
	var l []sockets.Layer
	if f.cap != nil {
		l = append(l, f.cap)
	}
	if f.tr != nil {
		l = append(l, f.tr)
	}
	return l, nil
}

// KeyLogWriter returns the capture's [Capture.KeyLogWriter], for the
// tls.Config of a driver that does TLS over a plain socket, or nil when
// -capture is off.
func (f *Flags) KeyLogWriter() io.Writer {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cap == nil {
		return nil
	}
	return f.cap.KeyLogWriter()
}

// Close finishes the capture file and stops the trace.
func (f *Flags) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var err error
	if f.cap != nil {
		err = f.cap.Close()
	}
	if f.tr != nil {
		f.tr.Close()
	}
	return err
}
