package mongofake

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/sockets/sockettest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// encodeMsg builds an OP_MSG holding cmd, as a driver sends it.
func encodeMsg(t testing.TB, reqID int32, cmd bson.D) []byte {
	doc, err := bson.Marshal(cmd)
	if err != nil {
		t.Fatal(err)
	}
	body := append([]byte{0, 0, 0, 0, 0}, doc...) // flag bits, section kind 0
	hdr := make([]byte, 16)
	binary.LittleEndian.PutUint32(hdr, uint32(16+len(body)))
	binary.LittleEndian.PutUint32(hdr[4:], uint32(reqID))
	binary.LittleEndian.PutUint32(hdr[12:], opMsg)
	return append(hdr, body...)
}

// Commands over a real connection: what the server answers, in order, on
// one connection that shares its documents with the next.
func TestCommands(t *testing.T) {
	srv, err := sockettest.NewServer(New().Serve)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	doc := bson.D{{Key: "lang", Value: "go"}, {Key: "n", Value: int32(1)}}
	find := func(filter bson.D) bson.D {
		return bson.D{{Key: "find", Value: "c"}, {Key: "filter", Value: filter}, {Key: "$db", Value: "d"}}
	}
	tests := []struct {
		name  string
		cmd   bson.D
		ok    float64
		check func(reply bson.D) bool
	}{
		{"hello", bson.D{{Key: "hello", Value: 1}, {Key: "$db", Value: "admin"}}, 1,
			func(r bson.D) bool { return lookup(r, "isWritablePrimary") == true }},
		{"ping", bson.D{{Key: "ping", Value: 1}, {Key: "$db", Value: "admin"}}, 1, nil},
		{"insert", bson.D{{Key: "insert", Value: "c"}, {Key: "documents", Value: bson.A{doc}}, {Key: "$db", Value: "d"}}, 1,
			func(r bson.D) bool { return lookup(r, "n") == int32(1) }},
		{"find match", find(bson.D{{Key: "lang", Value: "go"}}), 1,
			func(r bson.D) bool { return len(firstBatch(r)) == 1 }},
		{"find no match", find(bson.D{{Key: "lang", Value: "cobol"}}), 1,
			func(r bson.D) bool { return len(firstBatch(r)) == 0 }},
		{"drop", bson.D{{Key: "drop", Value: "c"}, {Key: "$db", Value: "d"}}, 1, nil},
		{"find after drop", find(nil), 1,
			func(r bson.D) bool { return len(firstBatch(r)) == 0 }},
		{"unknown", bson.D{{Key: "aggregate", Value: "c"}, {Key: "$db", Value: "d"}}, 0,
			func(r bson.D) bool { return lookup(r, "code") == int32(59) }},
	}
	for i, tt := range tests {
		if _, err := c.Write(encodeMsg(t, int32(i+1), tt.cmd)); err != nil {
			t.Fatal(err)
		}
		op, _, reply, _, err := readMsg(c)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if op != opMsg || lookup(reply, "ok") != tt.ok || (tt.check != nil && !tt.check(reply)) {
			t.Errorf("%s: opcode %d, reply %v", tt.name, op, reply)
		}
	}
}

func firstBatch(reply bson.D) bson.A {
	cursor, _ := lookup(reply, "cursor").(bson.D)
	batch, _ := lookup(cursor, "firstBatch").(bson.A)
	return batch
}

// The wire parser must refuse malformed messages without panicking.
func FuzzReadMsg(f *testing.F) {
	doc, _ := bson.Marshal(bson.D{{Key: "ping", Value: 1}, {Key: "$db", Value: "admin"}})
	var msg, query bytes.Buffer
	writeReply(&msg, opMsg, 1, doc)
	// An OP_QUERY: header, flags, "admin.$cmd", skip, return, document.
	q := append([]byte{0, 0, 0, 0}, "admin.$cmd\x00"...)
	q = append(q, 0, 0, 0, 0, 1, 0, 0, 0)
	q = append(q, doc...)
	hdr := make([]byte, 16)
	binary.LittleEndian.PutUint32(hdr, uint32(16+len(q)))
	binary.LittleEndian.PutUint32(hdr[12:], opQuery)
	query.Write(append(hdr, q...))
	f.Add(msg.Bytes())
	f.Add(query.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		op, _, _, _, err := readMsg(bytes.NewReader(b))
		if err == nil && op != opMsg && op != opQuery {
			t.Fatalf("accepted opcode %d", op)
		}
	})
}
