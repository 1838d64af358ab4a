package pipelines

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"gopkg.in/yaml.v3"
)

// This file expands Azure Pipelines templates as Azure Pipelines does when it compiles a pipeline
// (learn.microsoft.com/azure/devops/pipelines/process/templates and .../template-expressions),
// so the checks of azure_devops_test.go read the stages a caller's parameters make:
//   - a template's parameters take the caller's values, else their defaults; a parameter without
//     a default that the caller leaves out, one the template does not declare, or a value of the
//     wrong type or outside `values` is an error, as it is for Azure Pipelines;
//   - ${{ }} in a value is evaluated at compile time: a whole value keeps its type (a boolean, a
//     list), a part of a string is converted to text (True/False for booleans);
//   - ${{ if }}, ${{ elseif }} and ${{ else }} insert a mapping's entries or a sequence's items,
//     ${{ each x in list }} repeats a sequence's items;
//   - `- template: file` in a list is replaced by that file's steps, jobs or stages, expanded with
//     its own parameters, the path resolved from the including file. setup-slotless.yml stays a
//     reference: it is the installer, checked by its own tests, and here only what is passed to it.
// Expressions are evaluated for the functions the templates use; any other fails the expansion
// rather than guessing.

// opaqueTemplates are the templates left as references.
var opaqueTemplates = []string{"setup-slotless.yml"}

// expandCaller expands the pipeline file rel (relative to the repository's root) that extends a
// template of this repository: the template, with the caller's parameters, under the caller's
// own top-level keys (its triggers, schedules and name).
func expandCaller(rel string) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(readRepoFile(rel), &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	top := doc.Content[0]
	ext := mapGet(top, "extends")
	if ext == nil {
		return nil, fmt.Errorf("%s: no extends", rel)
	}
	tmpl := mapGet(ext, "template")
	if tmpl == nil {
		return nil, fmt.Errorf("%s: extends has no template", rel)
	}
	var params map[string]any
	if p := mapGet(ext, "parameters"); p != nil {
		if err := p.Decode(&params); err != nil {
			return nil, fmt.Errorf("%s: extends parameters: %w", rel, err)
		}
	}
	out, err := expandTemplateFile(path.Join(path.Dir(rel), tmpl.Value), params)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if k := top.Content[i].Value; k != "extends" && mapGet(out, k) == nil {
			out.Content = append(out.Content, top.Content[i], top.Content[i+1])
		}
	}
	return out, nil
}

// readRepoFile reads a file of the repository, or nothing when there is none.
var readRepoFile = func(rel string) []byte {
	b, _ := os.ReadFile(filepath.Join(root, rel))
	return b
}

// templateParam is one declared parameter of a template.
type templateParam struct {
	Name    string    `yaml:"name"`
	Type    string    `yaml:"type"`
	Default yaml.Node `yaml:"default"`
	Values  []any     `yaml:"values"`
}

// expandTemplateFile expands the template rel with the given parameter values.
func expandTemplateFile(rel string, given map[string]any) (*yaml.Node, error) {
	raw := readRepoFile(rel)
	if raw == nil {
		return nil, fmt.Errorf("template %s: no such file", rel)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("template %s: %w", rel, err)
	}
	top := doc.Content[0]
	var declared []templateParam
	if p := mapGet(top, "parameters"); p != nil {
		if err := p.Decode(&declared); err != nil {
			return nil, fmt.Errorf("template %s parameters: %w", rel, err)
		}
	}
	params, err := bindParams(declared, given)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", rel, err)
	}
	body := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "parameters" {
			body.Content = append(body.Content, top.Content[i], top.Content[i+1])
		}
	}
	e := &expander{file: rel, vars: map[string]any{"parameters": params}}
	out, err := e.node(body)
	if err != nil {
		return nil, fmt.Errorf("template %s: %w", rel, err)
	}
	return out, nil
}

