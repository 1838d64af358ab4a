package azurefake

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// This file evaluates the subset of KQL the metrics gate writes, over AppRequests rows, with
// the semantics the KQL reference gives each piece (learn.microsoft.com/kusto/query, cited per
// function below). Anything outside the subset is refused as a semantic error is, with 400
// BadArgumentError, so a gate whose query changes cannot pass by being misread.
//
//	query     := table ('|' operator)*
//	operator  := 'where' expr | 'extend' assign (',' assign)* | 'summarize' agg (',' agg)* ['by' name (',' name)*]
//	expr      := and ('or' and)*
//	and       := compare ('and' compare)*
//	compare   := sum [('==' | '!=' | '<' | '<=' | '>' | '>=' | '=~' | 'endswith' | 'in~') operand]
//	sum       := postfix ('-' postfix)*
//	postfix   := primary ('.' name | '[' string ']')*
//	primary   := number | string | timespan | 'true' | 'false' | name | call | '(' expr ')'

// kqlRow is one AppRequests record as a query reads it.
type kqlRow struct {
	cols     map[string]any
	ingested time.Time
}

// column reads a column; an unknown one is a semantic error.
func (r kqlRow) column(name string) (any, error) {
	v, ok := r.cols[name]
	if !ok {
		return nil, fmt.Errorf("'%s' is not a column of AppRequests here", name)
	}
	return v, nil
}

// rowOf is a Row as its columns: ResultCode is a string in AppRequests, ItemCount 1 unless
// sampled, _ResourceId the component's id in lower case, as Log Analytics stores it.
func rowOf(r Row) kqlRow {
	items := r.ItemCount
	if items == 0 {
		items = 1
	}
	return kqlRow{ingested: r.Ingested, cols: map[string]any{
		"TimeGenerated": r.Generated, "_ResourceId": strings.ToLower(r.Component), "AppRoleName": r.App, "OperationName": r.Operation, "Url": r.Url,
		"ResultCode": strconv.Itoa(r.ResultCode), "Success": r.Success, "DurationMs": r.DurationMs, "ItemCount": int64(items),
	}}
}

// token kinds.
const (
	tName = iota
	tString
	tNumber
	tSpan
	tOp
	tEnd
)

type token struct {
	kind int
	text string
}

func tokenize(src string) ([]token, error) {
	var out []token
	i := 0
	for i < len(src) {
		c := rune(src[i])
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '"':
			j := i + 1
			var b strings.Builder
			for ; j < len(src) && src[j] != '"'; j++ {
				if src[j] == '\\' && j+1 < len(src) {
					j++
				}
				b.WriteByte(src[j])
			}
			if j >= len(src) {
				return nil, fmt.Errorf("unterminated string literal")
			}
			out = append(out, token{tString, b.String()})
			i = j + 1
		case unicode.IsDigit(c):
			j := i
			for j < len(src) && (unicode.IsDigit(rune(src[j])) || src[j] == '.') {
				j++
			}
			k := j
			for k < len(src) && unicode.IsLetter(rune(src[k])) {
				k++
			}
			if k > j {
				out = append(out, token{tSpan, src[i:k]})
			} else {
				out = append(out, token{tNumber, src[i:j]})
			}
			i = k
		case unicode.IsLetter(c) || c == '_':
			j := i
			for j < len(src) && (unicode.IsLetter(rune(src[j])) || unicode.IsDigit(rune(src[j])) || src[j] == '_') {
				j++
			}
			// in~ is one operator.
			if src[i:j] == "in" && j < len(src) && src[j] == '~' {
				j++
			}
			out = append(out, token{tName, src[i:j]})
			i = j
			// datetime(2026-12-04T03:00:00Z): the literal runs to the parenthesis.
			if out[len(out)-1].text == "datetime" && i < len(src) && src[i] == '(' {
				k := strings.IndexByte(src[i:], ')')
				if k < 0 {
					return nil, fmt.Errorf("unterminated datetime()")
				}
				out = append(out, token{tOp, "("}, token{tString, strings.TrimSpace(src[i+1 : i+k])}, token{tOp, ")"})
				i += k + 1
			}
		default:
			two := ""
			if i+1 < len(src) {
				two = src[i : i+2]
			}
			switch two {
			case "==", "!=", "<=", ">=", "=~":
				out = append(out, token{tOp, two})
				i += 2
				continue
			}
			if !strings.ContainsRune("|=<>(),.[]-", c) {
				return nil, fmt.Errorf("unexpected character %q", c)
			}
			out = append(out, token{tOp, string(c)})
			i++
		}
	}
	return append(out, token{tEnd, ""}), nil
}

