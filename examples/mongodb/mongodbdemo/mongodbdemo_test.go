package mongodbdemo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/internal/exampletest"
	"github.com/outboundhq/outbound/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func resultLines(db string) []string {
	return []string{
		`^ping: ok$`,
		`^insertOne ` + db + `\.greetings: ok$`,
		`^findOne \{lang: "go"\}: hello from the MongoDB Go driver over an outbound socket$`,
		`^findOne \{lang: "cobol"\}: no documents$`,
		`^the driver opened \d+ outbound sockets? \(pool and server monitor\)$`,
	}
}

func TestRunInProcess(t *testing.T) {
	var out bytes.Buffer
	if err := Run(context.Background(), nil, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	exampletest.MatchLines(t, out.String(), append([]string{
		`^in-process MongoDB stand-in \(OP_MSG: hello, ping, insert, find, drop\) on 127\.0\.0\.1:\d+$`,
	}, resultLines("outbound_example")...))
}

// Against a real MongoDB, when OUTBOUND_TEST_MONGODB is set. No MongoDB is
// packaged for Debian, so CI has none and this test skips even under
// OUTBOUND_TEST_REQUIRE; compose.yaml's mongodb service provides one.
func TestRunRealServer(t *testing.T) {
	uri := testenv.Optional("OUTBOUND_TEST_MONGODB")
	if uri == "" {
		t.Skip("OUTBOUND_TEST_MONGODB is not set: MongoDB has no Debian package, so CI has none; start compose.yaml's mongodb service and set it to mongodb://127.0.0.1:27017")
	}
	db := "outbound_test_" + time.Now().Format("150405")
	var out bytes.Buffer
	if err := Run(context.Background(), []string{"-uri", uri, "-db", db}, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	exampletest.MatchLines(t, out.String(), resultLines(db))
}

func TestRunPolicyRefusal(t *testing.T) {
	var out bytes.Buffer
	err := Run(context.Background(), []string{"-uri", "mongodb://127.0.0.1:25/?directConnection=true&serverSelectionTimeoutMS=300"}, &out)
	if err == nil || !strings.Contains(err.Error(), "port 25") {
		t.Fatalf("run against port 25 = %v, want the egress policy's refusal", err)
	}
}
