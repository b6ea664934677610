package composetest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/go-sql-driver/mysql"
	"go.uber.org/goleak"

	"github.com/outboundhq/outbound/internal/testenv"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// repoRoot is the repository's root, seen from this directory.
const repoRoot = "../.."

// The files this test reads, relative to the root.
const (
	composeFile = "compose.yaml"
	dockerfile  = ".ci/docker/Dockerfile"
	entrypoint  = ".ci/docker/entrypoint.sh"
	ciRun       = ".ci/run"
	setupDir    = ".ci/setup"
)

// ciService is the Debian image that runs .ci/setup; every server but
// MongoDB's is its.
const ciService = "ci"

// load reads root's compose.yaml with the Compose specification's own
// loader, as `docker compose` does: schema validation, interpolation (with
// an empty environment), normalization, path resolution and the consistency
// checks.
func load(ctx context.Context, root string) (*types.Project, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(abs, composeFile)},
		cli.WithWorkingDirectory(abs),
		cli.WithEnv(nil),
		cli.WithConsistency(true),
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(ctx)
}

// report collects the ways the files disagree with testenv and .ci/run.
type report struct{ problems []string }

func (r *report) errorf(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// port returns the TCP port a variable's value names (a URL, a DSN, host:port).
func port(v testenv.Var) (string, error) {
	var hostport string
	switch {
	case strings.Contains(v.Default, "://"):
		u, err := url.Parse(v.Default)
		if err != nil {
			return "", err
		}
		hostport = u.Host
	case strings.Contains(v.Default, "@tcp("):
		cfg, err := mysql.ParseDSN(v.Default)
		if err != nil {
			return "", err
		}
		hostport = cfg.Addr
	default:
		_, p, err := net.SplitHostPort(v.Default)
		if _, nerr := strconv.Atoi(p); err != nil || nerr != nil {
			return "", nil // a path or a name: not a server
		}
		hostport = v.Default
	}
	host, p, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", err
	}
	if host != "127.0.0.1" {
		return "", fmt.Errorf("host %q, want 127.0.0.1 (every server listens there only)", host)
	}
	return p, nil
}

// pinned reports whether an image reference names a version: a tag other
// than latest with a digit in it, or a digest.
func pinned(ref string) bool {
	if strings.Contains(ref, "@sha256:") {
		return true
	}
	i := strings.LastIndex(ref, ":")
	if i < 0 || strings.Contains(ref[i:], "/") {
		return false
	}
	tag := ref[i+1:]
	return tag != "latest" && strings.ContainsAny(tag, "0123456789")
}

var (
	fromLine     = regexp.MustCompile(`(?mi)^FROM\s+(\S+)(?:\s+AS\s+(\S+))?`)
	copyFrom     = regexp.MustCompile(`(?mi)^COPY\s+--from=(\S+)`)
	waitPort     = regexp.MustCompile(`ci_wait_port\s+(\d+)`)
	waitLoop     = regexp.MustCompile(`for (\w+) in ([0-9 ]+); do ci_wait_port "\$(\w+)"`)
	exportLine   = regexp.MustCompile(`(?m)^export (OUTBOUND_TEST_[A-Z0-9_]+)="([^"]*)"$`)
	healthPorts  = regexp.MustCompile(`for p in ([0-9 ]+);`)
	entrypointRE = regexp.MustCompile(`(?m)^ENTRYPOINT \["bash", "/outbound/\.ci/docker/entrypoint\.sh"\]$`)
)

