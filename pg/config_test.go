package pg_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/outboundhq/outbound/pg"
)

// TestConfigure checks what Configure leaves in a parsed configuration: the
// hostname lookup keeps the name, pgx's own TLS attempts stay with the
// driver, and SocketTLS folds them into one plaintext attempt per host.
func TestConfigure(t *testing.T) {
	type attempt struct {
		host string
		tls  bool
	}
	cases := []struct {
		name      string
		conn      string
		socketTLS bool
		want      []attempt // pgx's attempts after Configure
	}{
		{"driver/prefer", "host=a,b sslmode=prefer", false, []attempt{{"a", true}, {"a", false}, {"b", true}, {"b", false}}},
		{"driver/allow", "host=a sslmode=allow", false, []attempt{{"a", false}, {"a", true}}},
		{"socket/prefer", "host=a,b sslmode=prefer", true, []attempt{{"a", false}, {"b", false}}},
		{"socket/allow", "host=a sslmode=allow", true, []attempt{{"a", false}}},
		{"socket/require", "host=a,b,c sslmode=require", true, []attempt{{"a", false}, {"b", false}, {"c", false}}},
		{"socket/disable", "host=a sslmode=disable", true, []attempt{{"a", false}}},
		{"socket/direct", "host=a sslnegotiation=direct sslmode=require", true, []attempt{{"a", false}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := pgconn.ParseConfig(tc.conn + " user=u")
			if err != nil {
				t.Fatal(err)
			}
			if err := pg.Configure(cfg, &pg.Options{SocketTLS: tc.socketTLS}); err != nil {
				t.Fatal(err)
			}
			got := []attempt{{cfg.Host, cfg.TLSConfig != nil}}
			for _, fb := range cfg.Fallbacks {
				got = append(got, attempt{fb.Host, fb.TLSConfig != nil})
			}
			if len(got) != len(tc.want) {
				t.Fatalf("attempts %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("attempts %v, want %v", got, tc.want)
				}
			}
			addrs, err := cfg.LookupFunc(context.Background(), "db.example.com")
			if err != nil || len(addrs) != 1 || addrs[0] != "db.example.com" {
				t.Errorf("LookupFunc(db.example.com) = %q, %v; want the name unchanged", addrs, err)
			}
		})
	}
}

func TestConfigureRefuses(t *testing.T) {
	cases := []struct {
		name      string
		conn      string
		socketTLS bool
		errText   string
	}{
		{"channel binding", "host=a sslmode=require channel_binding=require", true, "channel_binding=require"},
		{"sslcertmode", "host=a sslmode=require sslcertmode=require", true, "sslcertmode=require"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := pgconn.ParseConfig(tc.conn + " user=u")
			if err != nil {
				t.Fatal(err)
			}
			before := *cfg
			err = pg.Configure(cfg, &pg.Options{SocketTLS: tc.socketTLS})
			if err == nil || !strings.Contains(err.Error(), tc.errText) || !strings.Contains(err.Error(), "SocketTLS") {
				t.Fatalf("Configure = %v; want an error naming %s and SocketTLS", err, tc.errText)
			}
			if cfg.TLSConfig != before.TLSConfig || len(cfg.Fallbacks) != len(before.Fallbacks) {
				t.Error("a refused Configure changed the configuration")
			}
			// The driver's own TLS handles both.
			if err := pg.Configure(cfg, nil); err != nil {
				t.Errorf("without SocketTLS: %v", err)
			}
		})
	}
}

func TestNilConfigs(t *testing.T) {
	for name, err := range map[string]error{
		"Configure":     pg.Configure(nil, nil),
		"ConfigureConn": pg.ConfigureConn(nil, nil),
		"ConfigurePool": pg.ConfigurePool(nil, nil),
	} {
		if err == nil || !strings.Contains(err.Error(), "ParseConfig") {
			t.Errorf("%s(nil) = %v; want an error pointing at ParseConfig", name, err)
		}
	}
}

func TestBadConnString(t *testing.T) {
	ctx := context.Background()
	const bad = "postgres://u@h:notaport/db"
	if _, err := pg.Connect(ctx, bad, nil); err == nil {
		t.Error("Connect accepted a bad connection string")
	}
	if _, err := pg.NewPool(ctx, bad, nil); err == nil {
		t.Error("NewPool accepted a bad connection string")
	}
	if _, err := pg.OpenDB(bad, nil); err == nil {
		t.Error("OpenDB accepted a bad connection string")
	}
}

// TestConfigureTwice: SocketTLS moves the TLS settings into the dial
// function, so configuring the same configuration again (which would find
// plaintext everywhere) is refused; configuring twice without SocketTLS is
// harmless and allowed.
func TestConfigureTwice(t *testing.T) {
	for _, first := range []bool{false, true} {
		for _, second := range []bool{false, true} {
			cfg, err := pgconn.ParseConfig("host=a sslmode=verify-full user=u")
			if err != nil {
				t.Fatal(err)
			}
			if err := pg.Configure(cfg, &pg.Options{SocketTLS: first}); err != nil {
				t.Fatal(err)
			}
			err = pg.Configure(cfg, &pg.Options{SocketTLS: second})
			if first && (err == nil || !strings.Contains(err.Error(), "already configured")) {
				t.Errorf("SocketTLS %v then %v: %v; want an error", first, second, err)
			}
			if !first && err != nil {
				t.Errorf("SocketTLS %v then %v: %v", first, second, err)
			}
		}
	}
}
