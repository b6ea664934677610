package main

import (
	"context"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/internal/mongofake"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// demoMongoDB connects the MongoDB Go driver to an in-process stand-in that
// speaks the OP_MSG wire protocol (internal/mongofake), with
// options.Client().SetDialer taking a dialers.Dialer: every connection of
// the driver, its pool and its server monitor, is an outbound socket. It
// pings, inserts a document and finds it.
func demoMongoDB(ctx context.Context, e *env) error {
	srv, err := sockettest.NewServer(mongofake.New().Serve)
	if err != nil {
		return err
	}
	defer srv.Close()
	d := &countingDialer{}
	client, err := mongo.Connect(options.Client().
		ApplyURI("mongodb://" + srv.Addr() + "/?directConnection=true").
		SetServerSelectionTimeout(5 * time.Second).
		SetDialer(d))
	if err != nil {
		return err
	}
	defer client.Disconnect(context.Background())
	if err := client.Ping(ctx, nil); err != nil {
		return err
	}
	coll := client.Database("tour").Collection("greetings")
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "lang", Value: "go"}, {Key: "text", Value: "hello from the tour"}}); err != nil {
		return err
	}
	var doc struct {
		Text string `bson:"text"`
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "lang", Value: "go"}}).Decode(&doc); err != nil {
		return err
	}
	if doc.Text != "hello from the tour" {
		return fmt.Errorf("findOne returned %q", doc.Text)
	}
	if d.n.Load() == 0 {
		return fmt.Errorf("the driver talked to %s without dialling through outbound", srv.Addr())
	}
	e.step("ping, insertOne, findOne on %s: ok; the driver opened %d outbound socket(s)", srv.Addr(), d.n.Load())
	return nil
}

// countingDialer is a dialers.Dialer that counts the sockets it opens.
type countingDialer struct {
	dialers.Dialer
	n atomic.Int32
}

// DialContext opens an outbound socket; the driver calls it for each connection.
func (d *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.Dialer.DialContext(ctx, network, addr)
	if err == nil {
		d.n.Add(1)
	}
	return c, err
}
