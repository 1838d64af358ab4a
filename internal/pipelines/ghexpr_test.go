package pipelines

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
)

// This file evaluates the expressions of GitHub Actions workflows, for the operators and
// functions the workflows use (docs.github.com/actions/learn-github-actions/expressions):
// literals, context paths, ==, !=, !, &&, ||, parentheses, success(), failure(), always(),
// cancelled(), contains() and format(). As in GitHub, && and || give one of their operands, not a
// boolean: `inputs.prefix || format('slotless-{0}', inputs.stack)` is a name. A step's `if`
// without a status function is implicitly `success() && (...)`; a string with ${{ }} parts
// (an environment's name) is evaluated part by part. Anything else fails the evaluation rather
// than guessing.

// ghContext is what an expression can read: flattened context paths such as
// "github.repository" or "steps.plan.outputs.status", and whether the job has failed so far.
type ghContext struct {
	values map[string]string
	failed bool
}

type ghExpr struct {
	src string
	pos int
	ctx ghContext
}

// ghValue is a string or a bool; comparisons of strings ignore case, as GitHub's do.
type ghValue struct {
	s      string
	b      bool
	isBool bool
}

func (v ghValue) truthy() bool {
	if v.isBool {
		return v.b
	}
	return v.s != ""
}

func (v ghValue) str() string {
	if v.isBool {
		if v.b {
			return "true"
		}
		return "false"
	}
	return v.s
}

var statusFunctions = []string{"success(", "failure(", "always(", "cancelled("}

// evalStepIf reports whether a step with this `if` runs.
func evalStepIf(cond string, ctx ghContext) (bool, error) {
	cond = strings.TrimSpace(cond)
	cond = strings.TrimSuffix(strings.TrimPrefix(cond, "${{"), "}}")
	if cond == "" {
		cond = "success()"
	}
	implicit := true
	for _, f := range statusFunctions {
		if strings.Contains(cond, f) {
			implicit = false
		}
	}
	if implicit {
		cond = "success() && (" + cond + ")"
	}
	e := &ghExpr{src: cond, ctx: ctx}
	v, err := e.or()
	if err != nil {
		return false, err
	}
	e.space()
	if e.pos != len(e.src) {
		return false, fmt.Errorf("unexpected %q", e.src[e.pos:])
	}
	return v.truthy(), nil
}

func (e *ghExpr) space() {
	for e.pos < len(e.src) && unicode.IsSpace(rune(e.src[e.pos])) {
		e.pos++
	}
}

func (e *ghExpr) eat(tok string) bool {
	e.space()
	if strings.HasPrefix(e.src[e.pos:], tok) {
		e.pos += len(tok)
		return true
	}
	return false
}

func (e *ghExpr) or() (ghValue, error) {
	l, err := e.and()
	if err != nil {
		return l, err
	}
	for e.eat("||") {
		r, err := e.and()
		if err != nil {
			return r, err
		}
		if !l.truthy() {
			l = r
		}
	}
	return l, nil
}

func (e *ghExpr) and() (ghValue, error) {
	l, err := e.cmp()
	if err != nil {
		return l, err
	}
	for e.eat("&&") {
		r, err := e.cmp()
		if err != nil {
			return r, err
		}
		if l.truthy() {
			l = r
		}
	}
	return l, nil
}

func (e *ghExpr) cmp() (ghValue, error) {
	l, err := e.unary()
	if err != nil {
		return l, err
	}
	for {
		var eq bool
		switch {
		case e.eat("=="):
			eq = true
		case e.eat("!="):
			eq = false
		default:
			return l, nil
		}
		r, err := e.unary()
		if err != nil {
			return r, err
		}
		same := strings.EqualFold(l.str(), r.str())
		l = ghValue{b: same == eq, isBool: true}
	}
}

func (e *ghExpr) unary() (ghValue, error) {
	if e.eat("!") {
		v, err := e.unary()
		return ghValue{b: !v.truthy(), isBool: true}, err
	}
	return e.primary()
}

