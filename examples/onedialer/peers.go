package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"

	"github.com/jackc/pgx/v5/pgproto3"
	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// The in-process peers: just enough of each server for the program to run
// anywhere. Each listens on 127.0.0.1:0 and answers every query with 42.

// peer is a listener with a handler per connection; close stops both.
type peer struct {
	ln net.Listener
	wg sync.WaitGroup
}

func listen(handle func(net.Conn)) (*peer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &peer{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return p, nil
}

func (p *peer) addr() string { return p.ln.Addr().String() }

func (p *peer) close() {
	p.ln.Close()
	p.wg.Wait()
}

// servePostgres plays a PostgreSQL server: no TLS ('N' to an SSLRequest),
// trust authentication, and a one-row answer, 42, to every simple query.
func servePostgres(c net.Conn) {
	be := pgproto3.NewBackend(c, c)
	msg, err := be.ReceiveStartupMessage()
	if _, ok := msg.(*pgproto3.SSLRequest); ok && err == nil {
		if _, err := c.Write([]byte("N")); err != nil {
			return
		}
		msg, err = be.ReceiveStartupMessage()
	}
	if _, ok := msg.(*pgproto3.StartupMessage); !ok || err != nil {
		return
	}
	be.Send(&pgproto3.AuthenticationOk{})
	be.Send(&pgproto3.ParameterStatus{Name: "server_version", Value: "17.0 (in-process)"})
	be.Send(&pgproto3.ParameterStatus{Name: "standard_conforming_strings", Value: "on"})
	be.Send(&pgproto3.ParameterStatus{Name: "client_encoding", Value: "UTF8"})
	be.Send(&pgproto3.BackendKeyData{ProcessID: 1, SecretKey: []byte{0, 0, 0, 1}})
	be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
	if be.Flush() != nil {
		return
	}
	for {
		msg, err := be.Receive()
		if err != nil {
			return
		}
		switch msg.(type) {
		case *pgproto3.Query:
			be.Send(&pgproto3.RowDescription{Fields: []pgproto3.FieldDescription{{Name: []byte("answer"), DataTypeOID: 23, DataTypeSize: 4, TypeModifier: -1}}})
			be.Send(&pgproto3.DataRow{Values: [][]byte{[]byte("42")}})
			be.Send(&pgproto3.CommandComplete{CommandTag: []byte("SELECT 1")})
		case *pgproto3.Terminate:
			return
		default:
			be.Send(&pgproto3.ErrorResponse{Severity: "ERROR", Code: "0A000", Message: fmt.Sprintf("the in-process server answers simple queries only, not %T", msg)})
		}
		be.Send(&pgproto3.ReadyForQuery{TxStatus: 'I'})
		if be.Flush() != nil {
			return
		}
	}
}

// MySQL protocol constants used by serveMySQL.
const (
	myLongPassword   = 1 << 0
	myConnectWithDB  = 1 << 3
	myProtocol41     = 1 << 9
	myTransactions   = 1 << 13
	mySecureConn     = 1 << 15
	myPluginAuth     = 1 << 19
	myCapabilities   = myLongPassword | myConnectWithDB | myProtocol41 | myTransactions | mySecureConn | myPluginAuth
	myComQuit        = 0x01
	myComQuery       = 0x03
	myComPing        = 0x0e
	myTypeLongLong   = 0x08
	myStatusAutocomm = 0x0002
)

// serveMySQL plays a MySQL server: no TLS, any user and password, and a
// one-row answer, 42, to every text query.
func serveMySQL(c net.Conn) {
	r := bufio.NewReader(c)
	w := &myWriter{w: c}
	// Handshake v10.
	hs := []byte{10}
	hs = append(hs, "8.0.0-in-process\x00"...)
	hs = binary.LittleEndian.AppendUint32(hs, 1) // connection id
	hs = append(hs, "abcdefgh"...)               // auth data, part 1
	hs = append(hs, 0)
	hs = binary.LittleEndian.AppendUint16(hs, myCapabilities&0xffff)
	hs = append(hs, 0xff) // utf8mb4_0900_ai_ci
	hs = binary.LittleEndian.AppendUint16(hs, myStatusAutocomm)
	hs = binary.LittleEndian.AppendUint16(hs, myCapabilities>>16)
	hs = append(hs, 21)
	hs = append(hs, make([]byte, 10)...)
	hs = append(hs, "ijklmnopqrst\x00"...) // auth data, part 2
	hs = append(hs, "mysql_native_password\x00"...)
	if w.send(0, hs) != nil {
		return
	}
	if _, seq, err := readMySQLPacket(r); err != nil { // the client's handshake response
		return
	} else if w.send(seq+1, myOK()) != nil {
		return
	}
	for {
		p, _, err := readMySQLPacket(r)
		if err != nil || len(p) == 0 {
			return
		}
		switch p[0] {
		case myComQuit:
			return
		case myComPing:
			err = w.send(1, myOK())
		case myComQuery:
			col := []byte{}
			for _, s := range []string{"def", "", "", "", "answer", ""} {
				col = append(col, byte(len(s)))
				col = append(col, s...)
			}
			col = append(col, 0x0c)
			col = binary.LittleEndian.AppendUint16(col, 63) // binary
			col = binary.LittleEndian.AppendUint32(col, 21)
			col = append(col, myTypeLongLong, 0, 0, 0, 0, 0)
			err = errors.Join(w.send(1, []byte{1}), w.send(2, col), w.send(3, myEOF()),
				w.send(4, []byte{2, '4', '2'}), w.send(5, myEOF()))
		default:
			err = w.send(1, append([]byte{0xff, 0x15, 0x04, '#', 'H', 'Y', '0', '0', '0'}, "the in-process server answers text queries only"...))
		}
		if err != nil {
			return
		}
	}
}

func myOK() []byte {
	return []byte{0x00, 0, 0, myStatusAutocomm, 0, 0, 0}
}

func myEOF() []byte {
	return []byte{0xfe, 0, 0, myStatusAutocomm, 0}
}

type myWriter struct{ w io.Writer }

func (w *myWriter) send(seq byte, payload []byte) error {
	h := []byte{byte(len(payload)), byte(len(payload) >> 8), byte(len(payload) >> 16), seq}
	_, err := w.w.Write(append(h, payload...))
	return err
}

func readMySQLPacket(r *bufio.Reader) ([]byte, byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, 0, err
	}
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	p := make([]byte, n)
	_, err := io.ReadFull(r, p)
	return p, h[3], err
}

// startBroker serves MQTT on l with an in-process broker (mochi-mqtt).
// stop closes the broker and l.
func startBroker(l net.Listener) (stop func(), err error) {
	srv := mochi.New(&mochi.Options{Logger: slog.New(slog.DiscardHandler)})
	err = errors.Join(srv.AddHook(new(allowAll), nil), srv.AddListener(listeners.NewNet("onedialer", l)))
	if err == nil {
		err = srv.Serve()
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	return func() { srv.Close() }, nil
}

// allowAll lets every client connect and use every topic.
type allowAll struct{ mochi.HookBase }

func (h *allowAll) ID() string { return "allow-all" }

func (h *allowAll) Provides(b byte) bool {
	return b == mochi.OnConnectAuthenticate || b == mochi.OnACLCheck
}

func (h *allowAll) OnConnectAuthenticate(*mochi.Client, packets.Packet) bool { return true }

func (h *allowAll) OnACLCheck(*mochi.Client, string, bool) bool { return true }
