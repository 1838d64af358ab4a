package pipelines

import (
	"strings"
	"testing"
)

const ghWatch = ".github/workflows/watch.yml"

// TestWatchRunsOnASchedule: both CI systems run `slotless watch` every 5 minutes, the period the
// README's bound for a failure during a pause counts, from the default branch whether or not
// the code changed, with the metrics window equal to the period so every request is judged once.
func TestWatchRunsOnASchedule(t *testing.T) {
	const cron, command = "*/5 * * * *", "slotless watch --stack \"$STACK\" --for 1m --window 5m"

	ado := decode[adoPipeline](t, adoWatch)
	if len(ado.Schedules) != 1 || ado.Schedules[0].Cron != cron || !ado.Schedules[0].Always || len(ado.Schedules[0].Branches.Include) != 1 || ado.Schedules[0].Branches.Include[0] != "main" {
		t.Errorf("%s schedules: got %+v, want one %q on main, always", adoWatch, ado.Schedules, cron)
	}
	if indexOf(scriptsOf(ado.allSteps()), command) < 0 {
		t.Errorf("%s: no step runs %q", adoWatch, command)
	}

	gh := decode[watchWorkflow](t, ghWatch)
	if len(gh.On.Schedule) != 1 || gh.On.Schedule[0].Cron != cron {
		t.Errorf("%s schedule: got %+v, want %q", ghWatch, gh.On.Schedule, cron)
	}
	job, ok := gh.Jobs["watch"]
	if !ok {
		t.Fatalf("%s: no watch job", ghWatch)
	}
	found := false
	for _, s := range job.Steps {
		found = found || strings.Contains(s.Run, command)
	}
	if !found {
		t.Errorf("%s: no step runs %q", ghWatch, command)
	}
	// The rollback inside the watch signs in as the release's rollback job does.
	if job.Environment != "slotless-release" || job.Permissions["id-token"] != "write" {
		t.Errorf("%s watch job: got environment %v, id-token %q; want slotless-release and write", ghWatch, job.Environment, job.Permissions["id-token"])
	}
}

// watchWorkflow is the part of watch.yml the test reads.
type watchWorkflow struct {
	On struct {
		Schedule []struct {
			Cron string `yaml:"cron"`
		} `yaml:"schedule"`
	} `yaml:"on"`
	Jobs map[string]struct {
		Environment any               `yaml:"environment"`
		Permissions map[string]string `yaml:"permissions"`
		Steps       []struct {
			Run string `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}
