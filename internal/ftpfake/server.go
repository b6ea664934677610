package ftpfake

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a small FTP server (RFC 959, with RFC 4217 AUTH TLS and RFC 2428
// EPSV): one user, files kept in memory, passive mode only. It requires TLS
// on the control connection before login and on the data connections (PROT
// P), as a careful real server is configured to. Its methods are safe for
// concurrent use; one Server serves any number of connections, which share
// its files.
type Server struct {
	tls            *tls.Config
	user, password string

	mu    sync.Mutex
	files map[string][]byte
}

// MaxFile is the largest file the server stores, in bytes; a larger STOR
// fails with 426.
const MaxFile = 64 << 20

// New returns a server that lets user in with password, and does TLS (on
// the control connection after AUTH TLS, and on every data connection) with
// cfg, which must hold a certificate. Passive data ports are opened on
// 127.0.0.1. cfg is not modified.
func New(cfg *tls.Config, user, password string) *Server {
	return &Server{tls: cfg, user: user, password: password, files: map[string][]byte{}}
}

// ftpSession is one control connection.
type ftpSession struct {
	s        *Server
	conn     net.Conn
	r        *bufio.Reader
	secure   bool
	user     string
	loggedIn bool
	protP    bool
	passive  net.Listener
}

// Serve runs one control connection until QUIT, EOF or a minute without a
// command, and returns; it does not close c. It fits
// sockettest.NewServer:
//
//	srv, err := sockettest.NewServer(ftpfake.New(cfg, "alice", "secret").Serve)
func (s *Server) Serve(c net.Conn) {
	sess := &ftpSession{s: s, conn: c, r: bufio.NewReader(c)}
	defer sess.closePassive()
	sess.reply(220, "outbound example FTP server ready")
	for {
		c.SetReadDeadline(time.Now().Add(time.Minute))
		line, err := sess.r.ReadString('\n')
		if err != nil {
			return
		}
		cmd, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		if !sess.handle(strings.ToUpper(cmd), arg) {
			return
		}
	}
}

func (sess *ftpSession) reply(code int, text string) {
	sess.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(sess.conn, "%d %s\r\n", code, text)
}

// handle runs one command; false ends the session.
func (sess *ftpSession) handle(cmd, arg string) bool {
	switch cmd {
	case "AUTH":
		if !strings.EqualFold(arg, "TLS") || sess.secure {
			sess.reply(504, "AUTH TLS only, once")
			return true
		}
		if sess.r.Buffered() > 0 { // plaintext sent after AUTH: an injection attempt
			sess.reply(421, "data after AUTH TLS")
			return false
		}
		sess.reply(234, "Proceed with negotiation.")
		tc := tls.Server(sess.conn, sess.s.tls)
		tc.SetDeadline(time.Now().Add(10 * time.Second))
		if err := tc.Handshake(); err != nil {
			return false
		}
		tc.SetDeadline(time.Time{})
		sess.conn, sess.r, sess.secure = tc, bufio.NewReader(tc), true
	case "USER":
		if !sess.secure {
			sess.reply(530, "Use AUTH TLS before USER.")
			return true
		}
		sess.user, sess.loggedIn = arg, false
		sess.reply(331, "Please specify the password.")
	case "PASS":
		if sess.user == "" || sess.user != sess.s.user || arg != sess.s.password {
			sess.reply(530, "Login incorrect.")
			return true
		}
		sess.loggedIn = true
		sess.reply(230, "Login successful.")
	case "FEAT":
		fmt.Fprintf(sess.conn, "211-Features:\r\n AUTH TLS\r\n EPSV\r\n PASV\r\n PBSZ\r\n PROT\r\n SIZE\r\n UTF8\r\n211 End\r\n")
	case "QUIT":
		sess.reply(221, "Goodbye.")
		return false
	case "NOOP":
		sess.reply(200, "NOOP ok.")
	default:
		if !sess.loggedIn {
			sess.reply(530, "Please login with USER and PASS.")
			return true
		}
		sess.loggedInCommand(cmd, arg)
	}
	return true
}

func (sess *ftpSession) loggedInCommand(cmd, arg string) {
	switch cmd {
	case "TYPE", "OPTS":
		sess.reply(200, "OK.")
	case "PBSZ":
		sess.reply(200, "PBSZ set to 0.")
	case "PROT":
		switch strings.ToUpper(arg) {
		case "P":
			sess.protP = true
			sess.reply(200, "PROT now Private.")
		default:
			sess.reply(536, "Only PROT P: data connections must use TLS.")
		}
	case "PWD":
		sess.reply(257, `"/" is the current directory`)
	case "EPSV", "PASV":
		sess.closePassive()
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			sess.reply(425, "Cannot open a passive port.")
			return
		}
		sess.passive = l
		port := l.Addr().(*net.TCPAddr).Port
		if cmd == "EPSV" {
			sess.reply(229, fmt.Sprintf("Entering Extended Passive Mode (|||%d|)", port))
		} else {
			sess.reply(227, fmt.Sprintf("Entering Passive Mode (127,0,0,1,%d,%d).", port/256, port%256))
		}
	case "SIZE":
		sess.s.mu.Lock()
		b, ok := sess.s.files[arg]
		sess.s.mu.Unlock()
		if !ok {
			sess.reply(550, "Could not get file size.")
			return
		}
		sess.reply(213, strconv.Itoa(len(b)))
	case "DELE":
		sess.s.mu.Lock()
		_, ok := sess.s.files[arg]
		delete(sess.s.files, arg)
		sess.s.mu.Unlock()
		if !ok {
			sess.reply(550, "Delete operation failed.")
			return
		}
		sess.reply(250, "Delete operation successful.")
	case "STOR":
		sess.transfer(arg, true)
	case "RETR":
		sess.s.mu.Lock()
		_, ok := sess.s.files[arg]
		sess.s.mu.Unlock()
		if !ok {
			sess.reply(550, "Failed to open file.")
			sess.closePassive()
			return
		}
		sess.transfer(arg, false)
	default:
		sess.reply(502, "Command not implemented.")
	}
}

