package policyfile_test

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/outboundhq/outbound/egress/policyfile"
	"github.com/outboundhq/outbound/sockets"
)

// TestMultiDocumentRefused: a second YAML document used to be dropped, so
// "mode: enforce --- default: deny + rules" loaded as allow-all. Any file
// with more than one document is refused, naming the line of the second.
func TestMultiDocumentRefused(t *testing.T) {
	cases := []struct {
		data string
		line int
	}{
		{"mode: enforce\n---\ndefault: deny\nrules:\n  - {action: deny, addrs: [loopback]}\n", 2},
		{"---\nmode: enforce\nrules: []\n...\n---\ndefault: deny\n", 5},
		{"# policy\nmode: enforce\nrules: []\n---\n", 4},
	}
	for _, c := range cases {
		_, err := policyfile.Parse("p.yaml", []byte(c.data))
		var pe *policyfile.Error
		if !errors.As(err, &pe) || pe.Line != c.line || !strings.Contains(pe.Msg, "second YAML document") {
			t.Errorf("Parse(%q) = %v; want a refusal naming line %d", c.data, err, c.line)
		}
		if !errors.Is(err, sockets.ErrInvalidOptions) {
			t.Errorf("Parse(%q) error does not match ErrInvalidOptions", c.data)
		}
	}
	// One document with an explicit start marker is fine.
	if _, err := policyfile.Parse("p.yaml", []byte("---\nmode: enforce\nrules: []\n")); err != nil {
		t.Fatalf("a single document with \"---\": %v", err)
	}
}

// aliasBomb is a "billion laughs" YAML file: each level lists the previous
// one ten times, so levels+1 levels expand to 10^levels scalars.
func aliasBomb(levels int) []byte {
	var b strings.Builder
	b.WriteString("x0: &x0 [a, a, a, a, a, a, a, a, a, a]\n")
	for i := 1; i <= levels; i++ {
		p := "*x" + strconv.Itoa(i-1)
		b.WriteString("x" + strconv.Itoa(i) + ": &x" + strconv.Itoa(i) + " [" + strings.Repeat(p+", ", 9) + p + "]\n")
	}
	b.WriteString("rules:\n  - action: deny\n    hosts: *x" + strconv.Itoa(levels) + "\n")
	return []byte(b.String())
}

// TestAliasesRefused: aliases are refused at the first one, whatever the
// expansion would have been (the 429-byte bomb took 3.8 s to load, each
// level ten times more).
func TestAliasesRefused(t *testing.T) {
	for levels := 1; levels <= 12; levels++ {
		data := aliasBomb(levels)
		start := time.Now()
		_, err := policyfile.Parse("p.yaml", data)
		took := time.Since(start)
		if err == nil || !strings.Contains(err.Error(), "aliases") || !strings.Contains(err.Error(), `"*x0"`) {
			t.Fatalf("%d-byte alias bomb: %v; want the alias refused", len(data), err)
		}
		if took > parseBound {
			t.Fatalf("%d-byte alias bomb took %v to refuse", len(data), took)
		}
	}
	_, err := policyfile.Parse("p.yaml", []byte("hosts: &h [a.example]\nrules:\n  - {action: allow, hosts: *h}\n"))
	var pe *policyfile.Error
	if !errors.As(err, &pe) || pe.Line != 3 {
		t.Fatalf("a single alias: %v; want it refused on line 3", err)
	}
}

// worstCases are inputs up to 1 MiB of the shapes that cost a YAML or JSON
// parser most: deep nesting, long scalars, many anchors, aliases, keys.
func worstCases() map[string][]byte {
	const mib = 1 << 20
	fill := func(unit string, size int) []byte { return []byte(strings.Repeat(unit, size/len(unit))) }
	rules := func(size int) []byte {
		var b strings.Builder
		b.WriteString("rules:\n")
		for b.Len() < size-120 {
			b.WriteString("  - name: r\n    action: allow\n    hosts: [a.example.com, \"*.b.example.com\"]\n    ports: [443, \"8000-8999\"]\n")
		}
		return []byte(b.String())
	}
	jsonRules := func(size int) []byte {
		var b strings.Builder
		b.WriteString(`{"rules": [`)
		for b.Len() < size-200 {
			b.WriteString(`{"name": "r", "action": "allow", "hosts": ["a.example.com", "*.b.example.com"], "ports": [443, "8000-8999"]},`)
		}
		b.WriteString(`{"action": "deny", "addrs": ["metadata"]}]}`)
		return []byte(b.String())
	}
	return map[string][]byte{
		"yaml rules at the YAML limit": rules(policyfile.MaxYAMLSize),
		"yaml rules 1 MiB":             rules(mib),
		"json rules 1 MiB":             jsonRules(mib),
		"yaml flow nesting":            fill("[", policyfile.MaxYAMLSize),
		"yaml map nesting":             fill("a:\n ", policyfile.MaxYAMLSize),
		"yaml seq nesting":             fill("- ", policyfile.MaxYAMLSize),
		"yaml long scalar":             append([]byte("mode: "), fill("x", policyfile.MaxYAMLSize-6)...),
		"yaml anchors":                 fill("- &a x\n", policyfile.MaxYAMLSize),
		"yaml aliases":                 append([]byte("a: &a x\nb: ["), fill("*a, ", policyfile.MaxYAMLSize-20)...),
		"yaml complex keys":            fill("? ", policyfile.MaxYAMLSize),
		"yaml documents":               fill("---\n", policyfile.MaxYAMLSize),
		"json nesting":                 fill("[", mib),
		"json objects":                 fill(`{"a":`, mib),
		"json long string":             append(append([]byte(`{"mode": "`), fill("x", mib-20)...), '"', '}'),
		"over 1 MiB":                   fill("#", mib+1),
	}
}

