package composetest

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/outboundhq/outbound/internal/testenv"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// composePath is the repository's compose.yaml, seen from this directory.
const composePath = "../../compose.yaml"

// composeFile is the part of the Compose file format this test reads.
type composeFile struct {
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image       string       `yaml:"image"`
	Entrypoint  stringOrList `yaml:"entrypoint"`
	Command     stringOrList `yaml:"command"`
	Environment environment  `yaml:"environment"`
	Ports       []port       `yaml:"ports"`
	Volumes     []volume     `yaml:"volumes"`
	Healthcheck *struct {
		Test    stringOrList `yaml:"test"`
		Disable bool         `yaml:"disable"`
	} `yaml:"healthcheck"`
}

// stringOrList is a Compose field written as a string or a list of strings
// (command, entrypoint, healthcheck.test).
type stringOrList []string

func (s *stringOrList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*s = stringOrList{n.Value}
		return nil
	}
	var l []string
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// environment is a map, or a list of "KEY=value".
type environment map[string]string

func (e *environment) UnmarshalYAML(n *yaml.Node) error {
	m := map[string]string{}
	switch n.Kind {
	case yaml.MappingNode:
		if err := n.Decode(&m); err != nil {
			return err
		}
	case yaml.SequenceNode:
		var l []string
		if err := n.Decode(&l); err != nil {
			return err
		}
		for _, kv := range l {
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
	default:
		return fmt.Errorf("line %d: environment must be a map or a list", n.Line)
	}
	*e = m
	return nil
}

// port is one published port, from the short syntax
// ("[host_ip:]published:target[/protocol]") or the long one.
type port struct {
	HostIP    string
	Published string
	Target    string
}

func (p *port) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var long struct {
			HostIP    string `yaml:"host_ip"`
			Published string `yaml:"published"`
			Target    string `yaml:"target"`
		}
		if err := n.Decode(&long); err != nil {
			return err
		}
		*p = port(long)
		return nil
	}
	spec, _, _ := strings.Cut(n.Value, "/")
	parts := strings.Split(spec, ":")
	switch len(parts) {
	case 1:
		*p = port{Target: parts[0]}
	case 2:
		*p = port{Published: parts[0], Target: parts[1]}
	case 3:
		*p = port{HostIP: parts[0], Published: parts[1], Target: parts[2]}
	default:
		return fmt.Errorf("line %d: cannot read port %q", n.Line, n.Value)
	}
	return nil
}

// volume is one mount, from the short syntax ("source:target[:mode]") or the
// long one.
type volume struct {
	Source, Target string
	ReadOnly       bool
}

func (v *volume) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode {
		var long struct {
			Source   string `yaml:"source"`
			Target   string `yaml:"target"`
			ReadOnly bool   `yaml:"read_only"`
		}
		if err := n.Decode(&long); err != nil {
			return err
		}
		*v = volume(long)
		return nil
	}
	parts := strings.Split(n.Value, ":")
	switch len(parts) {
	case 1:
		*v = volume{Target: parts[0]}
	case 2:
		*v = volume{Source: parts[0], Target: parts[1]}
	default:
		*v = volume{Source: parts[0], Target: parts[1], ReadOnly: strings.Contains(parts[2], "ro")}
	}
	return nil
}

// text is everything the service runs, for checks on its command line.
func (s service) text() string {
	return strings.Join(append(slices.Clone(s.Entrypoint), s.Command...), " ")
}

// mounts reports whether the service mounts the repository directory dir.
func (s service) mounts(dir string) bool {
	for _, v := range s.Volumes {
		if v.Source != "" && filepath.Clean(v.Source) == filepath.Clean(dir) {
			return true
		}
	}
	return false
}

// env returns the first of the service's environment variables names that is set.
func (s service) env(names ...string) (string, bool) {
	for _, n := range names {
		if v, ok := s.Environment[n]; ok {
			return v, true
		}
	}
	return "", false
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	data, err := os.ReadFile(composePath)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("compose.yaml is missing at the repository root: it must serve the servers the integration tests use")
	}
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if len(f.Services) == 0 {
		t.Fatal("compose.yaml defines no services")
	}
	return f
}

