// Command onedialer configures one [dialers.Dialer] (an egress policy that
// requires a request scope, and a layer that sees every connection) and
// uses that one value with pgx (package pg), go-sql-driver/mysql (package
// mysql), go-smtp (package smtp), paho MQTT (package mqtt) and net/http.
//
//	go run ./examples/onedialer          # against in-process servers
//	OUTBOUND_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test \
//	OUTBOUND_TEST_MYSQL='root@tcp(127.0.0.1:3306)/test' \
//	OUTBOUND_TEST_SMTP=127.0.0.1:2587 OUTBOUND_TEST_SMTP_CA=.ci/certs/ca.pem \
//	OUTBOUND_TEST_MQTT=127.0.0.1:1883 go run ./examples/onedialer
//
// Every adapter takes the dialer the same way, in the Dialer field of its
// options:
//
//	d := &dialers.Dialer{Options: &sockets.Options{Policy: policy, Layers: layers}}
//	pg.Connect(ctx, url, &pg.Options{Dialer: d})
//	outmysql.OpenDB(cfg, &outmysql.Options{Dialer: d})
//	smtp.SendMail(ctx, addr, auth, from, to, msg, &smtp.Options{Dialer: d})
//	mqtt.Dial(ctx, broker, &mqtt.Options{Dialer: d})
//	&http.Client{Transport: dialers.NewHTTPTransport(d)}
//
// Redis (dialers.RedisDialer(d, tls)), FTP (dialers.FTPDialFunc(ctx, d,
// ...)), SSH (sshdial.Dial(ctx, d, ...)) and MongoDB (SetDialer(d)) take
// the same value as their argument.
//
// Each server is in-process unless its flag (or the OUTBOUND_TEST_*
// variable that is the flag's default) names a real one; the HTTP server is
// always in-process. The dialer carries no TLS settings: pgx and the MySQL
// driver take theirs from the connection string and the DSN (and refuse a
// Dialer that has some), and SMTP gets its roots in its own options.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/paho"
	gomysql "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/outboundhq/outbound/dialers"
	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/mqtt"
	outmysql "github.com/outboundhq/outbound/mysql"
	"github.com/outboundhq/outbound/pg"
	"github.com/outboundhq/outbound/smtp"
	"github.com/outboundhq/outbound/smtp/smtptest"
	"github.com/outboundhq/outbound/sockets"
	"github.com/outboundhq/outbound/sockets/sockettest"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "onedialer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("onedialer", flag.ContinueOnError)
	pgURL := fs.String("postgres", os.Getenv("OUTBOUND_TEST_POSTGRES"), "PostgreSQL `URL` (default $OUTBOUND_TEST_POSTGRES; empty: an in-process server)")
	mysqlDSN := fs.String("mysql", os.Getenv("OUTBOUND_TEST_MYSQL"), "go-sql-driver/mysql `DSN` (default $OUTBOUND_TEST_MYSQL; empty: an in-process server)")
	smtpAddr := fs.String("smtp", os.Getenv("OUTBOUND_TEST_SMTP"), "SMTP submission `host:port` with STARTTLS (default $OUTBOUND_TEST_SMTP; empty: an in-process server)")
	smtpCA := fs.String("smtp-ca", os.Getenv("OUTBOUND_TEST_SMTP_CA"), "PEM `file` of the CA of the SMTP server's certificate (default $OUTBOUND_TEST_SMTP_CA)")
	broker := fs.String("mqtt", os.Getenv("OUTBOUND_TEST_MQTT"), "MQTT broker `host:port` (default $OUTBOUND_TEST_MQTT; empty: an in-process broker)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	// The one dialer: configured once, handed to every adapter below.
	policy, err := egress.NewPolicy(egress.PolicyConfig{
		Default:      egress.Deny,
		RequireScope: true, // as on Workers: connect only while serving a request
		Rules: []egress.Rule{
			{Name: "no-metadata", Action: egress.Deny, Addrs: []string{"metadata"}},
			{Name: "local-services", Action: egress.Allow, Addrs: []string{"loopback"}},
		},
	})
	if err != nil {
		return err
	}
	var seen tally // a Layer: capture and fault injection plug in the same way
	d := &dialers.Dialer{Options: &sockets.Options{Policy: policy, Layers: []sockets.Layer{&seen}}}
	fmt.Fprintln(stdout, `one dialer: policy "no-metadata", "local-services" (loopback), default deny, scope required`)

	// A request scope, as a handler would have: the connections opened
	// while serving it are its own, and ending it closes those still open.
	sc := sockets.NewScope(ctx, &sockets.ScopeOptions{Name: "onedialer"})
	defer sc.Close()
	rctx := sockets.WithScope(ctx, sc)

	// Each step leaves its in-process server (and the mysql and http
	// pools) running until the end, so that the scope has something to
	// close; cleanups run last, in reverse.
	steps := []struct {
		name string
		do   func(context.Context, *dialers.Dialer, *cleanups) (string, error)
	}{
		{"pg", func(ctx context.Context, d *dialers.Dialer, c *cleanups) (string, error) {
			return usePostgres(ctx, d, c, *pgURL)
		}},
		{"mysql", func(ctx context.Context, d *dialers.Dialer, c *cleanups) (string, error) {
			return useMySQL(ctx, d, c, *mysqlDSN)
		}},
		{"smtp", func(ctx context.Context, d *dialers.Dialer, c *cleanups) (string, error) {
			return useSMTP(ctx, d, c, *smtpAddr, *smtpCA)
		}},
		{"mqtt", func(ctx context.Context, d *dialers.Dialer, c *cleanups) (string, error) {
			return useMQTT(ctx, d, c, *broker)
		}},
		{"http", useHTTP},
	}
	var done cleanups
	defer done.run()
	for _, s := range steps {
		line, err := s.do(rctx, d, &done)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Fprintf(stdout, "%s: %s\n", s.name, line)
	}

	// The same dialer refuses what the policy denies, for every adapter.
	client := &http.Client{Transport: dialers.NewHTTPTransport(d)}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(rctx, "GET", "http://169.254.169.254/latest/meta-data/", nil)
	_, err = client.Do(req)
	fmt.Fprintf(stdout, "http: GET http://169.254.169.254/ refused by the policy: %v\n", errors.Is(err, sockets.ErrDenied))
	_, err = pg.Connect(ctx, "host=127.0.0.1 user=app sslmode=disable", &pg.Options{Dialer: d}) // ctx: no scope
	fmt.Fprintf(stdout, "pg: a connection outside a scope refused: %v\n", errors.Is(err, sockets.ErrDenied) || errors.Is(err, sockets.ErrInvalidOptions))

	open, _ := sc.Open()
	fmt.Fprintf(stdout, "the dialer's layer saw %d connections; %d still open (idle in the mysql and http pools) close with the scope\n", seen.n.Load(), open)
	if err := sc.Close(); err != nil {
		return err
	}
	if open, _ := sc.Open(); open != 0 {
		return fmt.Errorf("%d sockets open after the scope ended", open)
	}
	return nil
}

