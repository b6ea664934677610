package example

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseAndExitCode(t *testing.T) {
	fs := NewFlagSet("x")
	fs.SetOutput(new(bytes.Buffer))
	addr := fs.String("addr", "", "")
	if err := fs.Parse([]string{"-addr", "h:1", "rest"}); err != nil || *addr != "h:1" || fs.Arg(0) != "rest" {
		t.Fatalf("Parse: %v, addr %q, args %q", err, *addr, fs.Args())
	}
	err := NewFlagSetQuiet("x").Parse([]string{"-nonsense"})
	var w bytes.Buffer
	if code := exitCode("x", err, &w); code != 2 || !strings.Contains(w.String(), "x: flag provided but not defined: -nonsense") {
		t.Errorf("bad flag: exit %d, %q", code, w.String())
	}
	w.Reset()
	if code := exitCode("x", errors.New("it broke"), &w); code != 1 || w.String() != "x: it broke\n" {
		t.Errorf("error: exit %d, %q", code, w.String())
	}
	w.Reset()
	if code := exitCode("x", NewFlagSetQuiet("x").Parse([]string{"-h"}), &w); code != 0 || w.Len() != 0 {
		t.Errorf("-h: exit %d, %q", code, w.String())
	}
	if code := exitCode("x", nil, &w); code != 0 {
		t.Errorf("nil: exit %d", code)
	}
}

// NewFlagSetQuiet is NewFlagSet with the usage text discarded.
func NewFlagSetQuiet(name string) *FlagSet {
	fs := NewFlagSet(name)
	fs.SetOutput(new(bytes.Buffer))
	fs.Usage = func() {}
	return fs
}

func TestOptionsAreFresh(t *testing.T) {
	fs := NewFlagSet("x")
	a, b := fs.Options(), fs.Options()
	if a == b {
		t.Fatal("Options returned the same value twice: examples set fields on it")
	}
	if d := fs.Dialer(); d.Options == nil {
		t.Fatal("Dialer has no Options")
	}
}

func TestLoadCA(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadCA(filepath.Join(dir, "missing.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.pem")
	os.WriteFile(bad, []byte("not PEM"), 0o600)
	if _, err := LoadCA(bad); err == nil || !strings.Contains(err.Error(), "holds no PEM certificate") {
		t.Errorf("bad file: %v", err)
	}
}

// TestExamplesUseTheSharedShape checks every example's code: it parses its
// flags with NewFlagSet and opens its sockets with the options of those
// flags (so that a common flag reaches every example), never with bare
// defaults.
func TestExamplesUseTheSharedShape(t *testing.T) {
	files, err := filepath.Glob("../../*/*demo/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no example code found: %v", err)
	}
	bare := regexp.MustCompile(`sockets\.(Connect|Dial)\([^)]*, nil\)|&dialers\.Dialer\{\}|&sockets\.Options\{|DialFunc\(nil\)`)
	run := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		code := stripComments(string(b))
		if m := bare.FindString(code); m != "" {
			t.Errorf("%s: %s opens sockets without the common flags' options (use fs.Options() or fs.Dialer())", f, m)
		}
		if strings.Contains(code, "\nfunc Run(ctx context.Context, args []string, ") {
			run[filepath.Dir(f)] = true
			if !strings.Contains(code, "example.NewFlagSet(") {
				t.Errorf("%s: Run does not parse its flags with example.NewFlagSet", f)
			}
		}
	}
	dirs, _ := filepath.Glob("../../*/*demo")
	for _, d := range dirs {
		if !run[d] {
			t.Errorf("%s has no func Run(ctx context.Context, args []string, ...) error", d)
		}
	}
}

func stripComments(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "//") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