// bindParams gives each declared parameter its value, as Azure Pipelines does.
func bindParams(declared []templateParam, given map[string]any) (map[string]any, error) {
	params := map[string]any{}
	names := map[string]bool{}
	for _, p := range declared {
		names[p.Name] = true
		v, ok := given[p.Name]
		if !ok {
			if p.Default.Kind == 0 {
				return nil, fmt.Errorf("parameter %s: a value is required (it has no default)", p.Name)
			}
			if err := p.Default.Decode(&v); err != nil {
				return nil, fmt.Errorf("parameter %s default: %w", p.Name, err)
			}
		}
		typ := p.Type
		if typ == "" {
			typ = "string"
		}
		switch typ {
		case "string":
			switch x := v.(type) {
			case string:
			case nil:
				v = ""
			case bool, int, float64:
				v = toText(x)
			default:
				return nil, fmt.Errorf("parameter %s: got %T, want a string", p.Name, v)
			}
		case "boolean":
			switch x := v.(type) {
			case bool:
			case string:
				if !strings.EqualFold(x, "true") && !strings.EqualFold(x, "false") {
					return nil, fmt.Errorf("parameter %s: got %q, want true or false", p.Name, x)
				}
				v = strings.EqualFold(x, "true")
			default:
				return nil, fmt.Errorf("parameter %s: got %T, want a boolean", p.Name, v)
			}
		case "number":
			if _, ok := toNumber(v); !ok {
				return nil, fmt.Errorf("parameter %s: got %v, want a number", p.Name, v)
			}
		case "object":
		default:
			return nil, fmt.Errorf("parameter %s: type %s is not modelled", p.Name, typ)
		}
		if len(p.Values) > 0 && !slices.ContainsFunc(p.Values, func(a any) bool { return toText(a) == toText(v) }) {
			return nil, fmt.Errorf("parameter %s: got %v, want one of %v", p.Name, v, p.Values)
		}
		params[p.Name] = v
	}
	for k := range given {
		if !names[k] {
			return nil, fmt.Errorf("unexpected parameter %s, want one of %v", k, slices.Sorted(maps.Keys(names)))
		}
	}
	return params, nil
}

type expander struct {
	file string
	vars map[string]any // parameters, and each loop's variable
}

func (e *expander) with(name string, v any) *expander {
	vars := maps.Clone(e.vars)
	vars[name] = v
	return &expander{file: e.file, vars: vars}
}

var directive = regexp.MustCompile(`^\$\{\{\s*(if|elseif|else|each)\b\s*(.*?)\s*\}\}$`)

func (e *expander) node(n *yaml.Node) (*yaml.Node, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		return e.scalar(n)
	case yaml.MappingNode:
		out := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		chain := chainState{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if m := directive.FindStringSubmatch(k.Value); m != nil {
				take, err := chain.step(e, m[1], m[2])
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k.Value, err)
				}
				if !take {
					continue
				}
				ev, err := e.node(v)
				if err != nil {
					return nil, err
				}
				if ev.Kind != yaml.MappingNode {
					return nil, fmt.Errorf("%s in a mapping: got a %v, want a mapping to insert", k.Value, ev.Kind)
				}
				out.Content = append(out.Content, ev.Content...)
				continue
			}
			chain = chainState{}
			ek, err := e.scalar(k)
			if err != nil {
				return nil, err
			}
			ev, err := e.node(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k.Value, err)
			}
			out.Content = append(out.Content, ek, ev)
		}
		return out, nil
	case yaml.SequenceNode:
		out := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		chain := chainState{}
		for _, item := range n.Content {
			if item.Kind == yaml.MappingNode && len(item.Content) == 2 {
				if m := directive.FindStringSubmatch(item.Content[0].Value); m != nil {
					items, err := e.directiveItems(&chain, m[1], m[2], item.Content[1])
					if err != nil {
						return nil, fmt.Errorf("%s: %w", item.Content[0].Value, err)
					}
					out.Content = append(out.Content, items...)
					continue
				}
			}
			chain = chainState{}
			if t := mapGet(item, "template"); item.Kind == yaml.MappingNode && t != nil {
				items, err := e.include(item, t)
				if err != nil {
					return nil, err
				}
				out.Content = append(out.Content, items...)
				continue
			}
			ev, err := e.node(item)
			if err != nil {
				return nil, err
			}
			out.Content = append(out.Content, ev)
		}
		return out, nil
	case yaml.AliasNode:
		return e.node(n.Alias)
	}
	return n, nil
}