// node is an expression, evaluated against one row.
type node func(r kqlRow) (any, error)

type parser struct {
	toks []token
	pos  int
	now  time.Time
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token { t := p.toks[p.pos]; p.pos++; return t }

func (p *parser) accept(kind int, text string) bool {
	if t := p.peek(); t.kind == kind && t.text == text {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(kind int, text string) error {
	if !p.accept(kind, text) {
		return fmt.Errorf("expected %q, got %q", text, p.peek().text)
	}
	return nil
}

func (p *parser) name() (string, error) {
	t := p.next()
	if t.kind != tName {
		return "", fmt.Errorf("expected a name, got %q", t.text)
	}
	return t.text, nil
}

func (p *parser) expr() (node, error) {
	left, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.accept(tName, "or") {
		right, err := p.and()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(r kqlRow) (any, error) { return logical(r, l, right, false) }
	}
	return left, nil
}

func (p *parser) and() (node, error) {
	left, err := p.compare()
	if err != nil {
		return nil, err
	}
	for p.accept(tName, "and") {
		right, err := p.compare()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(r kqlRow) (any, error) { return logical(r, l, right, true) }
	}
	return left, nil
}

// logical is 'and' / 'or' with KQL's nulls: null and false is false, null or true is true, and
// otherwise a null operand gives null ("Null values", KQL reference).
func logical(r kqlRow, l, rt node, and bool) (any, error) {
	a, err := l(r)
	if err != nil {
		return nil, err
	}
	b, err := rt(r)
	if err != nil {
		return nil, err
	}
	ab, aok := a.(bool)
	bb, bok := b.(bool)
	if (a != nil && !aok) || (b != nil && !bok) {
		return nil, fmt.Errorf("'and'/'or' of a non-boolean")
	}
	if and {
		if aok && !ab || bok && !bb {
			return false, nil
		}
		if aok && bok {
			return true, nil
		}
		return nil, nil
	}
	if aok && ab || bok && bb {
		return true, nil
	}
	if aok && bok {
		return false, nil
	}
	return nil, nil
}

func (p *parser) compare() (node, error) {
	left, err := p.sum()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	switch {
	case t.kind == tOp && slices.Contains([]string{"==", "!=", "<", "<=", ">", ">=", "=~"}, t.text):
		p.pos++
		right, err := p.sum()
		if err != nil {
			return nil, err
		}
		return func(r kqlRow) (any, error) {
			a, err := left(r)
			if err != nil {
				return nil, err
			}
			b, err := right(r)
			if err != nil {
				return nil, err
			}
			return comparison(t.text, a, b)
		}, nil
	case t.kind == tName && t.text == "endswith":
		// endswith is case-insensitive; endswith_cs is the case-sensitive one ("String
		// operators", KQL reference).
		p.pos++
		right, err := p.sum()
		if err != nil {
			return nil, err
		}
		return func(r kqlRow) (any, error) {
			a, err := left(r)
			if err != nil {
				return nil, err
			}
			b, err := right(r)
			if err != nil {
				return nil, err
			}
			as, aok := a.(string)
			bs, bok := b.(string)
			if !aok || !bok {
				return nil, fmt.Errorf("endswith needs strings")
			}
			return strings.HasSuffix(strings.ToLower(as), strings.ToLower(bs)), nil
		}, nil
	case t.kind == tName && t.text == "in~":
		// in~ is membership of a list, ignoring case ("The case-insensitive in~ operator").
		p.pos++
		if err := p.expect(tOp, "("); err != nil {
			return nil, err
		}
		var list []string
		for {
			s := p.next()
			if s.kind != tString {
				return nil, fmt.Errorf("in~ takes string literals, got %q", s.text)
			}
			list = append(list, strings.ToLower(s.text))
			if !p.accept(tOp, ",") {
				break
			}
		}
		if err := p.expect(tOp, ")"); err != nil {
			return nil, err
		}
		return func(r kqlRow) (any, error) {
			a, err := left(r)
			if err != nil {
				return nil, err
			}
			s, ok := a.(string)
			if !ok {
				return nil, fmt.Errorf("in~ needs a string")
			}
			return slices.Contains(list, strings.ToLower(s)), nil
		}, nil
	}
	return left, nil
}

// comparison compares two values of one type; with a null operand the answer is null.
func comparison(op string, a, b any) (any, error) {
	if a == nil || b == nil {
		return nil, nil
	}
	var c int
	switch x := a.(type) {
	case int64:
		y, ok := b.(int64)
		if !ok {
			if f, isF := b.(float64); isF {
				return comparison(op, float64(x), f)
			}
			return nil, fmt.Errorf("cannot compare long with %T", b)
		}
		c = cmpOrdered(x, y)
	case float64:
		y, ok := b.(float64)
		if !ok {
			if n, isN := b.(int64); isN {
				y = float64(n)
			} else {
				return nil, fmt.Errorf("cannot compare real with %T", b)
			}
		}
		c = cmpOrdered(x, y)
	case string:
		y, ok := b.(string)
		if !ok {
			return nil, fmt.Errorf("cannot compare string with %T", b)
		}
		if op == "=~" {
			return strings.EqualFold(x, y), nil
		}
		c = strings.Compare(x, y)
	case bool:
		y, ok := b.(bool)
		if !ok || (op != "==" && op != "!=") {
			return nil, fmt.Errorf("cannot compare bool with %T by %s", b, op)
		}
		if op == "==" {
			return x == y, nil
		}
		return x != y, nil
	case time.Time:
		y, ok := b.(time.Time)
		if !ok {
			return nil, fmt.Errorf("cannot compare datetime with %T", b)
		}
		c = x.Compare(y)
	case time.Duration:
		y, ok := b.(time.Duration)
		if !ok {
			return nil, fmt.Errorf("cannot compare timespan with %T", b)
		}
		c = cmpOrdered(x, y)
	default:
		return nil, fmt.Errorf("cannot compare %T", a)
	}
	switch op {
	case "==":
		return c == 0, nil
	case "!=":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	case ">=":
		return c >= 0, nil
	}
	return nil, fmt.Errorf("operator %s does not apply to %T", op, a)
}

func cmpOrdered[T int64 | float64 | time.Duration](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (p *parser) sum() (node, error) {
	left, err := p.postfix()
	if err != nil {
		return nil, err
	}
	for p.accept(tOp, "-") {
		right, err := p.postfix()
		if err != nil {
			return nil, err
		}
		l := left
		left = func(r kqlRow) (any, error) {
			a, err := l(r)
			if err != nil {
				return nil, err
			}
			b, err := right(r)
			if err != nil {
				return nil, err
			}
			if a == nil || b == nil {
				return nil, nil
			}
			// datetime - datetime is a timespan ("Datetime / timespan arithmetic").
			at, aok := a.(time.Time)
			bt, bok := b.(time.Time)
			if aok && bok {
				return at.Sub(bt), nil
			}
			an, aok := a.(int64)
			bn, bok := b.(int64)
			if aok && bok {
				return an - bn, nil
			}
			return nil, fmt.Errorf("cannot subtract %T from %T", b, a)
		}
	}
	return left, nil
}

func (p *parser) postfix() (node, error) {
	n, err := p.primary()
	if err != nil {
		return nil, err
	}
	for {
		var key string
		switch {
		case p.accept(tOp, "."):
			if key, err = p.name(); err != nil {
				return nil, err
			}
		case p.accept(tOp, "["):
			t := p.next()
			if t.kind != tString {
				return nil, fmt.Errorf("a dynamic index takes a string, got %q", t.text)
			}
			key = t.text
			if err := p.expect(tOp, "]"); err != nil {
				return nil, err
			}
		default:
			return n, nil
		}
		inner, k := n, key
		// A property of a dynamic bag; a missing one, or a property of a non-bag, is null.
		n = func(r kqlRow) (any, error) {
			v, err := inner(r)
			if err != nil {
				return nil, err
			}
			if m, ok := v.(map[string]any); ok {
				return m[k], nil
			}
			return nil, nil
		}
	}
}

func (p *parser) primary() (node, error) {
	t := p.next()
	constant := func(v any) node { return func(kqlRow) (any, error) { return v, nil } }
	switch t.kind {
	case tString:
		return constant(t.text), nil
	case tNumber:
		if strings.Contains(t.text, ".") {
			f, err := strconv.ParseFloat(t.text, 64)
			return constant(f), err
		}
		n, err := strconv.ParseInt(t.text, 10, 64)
		return constant(n), err
	case tSpan:
		d, err := timespan(t.text)
		return constant(d), err
	case tOp:
		if t.text == "(" {
			n, err := p.expr()
			if err != nil {
				return nil, err
			}
			return n, p.expect(tOp, ")")
		}
	case tName:
		switch t.text {
		case "true":
			return constant(true), nil
		case "false":
			return constant(false), nil
		}
		if !p.accept(tOp, "(") {
			name := t.text
			return func(r kqlRow) (any, error) { return r.column(name) }, nil
		}
		return p.call(t.text)
	}
	return nil, fmt.Errorf("unexpected %q", t.text)
}

// timespan reads a timespan literal: a number and a unit, d, h, m, s or ms ("The timespan data
// type", KQL reference).
func timespan(s string) (time.Duration, error) {
	i := strings.IndexFunc(s, unicode.IsLetter)
	n, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		return 0, err
	}
	unit := map[string]time.Duration{"d": 24 * time.Hour, "h": time.Hour, "m": time.Minute, "s": time.Second, "ms": time.Millisecond}[s[i:]]
	if unit == 0 {
		return 0, fmt.Errorf("timespan %q: unknown unit", s)
	}
	return time.Duration(n * float64(unit)), nil
}

// call parses a scalar function's arguments, the opening parenthesis read.
func (p *parser) call(fn string) (node, error) {
	if fn == "datetime" {
		lit := p.next()
		if err := p.expect(tOp, ")"); err != nil {
			return nil, err
		}
		at, err := time.Parse(time.RFC3339Nano, lit.text)
		if err != nil {
			return nil, fmt.Errorf("datetime(%s): %v", lit.text, err)
		}
		return func(kqlRow) (any, error) { return at, nil }, nil
	}
	var args []node
	if !p.accept(tOp, ")") {
		for {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if p.accept(tOp, ")") {
				break
			}
			if err := p.expect(tOp, ","); err != nil {
				return nil, err
			}
		}
	}
	arity := map[string]int{"toint": 1, "tostring": 1, "parse_url": 1, "isnotempty": 1, "isempty": 1, "not": 1, "ingestion_time": 0, "ago": 1}
	if want, known := arity[fn]; known && want != len(args) {
		return nil, fmt.Errorf("%s() takes %d arguments, got %d", fn, want, len(args))
	}
	one := func(r kqlRow) (any, error) { return args[0](r) }
	switch fn {
	case "ingestion_time":
		// The time the record was ingested and ready for query ("ingestion_time()").
		return func(r kqlRow) (any, error) { return r.ingested, nil }, nil
	case "ago":
		now := p.now
		return func(r kqlRow) (any, error) {
			v, err := one(r)
			d, ok := v.(time.Duration)
			if err != nil || !ok {
				return nil, fmt.Errorf("ago() takes a timespan")
			}
			return now.Add(-d), nil
		}, nil
	case "toint":
		// toint of a string that is not an integer, "" included, is null ("toint()").
		return func(r kqlRow) (any, error) {
			v, err := one(r)
			if err != nil {
				return nil, err
			}
			switch x := v.(type) {
			case string:
				n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 32)
				if err != nil {
					return nil, nil
				}
				return n, nil
			case int64:
				return x, nil
			case float64:
				return int64(x), nil
			}
			return nil, nil
		}, nil
	case "tostring":
		// tostring of null is the empty string ("tostring()").
		return func(r kqlRow) (any, error) {
			v, err := one(r)
			if err != nil || v == nil {
				return "", err
			}
			if s, ok := v.(string); ok {
				return s, nil
			}
			return fmt.Sprint(v), nil
		}, nil
	case "isnotempty", "isempty":
		// isnotempty is true for a value that is neither null nor the empty string.
		return func(r kqlRow) (any, error) {
			v, err := one(r)
			if err != nil {
				return nil, err
			}
			empty := v == nil || v == ""
			return empty == (fn == "isempty"), nil
		}, nil
	case "not":
		return func(r kqlRow) (any, error) {
			v, err := one(r)
			if err != nil || v == nil {
				return nil, err
			}
			b, ok := v.(bool)
			if !ok {
				return nil, fmt.Errorf("not() takes a bool")
			}
			return !b, nil
		}, nil
	case "parse_url":
		return func(r kqlRow) (any, error) {
			v, err := one(r)
			if err != nil {
				return nil, err
			}
			s, _ := v.(string)
			return parseURL(s), nil
		}, nil
	case "case":
		// case(predicate1, then1, ..., else): the value after the first true predicate.
		if len(args) < 3 || len(args)%2 == 0 {
			return nil, fmt.Errorf("case() takes predicate/value pairs and an else value")
		}
		return func(r kqlRow) (any, error) {
			for i := 0; i+1 < len(args); i += 2 {
				c, err := args[i](r)
				if err != nil {
					return nil, err
				}
				if b, _ := c.(bool); b {
					return args[i+1](r)
				}
			}
			return args[len(args)-1](r)
		}, nil
	}
	return nil, fmt.Errorf("unknown function %s()", fn)
}

// parseURL is parse_url(): a dynamic bag of the URL's parts, the query string as "Query
// Parameters", a bag of names and values ("parse_url()", KQL reference). A URL that does not
// parse gives an empty bag.
func parseURL(s string) map[string]any {
	u, err := url.Parse(s)
	if err != nil || s == "" {
		return map[string]any{}
	}
	params := map[string]any{}
	for k, v := range u.Query() {
		params[k] = v[len(v)-1]
	}
	pw, _ := u.User.Password()
	return map[string]any{"Scheme": u.Scheme, "Host": u.Hostname(), "Port": u.Port(), "Path": u.EscapedPath(), "Username": u.User.Username(),
		"Password": pw, "Query Parameters": params, "Fragment": u.Fragment}
}

// aggregate is one aggregation of summarize.
type aggregate struct {
	name string
	fn   string
	args []node
	// pct is percentile's and percentilew's percentage.
	pct float64
}

// stage is one operator of the pipeline.
type stage struct {
	where   node
	extends []struct {
		name string
		expr node
	}
	aggs []aggregate
	by   []string
}

// compile parses a query over AppRequests into its stages.
func compile(query string, now time.Time) ([]stage, error) {
	toks, err := tokenize(query)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks, now: now}
	if t, err := p.name(); err != nil || t != "AppRequests" {
		return nil, fmt.Errorf("the query must read AppRequests")
	}
	var out []stage
	for p.accept(tOp, "|") {
		op, err := p.name()
		if err != nil {
			return nil, err
		}
		var s stage
		switch op {
		case "where":
			if s.where, err = p.expr(); err != nil {
				return nil, fmt.Errorf("where: %w", err)
			}
		case "extend":
			for {
				name, err := p.name()
				if err != nil {
					return nil, err
				}
				if err := p.expect(tOp, "="); err != nil {
					return nil, err
				}
				e, err := p.expr()
				if err != nil {
					return nil, fmt.Errorf("extend %s: %w", name, err)
				}
				s.extends = append(s.extends, struct {
					name string
					expr node
				}{name, e})
				if !p.accept(tOp, ",") {
					break
				}
			}
		case "summarize":
			if err := p.summarize(&s); err != nil {
				return nil, fmt.Errorf("summarize: %w", err)
			}
		default:
			return nil, fmt.Errorf("unknown operator %s", op)
		}
		out = append(out, s)
	}
	if p.peek().kind != tEnd {
		return nil, fmt.Errorf("unexpected %q", p.peek().text)
	}
	return out, nil
}

// summarize parses the aggregations of summarize and its by columns: count(), countif(p),
// sum(x), sumif(x, p), percentile(x, n) and percentilew(x, weight, n).
func (p *parser) summarize(s *stage) error {
	for {
		name, err := p.name()
		if err != nil {
			return err
		}
		if err := p.expect(tOp, "="); err != nil {
			return err
		}
		fn, err := p.name()
		if err != nil {
			return err
		}
		if err := p.expect(tOp, "("); err != nil {
			return err
		}
		a := aggregate{name: name, fn: fn}
		want := map[string]int{"count": 0, "countif": 1, "sum": 1, "sumif": 2, "percentile": 2, "percentilew": 3}[fn]
		if _, known := map[string]bool{"count": true, "countif": true, "sum": true, "sumif": true, "percentile": true, "percentilew": true}[fn]; !known {
			return fmt.Errorf("unknown aggregation %s()", fn)
		}
		for i := 0; i < want; i++ {
			if i > 0 {
				if err := p.expect(tOp, ","); err != nil {
					return err
				}
			}
			if (fn == "percentile" && i == 1) || (fn == "percentilew" && i == 2) {
				t := p.next()
				if a.pct, err = strconv.ParseFloat(t.text, 64); t.kind != tNumber || err != nil {
					return fmt.Errorf("%s() takes a constant percentage", fn)
				}
				continue
			}
			e, err := p.expr()
			if err != nil {
				return err
			}
			a.args = append(a.args, e)
		}
		if err := p.expect(tOp, ")"); err != nil {
			return fmt.Errorf("%s(): %w", fn, err)
		}
		s.aggs = append(s.aggs, a)
		if !p.accept(tOp, ",") {
			break
		}
	}
	if p.accept(tName, "by") {
		for {
			col, err := p.name()
			if err != nil {
				return err
			}
			s.by = append(s.by, col)
			if !p.accept(tOp, ",") {
				break
			}
		}
	}
	return nil
}

// result is a query's answer: its columns (name and type) and rows.
type result struct {
	columns [][2]string
	rows    [][]any
}

// run evaluates the stages over rows, each standing for Count identical records.
func run(stages []stage, rows []Row) (result, error) {
	type counted struct {
		r kqlRow
		n int64
	}
	cur := make([]counted, 0, len(rows))
	for _, r := range rows {
		n := int64(r.Count)
		if n == 0 {
			n = 1
		}
		cur = append(cur, counted{rowOf(r), n})
	}
	for si, s := range stages {
		switch {
		case s.where != nil:
			kept := cur[:0]
			for _, c := range cur {
				v, err := s.where(c.r)
				if err != nil {
					return result{}, err
				}
				// where keeps the rows whose predicate is true; null drops them.
				if b, _ := v.(bool); b {
					kept = append(kept, c)
				}
			}
			cur = kept
		case s.extends != nil:
			for i := range cur {
				cols := make(map[string]any, len(cur[i].r.cols)+len(s.extends))
				for k, v := range cur[i].r.cols {
					cols[k] = v
				}
				// Each new column may use the ones before it in the same extend.
				next := kqlRow{cols: cols, ingested: cur[i].r.ingested}
				for _, e := range s.extends {
					v, err := e.expr(next)
					if err != nil {
						return result{}, err
					}
					cols[e.name] = v
				}
				cur[i].r = next
			}
		case s.aggs != nil:
			if si != len(stages)-1 {
				return result{}, fmt.Errorf("summarize must be the last operator here")
			}
			return summarizeRows(s, func(yield func(kqlRow, int64) error) error {
				for _, c := range cur {
					if err := yield(c.r, c.n); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
	return result{}, fmt.Errorf("the query must end with summarize")
}

// group is one group of summarize: its key's values and its running aggregations.
type group struct {
	key  []any
	sums []float64
	// weighted holds percentile's values and weights.
	weighted [][][2]float64
}

// summarizeRows groups rows by the by columns, in the order they are first seen, and emits
// the by columns then the aggregations, as summarize does. A group with no rows is not emitted.
func summarizeRows(s stage, each func(yield func(kqlRow, int64) error) error) (result, error) {
	groups := map[string]*group{}
	var order []string
	err := each(func(r kqlRow, n int64) error {
		key := make([]any, len(s.by))
		for i, col := range s.by {
			v, err := r.column(col)
			if err != nil {
				return err
			}
			key[i] = v
		}
		id := fmt.Sprint(key...)
		g := groups[id]
		if g == nil {
			g = &group{key: key, sums: make([]float64, len(s.aggs)), weighted: make([][][2]float64, len(s.aggs))}
			groups[id] = g
			order = append(order, id)
		}
		for i, a := range s.aggs {
			val := func(k int) (any, error) { return a.args[k](r) }
			switch a.fn {
			case "count":
				g.sums[i] += float64(n)
			case "countif", "sumif":
				pred, err := val(len(a.args) - 1)
				if err != nil {
					return err
				}
				// countif and sumif skip a row whose predicate is null or false.
				if b, _ := pred.(bool); !b {
					continue
				}
				if a.fn == "countif" {
					g.sums[i] += float64(n)
					continue
				}
				fallthrough
			case "sum":
				v, err := val(0)
				if err != nil {
					return err
				}
				x, ok := number(v)
				if !ok && v != nil {
					return fmt.Errorf("%s() of a %T", a.fn, v)
				}
				g.sums[i] += x * float64(n)
			case "percentile", "percentilew":
				v, err := val(0)
				if err != nil {
					return err
				}
				x, ok := number(v)
				if !ok {
					continue
				}
				w := float64(n)
				if a.fn == "percentilew" {
					wv, err := val(1)
					if err != nil {
						return err
					}
					wn, isInt := wv.(int64)
					if !isInt {
						// percentilew needs an integer weight ("percentilew()").
						return fmt.Errorf("percentilew() takes an integer weight, got %T", wv)
					}
					w *= float64(wn)
				}
				g.weighted[i] = append(g.weighted[i], [2]float64{x, w})
			}
		}
		return nil
	})
	if err != nil {
		return result{}, err
	}
	var res result
	for _, col := range s.by {
		res.columns = append(res.columns, [2]string{col, "string"})
	}
	for _, a := range s.aggs {
		typ := "long"
		if strings.HasPrefix(a.fn, "percentile") {
			typ = "real"
		}
		res.columns = append(res.columns, [2]string{a.name, typ})
	}
	for _, id := range order {
		g := groups[id]
		row := append([]any{}, g.key...)
		for i, a := range s.aggs {
			if strings.HasPrefix(a.fn, "percentile") {
				row = append(row, weightedPercentile(g.weighted[i], a.pct))
				continue
			}
			row = append(row, int64(g.sums[i]))
		}
		res.rows = append(res.rows, row)
	}
	return res, nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

// weightedPercentile is the nearest-rank percentile of weighted values: the smallest value
// whose cumulative weight reaches pct percent of the total. Log Analytics estimates percentiles
// (T-Digest, "percentile(), percentiles()"), so on Azure a p95 can differ from this exact one by
// the estimate's error. Null when there are no values.
func weightedPercentile(vals [][2]float64, pct float64) any {
	if len(vals) == 0 {
		return nil
	}
	slices.SortFunc(vals, func(a, b [2]float64) int { return cmpOrdered(a[0], b[0]) })
	total := 0.0
	for _, v := range vals {
		total += v[1]
	}
	rank := math.Ceil(pct / 100 * total)
	seen := 0.0
	for _, v := range vals {
		seen += v[1]
		if seen >= rank {
			return v[0]
		}
	}
	return vals[len(vals)-1][0]
}