// report collects the ways compose.yaml disagrees with testenv.
type report struct{ problems []string }

func (r *report) errorf(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// defaultOf returns the default value testenv gives variable name.
func defaultOf(name string) string {
	for _, v := range testenv.Vars {
		if v.Name == name {
			return v.Default
		}
	}
	return ""
}

// expected is one server compose.yaml must serve: its service, the testenv
// variable that points at it, how to get host:port from that variable's
// default, and what else must hold (credentials, TLS).
type expected struct {
	service string
	envVar  string
	addr    func(def string) (string, error)
	check   func(r *report, s service, def string)
}

var servers = []expected{
	{service: "postgres", envVar: "OUTBOUND_TEST_POSTGRES", addr: urlHost, check: checkPostgres},
	{service: "mariadb", envVar: "OUTBOUND_TEST_MYSQL", addr: mysqlAddr, check: checkMariaDB},
	{service: "mosquitto", envVar: "OUTBOUND_TEST_MQTT", addr: plainAddr, check: checkMosquitto},
	{service: "redis", envVar: "OUTBOUND_TEST_REDIS", addr: plainAddr},
	{service: "smtp", envVar: "OUTBOUND_TEST_SMTP", addr: plainAddr, check: checkSMTP},
	{service: "dovecot", envVar: "OUTBOUND_TEST_IMAP", addr: plainAddr},
	{service: "dovecot", envVar: "OUTBOUND_TEST_IMAPS", addr: plainAddr},
	{service: "dovecot", envVar: "OUTBOUND_TEST_POP3", addr: plainAddr},
	{service: "dovecot", envVar: "OUTBOUND_TEST_POP3S", addr: plainAddr},
	{service: "mongodb", envVar: "OUTBOUND_TEST_MONGODB", addr: urlHost},
}

func urlHost(def string) (string, error) {
	u, err := url.Parse(def)
	if err != nil {
		return "", err
	}
	return u.Host, nil
}

func mysqlAddr(def string) (string, error) {
	cfg, err := mysql.ParseDSN(def)
	if err != nil {
		return "", err
	}
	return cfg.Addr, nil
}

func plainAddr(def string) (string, error) { return def, nil }

// check returns every disagreement between f and testenv's defaults.
func check(f composeFile) []string {
	r := &report{}
	for _, want := range servers {
		s, ok := f.Services[want.service]
		if !ok {
			r.errorf("compose.yaml has no service %q (the server behind %s)", want.service, want.envVar)
			continue
		}
		def := defaultOf(want.envVar)
		addr, err := want.addr(def)
		if err != nil {
			r.errorf("%s default %q: %v", want.envVar, def, err)
			continue
		}
		host, portStr, err := net.SplitHostPort(addr)
		if err != nil {
			r.errorf("%s default %q: %v", want.envVar, def, err)
			continue
		}
		published := slices.ContainsFunc(s.Ports, func(p port) bool {
			return p.Published == portStr && (p.HostIP == "" || p.HostIP == "0.0.0.0" || p.HostIP == host)
		})
		if !published {
			r.errorf("service %q does not publish %s:%s (%s defaults to %q); its ports: %+v", want.service, host, portStr, want.envVar, def, s.Ports)
		}
		hc := s.Healthcheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
			r.errorf("service %q has no health check: `docker compose up -d --wait` could not tell when it is ready", want.service)
		}
		if want.check != nil {
			want.check(r, s, def)
		}
	}

	// Every service that publishes a port is one of the servers above, so a
	// new one cannot be added without a variable and a check.
	for name, s := range f.Services {
		if len(s.Ports) > 0 && !slices.ContainsFunc(servers, func(e expected) bool { return e.service == name }) {
			r.errorf("service %q publishes ports but no testenv variable is checked against it; add it to servers in internal/composetest", name)
		}
	}

	// The CA files the tests read by default are in the directory that
	// compose.yaml's certificate service writes.
	for _, name := range []string{"OUTBOUND_TEST_MYSQL_CA", "OUTBOUND_TEST_SMTP_CA"} {
		dir := filepath.Dir(defaultOf(name))
		writer := false
		for _, s := range f.Services {
			for _, v := range s.Volumes {
				if v.Source != "" && filepath.Clean(v.Source) == filepath.Clean(dir) && !v.ReadOnly {
					writer = true
				}
			}
		}
		if !writer {
			r.errorf("%s defaults to a file in %s, but no compose.yaml service writes into that directory", name, dir)
		}
	}
	slices.Sort(r.problems)
	return r.problems
}

