package pipelines

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

// The traffic stages stop at their --until, and slotless release refuses an --until that is not
// one of the stack's releaseSteps before anything moves. So the pipelines and the config must
// agree, or a release fails at its first stage after the approval. On GitHub the jobs come from
// the stack at run time (checkGHStepsFromStack); a caller's own release-steps, and an Azure DevOps
// pipeline's stages, expanded before the run, are checked here against the stack they release.

var untilFlag = regexp.MustCompile(`slotless release\b[^\n]*--until\s+(\d+)`)

// untilOf reads the --until of a stage's scripts; -1 when none runs slotless release with one.
func untilOf(scripts []string) int {
	for _, s := range scripts {
		if m := untilFlag.FindStringSubmatch(strings.ReplaceAll(s, "\\\n", " ")); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	return -1
}

// adoUntils reads the --until of each Release_ stage of an expanded release, in stage order.
func adoUntils(p *adoPipeline) []int {
	var out []int
	for _, st := range p.Stages {
		if strings.HasPrefix(st.Stage, "Release_") {
			var steps []adoStep
			for _, j := range st.Jobs {
				steps = append(steps, j.steps()...)
			}
			out = append(out, untilOf(scriptsOf(steps)))
		}
	}
	return out
}

// checkUntils asserts the stages' --until values, in stage order, against releaseSteps: each is
// one of the steps, they ascend, and the last is 100, so the last stage completes the release. A
// step without a stage of its own is walked by the stage that passes it.
func checkUntils(untils, steps []int) error {
	if len(untils) == 0 {
		return errors.New("got no traffic stages, want some")
	}
	for i, u := range untils {
		if !slices.Contains(steps, u) {
			return fmt.Errorf("stage %d: got --until %d, want one of releaseSteps %v", i+1, u, steps)
		}
		if i > 0 && u <= untils[i-1] {
			return fmt.Errorf("stage %d: got --until %d after %d, want ascending", i+1, u, untils[i-1])
		}
	}
	if last := untils[len(untils)-1]; last != 100 {
		return fmt.Errorf("last stage: got --until %d, want 100 (GA)", last)
	}
	return nil
}

// stackSteps is each stack's releaseSteps, from Pulumi.yaml's defaults and its stack file, as
// the program parses them.
func stackSteps(t *testing.T) map[string][]int {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "Pulumi.*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("got no Pulumi.<stack>.yaml (%v), want the committed stacks", err)
	}
	out := map[string][]int{}
	for _, f := range files {
		name := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "Pulumi."), ".yaml")
		cfg, err := plan.LoadConfig(root, name)
		if err != nil {
			t.Fatalf("stack %s: %v", name, err)
		}
		parsed, err := stack.Parse(cfg.Source())
		if err != nil {
			t.Fatalf("stack %s: %v", name, err)
		}
		out[name] = parsed.Release.Steps
	}
	return out
}

func TestPipelinesAgreeWithReleaseSteps(t *testing.T) {
	stacks := stackSteps(t)
	if err := checkGHStepsFromStack(decode[workflow](t, ghRelease)); err != nil {
		t.Errorf("%s: %v", ghRelease, err)
	}
	for _, file := range ghCallers {
		for name, j := range decode[workflow](t, file).Jobs {
			given := j.With["release-steps"]
			if given == "" {
				continue
			}
			var steps []int
			if err := yaml.Unmarshal([]byte(given), &steps); err != nil {
				t.Errorf("%s %s release-steps %q: %v", file, name, given, err)
				continue
			}
			if err := checkUntils(steps, stacks[j.With["stack"]]); err != nil {
				t.Errorf("%s %s release-steps: %v", file, name, err)
			}
		}
	}
	// Azure DevOps makes its stages from the caller's releaseSteps: this repository's are the
	// sample's stack's, and the expanded stages stop at exactly those steps.
	var caller struct {
		Extends struct {
			Parameters struct {
				Stack        string `yaml:"stack"`
				ReleaseSteps []int  `yaml:"releaseSteps"`
			} `yaml:"parameters"`
		} `yaml:"extends"`
	}
	if err := yaml.Unmarshal(readFile(t, adoReleaseCaller), &caller); err != nil {
		t.Fatal(err)
	}
	params := caller.Extends.Parameters
	stackOf, ok := stacks[params.Stack]
	if !ok {
		t.Fatalf("%s: stack %q has no Pulumi.%s.yaml", adoReleaseCaller, params.Stack, params.Stack)
	}
	if err := checkUntils(params.ReleaseSteps, stackOf); err != nil {
		t.Errorf("%s releaseSteps: %v", adoReleaseCaller, err)
	}
	if got := adoUntils(expandedPipeline(t, adoReleaseCaller)); !slices.Equal(got, params.ReleaseSteps) {
		t.Errorf("%s: got stages at --until %v, want releaseSteps %v", adoReleaseCaller, got, params.ReleaseSteps)
	}
	if got := adoUntils(expandedTemplate(t, adoReleaseTemplate, teamRelease)); !slices.Equal(got, otherSteps) {
		t.Errorf("%s with a team's steps: got stages at --until %v, want %v", adoReleaseTemplate, got, otherSteps)
	}
}

