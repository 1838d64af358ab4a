package pipelines

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode"

	"gopkg.in/yaml.v3"
)

// This file runs an Azure DevOps stage graph on paper: which stages run for a given trigger.
// It follows the documented rules (learn.microsoft.com/azure/devops/pipelines/process/stages
// and .../process/conditions):
//   - a stage without dependsOn depends on the stage before it; `dependsOn: []` on none;
//   - a stage without a condition has condition succeeded();
//   - succeeded() is true when every dependency, direct and indirect, succeeded: a skipped
//     dependency is not a success;
//   - failed() is true when a dependency, direct or indirect, failed;
//   - dependencies.<stage>.result is that stage's result (Succeeded, Failed, Skipped);
//   - a stage whose condition is false is skipped.
// Every stage that runs succeeds, but for the ones a run names as failing. Nobody cancels.
// Expressions are evaluated for the functions the pipelines use; any other function fails the
// evaluation rather than guessing.

// adoRun is what a condition can see of one run, and which stages fail when they run.
type adoRun struct {
	variables map[string]string
	fail      map[string]bool
}

const (
	resultSucceeded = "Succeeded"
	resultFailed    = "Failed"
	resultSkipped   = "Skipped"
)

// runStages returns the result of every stage of p for run.
func runStages(p *adoPipeline, run adoRun) (map[string]string, error) {
	results := map[string]string{}
	deps := map[string][]string{}
	for i, st := range p.Stages {
		switch {
		case st.DependsOn != nil:
			deps[st.Stage] = st.DependsOn
		case i > 0:
			deps[st.Stage] = []string{p.Stages[i-1].Stage}
		}
		for _, d := range deps[st.Stage] {
			if _, ok := results[d]; !ok {
				return nil, fmt.Errorf("stage %s depends on %s, which is not an earlier stage", st.Stage, d)
			}
		}
		// succeeded() and failed() look at direct and indirect dependencies.
		state := condState{succeeded: true, results: results}
		var walk func(string)
		seen := map[string]bool{}
		walk = func(s string) {
			for _, d := range deps[s] {
				if seen[d] {
					continue
				}
				seen[d] = true
				state.succeeded = state.succeeded && results[d] == resultSucceeded
				state.failed = state.failed || results[d] == resultFailed
				walk(d)
			}
		}
		walk(st.Stage)
		cond := strings.TrimSpace(st.Condition)
		if cond == "" {
			cond = "succeeded()"
		}
		ok, err := evalCondition(cond, run, state)
		if err != nil {
			return nil, fmt.Errorf("stage %s condition %q: %w", st.Stage, cond, err)
		}
		switch {
		case !ok:
			results[st.Stage] = resultSkipped
		case run.fail[st.Stage]:
			results[st.Stage] = resultFailed
		default:
			results[st.Stage] = resultSucceeded
		}
	}
	return results, nil
}

// ran lists the stages that ran, in pipeline order.
func ran(p *adoPipeline, results map[string]string) []string {
	out := []string{}
	for _, st := range p.Stages {
		if results[st.Stage] != resultSkipped {
			out = append(out, st.Stage)
		}
	}
	return out
}

// condState is what a stage's condition sees of the stages before it.
type condState struct {
	succeeded, failed bool
	results           map[string]string
}

// value is an expression value: a string or a bool.
type value struct {
	s      string
	b      bool
	isBool bool
}

func (v value) truthy() bool {
	if v.isBool {
		return v.b
	}
	return v.s != ""
}

func (v value) String() string {
	if v.isBool {
		if v.b {
			return "True"
		}
		return "False"
	}
	return v.s
}

func evalCondition(expr string, run adoRun, state condState) (bool, error) {
	e := &exprParser{src: expr, run: run, state: state}
	v, err := e.expr()
	if err != nil {
		return false, err
	}
	e.space()
	if e.pos != len(e.src) {
		return false, fmt.Errorf("unexpected %q at %d", e.src[e.pos:], e.pos)
	}
	return v.truthy(), nil
}

type exprParser struct {
	src   string
	pos   int
	run   adoRun
	state condState
}

func (e *exprParser) space() {
	for e.pos < len(e.src) && unicode.IsSpace(rune(e.src[e.pos])) {
		e.pos++
	}
}

