package imap

import (
	"bytes"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/outboundhq/outbound/sockets"
)

// guard is the plaintext connection under a go-imap client. It parses the
// commands the client writes (their first two tokens, skipping literals) so
// that it can
//
//   - refuse LOGIN and AUTHENTICATE while the connection is not TLS, unless
//     the caller allowed insecure auth: the command's line is dropped (what
//     an earlier Write sent of its first two tokens holds no credentials),
//     and a NO [PRIVACYREQUIRED] reply with the command's tag is handed to
//     go-imap as if the server had sent it, waking a Read blocked on the
//     connection with a past read deadline; the connection stays usable;
//   - watch a STARTTLS command: until TLS, Reads hand on at most one line
//     at a time, so nothing after the reply sits in go-imap's buffer; when
//     the reply is OK, bytes that came with it (a STARTTLS injection) make
//     the next Read, the TLS handshake's, fail with
//     sockets.ErrPlaintextInjection. After the upgrade the guard only passes
//     bytes through.
type guard struct {
	net.Conn
	addr   string
	authOK bool
	mu     sync.Mutex
	state  int
	tag    []byte // of the STARTTLS command awaiting its reply

	// Write-side parser.
	inBody  bool   // past the head of the current command line
	head    []byte // the current line's first bytes, up to the second space
	tail    []byte // the current line's last bytes, for a literal's "{N}"
	literal int64  // bytes of literal data still to skip
	drop    bool   // dropping the current (refused) command line

	// Replies generated for refused commands, handed on before what the
	// server sends; rdl is go-imap's read deadline, restored after a wake.
	synth  []byte
	waking bool
	rdl    time.Time

	// Read side, until TLS.
	rb       []byte // read, not yet looked at
	out      []byte // looked at, to hand on
	midLine  bool   // the next byte of rb is not at the start of a line
	injected int    // bytes that followed the OK reply
}

const (
	statePlain = iota
	stateAwaitTLS
	stateTLS
)

func newGuard(c net.Conn, addr string, authOK bool) *guard {
	return &guard{Conn: c, addr: addr, authOK: authOK}
}

func (g *guard) Write(p []byte) (int, error) {
	g.mu.Lock()
	if g.state == stateTLS {
		g.mu.Unlock()
		return g.Conn.Write(p)
	}
	send := g.scan(p)
	g.mu.Unlock()
	if len(send) == 0 {
		return len(p), nil
	}
	if _, err := g.Conn.Write(send); err != nil {
		return 0, err
	}
	return len(p), nil
}

// scan follows the command lines in p and returns the bytes of p to send:
// all of them but the lines of refused commands, for each of which it queues
// a NO reply. At a STARTTLS it switches to stateAwaitTLS.
func (g *guard) scan(p []byte) []byte {
	var out []byte
	cut := false // some of p is dropped
	keep := 0    // start of the bytes of p kept since the last drop
	if g.drop {
		cut = true
	}
	for i := 0; i < len(p); {
		if g.literal > 0 {
			n := int64(len(p) - i)
			if n > g.literal {
				n = g.literal
			}
			g.literal -= n
			i += int(n)
			continue
		}
		b := p[i]
		i++
		if !g.inBody {
			if b == '\r' || b == '\n' || len(g.head) >= 64 || (b == ' ' || b == '\t') && len(bytes.Fields(g.head)) >= 2 {
				if g.command() {
					// Drop the line from its start in p (what an earlier
					// Write sent of its head holds no credentials).
					start := max(i-len(g.head)-1, 0)
					out = append(out, p[keep:start]...)
					cut, g.drop = true, true
				}
				g.inBody = true
			} else {
				g.head = append(g.head, b)
				continue
			}
		}
		if b == '\n' {
			if g.endLine() && g.drop {
				g.drop = false
				keep = i
			}
			continue
		}
		if len(g.tail) == 24 {
			copy(g.tail, g.tail[1:])
			g.tail = g.tail[:23]
		}
		g.tail = append(g.tail, b)
	}
	if !cut {
		return p
	}
	if !g.drop {
		out = append(out, p[keep:]...)
	}
	return out
}

// command decides on the line whose head ("tag NAME") is complete; true
// means refuse it.
func (g *guard) command() bool {
	var tag, name []byte
	if f := bytes.Fields(g.head); len(f) >= 2 {
		tag, name = f[0], f[1]
	}
	switch {
	case bytes.EqualFold(name, []byte("LOGIN")), bytes.EqualFold(name, []byte("AUTHENTICATE")):
		if !g.authOK {
			cmd := string(bytes.ToUpper(name))
			g.synth = append(g.synth, tag...)
			g.synth = append(g.synth, " NO [PRIVACYREQUIRED] "+ErrInsecureAuth.Error()+": refused to send "+cmd+" over a connection that is not TLS; use DialTLS, DialStartTLS or DialSocketStartTLS, or set Options.AllowInsecureAuth\r\n"...)
			g.wake()
			return true
		}
	case bytes.EqualFold(name, []byte("STARTTLS")):
		g.state = stateAwaitTLS
		g.tag = append(append(g.tag[:0], tag...), ' ')
	}
	return false
}

