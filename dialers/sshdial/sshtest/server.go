package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

// Options configure a Server. A nil *Options is a server that accepts no one.
type Options struct {
	// AuthorizedKeys maps a user name to the public keys it may log in with.
	AuthorizedKeys map[string][]ssh.PublicKey
	// Passwords maps a user name to its password.
	Passwords map[string]string
}

// Server is a running in-process SSH server. Its methods are safe for
// concurrent use.
type Server struct {
	tcp     *sockettest.Server
	hostKey ssh.Signer
	config  *ssh.ServerConfig
	files   sftp.Handlers

	mu       sync.Mutex
	commands []string
	errs     []error
}

// NewServer starts a server on 127.0.0.1 with a new ed25519 host key.
// opts is copied.
func NewServer(opts *Options) (*Server, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, err
	}
	keys := map[string][]ssh.PublicKey{}
	passwords := map[string]string{}
	if opts != nil {
		for u, k := range opts.AuthorizedKeys {
			keys[u] = append([]ssh.PublicKey(nil), k...)
		}
		for u, p := range opts.Passwords {
			passwords[u] = p
		}
	}
	s := &Server{hostKey: signer, files: sftp.InMemHandler()}
	s.config = &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			for _, k := range keys[meta.User()] {
				if subtle.ConstantTimeCompare(k.Marshal(), key.Marshal()) == 1 {
					return nil, nil
				}
			}
			return nil, fmt.Errorf("sshtest: key %s not authorized for user %q", ssh.FingerprintSHA256(key), meta.User())
		},
		PasswordCallback: func(meta ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			want, ok := passwords[meta.User()]
			if ok && subtle.ConstantTimeCompare([]byte(want), password) == 1 {
				return nil, nil
			}
			return nil, fmt.Errorf("sshtest: wrong password for user %q", meta.User())
		},
	}
	s.config.AddHostKey(signer)
	s.tcp, err = sockettest.NewServer(s.serve)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Addr returns the address the server listens on, as "127.0.0.1:port".
func (s *Server) Addr() string { return s.tcp.Addr() }

// HostKey returns the server's public host key, for ssh.FixedHostKey or a
// known_hosts line (see [Server.KnownHostsLine]).
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// KnownHostsLine returns the server's known_hosts line ("[127.0.0.1]:port
// ssh-ed25519 ..."), for clients that read a known_hosts file.
func (s *Server) KnownHostsLine() string {
	return "[" + s.tcp.Host() + "]:" + strconv.Itoa(int(s.tcp.Port())) + " " +
		strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey())))
}

// Commands returns the exec requests the server has run, as "user: command",
// in the order they arrived.
func (s *Server) Commands() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.commands...)
}

// Errs returns the failures the server saw: refused logins, broken
// sessions. A client that authenticates and closes cleanly leaves none.
func (s *Server) Errs() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(append([]error(nil), s.errs...), s.tcp.Errs()...)
}

// Close stops the server, closes every connection and waits for their
// goroutines. It is safe to call more than once.
func (s *Server) Close() error { return s.tcp.Close() }

func (s *Server) fail(err error) {
	s.mu.Lock()
	s.errs = append(s.errs, err)
	s.mu.Unlock()
}

// serve runs one SSH connection; it returns when the connection is closed
// and every channel's goroutine has finished.
func (s *Server) serve(c net.Conn) {
	conn, chans, reqs, err := ssh.NewServerConn(c, s.config)
	if err != nil {
		s.fail(fmt.Errorf("sshtest: handshake with %s: %w", c.RemoteAddr(), err))
		return
	}
	defer conn.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { ssh.DiscardRequests(reqs) })
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(ssh.UnknownChannelType, "sshtest serves session channels only")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			s.fail(err)
			continue
		}
		wg.Go(func() { s.session(&wg, conn.User(), ch, chReqs) })
	}
}

// session answers a session channel's requests: one "exec" or "subsystem
// sftp"; everything else is refused. Goroutines it starts join wg.
func (s *Server) session(wg *sync.WaitGroup, user string, ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		switch req.Type {
		case "exec":
			var p struct{ Command string }
			if err := ssh.Unmarshal(req.Payload, &p); err != nil {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			s.mu.Lock()
			s.commands = append(s.commands, user+": "+p.Command)
			s.mu.Unlock()
			status := s.run(user, p.Command, ch)
			ch.CloseWrite()
			ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{status}))
			wg.Go(func() { ssh.DiscardRequests(reqs) })
			return
		case "subsystem":
			var p struct{ Name string }
			if ssh.Unmarshal(req.Payload, &p) != nil || p.Name != "sftp" {
				req.Reply(false, nil)
				continue
			}
			req.Reply(true, nil)
			wg.Go(func() { ssh.DiscardRequests(reqs) })
			srv := sftp.NewRequestServer(ch, s.files)
			if err := srv.Serve(); err != nil && !errors.Is(err, io.EOF) {
				s.fail(fmt.Errorf("sshtest: sftp session of %q: %w", user, err))
			}
			srv.Close()
			return
		default:
			req.Reply(false, nil)
		}
	}
}

// run runs a built-in command and returns its exit status.
func (s *Server) run(user, command string, ch ssh.Channel) uint32 {
	args := strings.Fields(command)
	if len(args) == 0 {
		fmt.Fprintln(ch.Stderr(), "sshtest: no shell; run a command")
		return 127
	}
	switch args[0] {
	case "echo":
		fmt.Fprintln(ch, strings.Join(args[1:], " "))
	case "whoami":
		fmt.Fprintln(ch, user)
	case "sha256sum":
		h := sha256.New()
		if _, err := io.Copy(h, ch); err != nil {
			fmt.Fprintln(ch.Stderr(), "sha256sum:", err)
			return 1
		}
		fmt.Fprintf(ch, "%s  -\n", hex.EncodeToString(h.Sum(nil)))
	case "exit":
		n, err := strconv.ParseUint(strings.Join(args[1:], ""), 10, 8)
		if err != nil {
			fmt.Fprintln(ch.Stderr(), "exit: want a number from 0 to 255")
			return 2
		}
		return uint32(n)
	default:
		fmt.Fprintf(ch.Stderr(), "sshtest: %s: command not found (built-ins: echo, whoami, sha256sum, exit)\n", args[0])
		return 127
	}
	return 0
}
