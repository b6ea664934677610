package pg

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/sockets"
)

// sslRequestCode is the SSLRequest message's protocol code (1234 << 16 | 5679).
const sslRequestCode = 80877103

// sslRequest is the whole SSLRequest message: length 8, then the code.
var sslRequest = [8]byte{0, 0, 0, 8, sslRequestCode >> 24, sslRequestCode >> 16 & 0xff, sslRequestCode >> 8 & 0xff, sslRequestCode & 0xff}

// socketTLS is the dial function of Options.SocketTLS: the socket does TLS,
// pgx sees a connection that is already secure (or plaintext by choice).
type socketTLS struct {
	dialer  *dialers.Dialer
	direct  bool               // sslnegotiation=direct
	targets map[string]*target // by "host:port" as pgx dials it
	first   *target            // for an address pgx did not get from the configuration
	peers   sync.Map           // remote "ip:port" → *target, for CancelRequest
	entries []*pgconn.FallbackConfig
}

// target is one host of the configuration with the TLS that its sslmode asks for.
type target struct {
	host string
	tls  *tls.Config // nil: plaintext, no SSLRequest (sslmode=disable)
	// optional: plaintext is acceptable when TLS is not to be had (allow, prefer).
	optional bool
}

func newSocketTLS(cfg *pgconn.Config, d *dialers.Dialer) (*socketTLS, error) {
	if cfg.ChannelBinding == "require" {
		return nil, errorf("channel_binding=require needs pgx's own TLS (pgx takes the binding from its *tls.Conn); leave Options.SocketTLS false, or use channel_binding=prefer")
	}
	if cfg.SSLCertMode == "require" {
		return nil, errorf("sslcertmode=require needs pgx's own TLS (pgx checks the certificate exchange in its handshake); leave Options.SocketTLS false")
	}
	st := &socketTLS{dialer: d, direct: cfg.SSLNegotiation == "direct", targets: map[string]*target{}}
	all := append([]*pgconn.FallbackConfig{{Host: cfg.Host, Port: cfg.Port, TLSConfig: cfg.TLSConfig}}, cfg.Fallbacks...)
	// pgx expands sslmode into consecutive attempts per host: [tls] for
	// require and verify-*, [tls, plain] for prefer, [plain, tls] for allow,
	// [plain] for disable. Fold each run into one target.
	for i := 0; i < len(all); {
		j := i + 1
		for j < len(all) && all[j].Host == all[i].Host && all[j].Port == all[i].Port {
			j++
		}
		t := &target{host: all[i].Host}
		plain := false
		for _, fb := range all[i:j] {
			switch {
			case fb.TLSConfig == nil:
				plain = true
			case t.tls == nil:
				t.tls = certMode(fb.TLSConfig, cfg.SSLCertMode)
			}
		}
		t.optional = t.tls != nil && plain
		key := net.JoinHostPort(all[i].Host, strconv.Itoa(int(all[i].Port)))
		if _, dup := st.targets[key]; !dup {
			st.targets[key] = t
		}
		if st.first == nil {
			st.first = t
		}
		st.entries = append(st.entries, &pgconn.FallbackConfig{Host: all[i].Host, Port: all[i].Port})
		i = j
	}
	return st, nil
}

// certMode applies sslcertmode=disable (send no client certificate) to a
// TLS configuration, as pgx does before its own handshake.
func certMode(c *tls.Config, mode string) *tls.Config {
	if mode != "disable" {
		return c
	}
	c = c.Clone()
	c.Certificates = nil
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return new(tls.Certificate), nil
	}
	return c
}

// apply installs the dial function and hands pgx one plaintext attempt per host.
func (st *socketTLS) apply(cfg *pgconn.Config) {
	cfg.Host, cfg.Port, cfg.TLSConfig = st.entries[0].Host, st.entries[0].Port, nil
	cfg.Fallbacks = st.entries[1:]
	cfg.DialFunc = st.dial
	cfg.LookupFunc = keepHost
}

// configuredForSocketTLS reports whether cfg's dial function is a socketTLS
// one: its TLS settings have been moved into it, and configuring cfg again
// would see plaintext everywhere.
func configuredForSocketTLS(cfg *pgconn.Config) bool {
	return cfg.DialFunc != nil && reflect.ValueOf(cfg.DialFunc).Pointer() == reflect.ValueOf((*socketTLS)(nil).dial).Pointer()
}