// endLine ends a command line, or starts a literal when the line ends with
// "{N}" or "{N+}" (RFC 9051 and LITERAL+), after which the command goes on.
func (g *guard) endLine() bool {
	t := bytes.TrimSuffix(g.tail, []byte{'\r'})
	g.tail = g.tail[:0]
	if i := bytes.LastIndexByte(t, '{'); i >= 0 && len(t) > i+2 && t[len(t)-1] == '}' {
		num := t[i+1 : len(t)-1]
		plus := bytes.HasSuffix(num, []byte{'+'})
		if n, err := strconv.ParseInt(string(bytes.TrimSuffix(num, []byte{'+'})), 10, 64); err == nil && n >= 0 {
			// A synchronizing literal of a dropped command never comes:
			// the client waits for a "+" that its NO replaces.
			if !g.drop || plus {
				g.literal = n
			}
			if !g.drop {
				return false
			}
			if !plus {
				g.inBody, g.head = false, g.head[:0]
				return true
			}
			return false
		}
	}
	g.inBody = false
	g.head = g.head[:0]
	return true
}

func (g *guard) Read(p []byte) (int, error) {
	if len(g.out) > 0 {
		n := copy(p, g.out)
		g.out = g.out[n:]
		return n, nil
	}
	g.mu.Lock()
	state, injected := g.state, g.injected
	if len(g.synth) > 0 && !g.midLine {
		g.out = append(g.out[:0], g.synth...)
		g.synth = g.synth[:0]
		g.mu.Unlock()
		n := copy(p, g.out)
		g.out = g.out[n:]
		return n, nil
	}
	g.mu.Unlock()
	if state == stateTLS {
		if injected > 0 {
			g.Conn.Close()
			return 0, &Error{Op: "STARTTLS", Addr: g.addr, Err: errorf(sockets.ErrPlaintextInjection, "the server sent "+strconv.Itoa(injected)+" bytes after its OK reply to STARTTLS, before the TLS handshake; refusing them")}
		}
		return g.Conn.Read(p)
	}
	// Plaintext: hand on whole lines, so that a STARTTLS command's reply
	// is looked at before anything after it is handed on. (A STARTTLS
	// sent while this Read blocks is seen when its reply arrives.)
	for {
		if i := bytes.IndexByte(g.rb, '\n'); i >= 0 {
			g.out = append(g.out[:0], g.rb[:i+1]...)
			g.rb = append(g.rb[:0], g.rb[i+1:]...)
			line := g.out
			if !g.midLine {
				g.mu.Lock()
				await := g.state == stateAwaitTLS && bytes.HasPrefix(line, g.tag)
				g.mu.Unlock()
				if await {
					g.reply(line[len(g.tag):])
				}
			}
			g.midLine = false
			n := copy(p, g.out)
			g.out = g.out[n:]
			return n, nil
		}
		if len(g.rb) >= 32<<10 {
			// A long stretch without a line end (literal data): hand it
			// on; the line it is part of is no STARTTLS reply.
			g.midLine = true
			n := copy(p, g.rb)
			g.out = append(g.out[:0], g.rb[n:]...)
			g.rb = g.rb[:0]
			return n, nil
		}
		if cap(g.rb)-len(g.rb) < 512 {
			g.rb = append(make([]byte, 0, 2*cap(g.rb)+4096), g.rb...)
		}
		n, err := g.Conn.Read(g.rb[len(g.rb):cap(g.rb)])
		g.rb = g.rb[:len(g.rb)+n]
		if err != nil && n == 0 {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				g.mu.Lock()
				woken := g.waking
				if woken {
					g.waking = false
					g.Conn.SetReadDeadline(g.rdl)
				}
				g.mu.Unlock()
				if woken {
					return g.Read(p)
				}
			}
			if len(g.rb) > 0 {
				// A last line without its LF: hand it on; the next Read
				// gets the error.
				g.midLine = true
				n := copy(p, g.rb)
				g.out = append(g.out[:0], g.rb[n:]...)
				g.rb = g.rb[:0]
				return n, nil
			}
			return 0, err
		}
	}
}

// reply takes the STARTTLS command's tagged reply (after the tag).
func (g *guard) reply(status []byte) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(status) >= 2 && bytes.EqualFold(status[:2], []byte("OK")) {
		g.state = stateTLS
		g.injected = len(g.rb)
		g.rb = nil
		return
	}
	// NO or BAD: still plaintext; what follows is ordinary data.
	g.state = statePlain
	g.out = append(g.out, g.rb...)
	g.rb = g.rb[:0]
}

// wake interrupts a Read blocked on the connection so that it hands on the
// generated replies. Called with g.mu held.
func (g *guard) wake() {
	g.waking = true
	g.Conn.SetReadDeadline(time.Unix(1, 0))
}

// SetReadDeadline sets go-imap's read deadline, kept across wakes.
func (g *guard) SetReadDeadline(t time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.rdl = t
	if g.waking {
		return nil
	}
	return g.Conn.SetReadDeadline(t)
}

// SetDeadline sets both deadlines; the read one as SetReadDeadline does.
// They go to the connection in one call where they can: the runtime keeps
// one timer for equal read and write deadlines.
func (g *guard) SetDeadline(t time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.rdl = t
	if g.waking {
		return g.Conn.SetWriteDeadline(t)
	}
	return g.Conn.SetDeadline(t)
}