// check returns every disagreement between the files under root and vars
// (testenv.Vars in the real run).
func check(ctx context.Context, root string, vars []testenv.Var) []string {
	r := &report{}
	p, err := load(ctx, root)
	if err != nil {
		r.errorf("compose.yaml does not load as docker compose would: %v", err)
		return r.problems
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			r.errorf("%v", err)
		}
		return string(b)
	}
	abs, _ := filepath.Abs(root)

	// Only the known services, each with a health check.
	for name, s := range p.Services {
		if name != ciService && name != "mongodb" {
			r.errorf("service %q is not checked against internal/testenv: serve it from the ci image (a .ci/setup script) or add its checks to internal/composetest", name)
		}
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) == 0 || hc.Test[0] == "NONE" {
			r.errorf("service %q has no health check: `docker compose up -d --wait` could not tell when it is ready", name)
		}
		if s.Build == nil && !pinned(s.Image) {
			r.errorf("service %q: image %q is not pinned to a version", name, s.Image)
		}
	}
	for _, v := range vars {
		if _, ok := p.Services[testenv.Service(v.Name)]; !ok {
			r.errorf("compose.yaml has no service %q, which testenv.Service names for %s", testenv.Service(v.Name), v.Name)
		}
	}

	// ci: built from the Debian Dockerfile, which installs what the setup
	// scripts ask for and runs them, on the host's network.
	ci, ok := p.Services[ciService]
	if ok {
		if ci.Build == nil || filepath.Clean(ci.Build.Context) != filepath.Join(abs, ".ci") || ci.Build.Dockerfile != "docker/Dockerfile" {
			r.errorf("service ci must be built from %s with the .ci directory as its context; its build: %+v", dockerfile, ci.Build)
		}
		if ci.NetworkMode != "host" {
			r.errorf("service ci: network_mode %q, want host: the setup scripts bind 127.0.0.1, as in CI", ci.NetworkMode)
		}
		if len(ci.Ports) > 0 {
			r.errorf("service ci publishes ports %v: with network_mode host it serves the host's 127.0.0.1 directly", ci.Ports)
		}
		mounts := func(source, target string) bool {
			return slices.ContainsFunc(ci.Volumes, func(v types.ServiceVolumeConfig) bool {
				return v.Type == types.VolumeTypeBind && filepath.Clean(v.Source) == filepath.Join(abs, source) && v.Target == target && !v.ReadOnly
			})
		}
		for _, v := range vars {
			if strings.HasPrefix(v.Default, ".ci/certs/") && !mounts(".ci/certs", "/outbound/.ci/certs") {
				r.errorf("%s defaults to %s, but service ci does not mount ./.ci/certs writable at /outbound/.ci/certs, where the setup scripts write", v.Name, v.Default)
			}
		}
		if mbox := defaultOf(vars, "OUTBOUND_TEST_SMTP_MAILBOX"); mbox != "" && !mounts(".ci/mail", filepath.Dir(mbox)) {
			r.errorf("service ci does not mount ./.ci/mail at %s: the tests could not read the mailbox %s", filepath.Dir(mbox), mbox)
		}
		var served []string
		if hc := ci.HealthCheck; hc != nil {
			text := strings.Join(hc.Test, " ")
			if !strings.Contains(text, "/run/outbound-ci/ready") {
				r.errorf("service ci's health check does not wait for /run/outbound-ci/ready (written once every setup script passed)")
			}
			if m := healthPorts.FindStringSubmatch(text); m != nil {
				served = strings.Fields(m[1])
			} else {
				r.errorf("service ci's health check tries no ports (want `for p in PORT...;`): %q", text)
			}
		}
		df := read(dockerfile)
		stages := map[string]bool{}
		for _, m := range fromLine.FindAllStringSubmatch(df, -1) {
			if !stages[m[1]] && !pinned(m[1]) {
				r.errorf("%s: FROM %s is not pinned to a version", dockerfile, m[1])
			}
			if m[2] != "" {
				stages[m[2]] = true
			}
		}
		if !strings.Contains(df, "FROM debian:12") {
			r.errorf("%s does not build on Debian 12, the system of CI", dockerfile)
		}
		for _, m := range copyFrom.FindAllStringSubmatch(df, -1) {
			if !stages[m[1]] && !pinned(m[1]) {
				r.errorf("%s: COPY --from=%s is not pinned to a version", dockerfile, m[1])
			}
		}
		if !strings.Contains(df, `$(sed -n 's/^need_pkgs[[:space:]]\{1,\}//p' /outbound/.ci/setup/*.sh)`) {
			r.errorf("%s does not install the packages of the setup scripts' need_pkgs lines, as .ci/run does", dockerfile)
		}
		if !entrypointRE.MatchString(df) {
			r.errorf("%s: the entry point is not %s", dockerfile, entrypoint)
		}
		ep := read(entrypoint)
		if !strings.Contains(ep, "for script in .ci/setup/*.sh; do\n\tbash \"$script\"\ndone") {
			r.errorf("%s does not run .ci/setup/*.sh in order, as .ci/run does", entrypoint)
		}
		if !strings.Contains(ep, "touch /run/outbound-ci/ready") {
			r.errorf("%s never writes /run/outbound-ci/ready, which the health check waits for", entrypoint)
		}
		checkCredentials(r, vars, ep)

		// Every server variable's port is started by a setup script and tried
		// by the health check, and the health check tries no other port.
		var scripts strings.Builder
		files, _ := filepath.Glob(filepath.Join(root, setupDir, "*.sh"))
		for _, f := range files {
			b, _ := os.ReadFile(f)
			scripts.Write(b)
		}
		waited := map[string]bool{}
		for _, m := range waitPort.FindAllStringSubmatch(scripts.String(), -1) {
			waited[m[1]] = true
		}
		for _, m := range waitLoop.FindAllStringSubmatch(scripts.String(), -1) {
			if m[1] == m[3] {
				for _, pt := range strings.Fields(m[2]) {
					waited[pt] = true
				}
			}
		}
		want := map[string]bool{}
		for _, v := range vars {
			if testenv.Service(v.Name) != ciService {
				continue
			}
			pt, err := port(v)
			if err != nil {
				r.errorf("%s default %q: %v", v.Name, v.Default, err)
				continue
			}
			if pt == "" {
				continue
			}
			want[pt] = true
			if !waited[pt] {
				r.errorf("%s is on port %s, but no %s script waits for that port (ci_wait_port %s)", v.Name, pt, setupDir, pt)
			}
			if !slices.Contains(served, pt) {
				r.errorf("%s is on port %s, but service ci's health check does not try it", v.Name, pt)
			}
		}
		for _, pt := range served {
			if !want[pt] {
				r.errorf("service ci's health check tries port %s, which no testenv variable names", pt)
			}
		}
	} else {
		r.errorf("compose.yaml has no service %q (the Debian image that runs .ci/setup)", ciService)
	}

	// mongodb: the official image, on its testenv port.
	if s, ok := p.Services["mongodb"]; ok {
		if !strings.HasPrefix(s.Image, "mongo:") {
			r.errorf("service mongodb: image %q, want the official mongo image", s.Image)
		}
		pt, _ := port(testenv.Var{Default: defaultOf(vars, "OUTBOUND_TEST_MONGODB")})
		if !slices.ContainsFunc(s.Ports, func(sp types.ServicePortConfig) bool {
			return sp.HostIP == "127.0.0.1" && sp.Published == pt && strconv.Itoa(int(sp.Target)) == "27017" && (sp.Protocol == "" || sp.Protocol == "tcp")
		}) {
			r.errorf("service mongodb does not publish 127.0.0.1:%s (OUTBOUND_TEST_MONGODB); its ports: %+v", pt, s.Ports)
		}
	}

	// .ci/run exports every variable but MongoDB's with its default.
	exported := map[string]string{}
	for _, m := range exportLine.FindAllStringSubmatch(read(ciRun), -1) {
		exported[m[1]] = strings.TrimPrefix(m[2], "$root/")
	}
	for _, v := range vars {
		if v.Name == "OUTBOUND_TEST_MONGODB" {
			continue
		}
		if got, ok := exported[v.Name]; !ok || got != v.Default {
			r.errorf("%s: .ci/run exports %q, testenv's default is %q", v.Name, got, v.Default)
		}
	}
	slices.Sort(r.problems)
	return r.problems
}

