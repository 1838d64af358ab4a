package pipelines

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Federated tokens are short-lived: an Azure DevOps service connection's idToken lasts about
// 10 minutes from the start of its AzureCLI@2 task (Azure/azure-cli#28708), and the az CLI
// signed in by azure/login on GitHub cannot renew its token once the job's OIDC token it used
// has expired, about 5 minutes later (Azure/login#372). A health gate may poll for
// healthTimeout (5 minutes by default), so it runs in its own step before the shift, and the
// steps that use an Azure token take it right before they need it.

// maxShiftHealthTimeout bounds the shift's own health check, which runs inside the step whose
// token the up uses: the gate before it just passed, so it needs a few answers only.
const maxShiftHealthTimeout = 2 * time.Minute

var healthTimeoutFlag = regexp.MustCompile(`--health-timeout\s+("?)\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?"?|--health-timeout\s+([0-9][0-9a-z.]*)`)

// shiftHealthTimeout resolves the --health-timeout of a shift script through env.
func shiftHealthTimeout(script string, env func(string) string) (time.Duration, error) {
	m := healthTimeoutFlag.FindStringSubmatch(script)
	if m == nil {
		return 0, errors.New("got no --health-timeout, want a short one (the default is 5m)")
	}
	raw := m[3]
	if m[2] != "" {
		raw = env(m[2])
		if raw == "" {
			return 0, fmt.Errorf("--health-timeout $%s: got no value for it in the step's env", m[2])
		}
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		return 0, fmt.Errorf("--health-timeout %q: %w", raw, err)
	}
	return d, nil
}

// checkGateBeforeShift asserts a health gate step of its own before the traffic step, and a
// short health check inside the traffic step.
func checkGateBeforeShift(scripts []string, command string, env func(step int, key string) string) error {
	shift := indexOf(scripts, command)
	if shift < 0 {
		return fmt.Errorf("got no step running %q, want one", command)
	}
	if strings.Contains(scripts[shift], "slotless gate health") {
		return fmt.Errorf("step running %q: got the health gate in the same step, want it in a step of its own before", command)
	}
	if indexOf(scripts[:shift], "slotless gate health") < 0 {
		return fmt.Errorf("got no slotless gate health step before %q, want one", command)
	}
	d, err := shiftHealthTimeout(scripts[shift], func(k string) string { return env(shift, k) })
	if err != nil {
		return fmt.Errorf("step running %q: %w", command, err)
	}
	if d > maxShiftHealthTimeout {
		return fmt.Errorf("step running %q: got --health-timeout %s, want at most %s", command, d, maxShiftHealthTimeout)
	}
	return nil
}

func adoStageSteps(p *adoPipeline, name string) ([]adoStep, error) {
	st, err := p.stage(name)
	if err != nil {
		return nil, err
	}
	var steps []adoStep
	for _, j := range st.Jobs {
		steps = append(steps, j.steps()...)
	}
	return steps, nil
}

// checkADOTokenLifetimes: in each traffic stage, the health gate before the shift is its own
// step, and the metrics gate is an AzureCLI@2 task of its own, so its token is taken after the
// (possibly long) health gate.
func checkADOTokenLifetimes(p *adoPipeline) error {
	for _, ts := range trafficStages {
		steps, err := adoStageSteps(p, ts.stage)
		if err != nil {
			return err
		}
		scripts := scriptsOf(steps)
		if err := checkGateBeforeShift(scripts, ts.command, func(i int, k string) string { return steps[i].env(k) }); err != nil {
			return fmt.Errorf("%s: %w", ts.stage, err)
		}
		metrics := indexOf(scripts, "slotless gate metrics")
		if metrics < 0 {
			return fmt.Errorf("%s: got no slotless gate metrics step, want one", ts.stage)
		}
		if task, _ := steps[metrics]["task"].(string); task != "AzureCLI@2" {
			return fmt.Errorf("%s metrics gate task: got %q, want AzureCLI@2 (a fresh token)", ts.stage, task)
		}
		if strings.Contains(scripts[metrics], "slotless gate health") || strings.Contains(scripts[metrics], "sleep") {
			return fmt.Errorf("%s metrics gate: got a health gate or a sleep in its task, want the metrics query alone", ts.stage)
		}
	}
	return nil
}

// checkGHTokenLifetimes: in each traffic job, the health gate before the shift is its own step
// (azure-native takes the job's OIDC token when the shift's up starts), and azure/login runs
// right before the metrics gate, after the health gate.
func checkGHTokenLifetimes(w *workflow) error {
	for _, tj := range ghTrafficJobs {
		j, err := w.job(tj.job)
		if err != nil {
			return err
		}
		runs := runsOf(j.Steps)
		env := func(i int, k string) string {
			for _, m := range []map[string]string{j.Steps[i].Env, w.Env} {
				if v, ok := m[k]; ok {
					return v
				}
			}
			return ""
		}
		if err := checkGateBeforeShift(runs, tj.command, env); err != nil {
			return fmt.Errorf("%s: %w", tj.job, err)
		}
		metrics := indexOf(runs, "slotless gate metrics")
		if metrics < 1 {
			return fmt.Errorf("%s: got no slotless gate metrics step after a sign-in, want one", tj.job)
		}
		if strings.Contains(runs[metrics], "slotless gate health") {
			return fmt.Errorf("%s metrics gate: got the health gate in the same step, want it before the sign-in", tj.job)
		}
		if before := j.Steps[metrics-1].Uses; !strings.HasPrefix(before, "azure/login@") {
			return fmt.Errorf("%s: got %q right before the metrics gate, want azure/login (a fresh az token)", tj.job, orName(before, j.Steps[metrics-1].Name))
		}
	}
	return nil
}