func truthy(v string) bool {
	b, err := strconv.ParseBool(v)
	return (err == nil && b) || strings.EqualFold(v, "yes")
}

// certDir is the directory of the test CA and the servers' certificate.
func certDir() string { return filepath.Dir(defaultOf("OUTBOUND_TEST_MYSQL_CA")) }

func checkPostgres(r *report, s service, def string) {
	u, err := url.Parse(def)
	if err != nil {
		r.errorf("OUTBOUND_TEST_POSTGRES default %q: %v", def, err)
		return
	}
	user := u.User.Username()
	if got, ok := s.env("POSTGRES_USER"); ok && got != user {
		r.errorf("POSTGRES_USER = %q, but OUTBOUND_TEST_POSTGRES connects as %q", got, user)
	} else if !ok && user != "postgres" {
		r.errorf("POSTGRES_USER is unset (the image's default, postgres), but OUTBOUND_TEST_POSTGRES connects as %q", user)
	}
	if pw, ok := u.User.Password(); ok {
		if got, _ := s.env("POSTGRES_PASSWORD"); got != pw {
			r.errorf("POSTGRES_PASSWORD = %q, want %q from OUTBOUND_TEST_POSTGRES", got, pw)
		}
	} else if got, _ := s.env("POSTGRES_HOST_AUTH_METHOD"); got != "trust" {
		r.errorf("POSTGRES_HOST_AUTH_METHOD = %q, want trust: OUTBOUND_TEST_POSTGRES has no password", got)
	}
	db := strings.TrimPrefix(u.Path, "/")
	got, ok := s.env("POSTGRES_DB")
	if !ok {
		got = user // the image's default database is named after the user
	}
	if got != db {
		r.errorf("the postgres service's database is %q, but OUTBOUND_TEST_POSTGRES uses %q", got, db)
	}
	if !strings.Contains(s.text(), "ssl=on") {
		r.errorf("PostgreSQL must run with TLS on (-c ssl=on): the tests use sslmode=require and StartTLS; its command: %q", s.text())
	}
	if !s.mounts(certDir()) {
		r.errorf("PostgreSQL does not mount %s, where the test CA's server certificate is", certDir())
	}
}

func checkMariaDB(r *report, s service, def string) {
	cfg, err := mysql.ParseDSN(def)
	if err != nil {
		r.errorf("OUTBOUND_TEST_MYSQL default %q: %v", def, err)
		return
	}
	switch {
	case cfg.User != "root":
		if got, _ := s.env("MARIADB_USER", "MYSQL_USER"); got != cfg.User {
			r.errorf("MARIADB_USER = %q, but OUTBOUND_TEST_MYSQL connects as %q", got, cfg.User)
		}
		if got, _ := s.env("MARIADB_PASSWORD", "MYSQL_PASSWORD"); got != cfg.Passwd {
			r.errorf("MARIADB_PASSWORD = %q, want %q from OUTBOUND_TEST_MYSQL", got, cfg.Passwd)
		}
	case cfg.Passwd == "":
		if allow, _ := s.env("MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "MYSQL_ALLOW_EMPTY_PASSWORD"); !truthy(allow) {
			r.errorf("OUTBOUND_TEST_MYSQL logs in as root without a password, but MARIADB_ALLOW_EMPTY_ROOT_PASSWORD is %q", allow)
		}
		if pw, _ := s.env("MARIADB_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD"); pw != "" {
			r.errorf("MARIADB_ROOT_PASSWORD is set, but OUTBOUND_TEST_MYSQL logs in as root without a password")
		}
	default:
		if got, _ := s.env("MARIADB_ROOT_PASSWORD", "MYSQL_ROOT_PASSWORD"); got != cfg.Passwd {
			r.errorf("MARIADB_ROOT_PASSWORD = %q, want %q from OUTBOUND_TEST_MYSQL", got, cfg.Passwd)
		}
	}
	if got, _ := s.env("MARIADB_DATABASE", "MYSQL_DATABASE"); got != cfg.DBName {
		r.errorf("MARIADB_DATABASE = %q, but OUTBOUND_TEST_MYSQL uses database %q", got, cfg.DBName)
	}
	if !strings.Contains(s.text(), "--ssl-cert") {
		r.errorf("MariaDB must run with TLS on (--ssl-cert ...): the tests verify it with OUTBOUND_TEST_MYSQL_CA; its command: %q", s.text())
	}
	if !s.mounts(certDir()) {
		r.errorf("MariaDB does not mount %s, where the CA of OUTBOUND_TEST_MYSQL_CA signed its certificate", certDir())
	}
}

