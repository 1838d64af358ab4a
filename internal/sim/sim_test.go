package sim

import (
	"fmt"
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/rollout"
)

// TestRun: single releases whose outcome is not in doubt, and the same seed giving the same
// release.
func TestRun(t *testing.T) {
	for _, tt := range []struct {
		name         string
		cell         Cell
		rolledBack   bool
		inconclusive bool
		at           int
		reason       string
	}{
		{"healthy at 10 requests a second", Cell{RPS: 10, StableFailure: 0.01, CanaryFailure: 0.01}, false, false, 100, ""},
		{"+10 points at 10 requests a second: caught at 10%", Cell{RPS: 10, StableFailure: 0.01, CanaryFailure: 0.11}, true, false, 10, "failure-rate"},
		{"half its requests lost: caught at 10%", Cell{RPS: 10, StableFailure: 0.01, CanaryFailure: 0.01, CanaryLost: 0.5}, true, false, 10, "sample-ratio"},
		{"a request every ten seconds: too little to judge", Cell{RPS: 0.1, StableFailure: 0.01, CanaryFailure: 0.01}, true, true, 10, "nobody saw the canary"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := Run(tt.cell, 3)
			if r.RolledBack != tt.rolledBack || r.Inconclusive != tt.inconclusive || r.At != tt.at || !strings.Contains(r.Reason, tt.reason) {
				t.Errorf("got %+v, want rolled back %v (inconclusive %v) at %d%% for %q", r, tt.rolledBack, tt.inconclusive, tt.at, tt.reason)
			}
			if tt.rolledBack && (r.TimeToZero <= 0 || r.Outcome != rollout.OutcomeRolledBack) {
				t.Errorf("got %+v, want a rollback with its time to 0%%", r)
			}
			if again := Run(tt.cell, 3); again != r {
				t.Errorf("the same seed: got %+v, then %+v", r, again)
			}
		})
	}
}

// BenchmarkRelease measures one release of a healthy canary through the whole plan (the most
// a release of the grid costs) at each traffic of the grid, with the grid's probes: what sizes
// the grid's run.
//
//	go test -run XXX -bench BenchmarkRelease ./internal/sim/
func BenchmarkRelease(b *testing.B) {
	for _, rps := range Traffic {
		b.Run(fmt.Sprintf("rps=%g", rps), func(b *testing.B) {
			c := GridCell{RPS: rps, Stable: 0.01, Model: Models[0]}.Cell()
			for i := range b.N {
				Run(c, uint64(i))
			}
		})
	}
}