func (e *exprParser) expect(c byte) error {
	e.space()
	if e.pos >= len(e.src) || e.src[e.pos] != c {
		return fmt.Errorf("want %q at %d", c, e.pos)
	}
	e.pos++
	return nil
}

func (e *exprParser) literal() (string, error) {
	if err := e.expect('\''); err != nil {
		return "", err
	}
	var b strings.Builder
	for e.pos < len(e.src) {
		c := e.src[e.pos]
		e.pos++
		if c == '\'' {
			if e.pos < len(e.src) && e.src[e.pos] == '\'' { // '' escapes a quote
				b.WriteByte('\'')
				e.pos++
				continue
			}
			return b.String(), nil
		}
		b.WriteByte(c)
	}
	return "", fmt.Errorf("unterminated string")
}

func (e *exprParser) expr() (value, error) {
	e.space()
	if e.pos < len(e.src) && e.src[e.pos] == '\'' {
		s, err := e.literal()
		return value{s: s}, err
	}
	start := e.pos
	for e.pos < len(e.src) && (unicode.IsLetter(rune(e.src[e.pos])) || unicode.IsDigit(rune(e.src[e.pos])) || e.src[e.pos] == '.' || e.src[e.pos] == '_') {
		e.pos++
	}
	name := e.src[start:e.pos]
	if stage, ok := strings.CutPrefix(name, "dependencies."); ok {
		stage, ok = strings.CutSuffix(stage, ".result")
		if !ok || e.state.results == nil {
			return value{}, fmt.Errorf("%s: want dependencies.<stage>.result", name)
		}
		r, ok := e.state.results[stage]
		if !ok {
			return value{}, fmt.Errorf("%s: %s is not an earlier stage", name, stage)
		}
		return value{s: r}, nil
	}
	if name == "" {
		return value{}, fmt.Errorf("want a function, variables[...] or a string at %d", start)
	}
	if strings.EqualFold(name, "variables") {
		if err := e.expect('['); err != nil {
			return value{}, err
		}
		key, err := e.literal()
		if err != nil {
			return value{}, err
		}
		if err := e.expect(']'); err != nil {
			return value{}, err
		}
		return value{s: e.run.variables[key]}, nil
	}
	if err := e.expect('('); err != nil {
		return value{}, err
	}
	var args []value
	e.space()
	if e.pos < len(e.src) && e.src[e.pos] == ')' {
		e.pos++
	} else {
		for {
			v, err := e.expr()
			if err != nil {
				return value{}, err
			}
			args = append(args, v)
			e.space()
			if e.pos < len(e.src) && e.src[e.pos] == ',' {
				e.pos++
				continue
			}
			if err := e.expect(')'); err != nil {
				return value{}, err
			}
			break
		}
	}
	return call(strings.ToLower(name), args, e.state)
}

// call applies a function; string comparisons ignore case, as Azure Pipelines' do.
func call(name string, args []value, state condState) (value, error) {
	boolean := func(b bool) (value, error) { return value{b: b, isBool: true}, nil }
	arity := func(n int) error {
		if len(args) != n {
			return fmt.Errorf("%s: got %d arguments, want %d", name, len(args), n)
		}
		return nil
	}
	switch name {
	case "succeeded":
		return boolean(state.succeeded)
	case "always":
		return boolean(true)
	case "failed":
		return boolean(state.failed)
	case "canceled":
		return boolean(false) // nobody cancels
	case "not":
		if err := arity(1); err != nil {
			return value{}, err
		}
		return boolean(!args[0].truthy())
	case "and", "or":
		if len(args) < 2 {
			return value{}, fmt.Errorf("%s: got %d arguments, want at least 2", name, len(args))
		}
		acc := name == "and"
		for _, a := range args {
			if name == "and" {
				acc = acc && a.truthy()
			} else {
				acc = acc || a.truthy()
			}
		}
		return boolean(acc)
	case "eq", "ne":
		if err := arity(2); err != nil {
			return value{}, err
		}
		eq := strings.EqualFold(args[0].String(), args[1].String())
		return boolean(eq == (name == "eq"))
	case "startswith":
		if err := arity(2); err != nil {
			return value{}, err
		}
		return boolean(strings.HasPrefix(strings.ToLower(args[0].String()), strings.ToLower(args[1].String())))
	}
	return value{}, fmt.Errorf("function %s is not modelled", name)
}

