package policyfile

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

	"github.com/outboundhq/outbound/egress"
	"github.com/outboundhq/outbound/sockets"
)

// Error reports what is wrong in a policy file and where. It
// matches [ErrInvalidOptions].
type Error struct {
	File string // as given to ParsePolicyConfig or LoadPolicyConfig
	Line int    // 1-based; 0 when the problem has no line
	Msg  string // what is wrong and what to write instead
}

// Error names the policy file, the line and what is wrong.
func (e *Error) Error() string {
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

// Is reports that an Error is a [sockets.ErrInvalidOptions].
func (e *Error) Is(target error) bool { return target == sockets.ErrInvalidOptions }

// Load reads and checks a policy file; see [Parse].
func Load(path string) (egress.PolicyConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return egress.PolicyConfig{}, err
	}
	return Parse(path, data)
}

// Parse reads a policy file's content, in YAML or JSON, and
// checks it completely: every rule is compiled, so a config it returns
// always passes [egress.NewPolicy]. name is used in errors and picks the format:
// ".json" is JSON, ".yaml" and ".yml" are YAML, anything else is JSON if it
// starts with '{' and YAML otherwise. Errors are [*Error]s with
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
// Logger, Metrics or Resolver: set them before calling [egress.NewPolicy].
func Parse(name string, data []byte) (egress.PolicyConfig, error) {
	fail := func(line int, msg string) (egress.PolicyConfig, error) {
		return egress.PolicyConfig{}, &Error{File: name, Line: line, Msg: msg}
	}
	var root *pnode
	var err error
	if isJSON(name, data) {
		root, err = parseJSONNodes(data)
	} else {
		root, err = parseYAMLNodes(data)
	}
	if err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			pe.File = name
			return egress.PolicyConfig{}, pe
		}
		return fail(0, err.Error())
	}
	if root == nil {
		return fail(0, "the file is empty; write at least \"rules: []\" (see the documented format)")
	}
	if root.kind != kindMap {
		return fail(root.line, "the top level must be a mapping with the keys mode, default, require_scope, rules")
	}
	var cfg egress.PolicyConfig
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
			if !ok || (s != string(egress.ModeEnforce) && s != string(egress.ModeReport)) {
				return fail(v.line, "mode must be \"enforce\" or \"report\", not "+v.describe())
			}
			cfg.Mode = egress.Mode(s)
		case "default":
			s, ok := v.scalar()
			if !ok || (s != string(egress.Allow) && s != string(egress.Deny)) {
				return fail(v.line, "default must be \"allow\" or \"deny\", not "+v.describe())
			}
			cfg.Default = egress.Action(s)
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
				var r egress.Rule
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
						if !ok || (s != string(egress.Allow) && s != string(egress.Deny)) {
							return fail(f.val.line, "action must be \"allow\" or \"deny\", not "+f.val.describe())
						}
						r.Action, il.action = egress.Action(s), f.val.line
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
	var re *egress.RuleError
	if err := egress.CheckRules(cfg.Rules); errors.As(err, &re) {
		il := lines[re.Index]
		line := il.rule
		switch re.Field {
		case "action":
			line = il.action
		case "hosts":
			line = il.hosts[re.Item]
		case "addrs":
			line = il.addrs[re.Item]
		case "ports":
			line = il.ports[re.Item]
		}
		return fail(line, re.Field+": "+re.Msg)
	} else if err != nil {
		return fail(0, err.Error())
	}
	return cfg, nil
}

// Reload reads the policy file at path and, if it is valid, puts it in
// force in h; the Logger, Metrics and Resolver of the policy it replaces
// carry over. An invalid file is refused with an [*Error] naming the line
// and the reason, and the policy in force stays. The new policy is logged
// (one record) when it has a Logger.
func Reload(h *egress.PolicyHolder, path string) error {
	cfg, err := Load(path)
	if err != nil {
		return err
	}
	if cur := h.Policy(); cur != nil {
		c := cur.Config()
		cfg.Logger, cfg.Metrics, cfg.Resolver = c.Logger, c.Metrics, c.Resolver
	}
	p, err := egress.NewPolicy(cfg)
	if err != nil {
		return err
	}
	h.Store(p)
	if l := cfg.Logger; l != nil {
		c := p.Config()
		l.Info("egress policy loaded", "file", path, "rules", len(cfg.Rules), "mode", string(c.Mode), "default", string(c.Default))
	}
	return nil
}

func quote(s string) string { return "\"" + s + "\"" }

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
// Error with the line.
func yamlError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ":"); ok {
			if n, err := strconv.Atoi(num); err == nil {
				return &Error{Line: n, Msg: "not valid YAML: " + strings.TrimSpace(tail)}
			}
		}
	}
	return &Error{Msg: "not valid YAML: " + msg}
}

func fromYAML(y *yaml.Node, depth int) (*pnode, error) {
	if depth > maxPolicyDepth {
		return nil, &Error{Line: y.Line, Msg: "the document nests too deeply"}
	}
	for y.Kind == yaml.AliasNode {
		if y.Alias == nil || depth > maxPolicyDepth {
			return nil, &Error{Line: y.Line, Msg: "unresolvable alias"}
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
				return nil, &Error{Line: k.Line, Msg: "keys must be plain words"}
			}
			if first, dup := seen[k.Value]; dup {
				return nil, &Error{Line: k.Line, Msg: "key " + quote(k.Value) + " appears twice (first on line " + strconv.Itoa(first) + ")"}
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
		return nil, &Error{Line: y.Line, Msg: "unexpected YAML node"}
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
			return &Error{Line: lineAt(se.Offset - 1), Msg: "not valid JSON: " + se.Error()}
		}
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			return &Error{Line: len(nl) + 1, Msg: "not valid JSON: unexpected end of the file"}
		}
		return &Error{Msg: "not valid JSON: " + err.Error()}
	}
	var value func(depth int) (*pnode, error)
	value = func(depth int) (*pnode, error) {
		if depth > maxPolicyDepth {
			return nil, &Error{Line: lineAt(dec.InputOffset()), Msg: "the document nests too deeply"}
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
						return nil, &Error{Line: kl, Msg: "key " + quote(k) + " appears twice (first on line " + strconv.Itoa(first) + ")"}
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
		return nil, &Error{Line: lineAt(dec.InputOffset() - 1), Msg: "not valid JSON: more data after the top-level object"}
	}
	return root, nil
}
