package dialers_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

// countingDialer is a mongo ContextDialer that counts outbound sockets.
type countingDialer struct {
	d     dialers.Dialer
	dials atomic.Int32
}

func (c *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	conn, err := c.d.DialContext(ctx, network, addr)
	if err == nil {
		if _, ok := conn.(*sockets.Socket); ok {
			c.dials.Add(1)
		}
	}
	return conn, err
}

// The driver's connections go through the dialer, and so through the policy.
func TestMongoSetDialer(t *testing.T) {
	hangup, err := sockettest.NewServer(func(c net.Conn) {}) // accepts, then closes
	if err != nil {
		t.Fatal(err)
	}
	defer hangup.Close()
	tests := []struct {
		name      string
		uri       string
		wantErr   string
		wantDials bool
	}{
		{"dials through outbound", "mongodb://" + hangup.Addr() + "/?directConnection=true", "", true},
		{"port 25 refused by the policy", "mongodb://127.0.0.1:25/?directConnection=true", "port 25", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d countingDialer
			client, err := mongo.Connect(options.Client().ApplyURI(tt.uri).SetDialer(&d).SetServerSelectionTimeout(500 * time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer client.Disconnect(context.Background())
			err = client.Ping(context.Background(), nil)
			if err == nil {
				t.Fatal("Ping succeeded against a server that hangs up")
			}
			if tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Ping = %v, want an error mentioning %q", err, tt.wantErr)
			}
			if got := d.dials.Load() > 0; got != tt.wantDials {
				t.Fatalf("outbound sockets dialed: %d", d.dials.Load())
			}
		})
	}
}

// Against a real MongoDB, when OUTBOUND_TEST_MONGODB is set. No MongoDB is
// packaged for Debian, so .ci/run cannot start one and this test skips even
// under OUTBOUND_TEST_REQUIRE; compose.yaml's mongodb service provides one.
func TestMongoRealServer(t *testing.T) {
	uri := testenv.Optional("OUTBOUND_TEST_MONGODB")
	if uri == "" {
		t.Skip("OUTBOUND_TEST_MONGODB is not set: MongoDB has no Debian package, so CI has none; start compose.yaml's mongodb service and set it to mongodb://127.0.0.1:27017")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var d countingDialer
	client, err := mongo.Connect(options.Client().ApplyURI(uri).SetDialer(&d))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	if err := client.Ping(ctx, nil); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	coll := client.Database("outbound_test").Collection("dialers_" + time.Now().Format("150405.000000"))
	defer coll.Drop(context.Background())
	if _, err := coll.InsertOne(ctx, bson.D{{Key: "greeting", Value: "hello through outbound"}}); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Greeting string }
	if err := coll.FindOne(ctx, bson.D{}).Decode(&doc); err != nil || doc.Greeting != "hello through outbound" {
		t.Fatalf("FindOne = %+v, %v", doc, err)
	}
	if d.dials.Load() == 0 {
		t.Fatal("the driver did not dial through outbound")
	}
	if err := coll.FindOne(ctx, bson.D{{Key: "greeting", Value: "absent"}}).Err(); !errors.Is(err, mongo.ErrNoDocuments) {
		t.Fatalf("FindOne(absent) = %v", err)
	}
}