// checkCredentials checks that the entry point gives the servers the
// credentials the variables' defaults log in with (CI machines have them
// preinstalled; the setup scripts assume them).
func checkCredentials(r *report, vars []testenv.Var, ep string) {
	if def := defaultOf(vars, "OUTBOUND_TEST_POSTGRES"); def != "" {
		u, err := url.Parse(def)
		if err != nil {
			r.errorf("OUTBOUND_TEST_POSTGRES default %q: %v", def, err)
		} else {
			if _, hasPW := u.User.Password(); !hasPW && !strings.Contains(ep, "'host all all 127.0.0.1/32 trust'") {
				r.errorf("OUTBOUND_TEST_POSTGRES has no password, but %s does not set trust auth from 127.0.0.1", entrypoint)
			}
			if u.User.Username() != "postgres" {
				r.errorf("OUTBOUND_TEST_POSTGRES logs in as %q; the image has only postgres", u.User.Username())
			}
			if db := strings.TrimPrefix(u.Path, "/"); db != "test" {
				r.errorf("OUTBOUND_TEST_POSTGRES uses database %q; .ci/setup/20-postgres.sh creates test", db)
			}
		}
	}
	if def := defaultOf(vars, "OUTBOUND_TEST_MYSQL"); def != "" {
		cfg, err := mysql.ParseDSN(def)
		if err != nil {
			r.errorf("OUTBOUND_TEST_MYSQL default %q: %v", def, err)
			return
		}
		if cfg.User != "root" || cfg.Passwd != "" {
			r.errorf("OUTBOUND_TEST_MYSQL logs in as %q with a password; %s makes root@127.0.0.1 without one", cfg.User, entrypoint)
		} else if !strings.Contains(ep, "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';") {
			r.errorf("OUTBOUND_TEST_MYSQL logs in as root without a password, but %s does not make that user", entrypoint)
		}
		if !strings.Contains(ep, "CREATE DATABASE IF NOT EXISTS "+cfg.DBName+";") {
			r.errorf("OUTBOUND_TEST_MYSQL uses database %q, which %s does not create", cfg.DBName, entrypoint)
		}
	}
}