func TestEvalCondition(t *testing.T) {
	run := adoRun{variables: map[string]string{"Build.Reason": "PullRequest", "Build.SourceBranch": "refs/heads/main"}}
	cases := []struct {
		expr      string
		succeeded bool
		want      bool
		wantErr   bool
	}{
		{"succeeded()", true, true, false},
		{"succeeded()", false, false, false},
		{"eq(variables['Build.Reason'], 'PullRequest')", true, true, false},
		{"eq(variables['Build.Reason'], 'pullrequest')", true, true, false},
		{"ne(variables['Build.Reason'], 'PullRequest')", true, false, false},
		{"and(succeeded(), eq(variables['Build.SourceBranch'], 'refs/heads/main'))", false, false, false},
		{"or(failed(), eq(variables['Nope'], ''))", true, true, false},
		{"not(startsWith(variables['Build.SourceBranch'], 'refs/heads/'))", true, false, false},
		{"in(variables['Build.Reason'], 'Manual')", true, false, true},
		{"and(or(failed(), canceled()), eq(dependencies.DeployIdle.result, 'Succeeded'))", true, false, false},
		{"eq(dependencies.Release_10.result, 'Succeeded')", true, false, true},
		{"eq(variables['Build.Reason'], 'PullRequest'", true, false, true},
	}
	for _, c := range cases {
		got, err := evalCondition(c.expr, run, condState{succeeded: c.succeeded, results: map[string]string{"DeployIdle": resultSucceeded}})
		if (err != nil) != c.wantErr {
			t.Errorf("%s: got error %v, want error=%v", c.expr, err, c.wantErr)
			continue
		}
		if err == nil && got != c.want {
			t.Errorf("%s (succeeded=%v): got %v, want %v", c.expr, c.succeeded, got, c.want)
		}
	}
}

// infraTriggers are the runs infra.yml sees, and the stages each must run.
var infraTriggers = []struct {
	name        string
	reason, ref string
	want        []string
}{
	{"pull request into main", "PullRequest", "refs/pull/7/merge", []string{"Preview"}},
	{"push to main", "IndividualCI", "refs/heads/main", []string{"Up"}},
	{"batched push to main", "BatchedCI", "refs/heads/main", []string{"Up"}},
	{"manual run on main", "Manual", "refs/heads/main", []string{"Up"}},
	{"manual run on a branch", "Manual", "refs/heads/feature", []string{}},
}

func checkInfraStageGraph(p *adoPipeline) error {
	for _, name := range []string{"Preview", "Up"} {
		st, err := p.stage(name)
		if err != nil {
			return err
		}
		if st.DependsOn == nil {
			return fmt.Errorf("%s dependsOn: got none (it then depends on the stage before it), want it explicit", name)
		}
		if strings.TrimSpace(st.Condition) == "" {
			return fmt.Errorf("%s condition: got none, want one", name)
		}
	}
	for _, tr := range infraTriggers {
		run := adoRun{variables: map[string]string{"Build.Reason": tr.reason, "Build.SourceBranch": tr.ref}}
		results, err := runStages(p, run)
		if err != nil {
			return fmt.Errorf("%s: %w", tr.name, err)
		}
		if got := ran(p, results); !slices.Equal(got, tr.want) {
			return fmt.Errorf("%s: got stages %v run, want %v (results %v)", tr.name, got, tr.want, results)
		}
	}
	return nil
}

func TestAzureDevOpsInfraStageGraph(t *testing.T) {
	if err := checkInfraStageGraph(expandedPipeline(t, adoInfraCaller)); err != nil {
		t.Error(err)
	}
	breaks := []struct {
		name   string
		break_ func(*adoPipeline)
	}{
		{"Up depends on Preview implicitly", func(p *adoPipeline) {
			st, _ := p.stage("Up")
			st.DependsOn = nil
		}},
		{"Up depends on Preview explicitly", func(p *adoPipeline) {
			st, _ := p.stage("Up")
			st.DependsOn = stringList{"Preview"}
		}},
		{"Up runs on pull requests", func(p *adoPipeline) {
			st, _ := p.stage("Up")
			st.Condition = "succeeded()"
		}},
		{"Up runs on any branch", func(p *adoPipeline) {
			st, _ := p.stage("Up")
			st.Condition = "and(succeeded(), ne(variables['Build.Reason'], 'PullRequest'))"
		}},
		{"Preview on main", func(p *adoPipeline) {
			st, _ := p.stage("Preview")
			st.Condition = ""
		}},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			p := expandedPipeline(t, adoInfraCaller)
			b.break_(p)
			if err := checkInfraStageGraph(p); err == nil {
				t.Errorf("after breaking: got nil, want an error")
			}
		})
	}
}

