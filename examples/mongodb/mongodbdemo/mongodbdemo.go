// Package mongodbdemo is the mongodb example, run by `go run ./examples/mongodb` and by
// the tour. It connects the MongoDB Go driver (go.mongodb.org/mongo-driver/v2)
// through outbound sockets: the client's options take a dialer, and
// dialers.Dialer is one, so every connection the driver opens (its pool and
// its server monitors) goes through the egress policy.
//
//	go run ./examples/mongodb                                   # against an in-process stand-in
//	go run ./examples/mongodb -uri mongodb://127.0.0.1:27017    # a real MongoDB (compose.yaml's mongodb service)
//
// In Go, that is one option:
//
//	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetDialer(&dialers.Dialer{}))
//
// The driver does TLS itself (tls=true in the URI) over the plain socket.
//
// MongoDB has no Debian package, so the machines this toolkit is tested on
// have no MongoDB server; with no -uri this program starts a small
// in-process stand-in (internal/mongofake) that speaks the OP_MSG wire protocol for the few
// commands used here (hello, ping, insert, find, drop), so it runs anywhere.
package mongodbdemo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/examples/internal/example"
	"github.com/outboundhq/outbound/internal/mongofake"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// Run runs the example with the command-line arguments args, reporting on stdout.
func Run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := example.NewFlagSet("mongodb")
	uri := fs.String("uri", "", "MongoDB connection `URI` (default: an in-process stand-in)")
	db := fs.String("db", "outbound_example", "`database` to use; the collection is dropped afterwards")
	if err := fs.Parse(args); err != nil {
		return err
	}
	defer fs.Close()
	if *uri == "" {
		srv, err := sockettest.NewServer(mongofake.New().Serve)
		if err != nil {
			return err
		}
		defer srv.Close()
		*uri = "mongodb://" + srv.Addr() + "/?directConnection=true"
		fmt.Fprintf(stdout, "in-process MongoDB stand-in (OP_MSG: hello, ping, insert, find, drop) on %s\n", srv.Addr())
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	d := &countingDialer{Dialer: *fs.Dialer()}
	client, err := mongo.Connect(options.Client().
		SetServerSelectionTimeout(10 * time.Second). // unless the URI says otherwise
		ApplyURI(*uri).
		SetDialer(d))
	if err != nil {
		return err
	}
	defer client.Disconnect(context.Background())

	if err := client.Ping(ctx, nil); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ping: ok")

	coll := client.Database(*db).Collection("greetings")
	defer coll.Drop(context.Background())
	const greeting = "hello from the MongoDB Go driver over an outbound socket"
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "lang", Value: "go"}, {Key: "greeting", Value: greeting}}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "insertOne %s.greetings: ok\n", *db)
	var doc struct {
		Greeting string `bson:"greeting"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "lang", Value: "go"}}).Decode(&doc); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "findOne {lang: \"go\"}: %s\n", doc.Greeting)
	if err := coll.FindOne(ctx, bson.D{{Key: "lang", Value: "cobol"}}).Err(); !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("findOne {lang: \"cobol\"} = %v, want no documents", err)
	}
	fmt.Fprintln(stdout, "findOne {lang: \"cobol\"}: no documents")
	fmt.Fprintf(stdout, "the driver opened %s (pool and server monitor)\n", d.summary())
	return nil
}

// countingDialer is dialers.Dialer, counting the sockets it opens.
type countingDialer struct {
	dialers.Dialer
	mu    sync.Mutex
	count int
}

// DialContext opens an outbound socket; the driver calls it for each connection.
func (d *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.Dialer.DialContext(ctx, network, addr)
	if err == nil {
		d.mu.Lock()
		d.count++
		d.mu.Unlock()
	}
	return c, err
}

func (d *countingDialer) summary() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.count == 1 {
		return "1 outbound socket"
	}
	return fmt.Sprintf("%d outbound sockets", d.count)
}