// chainState follows an ${{ if }} / ${{ elseif }} / ${{ else }} chain.
type chainState struct {
	open, taken bool
}

func (c *chainState) step(e *expander, kind, cond string) (bool, error) {
	switch kind {
	case "if":
		v, err := e.eval(cond)
		if err != nil {
			return false, err
		}
		*c = chainState{open: true, taken: truthy(v)}
		return c.taken, nil
	case "elseif", "else":
		if !c.open {
			return false, fmt.Errorf("%s without an if before it", kind)
		}
		if c.taken {
			return false, nil
		}
		take := true
		if kind == "elseif" {
			v, err := e.eval(cond)
			if err != nil {
				return false, err
			}
			take = truthy(v)
		} else {
			c.open = false
		}
		c.taken = take
		return take, nil
	}
	return false, fmt.Errorf("%s: not a condition", kind)
}

var eachClause = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)\s+in\s+(.+)$`)

// directiveItems is what a conditional or loop item of a sequence inserts.
func (e *expander) directiveItems(chain *chainState, kind, rest string, body *yaml.Node) ([]*yaml.Node, error) {
	splice := func(e *expander) ([]*yaml.Node, error) {
		ev, err := e.node(body)
		if err != nil {
			return nil, err
		}
		if ev.Kind == yaml.SequenceNode {
			return ev.Content, nil
		}
		return []*yaml.Node{ev}, nil
	}
	if kind != "each" {
		take, err := chain.step(e, kind, rest)
		if err != nil || !take {
			return nil, err
		}
		return splice(e)
	}
	*chain = chainState{}
	m := eachClause.FindStringSubmatch(rest)
	if m == nil {
		return nil, fmt.Errorf("each %q: want `each <name> in <expression>`", rest)
	}
	coll, err := e.eval(m[2])
	if err != nil {
		return nil, err
	}
	list, ok := coll.([]any)
	if !ok {
		return nil, fmt.Errorf("each over %s: got %T, want a list", m[2], coll)
	}
	var out []*yaml.Node
	for _, v := range list {
		items, err := splice(e.with(m[1], v))
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
	}
	return out, nil
}

// include expands `- template: file` in place, or keeps it when the file is opaque.
func (e *expander) include(item, ref *yaml.Node) ([]*yaml.Node, error) {
	name, err := e.scalar(ref)
	if err != nil {
		return nil, err
	}
	if slices.Contains(opaqueTemplates, path.Base(name.Value)) || strings.Contains(name.Value, "@") {
		ev, err := e.node(item)
		if err != nil {
			return nil, err
		}
		return []*yaml.Node{ev}, nil
	}
	var params map[string]any
	if p := mapGet(item, "parameters"); p != nil {
		ep, err := e.node(p)
		if err != nil {
			return nil, err
		}
		if err := ep.Decode(&params); err != nil {
			return nil, err
		}
	}
	rel := path.Join(path.Dir(e.file), name.Value)
	out, err := expandTemplateFile(rel, params)
	if err != nil {
		return nil, err
	}
	for _, k := range []string{"steps", "jobs", "stages"} {
		if list := mapGet(out, k); list != nil {
			return list.Content, nil
		}
	}
	return nil, fmt.Errorf("template %s: no steps, jobs or stages to insert", rel)
}

var exprPart = regexp.MustCompile(`\$\{\{(.*?)\}\}`)

// scalar evaluates the ${{ }} parts of a scalar: a value that is one expression keeps its type.
func (e *expander) scalar(n *yaml.Node) (*yaml.Node, error) {
	if n.Kind != yaml.ScalarNode || !strings.Contains(n.Value, "${{") {
		return n, nil
	}
	s := strings.TrimSpace(n.Value)
	if m := exprPart.FindAllStringSubmatchIndex(s, -1); len(m) == 1 && m[0][0] == 0 && m[0][1] == len(s) {
		v, err := e.eval(s[m[0][2]:m[0][3]])
		if err != nil {
			return nil, err
		}
		return valueNode(v), nil
	}
	var ferr error
	out := exprPart.ReplaceAllStringFunc(n.Value, func(part string) string {
		v, err := e.eval(exprPart.FindStringSubmatch(part)[1])
		if err == nil {
			if _, isList := v.([]any); isList {
				err = fmt.Errorf("%s: a list cannot be part of a string", part)
			}
		}
		if err != nil && ferr == nil {
			ferr = err
		}
		return toText(v)
	})
	if ferr != nil {
		return nil, ferr
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: out}, nil
}

func valueNode(v any) *yaml.Node {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fmt.Sprint(v)}
	}
	return &n
}

func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// toText is a value as text in a string: booleans as Azure Pipelines writes them.
func toText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		if x {
			return "True"
		}
		return "False"
	case string:
		return x
	}
	if f, ok := toNumber(v); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func toNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(x), 64)
		return f, err == nil
	}
	return 0, false
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case []any:
		return true
	}
	if f, ok := toNumber(v); ok {
		return f != 0
	}
	return true
}

// eval evaluates one template expression.
func (e *expander) eval(src string) (any, error) {
	p := &tmplParser{src: src, vars: e.vars}
	v, err := p.expr()
	if err != nil {
		return nil, fmt.Errorf("${{ %s }}: %w", strings.TrimSpace(src), err)
	}
	p.space()
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("${{ %s }}: unexpected %q", strings.TrimSpace(src), p.src[p.pos:])
	}
	return v, nil
}

type tmplParser struct {
	src  string
	pos  int
	vars map[string]any
}

func (p *tmplParser) space() {
	for p.pos < len(p.src) && unicode.IsSpace(rune(p.src[p.pos])) {
		p.pos++
	}
}

func (p *tmplParser) peek(c byte) bool {
	p.space()
	return p.pos < len(p.src) && p.src[p.pos] == c
}

func (p *tmplParser) expr() (any, error) {
	p.space()
	if p.pos >= len(p.src) {
		return nil, errors.New("want a value, got the end")
	}
	c := p.src[p.pos]
	switch {
	case c == '\'':
		var b strings.Builder
		p.pos++
		for p.pos < len(p.src) {
			ch := p.src[p.pos]
			p.pos++
			if ch == '\'' {
				if p.pos < len(p.src) && p.src[p.pos] == '\'' {
					b.WriteByte('\'')
					p.pos++
					continue
				}
				return b.String(), nil
			}
			b.WriteByte(ch)
		}
		return nil, errors.New("unterminated string")
	case c == '-' || unicode.IsDigit(rune(c)):
		start := p.pos
		p.pos++
		for p.pos < len(p.src) && (unicode.IsDigit(rune(p.src[p.pos])) || p.src[p.pos] == '.') {
			p.pos++
		}
		return strconv.ParseFloat(p.src[start:p.pos], 64)
	}
	start := p.pos
	for p.pos < len(p.src) && (unicode.IsLetter(rune(p.src[p.pos])) || unicode.IsDigit(rune(p.src[p.pos])) || p.src[p.pos] == '_') {
		p.pos++
	}
	name := p.src[start:p.pos]
	if name == "" {
		return nil, fmt.Errorf("unexpected %q", p.src[p.pos:])
	}
	if p.peek('(') {
		p.pos++
		var args []any
		if !p.peek(')') {
			for {
				v, err := p.expr()
				if err != nil {
					return nil, err
				}
				args = append(args, v)
				if p.peek(',') {
					p.pos++
					continue
				}
				break
			}
		}
		if !p.peek(')') {
			return nil, fmt.Errorf("%s: want ) at %d", name, p.pos)
		}
		p.pos++
		return tmplCall(strings.ToLower(name), args)
	}
	switch strings.ToLower(name) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	case "null":
		return nil, nil
	}
	v, ok := p.vars[name]
	if !ok {
		return nil, fmt.Errorf("%s: not defined (want parameters.<name> or a loop's variable)", name)
	}
	for {
		var key string
		switch {
		case p.pos < len(p.src) && p.src[p.pos] == '.':
			p.pos++
			s := p.pos
			for p.pos < len(p.src) && (unicode.IsLetter(rune(p.src[p.pos])) || unicode.IsDigit(rune(p.src[p.pos])) || p.src[p.pos] == '_' || p.src[p.pos] == '-') {
				p.pos++
			}
			key = p.src[s:p.pos]
		case p.pos < len(p.src) && p.src[p.pos] == '[':
			p.pos++
			k, err := p.expr()
			if err != nil {
				return nil, err
			}
			if !p.peek(']') {
				return nil, errors.New("want ]")
			}
			p.pos++
			key = toText(k)
		default:
			return v, nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s.%s: got %T, want a mapping", name, key, v)
		}
		if v, ok = m[key]; !ok {
			return nil, fmt.Errorf("%s.%s: not defined", name, key)
		}
		name += "." + key
	}
}

// tmplCall applies a function of template expressions. Comparisons convert the left side to the
// right's type and compare strings ignoring case, as Azure Pipelines does.
func tmplCall(name string, args []any) (any, error) {
	arity := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("%s: got %d arguments, want %d", name, len(args), n)
		}
		return nil
	}
	compare := func() (int, error) {
		if err := arity(2); err != nil {
			return 0, err
		}
		if r, ok := toNumber(args[1]); ok {
			if _, isString := args[1].(string); !isString {
				l, ok := toNumber(args[0])
				if !ok {
					return 0, fmt.Errorf("%s: %v is not a number", name, args[0])
				}
				switch {
				case l < r:
					return -1, nil
				case l > r:
					return 1, nil
				}
				return 0, nil
			}
		}
		if b, ok := args[1].(bool); ok {
			if truthy(args[0]) == b {
				return 0, nil
			}
			return 1, nil
		}
		return strings.Compare(strings.ToLower(toText(args[0])), strings.ToLower(toText(args[1]))), nil
	}
	switch name {
	case "eq", "ne", "lt", "le", "gt", "ge":
		c, err := compare()
		if err != nil {
			return nil, err
		}
		return map[string]bool{"eq": c == 0, "ne": c != 0, "lt": c < 0, "le": c <= 0, "gt": c > 0, "ge": c >= 0}[name], nil
	case "and", "or":
		if len(args) < 2 {
			return nil, fmt.Errorf("%s: got %d arguments, want at least 2", name, len(args))
		}
		acc := name == "and"
		for _, a := range args {
			if name == "and" {
				acc = acc && truthy(a)
			} else {
				acc = acc || truthy(a)
			}
		}
		return acc, nil
	case "not":
		if err := arity(1); err != nil {
			return nil, err
		}
		return !truthy(args[0]), nil
	case "coalesce":
		for _, a := range args {
			if a != nil && a != "" {
				return a, nil
			}
		}
		return nil, nil
	case "format":
		if len(args) == 0 {
			return nil, errors.New("format: got no arguments")
		}
		out := toText(args[0])
		for i, a := range args[1:] {
			out = strings.ReplaceAll(out, "{"+strconv.Itoa(i)+"}", toText(a))
		}
		return out, nil
	case "converttojson":
		if err := arity(1); err != nil {
			return nil, err
		}
		b, err := json.MarshalIndent(args[0], "", "  ")
		return string(b), err
	case "length":
		if err := arity(1); err != nil {
			return nil, err
		}
		switch x := args[0].(type) {
		case []any:
			return float64(len(x)), nil
		case map[string]any:
			return float64(len(x)), nil
		}
		return float64(len(toText(args[0]))), nil
	}
	return nil, fmt.Errorf("function %s is not modelled", name)
}

// expandedPipeline is an expanded caller, decoded as the checks read pipelines.
func expandedPipeline(t *testing.T, caller string) *adoPipeline {
	t.Helper()
	n, err := expandCaller(caller)
	if err != nil {
		t.Fatal(err)
	}
	return decodeNode[adoPipeline](t, n)
}

// expandedTemplate expands the template rel with params, decoded as the checks read pipelines.
func expandedTemplate(t *testing.T, rel string, params map[string]any) *adoPipeline {
	t.Helper()
	n, err := expandTemplateFile(rel, params)
	if err != nil {
		t.Fatal(err)
	}
	return decodeNode[adoPipeline](t, n)
}

func decodeNode[T any](t *testing.T, n *yaml.Node) *T {
	t.Helper()
	var v T
	if err := n.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func TestTemplateExpander(t *testing.T) {
	const tmpl = "t/x.yml"
	files := map[string]string{
		tmpl: `parameters:
  - name: stack
    type: string
  - name: steps
    type: object
  - name: record
    type: boolean
    default: true
  - name: prefix
    type: string
    default: ''
  - name: mode
    type: string
    default: a
    values: [a, b]
