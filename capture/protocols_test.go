package capture_test

import (
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	gosmtp "github.com/emersion/go-smtp"
	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/pg"
	"github.com/outboundhq/outbound/sockets"
)

// The tests below capture a real driver talking to a real server and check
// what tshark decodes from the capture alone: the queries and commands,
// decrypted where they went over TLS.

// wire returns a Dialer whose sockets write to p.
func wire(p *pcap) *dialers.Dialer {
	return &dialers.Dialer{Options: &sockets.Options{Layers: []sockets.Layer{p}}}
}

func caPool(t *testing.T, name string) *x509.CertPool {
	t.Helper()
	pem, err := os.ReadFile(testenv.Get(t, name))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatalf("%s holds no certificate", name)
	}
	return pool
}

func TestPostgres(t *testing.T) {
	url := testenv.Get(t, "OUTBOUND_TEST_POSTGRES")
	bin := tshark(t)
	for _, socketTLS := range []bool{false, true} {
		name := "pgx TLS"
		if socketTLS {
			name = "socket TLS"
		}
		t.Run(name, func(t *testing.T) {
			p := newPcap(t)
			cfg, err := pgx.ParseConfig(url + "?sslmode=require")
			if err != nil {
				t.Fatal(err)
			}
			if !socketTLS {
				// pgx does TLS over a plain socket: give it the capture's key log.
				cfg.TLSConfig.KeyLogWriter = p.KeyLogWriter()
			}
			if err := pg.ConfigureConn(cfg, &pg.Options{Dialer: wire(p), SocketTLS: socketTLS}); err != nil {
				t.Fatal(err)
			}
			ctx := ctxT(t)
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			var one int
			if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
				t.Fatalf("SELECT 1: %d, %v", one, err)
			}
			conn.Close(ctx)
			checkSecretsFirst(t, p.done(t))
			d := dissect(t, bin, p.path, nil, "pgsql.query", "tls.handshake.type")
			if got := d.values(0); !slices.Contains(got, "SELECT 1") {
				t.Errorf("tshark decodes the queries %q, want the decrypted SELECT 1", got)
			}
			if len(d.values(1)) == 0 {
				t.Error("tshark sees no TLS handshake: the query did not go over TLS")
			}
		})
	}
}

func TestMySQL(t *testing.T) {
	dsn := testenv.Get(t, "OUTBOUND_TEST_MYSQL")
	pool := caPool(t, "OUTBOUND_TEST_MYSQL_CA")
	bin := tshark(t)
	p := newPcap(t)
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ := net.SplitHostPort(cfg.Addr)
	cfg.TLS = &tls.Config{RootCAs: pool, ServerName: host, KeyLogWriter: p.KeyLogWriter()}
	cfg.DialFunc = wire(p).DialContext
	conn, err := gomysql.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	var one int
	if err := db.QueryRowContext(ctxT(t), "SELECT 1 AS capture_test").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %d, %v", one, err)
	}
	db.Close()
	checkSecretsFirst(t, p.done(t))
	d := dissect(t, bin, p.path, nil, "mysql.query")
	if got := d.values(0); !slices.Contains(got, "SELECT 1 AS capture_test") {
		t.Errorf("tshark decodes the queries %q, want the decrypted SELECT 1", got)
	}
}

