//go:build e2e

package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/rollout"
)

// TestACanaryCannotWriteTheStableSlotsFigures: the canary fails 20% of its requests, and its
// code writes failing requests named as the stable app, two and a half for each of its own, so
// that by AppRoleName the stable slot fails more than the canary. Its telemetry goes where
// ingestion puts it: into its own component, the only one its identity may publish to (its
// attempts with the stable slot's connection string are refused). The metrics gate counts each
// app's requests only from its own component (_ResourceId), and with a component per slot the
// component alone decides the slot, so the forged requests are the canary's own, not the stable
// slot's, and the canary is rolled back for its failure rate. When both slots report to
// one component and the gate selects by AppRoleName, the forgery passes the canary.
func TestACanaryCannotWriteTheStableSlotsFigures(t *testing.T) {
	parallel(t, 60*time.Second)
	u, svc := releaseUser(t, "analysisIntervalSeconds 10", `releaseSteps [{"weight": 10, "bake": "40s"}, 50, 100]`)
	svc.failCanary()
	svc.mu.Lock()
	svc.forgeAsStable = true
	svc.mu.Unlock()
	record := filepath.Join(t.TempDir(), "release.json")
	cmd, out := u.start(svc.release("", record))
	err := cmd.Wait()
	t.Log(out.String())
	if code := exitCode(err); code != 4 {
		t.Errorf("exit: got %d, want 4 (aborted, rolled back)", code)
	}
	rec := readRecord(t, record)
	if rec.Outcome != rollout.OutcomeRolledBack || rec.Rollback == nil || !strings.Contains(rec.Rollback.Reason, "metrics gate: failure-rate") {
		t.Errorf("record: got outcome %s, rollback %+v; want rolled back for the canary's failure rate", rec.Outcome, rec.Rollback)
	}
	if len(rec.StepsTaken) != 1 || rec.StepsTaken[0].To != 10 {
		t.Errorf("steps: got %+v, want the release stopped in its first step, at 10%%", rec.StepsTaken)
	}
	if got := u.currentSlotName(); got != "green-backend" {
		t.Errorf("current-slot-name: got %q, want green-backend", got)
	}
	svc.mu.Lock()
	refusals := append([]string(nil), svc.forgeRefusals...)
	svc.mu.Unlock()
	if len(refusals) == 0 || !strings.Contains(refusals[0], "Forbidden") || !strings.Contains(refusals[0], "may not ingest telemetry") {
		t.Errorf("the canary's sends with the stable slot's connection string: got refusals %q, want ingestion's 403", refusals)
	}
	for _, q := range svc.table.Queries() {
		if !strings.Contains(q.KQL, "| where _ResourceId in~ (") {
			t.Errorf("a gate query selects without the components:\n%s", q.KQL)
			break
		}
	}
}