func (e *ghExpr) primary() (ghValue, error) {
	e.space()
	if e.eat("(") {
		v, err := e.or()
		if err != nil {
			return v, err
		}
		if !e.eat(")") {
			return v, fmt.Errorf("want ) at %d", e.pos)
		}
		return v, nil
	}
	if e.pos < len(e.src) && e.src[e.pos] == '\'' {
		e.pos++
		end := strings.IndexByte(e.src[e.pos:], '\'')
		if end < 0 {
			return ghValue{}, fmt.Errorf("unterminated string")
		}
		s := e.src[e.pos : e.pos+end]
		e.pos += end + 1
		return ghValue{s: s}, nil
	}
	start := e.pos
	for e.pos < len(e.src) && (unicode.IsLetter(rune(e.src[e.pos])) || unicode.IsDigit(rune(e.src[e.pos])) || strings.ContainsRune("._-*", rune(e.src[e.pos]))) {
		e.pos++
	}
	name := e.src[start:e.pos]
	if name == "" {
		return ghValue{}, fmt.Errorf("want a value at %d in %q", start, e.src)
	}
	switch name {
	case "true", "false":
		return ghValue{b: name == "true", isBool: true}, nil
	}
	if !e.eat("(") {
		return ghValue{s: e.ctx.values[name]}, nil
	}
	var args []ghValue
	if !e.eat(")") {
		for {
			v, err := e.or()
			if err != nil {
				return v, err
			}
			args = append(args, v)
			if e.eat(",") {
				continue
			}
			if !e.eat(")") {
				return v, fmt.Errorf("want ) at %d", e.pos)
			}
			break
		}
	}
	switch name {
	case "success":
		return ghValue{b: !e.ctx.failed, isBool: true}, nil
	case "failure":
		return ghValue{b: e.ctx.failed, isBool: true}, nil
	case "always":
		return ghValue{b: true, isBool: true}, nil
	case "cancelled":
		return ghValue{b: false, isBool: true}, nil
	case "contains":
		if len(args) != 2 {
			return ghValue{}, fmt.Errorf("contains: got %d arguments, want 2", len(args))
		}
		return ghValue{b: strings.Contains(strings.ToLower(args[0].str()), strings.ToLower(args[1].str())), isBool: true}, nil
	case "format":
		if len(args) == 0 {
			return ghValue{}, fmt.Errorf("format: got no arguments, want a format string")
		}
		out := args[0].str()
		for i, a := range args[1:] {
			out = strings.ReplaceAll(out, fmt.Sprintf("{%d}", i), a.str())
		}
		return ghValue{s: out}, nil
	}
	return ghValue{}, fmt.Errorf("function %s is not modelled", name)
}

// evalGHString evaluates the ${{ }} parts of a string, as GitHub does for a value such as an
// environment's name, and keeps the text around them.
func evalGHString(s string, ctx ghContext) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${{")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.Index(s[i:], "}}")
		if j < 0 {
			return "", fmt.Errorf("unterminated ${{ in %q", s)
		}
		b.WriteString(s[:i])
		e := &ghExpr{src: s[i+3 : i+j], ctx: ctx}
		v, err := e.or()
		if err != nil {
			return "", fmt.Errorf("%q: %w", s, err)
		}
		if e.space(); e.pos != len(e.src) {
			return "", fmt.Errorf("%q: unexpected %q", s, e.src[e.pos:])
		}
		b.WriteString(v.str())
		s = s[i+j+2:]
	}
}

func TestEvalGHString(t *testing.T) {
	env := "${{ inputs.environment-prefix || format('slotless-{0}', inputs.stack) }}-${{ matrix.step }}"
	cases := []struct {
		in     string
		values map[string]string
		want   string
	}{
		{env, map[string]string{"inputs.stack": "prod", "matrix.step": "50"}, "slotless-prod-50"},
		{env, map[string]string{"inputs.stack": "prod", "inputs.environment-prefix": "orders", "matrix.step": "100"}, "orders-100"},
		{"plain", nil, "plain"},
		{"${{ github.event_name == 'push' || inputs.record }}", map[string]string{"github.event_name": "push"}, "true"},
		{"${{ inputs.a && inputs.b }}", map[string]string{"inputs.a": "x", "inputs.b": "y"}, "y"},
	}
	for _, c := range cases {
		got, err := evalGHString(c.in, ghContext{values: c.values})
		if err != nil || got != c.want {
			t.Errorf("%s with %v: got %q, %v; want %q", c.in, c.values, got, err, c.want)
		}
	}
	if _, err := evalGHString("${{ fromJSON('[1]') }}", ghContext{}); err == nil {
		t.Error("fromJSON: got no error, want one (not modelled)")
	}
}

func TestEvalStepIf(t *testing.T) {
	ctx := ghContext{values: map[string]string{
		"steps.plan.outputs.status":                     "1",
		"github.repository":                             "acme/slotless",
		"github.event.pull_request.head.repo.full_name": "fork/slotless",
	}}
	cases := []struct {
		cond   string
		failed bool
		want   bool
	}{
		{"", false, true},
		{"", true, false},
		{"steps.plan.outputs.status != '0'", false, true},
		{"steps.plan.outputs.status != '0'", true, false},
		{"always() && steps.plan.outputs.status != '0'", true, true},
		{"always() && github.event.pull_request.head.repo.full_name == github.repository", false, false},
		{"${{ failure() }}", true, true},
		{"!(steps.plan.outputs.status == '1')", false, false},
		{"contains(github.repository, 'SLOTLESS')", false, true},
	}
	for _, c := range cases {
		ctx.failed = c.failed
		got, err := evalStepIf(c.cond, ctx)
		if err != nil {
			t.Errorf("%q: %v", c.cond, err)
			continue
		}
		if got != c.want {
			t.Errorf("%q (job failed=%v): got %v, want %v", c.cond, c.failed, got, c.want)
		}
	}
	if _, err := evalStepIf("hashFiles('x') != ''", ctx); err == nil {
		t.Error("hashFiles: got no error, want one (not modelled)")
	}
}
