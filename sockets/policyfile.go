package sockets

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// PolicyFileError reports what is wrong in a policy file and where. It
// matches [ErrInvalidOptions].
type PolicyFileError struct {
	File string // as given to ParsePolicyConfig or LoadPolicyConfig
	Line int    // 1-based; 0 when the problem has no line
	Msg  string // what is wrong and what to write instead
}

// Error names the policy file, the line and what is wrong.
func (e *PolicyFileError) Error() string {
	var b strings.Builder
	b.WriteString("policy file ")
	b.WriteString(e.File)
	if e.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Is reports that a PolicyFileError is an [ErrInvalidOptions].
func (e *PolicyFileError) Is(target error) bool { return target == ErrInvalidOptions }

// LoadPolicyConfig reads and checks a policy file; see [ParsePolicyConfig].
func LoadPolicyConfig(path string) (PolicyConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return PolicyConfig{}, err
	}
	return ParsePolicyConfig(path, data)
}

// ParsePolicyConfig reads a policy file's content, in YAML or JSON, and
// checks it completely: every rule is compiled, so a config it returns
// always passes [NewPolicy]. name is used in errors and picks the format:
// ".json" is JSON, ".yaml" and ".yml" are YAML, anything else is JSON if it
// starts with '{' and YAML otherwise. Errors are [*PolicyFileError]s with
// the line and what to write instead; unknown keys are errors, so a typo
// cannot silently drop a rule.
//
// The format (YAML shown; JSON has the same keys):
//
//	mode: enforce          # or report: log what would be denied, deny nothing
//	default: deny          # what happens when no rule matches: allow (default) or deny
//	require_scope: false   # true: Connect needs a Scope in its context
//	rules:                 # deny rules win over allow rules; first match is reported
//	  - name: no-metadata
//	    action: deny
//	    addrs: [metadata, link-local]
//	  - name: public-web
//	    action: allow
//	    addrs: [public]
//	    ports: [80, 443]
//	  - name: partner-api
//	    action: allow
//	    hosts: [api.partner.example, "*.cdn.partner.example"]
//	    ports: ["8000-8999"]
//	  - name: billing-db
//	    action: allow
//	    hosts: [db.internal.example]
//	    addrs: [10.20.0.0/16]
//	    ports: [5432]
//	  - name: mail-relay       # port 25 needs a rule that lists it
//	    action: allow
//	    hosts: [smtp.example.com]
//	    ports: [25]
//
// hosts, addrs and ports take a list or a single value. The result has no
// Logger, Metrics or Resolver: set them before calling NewPolicy.
func ParsePolicyConfig(name string, data []byte) (PolicyConfig, error) {
	fail := func(line int, msg string) (PolicyConfig, error) {
		return PolicyConfig{}, &PolicyFileError{File: name, Line: line, Msg: msg}
	}
	var root *pnode
	var err error
	if isJSON(name, data) {
		root, err = parseJSONNodes(data)
	} else {
		root, err = parseYAMLNodes(data)
	}
	if err != nil {
		var pe *PolicyFileError
		if errors.As(err, &pe) {
			pe.File = name
			return PolicyConfig{}, pe
		}
		return fail(0, err.Error())
	}
	if root == nil {
		return fail(0, "the file is empty; write at least \"rules: []\" (see the documented format)")
	}
	if root.kind != kindMap {
		return fail(root.line, "the top level must be a mapping with the keys mode, default, require_scope, rules")
	}
	var cfg PolicyConfig
	type itemLines struct {
		rule, action, name  int
		hosts, addrs, ports []int
	}
	var lines []itemLines
	for _, kv := range root.pairs {
		v := kv.val
		switch kv.key {
		case "mode":
			s, ok := v.scalar()
			if !ok || (s != string(ModeEnforce) && s != string(ModeReport)) {
				return fail(v.line, "mode must be \"enforce\" or \"report\", not "+v.describe())
			}
			cfg.Mode = Mode(s)
		case "default":
			s, ok := v.scalar()
			if !ok || (s != string(Allow) && s != string(Deny)) {
				return fail(v.line, "default must be \"allow\" or \"deny\", not "+v.describe())
			}
			cfg.Default = Action(s)
		case "require_scope":
			s, ok := v.scalar()
			b, err := strconv.ParseBool(s)
			if !ok || err != nil {
				return fail(v.line, "require_scope must be true or false, not "+v.describe())
			}
			cfg.RequireScope = b
		case "rules":
			if v.kind == kindNull {
				continue
			}
			if v.kind != kindSeq {
				return fail(v.line, "rules must be a list of rules (\"- action: deny ...\"), not "+v.describe())
			}
			for _, item := range v.items {
				if item.kind != kindMap {
					return fail(item.line, "each rule must be a mapping with the keys name, action, hosts, addrs, ports, not "+item.describe())
				}
				var r Rule
				il := itemLines{rule: item.line, action: item.line, name: item.line}
				for _, f := range item.pairs {
					switch f.key {
					case "name":
						s, ok := f.val.scalar()
						if !ok {
							return fail(f.val.line, "name must be a string, not "+f.val.describe())
						}
						r.Name, il.name = s, f.val.line
					case "action":
						s, ok := f.val.scalar()
						if !ok || (s != string(Allow) && s != string(Deny)) {
							return fail(f.val.line, "action must be \"allow\" or \"deny\", not "+f.val.describe())
						}
						r.Action, il.action = Action(s), f.val.line
					case "hosts", "addrs", "ports":
						vals, ls, err := f.val.strings(f.key)
						if err != nil {
							return fail(err.line, err.msg)
						}
						switch f.key {
						case "hosts":
							r.Hosts, il.hosts = vals, ls
						case "addrs":
							r.Addrs, il.addrs = vals, ls
						default:
							r.Ports, il.ports = vals, ls
						}
					default:
						return fail(f.line, unknownKey(f.key, "rule", []string{"name", "action", "hosts", "addrs", "ports"}))
					}
				}
				if r.Action == "" {
					return fail(item.line, "this rule has no action; add \"action: allow\" or \"action: deny\"")
				}
				cfg.Rules = append(cfg.Rules, r)
				lines = append(lines, il)
			}
		default:
			return fail(kv.line, unknownKey(kv.key, "top-level", []string{"mode", "default", "require_scope", "rules"}))
		}
	}
	if _, i, err := compileRules(cfg.Rules); err != nil {
		se := err.(*specError)
		il := lines[i]
		line := il.rule
		switch se.field {
		case "action":
			line = il.action
		case "hosts":
			line = il.hosts[se.item]
		case "addrs":
			line = il.addrs[se.item]
		case "ports":
			line = il.ports[se.item]
		}
		return fail(line, se.field+": "+se.msg)
	}
	return cfg, nil
}

