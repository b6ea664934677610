package capture_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/outboundhq/outbound/capture"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func serve(t *testing.T) func(*sockettest.Server, error) *sockettest.Server {
	return func(s *sockettest.Server, err error) *sockettest.Server {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func dial(t *testing.T, addr string, o *sockets.Options) *sockets.Socket {
	t.Helper()
	s, err := sockets.Dial(ctxT(t), addr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func readN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("read %d bytes: %v", n, err)
	}
	return string(b)
}

// onlyFlow returns the one flow in p.
func onlyFlow(t *testing.T, p *parsed) *tcpFlow {
	t.Helper()
	fs, err := flows(p.packets)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 {
		t.Fatalf("%d flows, want 1", len(fs))
	}
	for _, f := range fs {
		return f
	}
	return nil
}

// TestPlainLine: a line protocol's exact bytes, both ways, on one flow with
// the socket's real addresses, a handshake and a FIN.
func TestPlainLine(t *testing.T) {
	srv := serve(t)(sockettest.NewEcho())
	p := newPcap(t)
	s := dial(t, srv.Addr(), &sockets.Options{Layers: []sockets.Layer{p}})
	lines := []string{"HELLO outbound\r\n", "PING 1\r\n", strings.Repeat("x", 100000) + "\r\n"}
	for _, l := range lines {
		if _, err := s.Write([]byte(l)); err != nil {
			t.Fatal(err)
		}
		if got := readN(t, s, len(l)); got != l {
			t.Fatalf("echo: %q", got)
		}
	}
	local, remote := s.LocalAddr().String(), s.RemoteAddr().String()
	s.Close()
	f := onlyFlow(t, p.done(t))
	want := strings.Join(lines, "")
	if string(f.sent) != want || string(f.recvd) != want {
		t.Fatalf("flow carries %d bytes sent, %d received; want the %d bytes that crossed", len(f.sent), len(f.recvd), len(want))
	}
	if f.client.String() != local || f.server.String() != remote {
		t.Errorf("flow %v -> %v, socket %s -> %s", f.client, f.server, local, remote)
	}
	if f.end != "FIN" {
		t.Errorf("flow ended with %q, want FIN", f.end)
	}
	if pk := f.packets; !pk[0].has(fSYN) || !pk[1].has(fSYN|fACK) || pk[2].flags != fACK {
		t.Errorf("no three-way handshake: flags %#x %#x %#x", pk[0].flags, pk[1].flags, pk[2].flags)
	}
	for i := 1; i < len(f.packets); i++ {
		if f.packets[i].us < f.packets[i-1].us {
			t.Fatalf("packet %d is older than the one before", i+1)
		}
		if len(f.packets[i].payload) > 65495 {
			t.Fatalf("packet %d carries %d bytes", i+1, len(f.packets[i].payload))
		}
	}

	d := dissect(t, tshark(t), p.path, nil, "tcp.srcport", "tcp.payload")
	var sentHex strings.Builder
	for _, r := range d.rows {
		if r[0] == fmt.Sprint(f.client.Port()) {
			sentHex.WriteString(r[1])
		}
	}
	if sentHex.String() != fmt.Sprintf("%x", want) {
		t.Errorf("tshark shows %d hex digits client to server, want %d", sentHex.Len(), 2*len(want))
	}
}

// TestIPv6: an IPv6 socket gives an IPv6 flow.
func TestIPv6(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback here:", err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err == nil {
			io.Copy(c, c)
			c.Close()
		}
	}()
	p := newPcap(t)
	s := dial(t, l.Addr().String(), &sockets.Options{Layers: []sockets.Layer{p}})
	s.Write([]byte("six"))
	readN(t, s, 3)
	s.Close()
	f := onlyFlow(t, p.done(t))
	if !f.client.Addr().Is6() || f.server.String() != l.Addr().String() || string(f.sent) != "six" {
		t.Fatalf("flow %v -> %v sent %q", f.client, f.server, f.sent)
	}
	d := dissect(t, tshark(t), p.path, nil, "ipv6.src", "tcp.payload")
	if got := d.values(1); len(d.values(0)) != len(d.rows) || len(got) != 2 || got[0] != "736978" {
		t.Errorf("tshark: IPv6 sources %q, payloads %q", d.values(0), got)
	}
}

