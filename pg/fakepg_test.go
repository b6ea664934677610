package pg_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"
)

// fakePG plays the server side of a PostgreSQL connection start, far enough
// for pgconn.Connect to succeed: SSLRequest ('S' with TLS, or 'N'), startup,
// trust or SCRAM-SHA-256(-PLUS) authentication, ReadyForQuery; then it waits
// for Terminate. It records what it saw.
type fakePG struct {
	tls      *tls.Config // answer 'S' and do TLS with it; nil answers 'N'
	password string      // "" means trust; otherwise SCRAM with this password
	mechs    []string    // SASL mechanisms offered; default both SCRAM ones

	mu   sync.Mutex
	seen []session
}

// session is what one connection looked like from the server.
type session struct {
	sslRequest bool   // an SSLRequest came first
	tls        bool   // the startup ran over TLS
	alpn       string // negotiated ALPN
	sni        string // server name the client sent (SNI); "" for none
	clientCN   string // common name of the client certificate; "" for none
	user       string
	mechanism  string // SASL mechanism the client chose
	gs2        string // the client's GS2 header
	cbind      []byte // channel binding data the client sent
	cbindWant  []byte // tls-server-end-point hash of the server's certificate
	cancel     bool   // the connection was a CancelRequest
}

func (s *session) tlsState(cs tls.ConnectionState) {
	s.alpn, s.sni = cs.NegotiatedProtocol, cs.ServerName
	if len(cs.PeerCertificates) > 0 {
		s.clientCN = cs.PeerCertificates[0].Subject.CommonName
	}
}

func (f *fakePG) sessions() []session {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]session(nil), f.seen...)
}

// serve handles one connection; c is already TLS for a direct server.
func (f *fakePG) serve(c net.Conn) error {
	var s session
	defer func() {
		f.mu.Lock()
		f.seen = append(f.seen, s)
		f.mu.Unlock()
	}()
	if tc, ok := c.(*tls.Conn); ok {
		if err := tc.Handshake(); err != nil {
			return fmt.Errorf("TLS handshake: %w", err)
		}
		s.tls = true
		s.tlsState(tc.ConnectionState())
	}
	be := pgproto3.NewBackend(c, c)
	msg, err := be.ReceiveStartupMessage()
	if err != nil {
		return fmt.Errorf("startup: %w", err)
	}
	if _, ok := msg.(*pgproto3.SSLRequest); ok {
		s.sslRequest = true
		if f.tls == nil {
			if _, err := c.Write([]byte("N")); err != nil {
				return err
			}
		} else {
			if _, err := c.Write([]byte("S")); err != nil {
				return err
			}
			tc := tls.Server(c, f.tls)
			if err := tc.Handshake(); err != nil {
				return fmt.Errorf("TLS handshake: %w", err)
			}
			c, s.tls = tc, true
			s.tlsState(tc.ConnectionState())
			be = pgproto3.NewBackend(c, c)
		}
		if msg, err = be.ReceiveStartupMessage(); err != nil {
			if f.tls == nil && (errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed)) {
				return nil // the client wanted TLS and left after the 'N'
			}
			return fmt.Errorf("startup after SSLRequest: %w", err)
		}
	}
	if _, ok := msg.(*pgproto3.CancelRequest); ok {
		s.cancel = true
		return nil
	}
	sm, ok := msg.(*pgproto3.StartupMessage)
	if !ok {
		return fmt.Errorf("got %T, want a StartupMessage", msg)
	}
	s.user = sm.Parameters["user"]
	if f.password != "" {
		if err := f.scram(c, be, &s); err != nil {
			be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: err.Error()})
			be.Flush()
			return err
		}
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "15.0"})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 4242, SecretKey: []byte{1, 2, 3, 4}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if err := be.Flush(); err != nil {
		return err
	}
	for {
		msg, err := be.Receive()
		if err != nil {
			return nil // the client went away
		}
		if _, ok := msg.(*pgproto3.Terminate); ok {
			return nil
		}
	}
}