// target returns the target for an address pgx dials: a configured host
// (configured is true), or, for a CancelRequest, which pgx sends to the
// connection's remote address, the host that address belongs to.
func (st *socketTLS) target(address string) (t *target, configured bool) {
	if t, ok := st.targets[address]; ok {
		return t, true
	}
	if t, ok := st.peers.Load(address); ok {
		return t.(*target), false
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	c := *st.first
	c.host = host
	return &c, false
}

func (st *socketTLS) dial(ctx context.Context, network, address string) (net.Conn, error) {
	t, configured := st.target(address)
	var (
		c   net.Conn
		err error
	)
	if t.tls == nil || (network != "tcp" && network != "tcp4" && network != "tcp6") {
		// Plaintext; the dialer refuses networks other than TCP with a clear error.
		c, err = st.dialer.DialContext(ctx, network, address)
	} else {
		c, err = st.dialTLS(ctx, address, t)
		var tf *tlsFailure
		if err != nil && t.optional && errors.As(err, &tf) && ctx.Err() == nil {
			// allow, prefer: TLS failed after the connection was made;
			// start over in plaintext, as libpq does.
			var perr error
			if c, perr = st.dialer.DialContext(ctx, network, address); perr != nil {
				err = errors.Join(err, perr)
			} else {
				err = nil
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if configured {
		// pgx sends CancelRequest to the connection's remote address: keep
		// which host that is, so the cancel gets the same TLS. One entry per
		// server address, not per connection.
		st.peers.LoadOrStore(c.RemoteAddr().String(), t)
	}
	return c, nil
}

// tlsFailure marks an error of the TLS step (refusal, handshake) as opposed
// to an error of the dial itself.
type tlsFailure struct{ err error }

func (e *tlsFailure) Error() string { return e.err.Error() }
func (e *tlsFailure) Unwrap() error { return e.err }

func (st *socketTLS) dialTLS(ctx context.Context, address string, t *target) (net.Conn, error) {
	// The socket is opened with "starttls" and upgraded by StartTLS with the
	// configuration pgx derived from the connection string, as it is: an
	// empty ServerName (sslsni=0, or an IP literal host) sends no SNI, as
	// pgx's own handshake does, instead of StartTLS's default, the connect
	// hostname. For sslnegotiation=direct the upgrade comes first, with no
	// SSLRequest: TLS from the first byte, ALPN "postgresql" from pgx.
	s, err := st.dialer.DialSocket(ctx, address, sockets.SecureTransportStartTLS, nil)
	if err != nil {
		return nil, err
	}
	if !st.direct {
		reply, err := askTLS(ctx, s)
		if err != nil {
			s.Close()
			return nil, &tlsFailure{fmt.Errorf("SSLRequest to %s: %w", address, err)}
		}
		switch reply {
		case 'S':
		case 'N':
			if t.optional {
				return s, nil // plaintext on the same connection, as libpq does
			}
			s.Close()
			return nil, &tlsFailure{fmt.Errorf("%w: %s answered 'N' to the SSLRequest and the sslmode requires TLS; turn ssl on in the server, or use sslmode=prefer to accept plaintext", ErrTLSRefused, address)}
		default:
			s.Close()
			return nil, &tlsFailure{fmt.Errorf("%s answered %q to the SSLRequest instead of 'S' or 'N'; is it a PostgreSQL server?", address, reply)}
		}
	}
	// The handshake runs here, bounded by ctx.
	ts, err := s.UpgradeTLS(&sockets.StartTLSOptions{TLSConfig: t.tls, NoServerName: t.tls.ServerName == "", Context: ctx})
	if err != nil {
		s.Close()
		return nil, &tlsFailure{err}
	}
	return ts, nil
}

// askTLS sends the SSLRequest and reads the server's one-byte answer, never
// more: whatever follows belongs to TLS. ctx bounds the exchange.
func askTLS(ctx context.Context, s *sockets.Socket) (byte, error) {
	if dl, ok := ctx.Deadline(); ok {
		s.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { s.SetDeadline(time.Unix(1, 0)) })
	var b [1]byte
	_, err := s.Write(sslRequest[:])
	if err == nil {
		_, err = io.ReadFull(s, b[:])
	}
	if !stop() {
		return 0, ctx.Err()
	}
	s.SetDeadline(time.Time{})
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("the server closed the connection: %w", io.ErrUnexpectedEOF)
	}
	return b[0], err
}
