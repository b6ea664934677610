package capture_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/outboundhq/outbound/capture"
	"github.com/outboundhq/outbound/internal/testenv"
)

// tshark returns the tshark program named by OUTBOUND_TEST_TSHARK, skipping
// the test when it is unset (failing it under OUTBOUND_TEST_REQUIRE).
func tshark(t *testing.T) string {
	t.Helper()
	name := testenv.Get(t, "OUTBOUND_TEST_TSHARK")
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("OUTBOUND_TEST_TSHARK=%q: %v", name, err)
	}
	return path
}

// pcap is a capture being written to a file in the test's directory.
type pcap struct {
	*capture.Capture
	path string
}

func newPcap(t *testing.T) *pcap {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.pcapng")
	if dir := os.Getenv("OUTBOUND_TEST_CAPTURE_KEEP"); dir != "" {
		// Keep the test's capture to look at: OUTBOUND_TEST_CAPTURE_KEEP=/tmp/pcaps
		path = filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+".pcapng")
	}
	c, err := capture.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &pcap{Capture: c, path: path}
}

// done closes the capture and returns the file, parsed and checked by the
// tests' own reader (framing, checksums, TCP sequence and acks).
func (p *pcap) done(t *testing.T) *parsed {
	t.Helper()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p.path)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := parsePcapng(b)
	if err != nil {
		t.Fatalf("the capture does not parse: %v", err)
	}
	if _, err := flows(parsed.packets); err != nil {
		t.Fatalf("the capture's TCP is wrong: %v", err)
	}
	return parsed
}

// runTshark runs tshark on the capture file with args and returns its
// standard output.
func runTshark(t *testing.T, bin, file string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-n", "-r", file}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir()) // no user preferences
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// decoded is what one tshark run over a capture gives: the fields asked
// for, one row per packet, and the expert information.
type decoded struct {
	rows   [][]string // fields of every packet, in the order asked
	expert string
}

// values returns field i of every packet where it is not empty.
func (d *decoded) values(i int) []string {
	var v []string
	for _, r := range d.rows {
		if i < len(r) && r[i] != "" {
			v = append(v, r[i])
		}
	}
	return v
}

var badExpert = regexp.MustCompile(`(?i)malformed|ACKed segment that wasn't captured|ACKed unseen|previous segment.* not captured|out-of-order|retransmission|Errors \(`)

// dissect runs tshark once over the capture (one run: tshark is slow to
// start) with decode (such as -d tcp.port==2587,smtp) and returns the
// named fields of every packet. It fails the test if any packet is
// malformed or has an error-level expert info, or the expert information
// names a TCP sequence problem ("ACKed unseen segment" and the like).
func dissect(t *testing.T, bin, file string, decode []string, names ...string) *decoded {
	t.Helper()
	args := append([]string{}, decode...)
	args = append(args, "-T", "fields", "-E", "occurrence=a", "-e", "_ws.malformed", "-e", "_ws.expert.severity", "-e", "_ws.col.Info")
	for _, n := range names {
		args = append(args, "-e", n)
	}
	args = append(args, "-z", "expert")
	out := runTshark(t, bin, file, args...)
	fieldsPart, expert, _ := strings.Cut(out, "\n\n")
	d := &decoded{expert: expert}
	for _, line := range strings.Split(fieldsPart, "\n") {
		if line == "" {
			continue
		}
		r := strings.Split(line, "\t")
		if r[0] != "" || strings.Contains(r[1], "8388608") { // malformed, or PI_ERROR
			t.Errorf("tshark: malformed or erroneous packet: %q", line)
		}
		d.rows = append(d.rows, r[3:])
	}
	if m := badExpert.FindString(expert); m != "" {
		t.Errorf("tshark expert information names %q:\n%s", m, expert)
	}
	if len(d.rows) == 0 {
		t.Fatalf("tshark shows no packets")
	}
	return d
}
