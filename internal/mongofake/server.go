package mongofake

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"reflect"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Server is a stand-in for MongoDB: the OP_MSG wire protocol (MongoDB 3.6
// and later; OP_QUERY for the driver's first hello on a connection, as
// drivers still send it) with the commands hello, ping, insert, find
// (top-level equality filters), drop and endSessions, documents kept in
// memory. Its methods are safe for concurrent use; the connections of one
// Server share its documents.
type Server struct {
	mu     sync.Mutex
	colls  map[string][]bson.D // "db.collection" -> documents
	connID int32
}

const (
	opReply      = 1
	opQuery      = 2004
	opMsg        = 2013
	maxMessage   = 48_000_000
	maxBSONBytes = 16 * 1024 * 1024
)

// New returns an empty server.
func New() *Server { return &Server{colls: map[string][]bson.D{}} }

// Serve answers the messages of one connection until it closes, sends a
// malformed message or is idle for a minute, and returns; it does not close
// c. It fits sockettest.NewServer:
//
//	srv, err := sockettest.NewServer(mongofake.New().Serve)
func (s *Server) Serve(c net.Conn) {
	s.mu.Lock()
	s.connID++
	id := s.connID
	s.mu.Unlock()
	for {
		c.SetReadDeadline(time.Now().Add(time.Minute))
		op, reqID, cmd, docs, err := readMsg(c)
		if err != nil {
			return
		}
		reply := s.command(id, cmd, docs)
		b, err := bson.Marshal(reply)
		if err != nil {
			return
		}
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := writeReply(c, op, reqID, b); err != nil {
			return
		}
	}
}

// command runs one command; cmd's first key names it, docs holds a
// document sequence (the documents of an insert).
func (s *Server) command(connID int32, cmd bson.D, docs []bson.D) bson.D {
	if len(cmd) == 0 {
		return failure(2, "empty command")
	}
	db, _ := lookup(cmd, "$db").(string)
	name := cmd[0].Key
	switch name {
	case "hello", "isMaster", "ismaster":
		return bson.D{
			{Key: "helloOk", Value: true},
			{Key: "isWritablePrimary", Value: true},
			{Key: "maxBsonObjectSize", Value: int32(maxBSONBytes)},
			{Key: "maxMessageSizeBytes", Value: int32(maxMessage)},
			{Key: "maxWriteBatchSize", Value: int32(100000)},
			{Key: "localTime", Value: time.Now()},
			{Key: "connectionId", Value: connID},
			{Key: "minWireVersion", Value: int32(0)},
			{Key: "maxWireVersion", Value: int32(21)}, // MongoDB 7.0
			{Key: "readOnly", Value: false},
			{Key: "ok", Value: 1.0},
		}
	case "ping", "endSessions":
		return bson.D{{Key: "ok", Value: 1.0}}
	case "insert":
		coll, _ := cmd[0].Value.(string)
		docs = append(docs, toDocs(lookup(cmd, "documents"))...)
		s.mu.Lock()
		s.colls[db+"."+coll] = append(s.colls[db+"."+coll], docs...)
		s.mu.Unlock()
		return bson.D{{Key: "n", Value: int32(len(docs))}, {Key: "ok", Value: 1.0}}
	case "find":
		coll, _ := cmd[0].Value.(string)
		filter, _ := lookup(cmd, "filter").(bson.D)
		limit := 0
		switch n := lookup(cmd, "limit").(type) {
		case int32:
			limit = int(n)
		case int64:
			limit = int(n)
		}
		batch := bson.A{}
		s.mu.Lock()
		for _, d := range s.colls[db+"."+coll] {
			if matches(d, filter) {
				batch = append(batch, d)
				if limit > 0 && len(batch) == limit {
					break
				}
			}
		}
		s.mu.Unlock()
		return bson.D{
			{Key: "cursor", Value: bson.D{{Key: "firstBatch", Value: batch}, {Key: "id", Value: int64(0)}, {Key: "ns", Value: db + "." + coll}}},
			{Key: "ok", Value: 1.0},
		}
	case "drop":
		coll, _ := cmd[0].Value.(string)
		s.mu.Lock()
		delete(s.colls, db+"."+coll)
		s.mu.Unlock()
		return bson.D{{Key: "ok", Value: 1.0}}
	}
	return failure(59, fmt.Sprintf("no such command: '%s' (this stand-in knows hello, ping, insert, find, drop)", name))
}

func failure(code int32, msg string) bson.D {
	return bson.D{{Key: "ok", Value: 0.0}, {Key: "errmsg", Value: msg}, {Key: "code", Value: code}}
}

func lookup(d bson.D, key string) any {
	for _, e := range d {
		if e.Key == key {
			return e.Value
		}
	}
	return nil
}

func toDocs(v any) []bson.D {
	a, _ := v.(bson.A)
	var out []bson.D
	for _, x := range a {
		if d, ok := x.(bson.D); ok {
			out = append(out, d)
		}
	}
	return out
}

// matches reports whether d has every top-level field of filter with an
// equal value.
func matches(d, filter bson.D) bool {
	for _, f := range filter {
		if !reflect.DeepEqual(lookup(d, f.Key), f.Value) {
			return false
		}
	}
	return true
}

// readMsg reads one message: a 16-byte header (length, requestID,
// responseTo, opCode) and a body. An OP_MSG body is flag bits, then
// sections: kind 0 is the command document, kind 1 a named sequence of
// documents. An OP_QUERY body (the first hello) is flags, the collection
// name ("admin.$cmd"), two counts and the command document.
func readMsg(r io.Reader) (op, reqID int32, cmd bson.D, docs []bson.D, err error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, 0, nil, nil, err
	}
	size := int32(binary.LittleEndian.Uint32(hdr[0:]))
	reqID = int32(binary.LittleEndian.Uint32(hdr[4:]))
	op = int32(binary.LittleEndian.Uint32(hdr[12:]))
	if size < 21 || size > maxMessage {
		return 0, 0, nil, nil, fmt.Errorf("message length %d", size)
	}
	body := make([]byte, size-16)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, 0, nil, nil, err
	}
	switch op {
	case opMsg:
		cmd, docs, err = parseMsg(body)
	case opQuery:
		cmd, err = parseQuery(body)
	default:
		err = fmt.Errorf("opcode %d: only OP_MSG (2013) and OP_QUERY (2004) are spoken here", op)
	}
	return op, reqID, cmd, docs, err
}

