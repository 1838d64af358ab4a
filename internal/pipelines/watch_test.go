package pipelines

import (
	"testing"
)

// TestWatchRunsOnASchedule: both CI systems run `slotless watch` every 5 minutes, the period the
// README's bound for a failure during a pause counts, from the default branch whether or not
// the code changed, with the metrics window equal to the period so every request is judged once.
func TestWatchRunsOnASchedule(t *testing.T) {
	const cron, command = "*/5 * * * *", "slotless watch --stack \"$STACK\" --for 1m --window 5m"

	ado := expandedPipeline(t, adoWatchCaller)
	if len(ado.Schedules) != 1 || ado.Schedules[0].Cron != cron || !ado.Schedules[0].Always || len(ado.Schedules[0].Branches.Include) != 1 || ado.Schedules[0].Branches.Include[0] != "main" {
		t.Errorf("%s schedules: got %+v, want one %q on main, always", adoWatchCaller, ado.Schedules, cron)
	}
	if indexOf(scriptsOf(ado.allSteps()), command) < 0 {
		t.Errorf("%s: no step runs %q", adoWatchTemplate, command)
	}

	caller := decode[workflow](t, ghWatchCaller)
	var schedule []struct {
		Cron string `yaml:"cron"`
	}
	if n, ok := caller.On["schedule"]; !ok || n.Decode(&schedule) != nil || len(schedule) != 1 || schedule[0].Cron != cron {
		t.Errorf("%s schedule: got %+v, want %q", ghWatchCaller, schedule, cron)
	}
	var with map[string]string
	for _, j := range caller.Jobs {
		with = j.With
	}
	gh := decode[workflow](t, ghWatch)
	job, ok := gh.Jobs["watch"]
	if !ok {
		t.Fatalf("%s: no watch job", ghWatch)
	}
	if indexOf(runsOf(job.Steps), command) < 0 {
		t.Errorf("%s: no step runs %q", ghWatch, command)
	}
	// The rollback inside the watch signs in as the release's rollback job does: the stack's
	// <prefix>-release environment, with the job's OIDC token.
	ctx, err := inputsContext(gh, with)
	if err != nil {
		t.Fatal(err)
	}
	env, err := environmentOf(job, ctx)
	if err != nil || env != "slotless-dev-release" || job.Permissions["id-token"] != "write" {
		t.Errorf("%s watch job: got environment %q (%v), id-token %q; want slotless-dev-release and write", ghWatch, env, err, job.Permissions["id-token"])
	}
	if err := checkGHPerStack(gh, map[string]string{"stack": "prod"}, nil); err != nil {
		t.Errorf("%s: %v", ghWatch, err)
	}
}