func orName(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestReleaseTokenLifetimes(t *testing.T) {
	t.Run("azure devops", func(t *testing.T) {
		if err := checkADOTokenLifetimes(decode[adoPipeline](t, adoRelease)); err != nil {
			t.Error(err)
		}
	})
	t.Run("github", func(t *testing.T) {
		if err := checkGHTokenLifetimes(decode[workflow](t, ghRelease)); err != nil {
			t.Error(err)
		}
	})
}

func TestShiftHealthTimeout(t *testing.T) {
	env := map[string]string{"SHIFT_HEALTH_TIMEOUT": "1m", "HEALTH_TIMEOUT": "5m"}
	cases := []struct {
		script  string
		want    time.Duration
		wantErr bool
	}{
		{`slotless shift --to 10 --api-url "$API_URL" --health-timeout "$SHIFT_HEALTH_TIMEOUT"`, time.Minute, false},
		{`slotless shift --health-timeout ${HEALTH_TIMEOUT}`, 5 * time.Minute, false},
		{`slotless shift --health-timeout 90s`, 90 * time.Second, false},
		{`slotless shift --to 10`, 0, true},
		{`slotless shift --health-timeout "$UNSET"`, 0, true},
	}
	for _, c := range cases {
		got, err := shiftHealthTimeout(c.script, func(k string) string { return env[k] })
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("%s: got %v, %v; want %v, error=%v", c.script, got, err, c.want, c.wantErr)
		}
	}
}

// TestTokenLifetimeChecksCatchBreakage undoes the split one way at a time.
func TestTokenLifetimeChecksCatchBreakage(t *testing.T) {
	// mergeGateIntoShift puts the pre-shift health gate back inside the traffic step.
	adoMerge := func(p *adoPipeline) {
		st, _ := p.stage("RingA")
		j := &st.Jobs[0]
		steps := j.Strategy.RunOnce.Deploy.Steps
		gate := slices.IndexFunc(steps, func(s adoStep) bool { return strings.Contains(s.script(), "slotless gate health") })
		shift := slices.IndexFunc(steps, func(s adoStep) bool { return strings.Contains(s.script(), "slotless shift") })
		in := asMap(steps[shift]["inputs"])
		in["inlineScript"] = steps[gate].script() + "\n" + steps[shift].script()
		j.Strategy.RunOnce.Deploy.Steps = slices.Delete(steps, gate, gate+1)
	}
	adoLongShift := func(p *adoPipeline) {
		st, _ := p.stage("GA")
		for _, s := range st.Jobs[0].Strategy.RunOnce.Deploy.Steps {
			if strings.Contains(s.script(), "slotless promote") {
				asMap(s["env"])["SHIFT_HEALTH_TIMEOUT"] = "5m"
			}
		}
	}
	adoMetricsWithHealth := func(p *adoPipeline) {
		st, _ := p.stage("Canary")
		for _, s := range st.Jobs[0].Strategy.RunOnce.Deploy.Steps {
			if strings.Contains(s.script(), "slotless gate metrics") {
				in := asMap(s["inputs"])
				in["inlineScript"] = "slotless gate health --slot \"$IDLE\"\n" + s.script()
			}
		}
	}
	ghMerge := func(w *workflow) {
		j := w.Jobs["canary"]
		gate := slices.IndexFunc(j.Steps, func(s ghStep) bool { return strings.Contains(s.Run, "slotless gate health") })
		shift := slices.IndexFunc(j.Steps, func(s ghStep) bool { return strings.Contains(s.Run, "slotless shift") })
		j.Steps[shift].Run = j.Steps[gate].Run + "\n" + j.Steps[shift].Run
		j.Steps = slices.Delete(j.Steps, gate, gate+1)
	}
	ghLoginBeforeHealth := func(w *workflow) {
		j := w.Jobs["ga"]
		login := slices.IndexFunc(j.Steps, func(s ghStep) bool { return strings.HasPrefix(s.Uses, "azure/login@") })
		j.Steps[login-1], j.Steps[login] = j.Steps[login], j.Steps[login-1]
	}
	ghDefaultShiftTimeout := func(w *workflow) {
		j := w.Jobs["ring-a"]
		for i := range j.Steps {
			j.Steps[i].Run = strings.ReplaceAll(j.Steps[i].Run, `--health-timeout "$SHIFT_HEALTH_TIMEOUT"`, `--health-timeout "$HEALTH_TIMEOUT"`)
		}
	}
	ado := []struct {
		name   string
		break_ func(*adoPipeline)
	}{
		{"ado gate inside the shift task", adoMerge},
		{"ado long health check in the promote task", adoLongShift},
		{"ado health gate in the metrics task", adoMetricsWithHealth},
	}
	for _, c := range ado {
		t.Run(c.name, func(t *testing.T) {
			p := decode[adoPipeline](t, adoRelease)
			c.break_(p)
			if err := checkADOTokenLifetimes(p); err == nil {
				t.Error("after breaking: got nil, want an error")
			}
		})
	}
	gh := []struct {
		name   string
		break_ func(*workflow)
	}{
		{"github gate inside the shift step", ghMerge},
		{"github login before the health gate", ghLoginBeforeHealth},
		{"github shift with the gate's timeout", ghDefaultShiftTimeout},
	}
	for _, c := range gh {
		t.Run(c.name, func(t *testing.T) {
			w := decode[workflow](t, ghRelease)
			c.break_(w)
			if err := checkGHTokenLifetimes(w); err == nil {
				t.Error("after breaking: got nil, want an error")
			}
		})
	}
}