func TestSMTP(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_SMTP")
	pool := caPool(t, "OUTBOUND_TEST_SMTP_CA")
	bin := tshark(t)
	p := newPcap(t)
	conn, err := wire(p).DialContext(ctxT(t), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := gosmtp.NewClientStartTLS(conn, &tls.Config{RootCAs: pool, ServerName: "localhost", KeyLogWriter: p.KeyLogWriter()})
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Mail("capture-test@localhost", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("outbound@localhost", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(); err != nil { // no mail delivered
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	checkSecretsFirst(t, p.done(t))
	_, port, _ := net.SplitHostPort(addr)
	d := dissect(t, bin, p.path, []string{"-d", "tcp.port==" + port + ",smtp"}, "smtp.req.command", "smtp.req.parameter")
	var cmds []string
	for _, r := range d.rows {
		if r[0] != "" {
			cmds = append(cmds, strings.TrimSpace(r[0]+" "+r[1]))
		}
	}
	got := strings.Join(cmds, "|")
	i := strings.Index(got, "STAR TLS|")
	if i < 0 || !strings.Contains(got[i:], "|MAIL FROM:<capture-test@localhost>") || !strings.Contains(got[i:], "|RCPT TO:<outbound@localhost>|") {
		t.Errorf("tshark decodes the commands %q, want MAIL FROM and RCPT TO after STARTTLS", got)
	}
}

// mqttPacket frames an MQTT 3.1.1 control packet.
func mqttPacket(typ byte, body ...[]byte) []byte {
	var b []byte
	for _, p := range body {
		b = append(b, p...)
	}
	out := []byte{typ}
	n := len(b)
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		out = append(out, d)
		if n == 0 {
			break
		}
	}
	return append(out, b...)
}

func mqttString(s string) []byte { return append([]byte{byte(len(s) >> 8), byte(len(s))}, s...) }

func TestMQTT(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_MQTT")
	bin := tshark(t)
	p := newPcap(t)
	conn, err := wire(p).DialContext(ctxT(t), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	topic := fmt.Sprintf("outbound/capture-test/%d", time.Now().UnixNano())
	// CONNECT (MQTT 3.1.1, clean session, keep-alive 30 s), then PUBLISH
	// (QoS 0) and DISCONNECT.
	connect := mqttPacket(0x10, mqttString("MQTT"), []byte{4, 2, 0, 30}, mqttString("capture-test"))
	if _, err := conn.Write(connect); err != nil {
		t.Fatal(err)
	}
	ack := make([]byte, 4)
	if _, err := io.ReadFull(conn, ack); err != nil || ack[0] != 0x20 || ack[3] != 0 {
		t.Fatalf("CONNACK %x, %v", ack, err)
	}
	conn.Write(mqttPacket(0x30, mqttString(topic), []byte("hello from the capture test")))
	conn.Write([]byte{0xe0, 0})
	conn.Close()
	p.done(t)
	d := dissect(t, bin, p.path, nil, "mqtt.topic", "mqtt.msg")
	if got := d.values(0); len(got) != 1 || got[0] != topic {
		t.Errorf("tshark decodes the topics %q, want %q", got, topic)
	}
}

func TestRedis(t *testing.T) {
	addr := testenv.Get(t, "OUTBOUND_TEST_REDIS")
	bin := tshark(t)
	p := newPcap(t)
	key := fmt.Sprintf("outbound:capture-test:%d", time.Now().UnixNano())
	rdb := redis.NewClient(&redis.Options{Addr: addr, Dialer: wire(p).DialContext, Protocol: 2, DisableIdentity: true})
	ctx := ctxT(t)
	if err := rdb.Set(ctx, key, "captured", time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := rdb.Get(ctx, key).Result(); err != nil || v != "captured" {
		t.Fatalf("GET: %q, %v", v, err)
	}
	rdb.Del(ctx, key)
	rdb.Close()
	p.done(t)
	d := dissect(t, bin, p.path, nil, "resp.bulk_string.value")
	var cmds []string
	for _, v := range d.values(0) { // one packet's bulk strings, in hex
		var args []string
		for _, h := range strings.Split(v, ",") {
			b, err := hex.DecodeString(h)
			if err != nil {
				t.Fatalf("tshark field %q: %v", v, err)
			}
			args = append(args, string(b))
		}
		cmds = append(cmds, strings.Join(args, " "))
	}
	got := strings.Join(cmds, "|")
	if !strings.Contains(got, "|set "+key+" captured ex 60|get "+key+"|captured|") {
		t.Errorf("tshark decodes the RESP strings %q, want SET and GET of %s", got, key)
	}
}

func TestHTTP2(t *testing.T) {
	bin := tshark(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s", r.Proto, r.URL.Path)
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	p := newPcap(t)
	tr := &http.Transport{
		DialContext:       wire(p).DialContext,
		TLSClientConfig:   &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs, KeyLogWriter: p.KeyLogWriter()},
		ForceAttemptHTTP2: true,
	}
	client := &http.Client{Transport: tr}
	resp, err := client.Get(srv.URL + "/capture/h2")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "HTTP/2.0 /capture/h2" {
		t.Fatalf("response %q", body)
	}
	tr.CloseIdleConnections()
	checkSecretsFirst(t, p.done(t))
	d := dissect(t, bin, p.path, nil, "http2.headers.path")
	if got := d.values(0); len(got) != 1 || got[0] != "/capture/h2" {
		t.Errorf("tshark decodes the :path headers %q, want /capture/h2", got)
	}
}