func checkMosquitto(r *report, s service, def string) {
	_, p, _ := net.SplitHostPort(def)
	conf := s.text()
	if !strings.Contains(conf, "allow_anonymous") {
		// The configuration may come from a file of the repository.
		for _, v := range s.Volumes {
			if v.Source == "" {
				continue
			}
			if b, err := os.ReadFile(filepath.Join("../..", v.Source)); err == nil {
				conf += "\n" + string(b)
			}
		}
	}
	if !strings.Contains(conf, "allow_anonymous true") {
		r.errorf("Mosquitto must allow anonymous clients (allow_anonymous true): OUTBOUND_TEST_MQTT carries no credentials")
	}
	if !strings.Contains(conf, "listener "+p) {
		r.errorf("Mosquitto must listen on port %s on every interface (listener %s): version 2 listens on localhost only by default, which a published port cannot reach", p, p)
	}
}

func checkSMTP(r *report, s service, _ string) {
	dir := filepath.Dir(defaultOf("OUTBOUND_TEST_SMTP_CA"))
	if !s.mounts(dir) {
		r.errorf("the SMTP server does not mount %s: its STARTTLS certificate must be signed by the CA of OUTBOUND_TEST_SMTP_CA", dir)
	}
	if !strings.Contains(s.text()+fmt.Sprint(s.Environment), "server.pem") {
		r.errorf("the SMTP server is not given the certificate server.pem for STARTTLS")
	}
}

func TestComposeMatchesTestenv(t *testing.T) {
	for _, p := range check(loadCompose(t)) {
		t.Error(p)
	}
}

