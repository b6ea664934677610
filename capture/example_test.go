package capture_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"

	"github.com/outboundhq/outbound/capture"
	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// A socket's traffic, captured into a pcapng stream (here in memory; use
// capture.Create for a file, then tshark -r or Wireshark).
func Example() {
	srv, err := sockettest.NewEcho()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	var file bytes.Buffer
	c, err := capture.New(&file)
	if err != nil {
		log.Fatal(err)
	}
	s, err := sockets.Dial(context.Background(), srv.Addr(), &sockets.Options{Layers: []sockets.Layer{c}})
	if err != nil {
		log.Fatal(err)
	}
	s.Write([]byte("hello, wire"))
	io.ReadFull(s, make([]byte, 11))
	s.Close()
	c.Close()

	fmt.Println("pcapng:", bytes.HasPrefix(file.Bytes(), []byte{0x0a, 0x0d, 0x0d, 0x0a}))
	fmt.Println("the bytes, once each way:", bytes.Count(file.Bytes(), []byte("hello, wire")))
	// Output:
	// pcapng: true
	// the bytes, once each way: 2
}

// The -capture and -trace flags of a command.
func ExampleRegisterFlags() {
	fs := flag.NewFlagSet("mycommand", flag.ExitOnError)
	wire := capture.RegisterFlags(fs)
	fs.Parse(os.Args[1:])
	layers, err := wire.Layers()
	if err != nil {
		log.Fatal(err)
	}
	defer wire.Close() // finishes the capture file
	d := &dialers.Dialer{Options: &sockets.Options{Layers: layers}}
	_ = d // hand d to the adapters: every socket they open is captured
}

// TLS that a driver does over a plain socket (here net/http's) is
// decrypted too when the driver's tls.Config logs to the capture.
func ExampleCapture_KeyLogWriter() {
	c, err := capture.Create("http.pcapng")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	d := &dialers.Dialer{Options: &sockets.Options{Layers: []sockets.Layer{c}}}
	client := &http.Client{Transport: &http.Transport{
		DialContext:       d.DialContext,
		TLSClientConfig:   &tls.Config{KeyLogWriter: c.KeyLogWriter()},
		ForceAttemptHTTP2: true,
	}}
	_ = client // client.Get("https://example.com/") is captured, decrypted
}