// cleanups are run once, last added first.
type cleanups []func()

func (c *cleanups) add(f func()) { *c = append(*c, f) }

func (c *cleanups) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
	*c = nil
}

// tally is a [sockets.Layer] that counts the connections it sees opened.
type tally struct{ n atomic.Int64 }

func (t *tally) Dial(ctx context.Context, a sockets.Address, next func(context.Context) (net.Conn, error)) (net.Conn, error) {
	c, err := next(ctx)
	if err == nil {
		t.n.Add(1)
	}
	return c, err
}

// where says which server a step talked to.
func where(inProcess bool, kind, addr string) string {
	if inProcess {
		return "in-process " + kind + " at " + addr
	}
	return kind + " at " + addr
}

func usePostgres(ctx context.Context, d *dialers.Dialer, done *cleanups, connString string) (string, error) {
	inProcess := connString == ""
	if inProcess {
		p, err := listen(servePostgres)
		if err != nil {
			return "", err
		}
		done.add(p.close)
		host, port, _ := net.SplitHostPort(p.addr())
		connString = fmt.Sprintf("host=%s port=%s user=app database=app sslmode=disable", host, port)
	}
	conn, err := pg.Connect(ctx, connString, &pg.Options{Dialer: d})
	if err != nil {
		return "", err
	}
	defer conn.Close(context.Background())
	var n int
	if err := conn.QueryRow(ctx, "SELECT 6 * 7", pgx.QueryExecModeSimpleProtocol).Scan(&n); err != nil {
		return "", err
	}
	addr := conn.PgConn().Conn().RemoteAddr().String()
	return fmt.Sprintf("SELECT 6 * 7 = %d (%s, pgx)", n, where(inProcess, "PostgreSQL", addr)), nil
}

