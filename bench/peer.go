//go:build unix

package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

// Peer modes of a child process (the value of fdSinkEnv).
const (
	peerHold     = "1"        // accept and hold every connection (the idle rows)
	peerFirst    = "first"    // write one byte, then close
	peerEcho1    = "echo1"    // read one byte, write it back, then close
	peerTLSFirst = "tlsfirst" // TLS handshake, write one byte, then close
	peerTLSHold  = "tlshold"  // TLS handshake, then hold the connection
)

// Environment of a peer child besides its mode.
const (
	peerPortsEnv = "OUTBOUND_BENCH_PORTS" // listeners to open (default 1)
	peerCertEnv  = "OUTBOUND_BENCH_CERT"  // PEM certificate and key of the TLS modes
)

// childPeer is the server side of workloads that keep their peer out of the
// bench's process, so that the peer's goroutines, heap and file table do not
// weigh on the side being measured. It listens on 127.0.0.1 (on several
// ports when asked, so that more connections than one port's ephemeral
// range can be open), prints its addresses on one line, serves by mode,
// answers each line read from stdin with the number of connections accepted
// (for the TLS modes: handshaken) so far, and exits at stdin's EOF.
func childPeer(mode string) error {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil && rl.Cur < rl.Max {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	var cfg *tls.Config
	if strings.HasPrefix(mode, "tls") {
		pemBytes := []byte(os.Getenv(peerCertEnv))
		cert, err := tls.X509KeyPair(pemBytes, pemBytes)
		if err != nil {
			return fmt.Errorf("%s: %w", peerCertEnv, err)
		}
		cfg = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	ports := 1
	if v := os.Getenv(peerPortsEnv); v != "" {
		var err error
		if ports, err = strconv.Atoi(v); err != nil || ports < 1 {
			return fmt.Errorf("%s=%q: want a positive number", peerPortsEnv, v)
		}
	}
	var (
		mu       sync.Mutex
		conns    []net.Conn
		last     error
		accepted atomic.Int64
	)
	hold := func(c net.Conn) {
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}
	serve := func(c net.Conn) {
		var b [1]byte
		switch mode {
		case peerHold:
			hold(c)
			accepted.Add(1)
			return
		case peerFirst:
			accepted.Add(1)
			c.Write([]byte{'!'})
		case peerEcho1:
			accepted.Add(1)
			if _, err := io.ReadFull(c, b[:]); err == nil {
				c.Write(b[:])
			}
		case peerTLSFirst, peerTLSHold:
			tc := tls.Server(c, cfg)
			if err := tc.Handshake(); err != nil {
				break
			}
			accepted.Add(1)
			if mode == peerTLSHold {
				hold(tc)
				return
			}
			tc.Write([]byte{'!'})
		}
		c.Close()
	}
	addrs := make([]string, ports)
	for i := range addrs {
		ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return err
		}
		addrs[i] = ln.Addr().String()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					mu.Lock()
					last = err
					mu.Unlock()
					return
				}
				if mode == peerHold {
					serve(c)
				} else {
					go serve(c)
				}
			}
		}()
	}
	fmt.Println(strings.Join(addrs, " "))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		mu.Lock()
		err := last
		mu.Unlock()
		if err != nil {
			return err
		}
		fmt.Println(accepted.Load())
	}
	return nil
}

// peerProc is a running peer child.
type peerProc struct {
	addrs []string
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Scanner
}

// startPeer starts a peer child in mode with ports listeners; cert, when
// not nil, is the TLS modes' certificate.
func startPeer(mode string, ports int, cert *tls.Certificate) (*peerProc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fdSinkEnv+"="+mode, peerPortsEnv+"="+strconv.Itoa(ports))
	if cert != nil {
		p, err := certPEM(cert)
		if err != nil {
			return nil, err
		}
		cmd.Env = append(cmd.Env, peerCertEnv+"="+p)
	}
	cmd.Stderr = os.Stderr
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &peerProc{cmd: cmd, in: w, out: bufio.NewScanner(r)}
	if !p.out.Scan() {
		p.stop()
		return nil, errors.New("the peer child did not start")
	}
	p.addrs = strings.Fields(p.out.Text())
	return p, nil
}

// addr is the peer's first address.
func (p *peerProc) addr() string { return p.addrs[0] }

// accepted reports how many connections the peer has accepted.
func (p *peerProc) accepted() (int, error) {
	if _, err := io.WriteString(p.in, "?\n"); err != nil {
		return 0, err
	}
	if !p.out.Scan() {
		return 0, errors.New("the peer child stopped")
	}
	return strconv.Atoi(p.out.Text())
}

func (p *peerProc) stop() {
	p.in.Close()
	p.cmd.Wait()
}

// certPEM encodes a certificate chain and its key as PEM.
func certPEM(c *tls.Certificate) (string, error) {
	var b strings.Builder
	for _, der := range c.Certificate {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		return "", err
	}
	pem.Encode(&b, &pem.Block{Type: "PRIVATE KEY", Bytes: key})
	return b.String(), nil
}

// peerCert issues a server certificate for 127.0.0.1 from ca.
func peerCert(ca *sockettest.CA) (*tls.Certificate, error) {
	c, err := ca.Issue(sockettest.CertOptions{})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// fdSinkEnv, when set, makes this program a peer child (see childPeer)
// instead of the bench; its value is the peer's mode.
const fdSinkEnv = "OUTBOUND_BENCH_FDSINK"