// scram runs the server side of SCRAM-SHA-256 (RFC 5802, RFC 7677) with
// tls-server-end-point channel binding (RFC 5929) for SCRAM-SHA-256-PLUS.
func (f *fakePG) scram(c net.Conn, be *pgproto3.Backend, s *session) error {
	mechs := f.mechs
	if mechs == nil {
		mechs = []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}
	}
	be.Send(&pgproto3.AuthenticationSASL{AuthMechanisms: mechs})
	if err := be.Flush(); err != nil {
		return err
	}
	be.SetAuthType(pgproto3.AuthTypeSASL)
	msg, err := be.Receive()
	if err != nil {
		return err
	}
	first, ok := msg.(*pgproto3.SASLInitialResponse)
	if !ok {
		return fmt.Errorf("got %T, want SASLInitialResponse", msg)
	}
	s.mechanism = first.AuthMechanism
	// gs2-header "p=tls-server-end-point,," | "y,," | "n,,", then "n=,r=nonce".
	parts := strings.SplitN(string(first.Data), ",", 3)
	if len(parts) != 3 {
		return fmt.Errorf("bad client-first-message %q", first.Data)
	}
	s.gs2 = parts[0] + "," + parts[1] + ","
	bare := parts[2]
	clientNonce, ok := strings.CutPrefix(bare, "n=,r=")
	if !ok {
		return fmt.Errorf("bad client-first-message-bare %q", bare)
	}
	salt := []byte("outbound-salt-16")
	const iterations = 4096
	serverFirst := "r=" + clientNonce + "server-nonce,s=" + base64.StdEncoding.EncodeToString(salt) + fmt.Sprintf(",i=%d", iterations)
	be.Send(&pgproto3.AuthenticationSASLContinue{Data: []byte(serverFirst)})
	if err := be.Flush(); err != nil {
		return err
	}
	be.SetAuthType(pgproto3.AuthTypeSASLContinue)
	if msg, err = be.Receive(); err != nil {
		return err
	}
	final, ok := msg.(*pgproto3.SASLResponse)
	if !ok {
		return fmt.Errorf("got %T, want SASLResponse", msg)
	}
	withoutProof, proofB64, ok := strings.Cut(string(final.Data), ",p=")
	if !ok {
		return fmt.Errorf("bad client-final-message %q", final.Data)
	}
	cb, _, _ := strings.Cut(strings.TrimPrefix(withoutProof, "c="), ",")
	cbInput, err := base64.StdEncoding.DecodeString(cb)
	if err != nil {
		return fmt.Errorf("bad c= attribute: %w", err)
	}
	if !bytes.HasPrefix(cbInput, []byte(s.gs2)) {
		return fmt.Errorf("c= does not start with the GS2 header %q", s.gs2)
	}
	s.cbind = cbInput[len(s.gs2):]
	if s.mechanism == "SCRAM-SHA-256-PLUS" {
		if _, ok := c.(*tls.Conn); !ok {
			return errors.New("SCRAM-SHA-256-PLUS over a connection without TLS")
		}
		// The certificates here are ECDSA with SHA-256, so the hash is SHA-256.
		want := sha256.Sum256(f.tls.Certificates[0].Certificate[0])
		s.cbindWant = want[:]
		if !bytes.Equal(s.cbind, s.cbindWant) {
			return fmt.Errorf("channel binding data %x does not match the certificate hash %x", s.cbind, s.cbindWant)
		}
	}
	salted, err := pbkdf2.Key(sha256.New, f.password, salt, iterations, 32)
	if err != nil {
		return err
	}
	authMessage := bare + "," + serverFirst + "," + withoutProof
	clientKey := mac(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	sig := mac(storedKey[:], authMessage)
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil || len(proof) != len(sig) {
		return fmt.Errorf("bad proof %q", proofB64)
	}
	for i := range proof {
		proof[i] ^= sig[i]
	}
	if got := sha256.Sum256(proof); !hmac.Equal(got[:], storedKey[:]) {
		return errors.New("password authentication failed")
	}
	serverSig := mac(mac(salted, "Server Key"), authMessage)
	be.Send(&pgproto3.AuthenticationSASLFinal{Data: []byte("v=" + base64.StdEncoding.EncodeToString(serverSig))})
	return be.Flush()
}

func mac(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