// transfer accepts the data connection opened after EPSV or PASV and
// receives (STOR) or sends (RETR) the file over TLS.
func (sess *ftpSession) transfer(name string, store bool) {
	if sess.passive == nil {
		sess.reply(425, "Use EPSV or PASV first.")
		return
	}
	if !sess.protP {
		sess.reply(521, "Data connections must be protected: send PBSZ 0 and PROT P.")
		sess.closePassive()
		return
	}
	sess.reply(150, "Ok to send data.")
	l := sess.passive.(*net.TCPListener)
	l.SetDeadline(time.Now().Add(10 * time.Second))
	raw, err := l.Accept()
	sess.closePassive()
	if err != nil {
		sess.reply(425, "Failed to establish connection.")
		return
	}
	data := tls.Server(raw, sess.s.tls)
	defer data.Close()
	data.SetDeadline(time.Now().Add(time.Minute))
	if store {
		b, err := io.ReadAll(io.LimitReader(data, MaxFile+1))
		if err != nil || len(b) > MaxFile {
			sess.reply(426, "Failure reading network stream.")
			return
		}
		sess.s.mu.Lock()
		sess.s.files[name] = b
		sess.s.mu.Unlock()
	} else {
		sess.s.mu.Lock()
		b := sess.s.files[name]
		sess.s.mu.Unlock()
		if _, err := data.Write(b); err != nil {
			sess.reply(426, "Failure writing network stream.")
			return
		}
		if err := data.CloseWrite(); err != nil { // close_notify: the end of the file
			sess.reply(426, "Failure writing network stream.")
			return
		}
		// Wait for the client's end, so the file is not cut by a reset.
		io.Copy(io.Discard, io.LimitReader(data, 1<<16))
	}
	sess.reply(226, "Transfer complete.")
}

func (sess *ftpSession) closePassive() {
	if sess.passive != nil {
		sess.passive.Close()
		sess.passive = nil
	}
}
