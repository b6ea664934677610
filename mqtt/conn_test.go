package mqtt_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/mqtt"
	"github.com/outboundhq/outbound/sockets"
)

// recordingConn records the writes the socket makes to the transport, and
// fails them with failWith when it is set.
type recordingConn struct {
	net.Conn
	mu       sync.Mutex
	writes   [][]byte
	failWith error
}

func (r *recordingConn) Write(b []byte) (int, error) {
	r.mu.Lock()
	r.writes = append(r.writes, bytes.Clone(b))
	err := r.failWith
	r.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return r.Conn.Write(b)
}

func (r *recordingConn) recorded() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.writes...)
}

// dialRecorded returns a Conn to a fresh listener whose transport records
// its writes, and the server's end.
func dialRecorded(t *testing.T) (*mqtt.Conn, *recordingConn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var rec *recordingConn
	o := &mqtt.Options{Dialer: &dialers.Dialer{Options: &sockets.Options{Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		rec = &recordingConn{Conn: c}
		return rec, nil
	}}}}
	c, err := mqtt.Dial(testContext(t, 5*time.Second), mustURL(t, "mqtt://"+l.Addr().String()), o)
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.Accept()
	if err != nil {
		c.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); p.Close() })
	return c, rec, p
}

// TestConnGathersPackets checks that the writes of one packet (between Lock
// and Unlock) reach the transport as one write, in order.
func TestConnGathersPackets(t *testing.T) {
	big := bytes.Repeat([]byte{'x'}, 70<<10)
	cases := []struct {
		name   string
		locked bool
		pieces [][]byte
		writes []int // lengths of the transport writes
	}{
		{"locked", true, [][]byte{[]byte("\x30\x0d"), []byte("\x00\x05topic"), []byte("payload")}, []int{2 + 7 + 7}},
		{"unlocked", false, [][]byte{[]byte("ab"), []byte("cd")}, []int{2, 2}},
		{"locked, large piece", true, [][]byte{[]byte("head"), big, []byte("tail")}, []int{4, len(big), 4}},
		{"locked, empty", true, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, rec, peer := dialRecorded(t)
			var want []byte
			if tc.locked {
				c.Lock()
			}
			for _, p := range tc.pieces {
				n, err := c.Write(p)
				if err != nil || n != len(p) {
					t.Fatalf("Write: %d, %v", n, err)
				}
				want = append(want, p...)
			}
			if tc.locked {
				c.Unlock()
			}
			var got []int
			for _, w := range rec.recorded() {
				got = append(got, len(w))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.writes) {
				t.Errorf("transport writes of %v bytes, want %v", got, tc.writes)
			}
			buf := make([]byte, len(want))
			peer.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.ReadFull(peer, buf); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf, want) {
				t.Errorf("peer read %d bytes that differ from the %d written", len(buf), len(want))
			}
		})
	}
}

// TestConnGatheredWriteFails checks what happens when a gathered write fails:
// the next Write returns the error and the socket ends with it.
func TestConnGatheredWriteFails(t *testing.T) {
	c, rec, _ := dialRecorded(t)
	rec.mu.Lock()
	rec.failWith = &net.OpError{Op: "write", Net: "tcp", Err: syscall.EPIPE}
	rec.mu.Unlock()
	c.Lock()
	if _, err := c.Write([]byte("packet")); err != nil {
		t.Fatalf("gathered Write: %v", err)
	}
	c.Unlock()
	if _, err := c.Write([]byte("next")); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("next Write error %v, want EPIPE", err)
	}
	c.Lock()
	if _, err := c.Write([]byte("next packet")); !errors.Is(err, syscall.EPIPE) {
		t.Errorf("next gathered Write error %v, want EPIPE", err)
	}
	c.Unlock()
	select {
	case <-c.Socket().Closed():
		if !errors.Is(c.Socket().Err(), syscall.EPIPE) {
			t.Errorf("socket Err %v, want EPIPE", c.Socket().Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the socket did not close after a failed write")
	}
}

// TestConnPacketsDoNotInterleave writes packets from several goroutines, as
// paho.golang does, and checks that each arrives whole.
func TestConnPacketsDoNotInterleave(t *testing.T) {
	c, _, peer := dialRecorded(t)
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				rec := fmt.Sprintf("[%d:%03d]", w, i)
				c.Lock()
				// Three pieces per packet, as paho.golang writes them.
				c.Write([]byte(rec[:1]))
				c.Write([]byte(rec[1 : len(rec)-1]))
				c.Write([]byte(rec[len(rec)-1:]))
				c.Unlock()
			}
		}()
	}
	total := writers * each * len("[0:000]")
	buf := make([]byte, total)
	peer.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(peer, buf); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	next := make([]int, writers)
	for i := 0; i < total; i += 7 {
		var w, n int
		if _, err := fmt.Sscanf(string(buf[i:i+7]), "[%d:%03d]", &w, &n); err != nil {
			t.Fatalf("record at %d is %q: packets interleaved", i, buf[i:i+7])
		}
		if n != next[w] {
			t.Fatalf("writer %d: record %d after %d", w, n, next[w]-1)
		}
		next[w]++
	}
}
