// Package exampletest holds what the examples' tests share.
package exampletest

import (
	"regexp"
	"strings"
	"testing"
)

// MatchLines checks that out has exactly len(want) lines and that line i
// matches the regular expression want[i].
func MatchLines(t testing.TB, out string, want []string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(want) {
		t.Fatalf("output has %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("line %d = %q, want match for %s", i+1, lines[i], w)
		}
	}
}
