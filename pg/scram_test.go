package pg_test

import (
	"os"
	"strings"
	"testing"

	"github.com/outboundhq/outbound/internal/testenv"
	"github.com/outboundhq/outbound/pg"
)

// scramRole is the role TestChannelBindingServer creates and logs in as; the
// server's pg_hba.conf must make it authenticate with scram-sha-256 (see
// hbaLine), since the test server trusts every other login.
const (
	scramRole     = "outbound_scram"
	scramPassword = "outbound-scram"
	hbaLine       = "hostssl all " + scramRole + " 127.0.0.1/32 scram-sha-256"
)

// TestChannelBindingServer authenticates against the real server with
// SCRAM-SHA-256-PLUS: channel_binding=require succeeds only if pgx bound the
// TLS channel, which it does over an outbound socket. With SocketTLS the
// same login succeeds with SCRAM-SHA-256 (channel_binding=prefer).
func TestChannelBindingServer(t *testing.T) {
	u := pgURL(t)
	ctx := testCtx(t)
	admin := connect(t, ctx, u.String(), nil)
	var rules int
	err := admin.QueryRow(ctx, `SELECT count(*) FROM pg_hba_file_rules
		WHERE $1 = ANY(user_name) AND auth_method = 'scram-sha-256' AND type IN ('host', 'hostssl') AND error IS NULL`, scramRole).Scan(&rules)
	if err != nil {
		t.Fatalf("reading pg_hba_file_rules: %v", err)
	}
	if rules == 0 {
		msg := "pg_hba.conf has no scram-sha-256 rule for role " + scramRole + ", so channel binding cannot be negotiated; add\n\t" + hbaLine + "\nabove the trust lines and reload (SELECT pg_reload_conf())"
		if os.Getenv(testenv.RequireVar) != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	for _, q := range []string{
		`DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '` + scramRole + `') THEN CREATE ROLE ` + scramRole + ` LOGIN; END IF; END$$`,
		`SET password_encryption = 'scram-sha-256'`,
		`ALTER ROLE ` + scramRole + ` PASSWORD '` + scramPassword + `'`,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	login := *u
	login.User = nil
	cases := []struct {
		name      string
		socketTLS bool
		binding   string
	}{
		{"driverTLS/require", false, "require"},
		{"socketTLS/prefer", true, "prefer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			connString := withParams(&login, "", "user", scramRole, "password", scramPassword, "sslmode", "require", "channel_binding", tc.binding)
			c := connect(t, ctx, connString, &pg.Options{SocketTLS: tc.socketTLS})
			var user string
			if err := c.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil || user != scramRole {
				t.Fatalf("current_user = %q, %v", user, err)
			}
			if !sslOn(t, ctx, c) {
				t.Error("the server says TLS is off")
			}
		})
	}
	// A wrong password is refused: the rule really makes the server check it.
	connString := withParams(&login, "", "user", scramRole, "password", "wrong", "sslmode", "require")
	if c, err := pg.Connect(ctx, connString, nil); err == nil {
		c.Close(ctx)
		t.Error("logged in with a wrong password: the server does not use scram-sha-256 for " + scramRole)
	} else if !strings.Contains(err.Error(), "password authentication failed") {
		t.Errorf("wrong password: %v", err)
	}
}
