package capture_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/outboundhq/outbound/capture"
	"github.com/outboundhq/outbound/sockets"
)

// scriptConn is a connection with no network behind it: writes go
// nowhere, reads return what the script says, and the addresses are made up.
type scriptConn struct {
	reads  [][]byte
	end    error // returned once reads run out
	local  net.Addr
	remote net.Addr
}

func (c *scriptConn) Read(b []byte) (int, error) {
	if len(c.reads) == 0 {
		return 0, c.end
	}
	n := copy(b, c.reads[0])
	c.reads[0] = c.reads[0][n:]
	if len(c.reads[0]) == 0 {
		c.reads = c.reads[1:]
	}
	return n, nil
}

func (c *scriptConn) Write(b []byte) (int, error)      { return len(b), nil }
func (c *scriptConn) Close() error                     { return nil }
func (c *scriptConn) LocalAddr() net.Addr              { return c.local }
func (c *scriptConn) RemoteAddr() net.Addr             { return c.remote }
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzCapture drives a captured connection with an arbitrary pattern of
// writes, reads, key log lines and endings, and checks that the file
// always parses, that its TCP is consistent, and that each direction
// carries exactly the bytes that crossed.
func FuzzCapture(f *testing.F) {
	f.Add([]byte("\x00\x05hello\x01\x03abc\x04"), false)
	f.Add([]byte("\x00\x02hi\x02\x10CLIENT_RANDOM 00\x05"), true)
	f.Add(append([]byte("\x00\x30\x16\x03\x01\x00\x2a\x01\x00\x00\x26\x03\x03"), bytes.Repeat([]byte{7}, 32)...), false)
	f.Add([]byte("\x03\xff\xff\x01\xff\xff\x06"), true)
	f.Fuzz(func(t *testing.T, script []byte, v6 bool) {
		var buf bytes.Buffer
		c, err := capture.New(&buf)
		if err != nil {
			t.Fatal(err)
		}
		local, remote := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 50000}, &net.TCPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 443}
		if v6 {
			local.IP, remote.IP = net.ParseIP("2001:db8::1"), net.ParseIP("2001:db8::2")
		}
		sc := &scriptConn{local: local, remote: remote, end: io.EOF}
		var sent, recvd []byte
		var ops []func(conn net.Conn)
		ending := 0
		for len(script) > 0 {
			op := script[0] % 7
			script = script[1:]
			n := 0
			if len(script) > 0 {
				n = int(script[0])
				script = script[1:]
			}
			take := func() []byte {
				m := min(n, len(script))
				b := script[:m]
				script = script[m:]
				return b
			}
			switch op {
			case 0: // a write
				b := take()
				sent = append(sent, b...)
				ops = append(ops, func(conn net.Conn) { conn.Write(b) })
			case 1: // a read of what the peer sent
				b := take()
				recvd = append(recvd, b...)
				sc.reads = append(sc.reads, append([]byte(nil), b...))
				ops = append(ops, func(conn net.Conn) { conn.Read(make([]byte, len(b))) })
			case 2: // a key log write
				b := take()
				ops = append(ops, func(net.Conn) { c.KeyLogWriter().Write(b) })
			case 3: // a big write, split into segments
				b := bytes.Repeat([]byte{byte(n)}, n*1024)
				sent = append(sent, b...)
				ops = append(ops, func(conn net.Conn) { conn.Write(b) })
			case 4: // the peer's EOF
				ending = 1
			case 5: // a reset
				ending = 2
			case 6: // a failure
				ending = 3
			}
			if ending != 0 {
				break
			}
		}
		switch ending {
		case 2:
			sc.end = syscall.ECONNRESET
		case 3:
			sc.end = errors.New("no route to host")
		}
		conn, err := c.Dial(context.Background(), sockets.Address{Hostname: "example.com", Port: 443},
			func(context.Context) (net.Conn, error) { return sc, nil })
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range ops {
			op(conn)
		}
		if ending != 0 {
			conn.Read(make([]byte, 1)) // the ending
		}
		conn.Close()
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		p, err := parsePcapng(buf.Bytes())
		if err != nil {
			t.Fatalf("the capture does not parse: %v", err)
		}
		fs, err := flows(p.packets)
		if err != nil {
			t.Fatalf("the capture's TCP is wrong: %v", err)
		}
		if len(fs) != 1 {
			t.Fatalf("%d flows", len(fs))
		}
		for _, fl := range fs {
			if !bytes.Equal(fl.sent, sent) || !bytes.Equal(fl.recvd, recvd) {
				t.Fatalf("flow carries %d/%d bytes, %d/%d crossed", len(fl.sent), len(fl.recvd), len(sent), len(recvd))
			}
			want := map[int]string{0: "FIN", 1: "FIN", 2: "RST", 3: "RST"}[ending]
			if fl.end != want {
				t.Fatalf("flow ends with %q, want %q", fl.end, want)
			}
			if fl.client.String() != local.String() || fl.server.String() != remote.String() {
				t.Fatalf("flow %v -> %v", fl.client, fl.server)
			}
		}
	})
}

// TestBulkWithTshark: a transfer of megabytes one way, split into
// segments and kept inside the receive window by pure ACKs, is clean for
// tshark.
func TestBulkWithTshark(t *testing.T) {
	bin := tshark(t)
	p := newPcap(t)
	local := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 50000}
	remote := &net.TCPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 7}
	sc := &scriptConn{local: local, remote: remote, end: io.EOF, reads: [][]byte{[]byte("pong"), bytes.Repeat([]byte("z"), 200000)}}
	conn, err := p.Dial(context.Background(), sockets.Address{Hostname: "10.0.0.2", Port: 7},
		func(context.Context) (net.Conn, error) { return sc, nil })
	if err != nil {
		t.Fatal(err)
	}
	conn.Write([]byte("ping"))
	conn.Read(make([]byte, 4))
	conn.Write(bytes.Repeat([]byte("y"), 3<<20)) // more than the receive window: pure ACKs keep it open
	io.Copy(io.Discard, conn)
	conn.Close()
	p.done(t)
	d := dissect(t, bin, p.path, nil, "tcp.len")
	if len(d.rows) < 60 {
		t.Fatalf("tshark shows %d packets", len(d.rows))
	}
}
