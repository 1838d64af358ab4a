package pipelines

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// A traffic stage runs for its bakes (10 minutes each by default, and a stage after the first
// bakes twice: again where it stands, then at its step), longer than a federated token lives:
// an Azure DevOps service connection's idToken about 10 minutes from the start of its
// AzureCLI@2 task (Azure/azure-cli#28708), the az CLI signed in by azure/login on GitHub about
// 5 (Azure/login#372). So no step may lean on one token for the stage:
//   - Azure DevOps: the release runs in an AzureCLI@2 task (its token serves the first update)
//     with SYSTEM_ACCESSTOKEN mapped, so slotless asks the pipeline for a fresh federated token
//     before each update (ARM_OIDC_TOKEN) and for each access token of the metrics gate.
//   - GitHub: each release job may request OIDC tokens and the workflow names the identity, so
//     azure-native requests the job's token when each update starts and slotless for each
//     metrics access token; no azure/login, whose az token could not be renewed.

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

// checkADOTokenLifetimes: each traffic stage's release step signs in through a workload identity
// federation task and can fetch fresh federated tokens with the job's access token.
func checkADOTokenLifetimes(p *adoPipeline) error {
	for _, ts := range trafficStages("slotless-dev", sampleSteps) {
		steps, err := adoStageSteps(p, ts.stage)
		if err != nil {
			return err
		}
		i := indexOf(scriptsOf(steps), ts.command)
		if i < 0 {
			return fmt.Errorf("%s: got no step running %q, want one", ts.stage, ts.command)
		}
		s := steps[i]
		if task, _ := s["task"].(string); task != "AzureCLI@2" {
			return fmt.Errorf("%s release task: got %q, want AzureCLI@2", ts.stage, task)
		}
		if v, _ := s.input("addSpnToEnvironment").(bool); !v || !azureOIDCEnv.MatchString(s.script()) {
			return fmt.Errorf("%s release: got addSpnToEnvironment %v, want true and scripts/azure-oidc-env.sh sourced (the first update's token)", ts.stage, s.input("addSpnToEnvironment"))
		}
		if got, want := s.env("SYSTEM_ACCESSTOKEN"), "$(System.AccessToken)"; got != want {
			return fmt.Errorf("%s release env SYSTEM_ACCESSTOKEN: got %q, want %q (fresh federated tokens for the later updates and the metrics gate)", ts.stage, got, want)
		}
	}
	return nil
}

// checkGHTokenLifetimes: each release job may request the job's OIDC token, the workflow names
// the identity it is exchanged for, and no job signs in with azure/login.
func checkGHTokenLifetimes(w *workflow) error {
	if w.Env["ARM_USE_OIDC"] != "true" || w.Env["ARM_CLIENT_ID"] == "" || w.Env["ARM_TENANT_ID"] == "" {
		return fmt.Errorf("env: got ARM_USE_OIDC %q, ARM_CLIENT_ID %q, ARM_TENANT_ID %q, want OIDC and both ids", w.Env["ARM_USE_OIDC"], w.Env["ARM_CLIENT_ID"], w.Env["ARM_TENANT_ID"])
	}
	legs, err := releaseLegs(w, sampleInputs, sampleSteps)
	if err != nil {
		return err
	}
	for _, leg := range legs {
		if got := w.permission(leg.job, "id-token"); got != "write" {
			return fmt.Errorf("release (%d) permissions id-token: got %q, want \"write\"", leg.step, got)
		}
		for _, s := range leg.job.Steps {
			if strings.HasPrefix(s.Uses, "azure/login@") {
				return fmt.Errorf("release (%d): got %s, want none: its az token cannot be renewed after about 5 minutes, and the release fetches the job's token itself", leg.step, s.Uses)
			}
		}
	}
	return nil
}

func TestReleaseTokenLifetimes(t *testing.T) {
	t.Run("azure devops", func(t *testing.T) {
		if err := checkADOTokenLifetimes(expandedPipeline(t, adoReleaseCaller)); err != nil {
			t.Error(err)
		}
	})
	t.Run("github", func(t *testing.T) {
		if err := checkGHTokenLifetimes(decode[workflow](t, ghRelease)); err != nil {
			t.Error(err)
		}
	})
}

// TestTokenLifetimeChecksCatchBreakage undoes the token handling one way at a time.
func TestTokenLifetimeChecksCatchBreakage(t *testing.T) {
	releaseStep := func(p *adoPipeline, stage string) adoStep {
		st, _ := p.stage(stage)
		steps := st.Jobs[0].steps()
		return steps[indexOf(scriptsOf(steps), "slotless release")]
	}
	ado := []struct {
		name   string
		break_ func(*adoPipeline)
	}{
		{"ado release without the job's access token", func(p *adoPipeline) { delete(asMap(releaseStep(p, "Release_50")["env"]), "SYSTEM_ACCESSTOKEN") }},
		{"ado release without the task's token", func(p *adoPipeline) { asMap(releaseStep(p, "Release_100")["inputs"])["addSpnToEnvironment"] = false }},
		{"ado release in a plain bash step", func(p *adoPipeline) {
			s := releaseStep(p, "Release_10")
			s["task"] = "Bash@3"
		}},
	}
	for _, c := range ado {
		t.Run(c.name, func(t *testing.T) {
			p := expandedPipeline(t, adoReleaseCaller)
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
		{"github sign-in with azure/login", func(w *workflow) {
			j := w.Jobs["release"]
			i := slices.IndexFunc(j.Steps, func(s ghStep) bool { return strings.Contains(s.Run, "slotless release") })
			j.Steps = slices.Insert(j.Steps, i, ghStep{Uses: "azure/login@v3"})
		}},
		{"github without the tenant", func(w *workflow) { delete(w.Env, "ARM_TENANT_ID") }},
		{"github job without id-token", func(w *workflow) { w.Jobs["release"].Permissions = map[string]string{"contents": "read"} }},
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