// TestConcurrentSockets: many sockets write one capture at once; every
// flow is whole.
func TestConcurrentSockets(t *testing.T) {
	srv := serve(t)(sockettest.NewEcho())
	p := newPcap(t)
	const n = 16
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			s, err := sockets.Dial(ctxT(t), srv.Addr(), &sockets.Options{Layers: []sockets.Layer{p}})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			msg := bytes.Repeat([]byte{byte('a' + i)}, 1000+i*997)
			for range 5 {
				if _, err := s.Write(msg); err != nil {
					errs <- err
					return
				}
				if _, err := io.ReadFull(s, make([]byte, len(msg))); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	fs, err := flows(p.done(t).packets)
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != n {
		t.Fatalf("%d flows, want %d", len(fs), n)
	}
	for _, f := range fs {
		if len(f.sent) == 0 || len(f.sent) != len(f.recvd) || f.end != "FIN" || len(f.sent) != 5*(len(f.sent)/5) {
			t.Errorf("flow %v: sent %d, received %d, end %q", f.client, len(f.sent), len(f.recvd), f.end)
		}
		if bytes.Count(f.sent, f.sent[:1]) != len(f.sent) {
			t.Errorf("flow %v mixes bytes of other sockets", f.client)
		}
	}
	d := dissect(t, tshark(t), p.path, nil, "tcp.stream")
	streams := map[string]bool{}
	for _, v := range d.values(0) {
		streams[v] = true
	}
	if len(streams) != n {
		t.Errorf("tshark sees %d TCP streams, want %d", len(streams), n)
	}
}

// TestReset: a peer that resets the connection mid-stream shows its RST.
func TestReset(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		io.ReadFull(c, make([]byte, 5))
		c.Write([]byte("half"))
		c.(*net.TCPConn).SetLinger(0) // close with RST
		c.Close()
	}()
	p := newPcap(t)
	s := dial(t, l.Addr().String(), &sockets.Options{Layers: []sockets.Layer{p}})
	s.Write([]byte("hello"))
	readN(t, s, 4)
	_, err = s.Read(make([]byte, 10))
	if err == nil {
		t.Fatalf("read after the peer's reset: %v", err)
	}
	<-done
	s.Close()
	f := onlyFlow(t, p.done(t))
	if f.end != "RST" || string(f.recvd) != "half" {
		t.Fatalf("flow ends with %q after %q, want the peer's RST after \"half\"", f.end, f.recvd)
	}
	last := f.packets[len(f.packets)-1]
	if !last.has(fRST) || last.src != f.server {
		t.Fatalf("last packet flags %#x from %v, want the server's RST", last.flags, last.src)
	}
	d := dissect(t, tshark(t), p.path, nil, "tcp.flags.reset", "tcp.srcport")
	if last := d.rows[len(d.rows)-1]; last[0] != "1" || last[1] != fmt.Sprint(f.server.Port()) {
		t.Errorf("tshark: the last packet is %q, want the server's RST", last)
	}
	if !strings.Contains(d.expert, "Connection reset (RST)") {
		t.Errorf("tshark's expert information shows no reset:\n%s", d.expert)
	}
}