func parseQuery(body []byte) (bson.D, error) {
	body = body[4:] // flags
	end := bytes.IndexByte(body, 0)
	if end < 0 {
		return nil, errors.New("unterminated collection name")
	}
	body = body[end+1:]
	if len(body) < 8 {
		return nil, errors.New("short OP_QUERY")
	}
	body = body[8:] // numberToSkip, numberToReturn
	n, err := docLen(body)
	if err != nil {
		return nil, err
	}
	var cmd bson.D
	err = bson.Unmarshal(body[:n], &cmd)
	return cmd, err
}

func parseMsg(body []byte) (cmd bson.D, docs []bson.D, err error) {
	flags := binary.LittleEndian.Uint32(body)
	body = body[4:]
	if flags&1 != 0 { // checksumPresent: drop the CRC-32C at the end
		if len(body) < 4 {
			return nil, nil, errors.New("short OP_MSG")
		}
		body = body[:len(body)-4]
	}
	for len(body) > 0 {
		kind := body[0]
		body = body[1:]
		switch kind {
		case 0:
			n, err := docLen(body)
			if err != nil {
				return nil, nil, err
			}
			if err := bson.Unmarshal(body[:n], &cmd); err != nil {
				return nil, nil, err
			}
			body = body[n:]
		case 1:
			if len(body) < 4 {
				return nil, nil, errors.New("short document sequence")
			}
			n := int(binary.LittleEndian.Uint32(body))
			if n < 5 || n > len(body) {
				return nil, nil, errors.New("bad document sequence length")
			}
			seq := body[4:n]
			body = body[n:]
			end := bytes.IndexByte(seq, 0) // the identifier, a C string
			if end < 0 {
				return nil, nil, errors.New("unterminated sequence identifier")
			}
			seq = seq[end+1:]
			for len(seq) > 0 {
				n, err := docLen(seq)
				if err != nil {
					return nil, nil, err
				}
				var d bson.D
				if err := bson.Unmarshal(seq[:n], &d); err != nil {
					return nil, nil, err
				}
				docs = append(docs, d)
				seq = seq[n:]
			}
		default:
			return nil, nil, fmt.Errorf("section kind %d", kind)
		}
	}
	return cmd, docs, nil
}

func docLen(b []byte) (int, error) {
	if len(b) < 5 {
		return 0, errors.New("short BSON document")
	}
	n := int(binary.LittleEndian.Uint32(b))
	if n < 5 || n > len(b) {
		return 0, errors.New("bad BSON document length")
	}
	return n, nil
}

// writeReply writes the reply doc to the request reqID: an OP_MSG with one
// kind 0 section, or for an OP_QUERY an OP_REPLY holding the one document.
func writeReply(w io.Writer, op, reqID int32, doc []byte) error {
	var body []byte
	if op == opQuery {
		body = make([]byte, 20) // responseFlags, cursorID (8 bytes), startingFrom: 0
		binary.LittleEndian.PutUint32(body[16:], 1)
		op = opReply
	} else {
		body = make([]byte, 5) // flag bits 0, section kind 0
		op = opMsg
	}
	body = append(body, doc...)
	hdr := make([]byte, 16, 16+len(body))
	binary.LittleEndian.PutUint32(hdr[0:], uint32(16+len(body)))
	binary.LittleEndian.PutUint32(hdr[4:], uint32(reqID)+1_000_000) // any id of ours
	binary.LittleEndian.PutUint32(hdr[8:], uint32(reqID))
	binary.LittleEndian.PutUint32(hdr[12:], uint32(op))
	_, err := w.Write(append(hdr, body...))
	return err
}