// LoadFile reads the policy file at path and, if it is valid, puts it in
// force; the Logger, Metrics and Resolver of the policy it replaces carry
// over. An invalid file is refused with a [*PolicyFileError] naming the
// line and the reason, and the policy in force stays. The new policy is
// logged (one record) when it has a Logger.
func (h *PolicyHolder) LoadFile(path string) error {
	cfg, err := LoadPolicyConfig(path)
	if err != nil {
		return err
	}
	cur := h.Policy()
	if cur != nil {
		cfg.Logger, cfg.Metrics, cfg.Resolver = cur.cfg.Logger, cur.cfg.Metrics, cur.cfg.Resolver
	}
	p, err := NewPolicy(cfg)
	if err != nil {
		return err
	}
	h.Store(p)
	if l := cfg.Logger; l != nil {
		l.Info("egress policy loaded", "file", path, "rules", len(cfg.Rules), "mode", string(p.cfg.Mode), "default", string(p.cfg.Default))
	}
	return nil
}

func unknownKey(k, where string, known []string) string {
	msg := "unknown " + where + " key " + quote(k)
	best, bestD := "", 3
	for _, c := range known {
		if d := editDistance(k, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best != "" {
		msg += "; did you mean " + quote(best) + "?"
	}
	return msg + " (the " + where + " keys are " + strings.Join(known, ", ") + ")"
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func isJSON(name string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return true
	case ".yaml", ".yml":
		return false
	}
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && t[0] == '{'
}

// pnode is a parsed document node with its line, for both formats.
type pnode struct {
	kind  int
	line  int
	value string // scalars
	pairs []pkv  // maps, in file order
	items []*pnode
}

type pkv struct {
	key  string
	line int
	val  *pnode
}

const (
	kindNull = iota
	kindScalar
	kindMap
	kindSeq
)

type lineErr struct {
	line int
	msg  string
}

func (n *pnode) scalar() (string, bool) {
	if n.kind != kindScalar {
		return "", false
	}
	return n.value, true
}

func (n *pnode) describe() string {
	switch n.kind {
	case kindNull:
		return "an empty value"
	case kindMap:
		return "a mapping"
	case kindSeq:
		return "a list"
	}
	return quote(n.value)
}

// strings reads a list of scalars, or one scalar, with each item's line.
func (n *pnode) strings(field string) ([]string, []int, *lineErr) {
	switch n.kind {
	case kindScalar:
		return []string{n.value}, []int{n.line}, nil
	case kindSeq:
		vals := make([]string, 0, len(n.items))
		lines := make([]int, 0, len(n.items))
		for _, it := range n.items {
			if it.kind != kindScalar {
				return nil, nil, &lineErr{it.line, field + " items must be single values, not " + it.describe()}
			}
			vals = append(vals, it.value)
			lines = append(lines, it.line)
		}
		return vals, lines, nil
	}
	return nil, nil, &lineErr{n.line, field + " must be a list (\"[a, b]\") or a single value, not " + n.describe()}
}

const maxPolicyDepth = 64

func parseYAMLNodes(data []byte) (*pnode, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	return fromYAML(doc.Content[0], 0)
}

// yamlError turns "yaml: line 3: did not find expected key" into a
// PolicyFileError with the line.
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ":"); ok {
			if n, err := strconv.Atoi(num); err == nil {
				return &PolicyFileError{Line: n, Msg: "not valid YAML: " + strings.TrimSpace(tail)}
			}
		}
	}
	return &PolicyFileError{Msg: "not valid YAML: " + msg}
}

