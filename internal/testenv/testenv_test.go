package testenv_test

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/outboundhq/outbound/internal/testenv"
)

func TestGetReturnsTheValue(t *testing.T) {
	t.Setenv("OUTBOUND_TEST_EXAMPLE", "127.0.0.1:1")
	if got := testenv.Get(t, "OUTBOUND_TEST_EXAMPLE"); got != "127.0.0.1:1" {
		t.Fatalf("Get = %q", got)
	}
	if got := testenv.Optional("OUTBOUND_TEST_EXAMPLE"); got != "127.0.0.1:1" {
		t.Fatalf("Optional = %q", got)
	}
}

// TestSkipNotes checks the line written for each skipped test: once per
// test and variable, naming the package and the compose service.
func TestSkipNotes(t *testing.T) {
	t.Setenv(testenv.RequireVar, "")
	var buf bytes.Buffer
	restore := testenv.SetSkipNotes(&buf)
	defer restore()
	for range 2 {
		t.Run("sub", func(t *testing.T) { testenv.Get(t, "OUTBOUND_TEST_SURELY_UNSET") })
		t.Run("mongo", func(t *testing.T) { testenv.Get(t, "OUTBOUND_TEST_MONGODB") })
	}
	want := "skipped ./internal/testenv TestSkipNotes: needs OUTBOUND_TEST_SURELY_UNSET (docker compose up -d --wait ci)\n" +
		"skipped ./internal/testenv TestSkipNotes: needs OUTBOUND_TEST_MONGODB (docker compose up -d --wait mongodb)\n"
	if os.Getenv("OUTBOUND_TEST_MONGODB") != "" {
		want = strings.SplitAfter(want, "\n")[0]
	}
	if buf.String() != want {
		t.Errorf("notes:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestGetSkipsWhenUnset(t *testing.T) {
	t.Setenv(testenv.RequireVar, "")
	var inner *testing.T
	t.Run("unset", func(t *testing.T) {
		inner = t
		testenv.Get(t, "OUTBOUND_TEST_SURELY_UNSET")
		t.Error("Get returned for an unset variable")
	})
	if !inner.Skipped() {
		t.Fatal("Get did not skip the test")
	}
}

// Under OUTBOUND_TEST_REQUIRE a missing server fails the test; run that in a
// child process so this one passes.
func TestGetFailsUnderRequire(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		testenv.Get(t, "OUTBOUND_TEST_SURELY_UNSET")
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestGetFailsUnderRequire$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", testenv.RequireVar+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--- FAIL") || !strings.Contains(string(out), "docker compose up -d") {
		t.Fatalf("child under %s: err=%v, output:\n%s", testenv.RequireVar, err, out)
	}
}

func TestVarsAreUniqueAndNamed(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range testenv.Vars {
		if !strings.HasPrefix(v.Name, "OUTBOUND_TEST_") || v.What == "" || v.Default == "" || seen[v.Name] {
			t.Errorf("bad or repeated entry %+v", v)
		}
		seen[v.Name] = true
	}
}