// releaseFailures are the runs of a release the stage graph must answer: which stage fails, and
// which stages then run. A failure after the deploy rolls back; a failure before it, or of the
// record, does not; only a release that reached 100% is recorded.
var releaseFailures = []struct {
	name string
	fail string
	want []string
}{
	{"all succeed", "", []string{"Build", "DeployIdle", "Verify", "Release_10", "Release_50", "Release_100", "Record"}},
	{"the build fails", "Build", []string{"Build"}},
	{"the deploy fails", "DeployIdle", []string{"Build", "DeployIdle"}},
	{"verify fails", "Verify", []string{"Build", "DeployIdle", "Verify", "Rollback"}},
	{"the canary fails", "Release_10", []string{"Build", "DeployIdle", "Verify", "Release_10", "Rollback"}},
	{"a rejected approval at 50", "Release_50", []string{"Build", "DeployIdle", "Verify", "Release_10", "Release_50", "Rollback"}},
	{"GA fails", "Release_100", []string{"Build", "DeployIdle", "Verify", "Release_10", "Release_50", "Release_100", "Rollback"}},
	{"the record fails", "Record", []string{"Build", "DeployIdle", "Verify", "Release_10", "Release_50", "Release_100", "Record"}},
}

func checkReleaseStageGraph(p *adoPipeline) error {
	for _, f := range releaseFailures {
		run := adoRun{variables: map[string]string{"Build.Reason": "IndividualCI"}, fail: map[string]bool{f.fail: true}}
		results, err := runStages(p, run)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		if got := ran(p, results); !slices.Equal(got, f.want) {
			return fmt.Errorf("%s: got stages %v run, want %v (results %v)", f.name, got, f.want, results)
		}
	}
	return nil
}

// TestAzureDevOpsReleaseStageGraph runs the release's stage graph for each failure.
func TestAzureDevOpsReleaseStageGraph(t *testing.T) {
	if err := checkReleaseStageGraph(expandedPipeline(t, adoReleaseCaller)); err != nil {
		t.Error(err)
	}
	breaks := []struct {
		name   string
		break_ func(*adoPipeline)
	}{
		{"rollback without its guard", func(p *adoPipeline) {
			st, _ := p.stage("Rollback")
			st.Condition = "or(failed(), canceled())"
		}},
		{"record on failure too", func(p *adoPipeline) {
			st, _ := p.stage("Record")
			st.Condition = "always()"
		}},
		{"rollback after the record", func(p *adoPipeline) {
			st, _ := p.stage("Rollback")
			st.DependsOn = append(st.DependsOn, "Record")
		}},
		{"a step that does not wait for the one before", func(p *adoPipeline) {
			st, _ := p.stage("Release_50")
			st.DependsOn = stringList{"Build", "DeployIdle"}
		}},
	}
	for _, b := range breaks {
		t.Run(b.name, func(t *testing.T) {
			p := expandedPipeline(t, adoReleaseCaller)
			b.break_(p)
			if err := checkReleaseStageGraph(p); err == nil {
				t.Errorf("after breaking: got nil, want an error")
			}
		})
	}
}

// TestStringListKeepsExplicitEmpty: `dependsOn: []` must stay distinct from no dependsOn.
func TestStringListKeepsExplicitEmpty(t *testing.T) {
	var v struct {
		A stringList `yaml:"a"`
		B stringList `yaml:"b"`
	}
	if err := yaml.Unmarshal([]byte("a: []\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.A == nil || len(v.A) != 0 {
		t.Errorf("a: []: got %#v, want an empty non-nil list", v.A)
	}
	if v.B != nil {
		t.Errorf("absent b: got %#v, want nil", v.B)
	}
}