// TestCheckFindsDrift changes one thing at a time in the parsed compose.yaml
// and expects check to name it.
func TestCheckFindsDrift(t *testing.T) {
	tests := []struct {
		name   string
		change func(f composeFile)
		want   string // substring of one problem
	}{
		{"postgres port", func(f composeFile) { setPorts(f, "postgres", port{"127.0.0.1", "5433", "5432"}) }, `service "postgres" does not publish 127.0.0.1:5432`},
		{"postgres on another interface", func(f composeFile) { setPorts(f, "postgres", port{"10.0.0.1", "5432", "5432"}) }, `service "postgres" does not publish 127.0.0.1:5432`},
		{"postgres password auth", func(f composeFile) { setEnv(f, "postgres", "POSTGRES_HOST_AUTH_METHOD", "scram-sha-256") }, "want trust"},
		{"postgres database", func(f composeFile) { setEnv(f, "postgres", "POSTGRES_DB", "app") }, `database is "app"`},
		{"postgres user", func(f composeFile) { setEnv(f, "postgres", "POSTGRES_USER", "app") }, `POSTGRES_USER = "app"`},
		{"postgres without TLS", func(f composeFile) { setCommand(f, "postgres", "postgres") }, "TLS on"},
		{"mariadb root password", func(f composeFile) { setEnv(f, "mariadb", "MARIADB_ROOT_PASSWORD", "secret") }, "MARIADB_ROOT_PASSWORD is set"},
		{"mariadb empty password refused", func(f composeFile) { setEnv(f, "mariadb", "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD", "no") }, "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"},
		{"mariadb database", func(f composeFile) { setEnv(f, "mariadb", "MARIADB_DATABASE", "app") }, `MARIADB_DATABASE = "app"`},
		{"mariadb port", func(f composeFile) { setPorts(f, "mariadb", port{"", "3307", "3306"}) }, `service "mariadb" does not publish 127.0.0.1:3306`},
		{"mosquitto anonymous", func(f composeFile) { setCommand(f, "mosquitto", "mosquitto -c /mosquitto/config/mosquitto.conf") }, "allow_anonymous true"},
		{"redis healthcheck", func(f composeFile) { noHealthcheck(f, "redis") }, `service "redis" has no health check`},
		{"smtp port", func(f composeFile) { setPorts(f, "smtp", port{"127.0.0.1", "587", "587"}) }, `service "smtp" does not publish 127.0.0.1:2587`},
		{"mongodb missing", func(f composeFile) { delete(f.Services, "mongodb") }, `no service "mongodb"`},
		{"unchecked service", func(f composeFile) { f.Services["nginx"] = service{Ports: []port{{Published: "80", Target: "80"}}} }, `service "nginx" publishes ports`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := loadCompose(t)
			tt.change(f)
			problems := check(f)
			if !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("check found %q, want a problem containing %q", problems, tt.want)
			}
		})
	}
}

func setPorts(f composeFile, name string, p port) {
	s := f.Services[name]
	s.Ports = []port{p}
	f.Services[name] = s
}

func setEnv(f composeFile, name, key, value string) {
	s := f.Services[name]
	env := environment{}
	for k, v := range s.Environment {
		env[k] = v
	}
	env[key] = value
	s.Environment = env
	f.Services[name] = s
}

func setCommand(f composeFile, name, cmd string) {
	s := f.Services[name]
	s.Entrypoint, s.Command, s.Volumes = nil, stringOrList{cmd}, nil
	f.Services[name] = s
}

func noHealthcheck(f composeFile, name string) {
	s := f.Services[name]
	s.Healthcheck = nil
	f.Services[name] = s
}

// TestParseSyntaxes covers both Compose syntaxes of the fields check reads.
func TestParseSyntaxes(t *testing.T) {
	const doc = `
services:
  a:
    command: run me
    environment: ["K=v", "EMPTY="]
    ports: ["5432", "8080:80", "127.0.0.1:2587:25/tcp", {host_ip: 127.0.0.1, published: "1883", target: 1883}]
    volumes: ["./dir:/in:ro", {type: bind, source: ./other, target: /out}]
    healthcheck: {test: "CMD-SHELL true"}
  b:
    command: [run, me]
    environment: {K: v}
`
	var f composeFile
	if err := yaml.Unmarshal([]byte(doc), &f); err != nil {
		t.Fatal(err)
	}
	a, b := f.Services["a"], f.Services["b"]
	wantPorts := []port{{"", "", "5432"}, {"", "8080", "80"}, {"127.0.0.1", "2587", "25"}, {"127.0.0.1", "1883", "1883"}}
	tests := []struct {
		name      string
		got, want any
	}{
		{"string command", a.text(), "run me"},
		{"list command", b.text(), "run me"},
		{"list environment", a.Environment, environment{"K": "v", "EMPTY": ""}},
		{"map environment", b.Environment, environment{"K": "v"}},
		{"ports", a.Ports, wantPorts},
		{"volumes", a.Volumes, []volume{{"./dir", "/in", true}, {"./other", "/out", false}}},
		{"mounts", a.mounts("dir") && a.mounts("other/"), true},
		{"healthcheck", a.Healthcheck != nil && a.Healthcheck.Test[0] == "CMD-SHELL true", true},
	}
	for _, tt := range tests {
		if fmt.Sprint(tt.got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}
