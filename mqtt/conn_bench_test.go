package mqtt_test

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/outboundhq/outbound/mqtt"
)

// BenchmarkPacketWrite writes a 3-piece packet (as paho.golang writes a small
// PUBLISH) through a Conn, and through a *net.TCPConn with one writev (what
// paho.golang does on a raw TCP connection).
func BenchmarkPacketWrite(b *testing.B) {
	pieces := [][]byte{make([]byte, 2), make([]byte, 20), make([]byte, 64)}
	for _, side := range []string{"raw", "outbound"} {
		b.Run(side, func(b *testing.B) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			done := make(chan struct{})
			go func() {
				defer close(done)
				c, err := l.Accept()
				if err != nil {
					return
				}
				io.Copy(io.Discard, c)
				c.Close()
			}()
			var c net.Conn
			if side == "raw" {
				c, err = net.Dial("tcp", l.Addr().String())
			} else {
				c, err = mqtt.Dial(context.Background(), mustURL(b, "mqtt://"+l.Addr().String()), nil)
			}
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(86)
			b.ResetTimer()
			for range b.N {
				bufs := net.Buffers(append([][]byte(nil), pieces...))
				if oc, ok := c.(*mqtt.Conn); ok {
					oc.Lock()
					_, err = bufs.WriteTo(oc)
					oc.Unlock()
				} else {
					_, err = bufs.WriteTo(c)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			c.Close()
			<-done
		})
	}
}