func TestUntilChecksCatchDisagreement(t *testing.T) {
	tests := []struct {
		name          string
		untils, steps []int
		ok            bool
	}{
		{"the committed shape", []int{10, 50, 100}, []int{10, 50, 100}, true},
		{"a step walked inside a stage", []int{10, 50, 100}, []int{10, 25, 50, 100}, true},
		{"a stage at no step", []int{10, 40, 100}, []int{10, 50, 100}, false},
		{"steps changed without the pipelines", []int{10, 50, 100}, []int{20, 60, 100}, false},
		{"no GA stage", []int{10, 50}, []int{10, 50, 100}, false},
		{"stages out of order", []int{50, 10, 100}, []int{10, 50, 100}, false},
		{"a stage without --until", []int{-1, 50, 100}, []int{10, 50, 100}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkUntils(tt.untils, tt.steps); (err == nil) != tt.ok {
				t.Errorf("got %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if got := untilOf([]string{". scripts/gate-env.sh \"$STACK\"\nslotless release --stack \"$STACK\" --slot \"$IDLE\" \\\n  --version \"$VERSION\" --until 50 --json >r.json"}); got != 50 {
		t.Errorf("untilOf across a line continuation: got %d, want 50", got)
	}
}

// TestReleaseStepsScript runs scripts/release-steps.sh, which turns the stack's releaseSteps (as
// slotless release --dry-run --json prints them) and a pipeline's own list into the steps the
// pipeline walks, one job or stage each.
func TestReleaseStepsScript(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		want      string // stdout; "" when it must fail
		wantError string
	}{
		{"the stack's steps", []string{"[10, 50, 100]"}, "[10,50,100]", ""},
		{"empty request", []string{"[10,50,100]", ""}, "[10,50,100]", ""},
		{"empty list", []string{"[10,50,100]", "[]"}, "[10,50,100]", ""},
		{"a step walked inside a job", []string{"[10,50,100]", "[10, 100]"}, "[10,100]", ""},
		{"pure blue/green", []string{"[100]", "[100]"}, "[100]", ""},
		{"a step the stack lacks", []string{"[10,50,100]", "[10,40,100]"}, "", "release-steps [10,40,100]: 40 is not one of the stack's releaseSteps [10,50,100]"},
		{"out of order", []string{"[10,50,100]", "[50,10,100]"}, "", "10 follows 50; want them strictly ascending"},
		{"a repeated step", []string{"[10,50,100]", "[10,10,100]"}, "", "10 follows 10"},
		{"stops short of GA", []string{"[10,50,100]", "[10,50]"}, "", "it ends at 50; want the last step 100"},
		{"not a list", []string{"[10,50,100]", "10,50,100"}, "", "release-steps '10,50,100': want a JSON list of integers such as [10,50,100]"},
		{"a fraction", []string{"[10,50,100]", "[10,50.5,100]"}, "", "want a JSON list of integers"},
		{"a broken stack list", []string{"null"}, "", "the stack's releaseSteps null"},
		{"required and given", []string{"--required", "--name", "releaseSteps", "[10,50,100]", "[10,50,100]"}, "[10,50,100]", ""},
		{"required and empty", []string{"--required", "--name", "releaseSteps", "[10,50,100]", "[]"}, "", "releaseSteps is empty: Azure DevOps expands one stage per step before the run starts and cannot read the stack's config; pass releaseSteps: [10,50,100]"},
		{"named", []string{"--name", "releaseSteps", "[10,50,100]", "[5,100]"}, "", "releaseSteps [5,100]: 5 is not one of"},
	}
	if _, err := exec.LookPath("jq"); err != nil {
		t.Skip("jq not installed")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command("bash", append([]string{filepath.Join(root, "scripts", "release-steps.sh")}, tt.args...)...)
			cmd.Env = append(os.Environ(), "TF_BUILD=", "GITHUB_ACTIONS=")
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			if tt.wantError != "" {
				if err == nil || !strings.Contains(stderr.String(), tt.wantError) || stdout.Len() > 0 {
					t.Errorf("got %v, stdout %q, stderr %q; want a failure saying %q", err, stdout.String(), stderr.String(), tt.wantError)
				}
				return
			}
			if err != nil || strings.TrimSpace(stdout.String()) != tt.want {
				t.Errorf("got %v, stdout %q (stderr %q); want %s", err, stdout.String(), stderr.String(), tt.want)
			}
		})
	}
}