// TestCloseWhileRunning: closing the capture while sockets still run
// drops their later traffic and never fails them.
func TestCloseWhileRunning(t *testing.T) {
	srv := serve(t)(sockettest.NewEcho())
	p := newPcap(t)
	var wg, started sync.WaitGroup
	started.Add(4)
	for range 4 {
		wg.Go(func() {
			var once sync.Once
			defer once.Do(started.Done)
			s, err := sockets.Dial(ctxT(t), srv.Addr(), &sockets.Options{Layers: []sockets.Layer{p}})
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			buf := make([]byte, 512)
			for i := range 200 {
				if i == 1 {
					once.Do(started.Done) // one round trip recorded
				}
				if _, err := s.Write(buf); err != nil {
					t.Error(err)
					return
				}
				if _, err := io.ReadFull(s, buf); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	started.Wait()
	parsed := p.done(t) // closes the capture mid-stream
	wg.Wait()
	if len(parsed.packets) == 0 {
		t.Fatal("nothing captured before Close")
	}
	// Sockets opened after Close still work and are not recorded.
	s := dial(t, srv.Addr(), &sockets.Options{Layers: []sockets.Layer{p}})
	s.Write([]byte("after"))
	if got := readN(t, s, 5); got != "after" {
		t.Fatal(got)
	}
	if _, err := p.KeyLogWriter().Write([]byte("CLIENT_RANDOM 00 00\n")); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// tlsLineServer upgrades after "STARTTLS" and echoes "PING" with "PONG"
// over TLS, or speaks TLS from the start.
func tlsLineServer(t *testing.T, ca *sockettest.CA, starttls bool) *sockettest.Server {
	cfg, err := ca.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	if !starttls {
		return serve(t)(sockettest.NewTLSScripted(cfg, sockettest.ExpectLine("PING"), sockettest.Send("PONG\r\n")))
	}
	// SMTP's greeting and STARTTLS reply, so that tshark (told the port
	// is SMTP's) follows the upgrade.
	return serve(t)(sockettest.NewScripted(
		sockettest.Send("220 localhost ESMTP\r\n"),
		sockettest.ExpectLine("STARTTLS"), sockettest.Send("220 2.0.0 go ahead\r\n"),
		sockettest.StartTLS(cfg), sockettest.ExpectLine("PING"), sockettest.Send("PONG\r\n")))
}

// TestStartTLSOneFlow: a StartTLS socket shows its plaintext, then TLS, on
// one flow, with the secrets in the file before the encrypted records.
func TestStartTLSOneFlow(t *testing.T) {
	for _, version := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		t.Run(tls.VersionName(version), func(t *testing.T) {
			ca, err := sockettest.NewCA()
			if err != nil {
				t.Fatal(err)
			}
			srv := tlsLineServer(t, ca, true)
			p := newPcap(t)
			cfg := ca.ClientConfig()
			cfg.MaxVersion = version
			s := dial(t, srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportStartTLS, TLSConfig: cfg, Layers: []sockets.Layer{p}})
			readN(t, s, 21)
			s.Write([]byte("STARTTLS\r\n"))
			readN(t, s, 20)
			ts, err := s.StartTLS(&sockets.StartTLSOptions{ExpectedServerHostname: "localhost"})
			if err != nil {
				t.Fatal(err)
			}
			defer ts.Close()
			ts.Write([]byte("PING\r\n"))
			if got := readN(t, ts, 6); got != "PONG\r\n" {
				t.Fatal(got)
			}
			ts.Close()
			if cfg.KeyLogWriter != nil {
				t.Fatal("the caller's tls.Config was modified")
			}
			parsed := p.done(t)
			f := onlyFlow(t, parsed)
			if !bytes.HasPrefix(f.sent, []byte("STARTTLS\r\n\x16\x03")) || !bytes.HasPrefix(f.recvd, []byte("220 localhost ESMTP\r\n220 2.0.0 go ahead\r\n\x16\x03")) {
				t.Fatalf("flow: sent %q..., received %q...", f.sent[:12], f.recvd[:6])
			}
			if bytes.Contains(f.sent, []byte("PING")) {
				t.Fatal("the plaintext after StartTLS is in the capture")
			}
			checkSecretsFirst(t, parsed)

			smtp := []string{"-d", fmt.Sprintf("tcp.port==%d,smtp", f.server.Port())}
			d := dissect(t, tshark(t), p.path, smtp, "tls.handshake.extensions_server_name", "smtp.req.command", "tls.record.content_type")
			if got := d.values(0); len(got) != 1 || got[0] != "localhost" {
				t.Errorf("tshark: ClientHello server names %q", got)
			}
			// Plaintext then TLS on one flow; decrypted, the command after
			// the upgrade (tshark shows SMTP commands' first four letters).
			if got := strings.Join(d.values(1), ","); got != "STAR,PING" {
				t.Errorf("tshark decodes the SMTP commands %q, want STAR(TTLS) then the decrypted PING", got)
			}
			if len(d.values(2)) == 0 {
				t.Error("tshark sees no TLS records")
			}
		})
	}
}

// checkSecretsFirst checks that a Decryption Secrets Block comes before the
// first packet after the ClientHello's.
func checkSecretsFirst(t *testing.T, p *parsed) {
	t.Helper()
	if !bytes.Contains(p.keylog, []byte("CLIENT_")) {
		t.Fatalf("no TLS secrets in the capture: %q", p.keylog)
	}
	hello := -1
	pi := 0
	for i, b := range p.order {
		if b != 'P' {
			continue
		}
		pk := p.packets[pi]
		pi++
		if len(pk.payload) > 5 && pk.payload[0] == 22 && pk.payload[5] == 1 {
			hello = i
			break
		}
	}
	if hello < 0 {
		t.Fatal("no ClientHello in the capture")
	}
	d := bytes.IndexByte(p.order, 'D')
	if d < 0 || d > hello {
		t.Fatalf("block order %s: the secrets come after the ClientHello at %d", p.order, hello)
	}
}

var _ = capture.New

// TestTLSFailureEndsWithRST: a socket whose TLS handshake fails (a server
// the client does not trust) ends its flow with an RST.
func TestTLSFailureEndsWithRST(t *testing.T) {
	ca, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := sockettest.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	srv := tlsLineServer(t, ca, false)
	p := newPcap(t)
	_, err = sockets.Dial(ctxT(t), srv.Addr(), &sockets.Options{SecureTransport: sockets.SecureTransportOn, TLSConfig: other.ClientConfig(), Layers: []sockets.Layer{p}})
	if err == nil {
		t.Fatal("the handshake with an untrusted server succeeded")
	}
	f := onlyFlow(t, p.done(t))
	if last := f.packets[len(f.packets)-1]; f.end != "RST" || last.src != f.client {
		t.Fatalf("flow ends with %q from %v, want this end's RST", f.end, last.src)
	}
	if !bytes.HasPrefix(f.sent, []byte{22, 3}) {
		t.Fatalf("flow sent %q, want the ClientHello", f.sent[:min(len(f.sent), 8)])
	}
}