// parseBound is what one Parse may take in these tests. It is far above
// the target (50 ms for any input up to 1 MiB, which
// BenchmarkParseWorstCase measures) because these tests run on shared
// machines under the race detector; it catches super-linear blow-ups such
// as alias expansion (the 429-byte bomb took 3.8 s, the next level 38 s).
const parseBound = 10 * time.Second

// TestParseBoundedWork: every input up to 1 MiB loads or fails in time
// linear in its size.
func TestParseBoundedWork(t *testing.T) {
	for name, data := range worstCases() {
		start := time.Now()
		cfg, err := policyfile.Parse("p", data)
		if took := time.Since(start); took > parseBound {
			t.Errorf("%s (%d bytes): Parse took %v", name, len(data), took)
		}
		if err == nil && len(cfg.Rules) == 0 && !strings.Contains(name, "rules") {
			t.Errorf("%s: Parse accepted it with no rules", name)
		}
	}
	// Load reads no more than the limit from an endless or huge file.
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, []byte(strings.Repeat("#", 3<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := policyfile.Load(path); err == nil || !strings.Contains(err.Error(), "larger than 1024 KiB") {
		t.Fatalf("Load of a 3 MiB file = %v; want the size refused", err)
	}
}

func BenchmarkParseWorstCase(b *testing.B) {
	for name, data := range worstCases() {
		b.Run(strings.ReplaceAll(name, " ", "_"), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				policyfile.Parse("p", data)
			}
		})
	}
}

// TestFuzzParsePolicyConfigBounded runs FuzzParsePolicyConfig's checks for
// a bounded time on mutations of its committed corpus (alias bombs,
// multi-document files and the rest), so every test run fuzzes a little,
// and each input must parse within parseBound.
func TestFuzzParsePolicyConfigBounded(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParsePolicyConfig")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var seeds [][]byte
	for _, e := range entries {
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) != 3 || lines[0] != "go test fuzz v1" {
			t.Fatalf("%s is not a fuzz corpus file", e.Name())
		}
		v, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[2], "[]byte("), ")"))
		if err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		seeds = append(seeds, []byte(v))
	}
	if len(seeds) < 10 {
		t.Fatalf("only %d corpus files", len(seeds))
	}
	r := rand.New(rand.NewPCG(1, 2))
	tokens := []string{"*x0", "&a ", "*a", "---\n", "...\n", "[", "]", "{", "}", ": ", "- ", "\n  ", "0443", "\"", "'", "#", "? ", "!!str "}
	deadline := time.Now().Add(2 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		data := append([]byte(nil), seeds[r.IntN(len(seeds))]...)
		for k := r.IntN(4); k >= 0 && len(data) > 0; k-- {
			i := r.IntN(len(data))
			switch r.IntN(3) {
			case 0:
				data[i] = byte(r.IntN(128))
			case 1:
				data = append(data[:i], append([]byte(tokens[r.IntN(len(tokens))]), data[i:]...)...)
			default:
				j := i + r.IntN(len(data)-i)
				data = append(data[:j], append(append([]byte(nil), data[i:j]...), data[j:]...)...)
			}
		}
		name := "p.yaml"
		if n%4 == 0 {
			name = "p.json"
		}
		start := time.Now()
		checkParse(t, name, data)
		if took := time.Since(start); took > parseBound {
			t.Fatalf("Parse(%q) took %v", data, took)
		}
		n++
	}
	t.Logf("%d inputs", n)
}