func useMySQL(ctx context.Context, d *dialers.Dialer, done *cleanups, dsn string) (string, error) {
	inProcess := dsn == ""
	if inProcess {
		p, err := listen(serveMySQL)
		if err != nil {
			return "", err
		}
		done.add(p.close)
		dsn = "app@tcp(" + p.addr() + ")/app"
	}
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return "", err
	}
	// The scope closes the pool's idle connection at the end; the driver
	// would log that its goodbye (COM_QUIT) found the socket closed.
	cfg.Logger = log.New(io.Discard, "", 0)
	db, err := outmysql.OpenDB(cfg, &outmysql.Options{Dialer: d})
	if err != nil {
		return "", err
	}
	done.add(func() { db.Close() })
	var n int
	if err := db.QueryRowContext(ctx, "SELECT 6 * 7").Scan(&n); err != nil {
		return "", err
	}
	return fmt.Sprintf("SELECT 6 * 7 = %d (%s, go-sql-driver/mysql)", n, where(inProcess, "MySQL", cfg.Addr)), nil
}

func useSMTP(ctx context.Context, d *dialers.Dialer, done *cleanups, addr, caFile string) (string, error) {
	inProcess := addr == ""
	roots := x509.NewCertPool()
	to := "outbound@localhost"
	if inProcess {
		ca, err := sockettest.NewCA()
		if err != nil {
			return "", err
		}
		scfg, err := ca.ServerConfig()
		if err != nil {
			return "", err
		}
		srv, err := smtptest.NewServer(&smtptest.Options{TLSConfig: scfg})
		if err != nil {
			return "", err
		}
		done.add(func() { srv.Close() })
		addr, roots = srv.Addr(), ca.Pool()
		to = "bob@example.com"
	} else {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return "", fmt.Errorf("the SMTP server's CA (-smtp-ca): %w", err)
		}
		if !roots.AppendCertsFromPEM(pem) {
			return "", fmt.Errorf("%s holds no PEM certificate", caFile)
		}
	}
	msg := "From: onedialer@localhost\r\nTo: " + to + "\r\nSubject: one dialer\r\n\r\nsent through the one dialer\r\n"
	opts := &smtp.Options{Dialer: d, TLSConfig: &tls.Config{RootCAs: roots}, LocalName: "outbound.test"}
	if err := smtp.SendMail(ctx, addr, nil, "onedialer@localhost", []string{to}, strings.NewReader(msg), opts); err != nil {
		return "", err
	}
	return fmt.Sprintf("sent a message with STARTTLS to %s (%s, go-smtp)", to, where(inProcess, "SMTP server", addr)), nil
}

func useMQTT(ctx context.Context, d *dialers.Dialer, done *cleanups, addr string) (string, error) {
	inProcess := addr == ""
	if inProcess {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		stop, err := startBroker(l)
		if err != nil {
			return "", err
		}
		done.add(stop)
		addr = l.Addr().String()
	}
	u := &url.URL{Scheme: "mqtt", Host: addr}
	conn, err := mqtt.Dial(ctx, u, &mqtt.Options{Dialer: d})
	if err != nil {
		return "", err
	}
	received := make(chan string, 1)
	id := fmt.Sprintf("onedialer-%d-%d", os.Getpid(), time.Now().UnixNano())
	topic := "outbound/onedialer/" + id
	c := paho.NewClient(paho.ClientConfig{
		ClientID: id,
		Conn:     conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
			select {
			case received <- string(pr.Packet.Payload):
			default:
			}
			return true, nil
		}},
	})
	defer func() {
		c.Disconnect(&paho.Disconnect{})
		<-c.Done()
	}()
	if _, err := c.Connect(ctx, &paho.Connect{ClientID: id, KeepAlive: 30, CleanStart: true}); err != nil {
		return "", err
	}
	if _, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}}); err != nil {
		return "", err
	}
	if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte("hello")}); err != nil {
		return "", err
	}
	select {
	case m := <-received:
		return fmt.Sprintf("published and received %q at QoS 1 (%s, paho.golang)", m, where(inProcess, "broker", addr)), nil
	case <-ctx.Done():
		return "", fmt.Errorf("no message back: %w", ctx.Err())
	}
}

func useHTTP(ctx context.Context, d *dialers.Dialer, done *cleanups) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello from net/http")
	})}
	served := make(chan struct{})
	go func() { srv.Serve(ln); close(served) }()
	client := &http.Client{Transport: dialers.NewHTTPTransport(d)}
	done.add(func() { client.CloseIdleConnections(); srv.Close(); <-served })
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ln.Addr().String()+"/", nil)
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("GET / = %d %q (in-process server at %s, net/http)", resp.StatusCode, body, ln.Addr()), nil
}