stages:
  - ${{ each step in parameters.steps }}:
      - stage: S_${{ step }}
        dependsOn:
          - ${{ each e in parameters.steps }}:
              - ${{ if lt(e, step) }}:
                  - S_${{ e }}
        env: ${{ coalesce(parameters.prefix, format('slotless-{0}', parameters.stack)) }}-${{ step }}
        keep: ${{ parameters.record }}
        text: record ${{ parameters.record }}
        json: ${{ convertToJson(parameters.steps) }}
        steps:
          - template: s.yml
            parameters:
              mode: ${{ parameters.mode }}
  - ${{ if parameters.record }}:
      - stage: Record
  - ${{ else }}:
      - stage: NoRecord
`,
		"t/s.yml": `parameters:
  - name: mode
    type: string
steps:
  - ${{ if eq(parameters.mode, 'a') }}:
      - bash: mode a
  - ${{ else }}:
      - template: setup-slotless.yml
        parameters:
          version: ${{ parameters.mode }}
`,
	}
	old := readRepoFile
	readRepoFile = func(rel string) []byte {
		if s, ok := files[rel]; ok {
			return []byte(s)
		}
		return nil
	}
	defer func() { readRepoFile = old }()

	n, err := expandTemplateFile(tmpl, map[string]any{"stack": "prod", "steps": []any{5, 25, 100}})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Stages []struct {
			Stage     string   `yaml:"stage"`
			DependsOn []string `yaml:"dependsOn"`
			Env       string   `yaml:"env"`
			Keep      any      `yaml:"keep"`
			Text      string   `yaml:"text"`
			JSON      string   `yaml:"json"`
			Steps     []map[string]any
		} `yaml:"stages"`
	}
	if err := n.Decode(&got); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got.Stages {
		names = append(names, s.Stage)
	}
	if want := []string{"S_5", "S_25", "S_100", "Record"}; !slices.Equal(names, want) {
		t.Fatalf("stages: got %v, want %v", names, want)
	}
	s := got.Stages[2]
	if !slices.Equal(s.DependsOn, []string{"S_5", "S_25"}) || s.Env != "slotless-prod-100" || s.Keep != true || s.Text != "record True" ||
		strings.Join(strings.Fields(s.JSON), "") != "[5,25,100]" || len(s.Steps) != 1 || s.Steps[0]["bash"] != "mode a" {
		t.Errorf("S_100: got %+v", s)
	}

	n, err = expandTemplateFile(tmpl, map[string]any{"stack": "prod", "steps": []any{100}, "record": false, "prefix": "orders", "mode": "b"})
	if err != nil {
		t.Fatal(err)
	}
	got.Stages = nil
	if err := n.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Stages) != 2 || got.Stages[0].Env != "orders-100" || got.Stages[1].Stage != "NoRecord" || got.Stages[0].Steps[0]["template"] != "setup-slotless.yml" {
		t.Errorf("record false, prefix orders, mode b: got %+v", got.Stages)
	}

	for _, bad := range []map[string]any{
		{"steps": []any{100}},                                     // stack is required
		{"stack": "prod", "steps": []any{100}, "bake": 5},         // not a parameter
		{"stack": "prod", "steps": []any{100}, "record": "maybe"}, // not a boolean
		{"stack": "prod", "steps": []any{100}, "mode": "c"},       // not one of values
	} {
		if _, err := expandTemplateFile(tmpl, bad); err == nil {
			t.Errorf("parameters %v: got no error, want one", bad)
		}
	}
	files[tmpl] = "stages:\n  - stage: ${{ split(parameters.x, ',') }}\n"
	if _, err := expandTemplateFile(tmpl, nil); err == nil {
		t.Error("an unmodelled function: got no error, want one")
	}
}