func defaultOf(vars []testenv.Var, name string) string {
	for _, v := range vars {
		if v.Name == name {
			return v.Default
		}
	}
	return ""
}

func TestComposeMatchesTestenv(t *testing.T) {
	for _, p := range check(context.Background(), repoRoot, testenv.Vars) {
		t.Error(p)
	}
}

// copyTree copies the files check reads into a new directory.
func copyTree(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	files, err := filepath.Glob(filepath.Join(repoRoot, setupDir, "*.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append([]string{composeFile, dockerfile, entrypoint, ciRun}, rel(t, files)...) {
		b, err := os.ReadFile(filepath.Join(repoRoot, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dst, filepath.Dir(f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func rel(t *testing.T, files []string) []string {
	var out []string
	for _, f := range files {
		r, err := filepath.Rel(repoRoot, f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestCheckFindsDrift changes one thing at a time in a copy of the files
// and expects check to name it.
func TestCheckFindsDrift(t *testing.T) {
	type edit struct{ file, old, new string }
	tests := []struct {
		name  string
		edits []edit
		vars  func([]testenv.Var) []testenv.Var
		want  string // substring of one problem
	}{
		{name: "not Compose", edits: []edit{{composeFile, `ports: ["127.0.0.1:27017:27017"]`, `ports: {a: b}`}}, want: "does not load as docker compose would"},
		{name: "unknown key", edits: []edit{{composeFile, "    network_mode: host", "    network_mode: host\n    networkmode: host"}}, want: "does not load as docker compose would"},
		{name: "mongodb port", edits: []edit{{composeFile, "127.0.0.1:27017:27017", "127.0.0.1:27018:27017"}}, want: "does not publish 127.0.0.1:27017"},
		{name: "mongodb on every interface", edits: []edit{{composeFile, "127.0.0.1:27017:27017", "27017:27017"}}, want: "does not publish 127.0.0.1:27017"},
		{name: "mongodb latest", edits: []edit{{composeFile, "image: mongo:7.0.14", "image: mongo:latest"}}, want: `image "mongo:latest" is not pinned`},
		{name: "mongodb untagged", edits: []edit{{composeFile, "image: mongo:7.0.14", "image: mongo"}}, want: `image "mongo" is not pinned`},
		{name: "mongodb missing", edits: []edit{{composeFile, "  mongodb:\n    image", "  mongodbx:\n    image"}}, want: `no service "mongodb"`},
		{name: "mongodb health check", edits: []edit{{composeFile, `test: ["CMD", "mongosh"`, `disable: true
      x: ["CMD", "mongosh"`}}, want: "does not load"},
		{name: "ci not on the host's network", edits: []edit{{composeFile, "    network_mode: host", "    network_mode: bridge"}}, want: `network_mode "bridge", want host`},
		{name: "ci certificates read-only", edits: []edit{{composeFile, "target: /outbound/.ci/certs", "target: /outbound/.ci/certs\n        read_only: true"}}, want: "does not mount ./.ci/certs writable"},
		{name: "ci certificates elsewhere", edits: []edit{{composeFile, "target: /outbound/.ci/certs", "target: /certs"}}, want: "does not mount ./.ci/certs writable"},
		{name: "ci mailbox", edits: []edit{{composeFile, "target: /var/mail", "target: /var/spool/mail"}}, want: "does not mount ./.ci/mail at /var/mail"},
		{name: "ci health check misses a port", edits: []edit{{composeFile, "2222 2121 6667", "2222 6667"}}, want: "OUTBOUND_TEST_FTP is on port 2121, but service ci's health check does not try it"},
		{name: "ci health check extra port", edits: []edit{{composeFile, "2222 2121 6667", "2222 2121 6667 9999"}}, want: "tries port 9999, which no testenv variable names"},
		{name: "ci ready file", edits: []edit{{composeFile, "test -f /run/outbound-ci/ready &&", "true &&"}}, want: "does not wait for /run/outbound-ci/ready"},
		{name: "ci publishes ports", edits: []edit{{composeFile, "    network_mode: host", "    ports: [\"127.0.0.1:5432:5432\"]"}}, want: `network_mode "", want host`},
		{name: "extra service", edits: []edit{{composeFile, "\n  mongodb:\n", "\n  nginx:\n    image: nginx:1.27\n    ports: [\"127.0.0.1:80:80\"]\n    healthcheck: {test: [\"CMD\", \"true\"]}\n\n  mongodb:\n"}}, want: `service "nginx" is not checked`},
		{name: "Dockerfile base unpinned", edits: []edit{{dockerfile, "FROM debian:12.8", "FROM debian:latest"}}, want: "FROM debian:latest is not pinned"},
		{name: "Dockerfile not Debian 12", edits: []edit{{dockerfile, "FROM debian:12.8", "FROM ubuntu:24.04"}}, want: "does not build on Debian 12"},
		{name: "Dockerfile Go unpinned", edits: []edit{{dockerfile, "FROM golang:1.26.8-bookworm AS go", "FROM golang AS go"}}, want: "FROM golang is not pinned"},
		{name: "Dockerfile packages", edits: []edit{{dockerfile, "$(sed -n", "$(true; sed -n"}}, want: "does not install the packages"},
		{name: "entry point skips the setup", edits: []edit{{entrypoint, "\tbash \"$script\"\n", "\techo \"$script\"\n"}}, want: "does not run .ci/setup/*.sh"},
		{name: "entry point never ready", edits: []edit{{entrypoint, "touch /run/outbound-ci/ready", "true"}}, want: "never writes /run/outbound-ci/ready"},
		{name: "postgres trust", edits: []edit{{entrypoint, "'host all all 127.0.0.1/32 trust'", "'host all all 127.0.0.1/32 scram-sha-256'"}}, want: "does not set trust auth"},
		{name: "mariadb root", edits: []edit{{entrypoint, "IDENTIFIED BY '';", "IDENTIFIED BY 'secret';"}}, want: "does not make that user"},
		{name: "mariadb database", edits: []edit{{entrypoint, "CREATE DATABASE IF NOT EXISTS test;", "CREATE DATABASE IF NOT EXISTS app;"}}, want: `uses database "test", which`},
		{name: "setup stops serving a port", edits: []edit{{".ci/setup/52-irc.sh", "ci_wait_port 6667", "ci_wait_port 6697"}}, want: "OUTBOUND_TEST_IRC is on port 6667, but no .ci/setup script waits"},
		{name: "setup stops serving a port in a loop", edits: []edit{{".ci/setup/31-dovecot.sh", "for port in 2143 2993", "for port in 2993"}}, want: "OUTBOUND_TEST_IMAP is on port 2143, but no .ci/setup script waits"},
		{name: ".ci/run port", edits: []edit{{ciRun, `OUTBOUND_TEST_REDIS="127.0.0.1:6379"`, `OUTBOUND_TEST_REDIS="127.0.0.1:6380"`}}, want: `OUTBOUND_TEST_REDIS: .ci/run exports "127.0.0.1:6380"`},
		{name: "a new server variable", vars: func(v []testenv.Var) []testenv.Var {
			return append(v, testenv.Var{Name: "OUTBOUND_TEST_NEWSERVER", What: "a server no setup script starts", Default: "127.0.0.1:4999"})
		}, want: "OUTBOUND_TEST_NEWSERVER is on port 4999, but no .ci/setup script waits"},
		{name: "a new server the health check misses", vars: func(v []testenv.Var) []testenv.Var {
			return append(v, testenv.Var{Name: "OUTBOUND_TEST_NEWSERVER", What: "a server no setup script starts", Default: "127.0.0.1:4999"})
		}, want: "OUTBOUND_TEST_NEWSERVER is on port 4999, but service ci's health check does not try it"},
		{name: "a new variable .ci/run lacks", vars: func(v []testenv.Var) []testenv.Var {
			return append(v, testenv.Var{Name: "OUTBOUND_TEST_NEWSERVER", What: "a server no setup script starts", Default: "127.0.0.1:4999"})
		}, want: `OUTBOUND_TEST_NEWSERVER: .ci/run exports ""`},
		{name: "postgres password", vars: func(v []testenv.Var) []testenv.Var {
			return replace(v, "OUTBOUND_TEST_POSTGRES", "postgres://app:pw@127.0.0.1:5432/test")
		}, want: `logs in as "app"`},
		{name: "a server off loopback", vars: func(v []testenv.Var) []testenv.Var {
			return replace(v, "OUTBOUND_TEST_REDIS", "10.0.0.1:6379")
		}, want: `host "10.0.0.1", want 127.0.0.1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := copyTree(t)
			if got := check(context.Background(), root, testenv.Vars); len(got) != 0 {
				t.Fatalf("the unchanged copy has problems: %q", got)
			}
			for _, e := range tt.edits {
				path := filepath.Join(root, e.file)
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(b), e.old) {
					t.Fatalf("%s has no %q to change", e.file, e.old)
				}
				if err := os.WriteFile(path, []byte(strings.Replace(string(b), e.old, e.new, 1)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			vars := slices.Clone(testenv.Vars)
			if tt.vars != nil {
				vars = tt.vars(vars)
			}
			problems := check(context.Background(), root, vars)
			if len(problems) == 0 || !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Errorf("check found %q, want a problem containing %q", problems, tt.want)
			}
		})
	}
}

func replace(vars []testenv.Var, name, def string) []testenv.Var {
	for i := range vars {
		if vars[i].Name == name {
			vars[i].Default = def
		}
	}
	return vars
}

func TestPinned(t *testing.T) {
	for ref, want := range map[string]bool{
		"mongo:7.0.14": true, "debian:12.8": true, "golang:1.26.8-bookworm": true, "x@sha256:abc": true,
		"mongo": false, "mongo:latest": false, "debian:bookworm": false, "localhost:5000/img": false, "reg:5000/img:1.2": true,
	} {
		if got := pinned(ref); got != want {
			t.Errorf("pinned(%q) = %t, want %t", ref, got, want)
		}
	}
}