func fromYAML(y *yaml.Node, depth int) (*pnode, error) {
	if depth > maxPolicyDepth {
		return nil, &PolicyFileError{Line: y.Line, Msg: "the document nests too deeply"}
	}
	for y.Kind == yaml.AliasNode {
		if y.Alias == nil || depth > maxPolicyDepth {
			return nil, &PolicyFileError{Line: y.Line, Msg: "unresolvable alias"}
		}
		y = y.Alias
		depth++
	}
	n := &pnode{line: y.Line}
	switch y.Kind {
	case yaml.ScalarNode:
		if y.Tag == "!!null" {
			n.kind = kindNull
			return n, nil
		}
		n.kind, n.value = kindScalar, y.Value
	case yaml.MappingNode:
		n.kind = kindMap
		seen := map[string]int{}
		for i := 0; i+1 < len(y.Content); i += 2 {
			k, v := y.Content[i], y.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, &PolicyFileError{Line: k.Line, Msg: "keys must be plain words"}
			}
			if first, dup := seen[k.Value]; dup {
				return nil, &PolicyFileError{Line: k.Line, Msg: "key " + quote(k.Value) + " appears twice (first on line " + strconv.Itoa(first) + ")"}
			}
			seen[k.Value] = k.Line
			vn, err := fromYAML(v, depth+1)
			if err != nil {
				return nil, err
			}
			n.pairs = append(n.pairs, pkv{key: k.Value, line: k.Line, val: vn})
		}
	case yaml.SequenceNode:
		n.kind = kindSeq
		for _, c := range y.Content {
			cn, err := fromYAML(c, depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, cn)
		}
	default:
		return nil, &PolicyFileError{Line: y.Line, Msg: "unexpected YAML node"}
	}
	return n, nil
}

// parseJSONNodes parses JSON with encoding/json's tokenizer, keeping the
// line of each value.
func parseJSONNodes(data []byte) (*pnode, error) {
	var nl []int // offsets of '\n'
	for i, c := range data {
		if c == '\n' {
			nl = append(nl, i)
		}
	}
	lineAt := func(off int64) int {
		return sort.SearchInts(nl, int(off)) + 1
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	jerr := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return &PolicyFileError{Line: lineAt(se.Offset - 1), Msg: "not valid JSON: " + se.Error()}
		}
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return &PolicyFileError{Line: len(nl) + 1, Msg: "not valid JSON: unexpected end of the file"}
		}
		return &PolicyFileError{Msg: "not valid JSON: " + err.Error()}
	}
	var value func(depth int) (*pnode, error)
	value = func(depth int) (*pnode, error) {
		if depth > maxPolicyDepth {
			return nil, &PolicyFileError{Line: lineAt(dec.InputOffset()), Msg: "the document nests too deeply"}
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, jerr(err)
		}
		line := lineAt(dec.InputOffset() - 1)
		n := &pnode{line: line}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				n.kind = kindMap
				seen := map[string]int{}
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return nil, jerr(err)
					}
					k, _ := kt.(string)
					kl := lineAt(dec.InputOffset() - 1)
					if first, dup := seen[k]; dup {
						return nil, &PolicyFileError{Line: kl, Msg: "key " + quote(k) + " appears twice (first on line " + strconv.Itoa(first) + ")"}
					}
					seen[k] = kl
					v, err := value(depth + 1)
					if err != nil {
						return nil, err
					}
					n.pairs = append(n.pairs, pkv{key: k, line: kl, val: v})
				}
			case '[':
				n.kind = kindSeq
				for dec.More() {
					v, err := value(depth + 1)
					if err != nil {
						return nil, err
					}
					n.items = append(n.items, v)
				}
			}
			if _, err := dec.Token(); err != nil { // the closing delimiter
				return nil, jerr(err)
			}
		case string:
			n.kind, n.value = kindScalar, t
		case json.Number:
			n.kind, n.value = kindScalar, t.String()
		case bool:
			n.kind, n.value = kindScalar, strconv.FormatBool(t)
		case nil:
			n.kind = kindNull
		}
		return n, nil
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	root, err := value(0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &PolicyFileError{Line: lineAt(dec.InputOffset() - 1), Msg: "not valid JSON: more data after the top-level object"}
	}
	return root, nil
}
