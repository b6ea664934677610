package hostname

import "testing"

func TestLabelProblem(t *testing.T) {
	for l, want := range map[string]string{
		"db": "", "a_b": "", "x-1": "", "": `has an empty label ("..")`,
		"-a": "has a label that starts or ends with '-'", "a b": `contains ' '; use letters, digits, '-' and '.'`,
		string(make([]byte, 64)): "has a label longer than 63 bytes",
	} {
		if got := LabelProblem(l); got != want {
			t.Errorf("LabelProblem(%q) = %q, want %q", l, got, want)
		}
	}
}

func TestLooksNumeric(t *testing.T) {
	for name, want := range map[string]bool{
		"2130706433": true, "0x7f.1": true, "127.1": true, "0177.0.0.1": true, "a.b.c.d.1": true,
		"example.com": false, "1.example": false, "0x": false, "1..2": false,
	} {
		if got := LooksNumeric(split(name)); got != want {
			t.Errorf("LooksNumeric(%q) = %v, want %v", name, got, want)
		}
	}
}

func split(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}
