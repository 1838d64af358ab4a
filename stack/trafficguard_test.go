package stack_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

var at = time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)

func weights(blue int) stack.Weights { return stack.Weights{Green: 100 - blue, Blue: blue} }

func record(blue int, by string, superseded ...int) string {
	return stack.PoolRecord{Weights: weights(blue), By: by, At: at, Superseded: superseded}.String()
}

func TestPoolRecordRoundTrip(t *testing.T) {
	for _, r := range []stack.PoolRecord{
		{Weights: weights(0), By: stack.ByPulumiUp},
		{Weights: weights(50), By: "slotless release", At: at, Superseded: []int{0, 10}},
		{Weights: weights(0), By: "slotless rollback (break-glass, through ARM)", At: at, Superseded: []int{10}},
	} {
		got, ok := stack.ParsePoolRecord(r.String())
		if !ok || got.Weights != r.Weights || got.By != r.By || !got.At.Equal(r.At) || len(got.Superseded) != len(r.Superseded) {
			t.Errorf("%q: got %+v (ok %v), want %+v", r.String(), got, ok, r)
		}
	}
	if _, ok := stack.ParsePoolRecord("Weighted pool over the green and blue slots; weights come from stack config"); ok {
		t.Error("a description without a record was read as one")
	}
}

// TestTrafficGuard: which updates may move the pool, and the record each leaves.
func TestTrafficGuard(t *testing.T) {
	up := stack.Mover{By: stack.ByPulumiUp, At: at}
	release := stack.Mover{By: "slotless release", At: at}
	tests := []struct {
		name string
		live *stack.LivePool
		want int
		m    stack.Mover
		// refused names what the error must say; empty means allowed.
		refused    []string
		by         string
		superseded []int
	}{
		{name: "first deploy", want: 0, m: up, by: stack.ByPulumiUp},
		{name: "no traffic change keeps the record", live: &stack.LivePool{Weights: weights(50), Description: record(50, "slotless release", 0, 10)}, want: 50, m: up, by: "slotless release", superseded: []int{0, 10}},
		{name: "the literal shift after a plain up", live: &stack.LivePool{Weights: weights(0), Description: record(0, stack.ByPulumiUp)}, want: 50, m: up, by: stack.ByPulumiUp},
		{name: "a stale checkout during a release", live: &stack.LivePool{Weights: weights(50), Description: record(50, "slotless release", 0, 10)}, want: 10, m: up,
			refused: []string{"back to green 90% / blue 10%", "slotless release moved it to green 50% / blue 50% at 2026-12-04T15:00:00Z", "superseding blue 10", "slotless record --stack test"}},
		// A rollback is never refused: every share back to where the release began.
		{name: "the literal rollback during a release", live: &stack.LivePool{Weights: weights(50), Description: record(50, "slotless release", 0, 10)}, want: 0, m: up, by: stack.ByPulumiUp},
		{name: "the literal rollback after GA", live: &stack.LivePool{Weights: weights(100), Description: record(100, "slotless release", 0, 10, 50)}, want: 0, m: up, by: stack.ByPulumiUp},
		{name: "half back after GA is no rollback", live: &stack.LivePool{Weights: weights(100), Description: record(100, "slotless release", 0, 10, 50)}, want: 50, m: up,
			refused: []string{"superseding blue 50"}},
		{name: "the literal rollback of the next release", live: &stack.LivePool{Weights: weights(0), Description: record(0, "slotless release", 0, 10, 50, 100, 90, 50)}, want: 100, m: up, by: stack.ByPulumiUp},
		{name: "back past the latest release is no rollback", live: &stack.LivePool{Weights: weights(50), Description: record(50, "slotless release", 0, 10, 50, 100, 90)}, want: 0, m: up,
			refused: []string{"superseding blue 0"}},
		{name: "a checkout one step behind", live: &stack.LivePool{Weights: weights(50), Description: record(50, "slotless release", 0, 10)}, want: 10, m: up,
			refused: []string{"superseding blue 10"}},
		{name: "a new weight after a release is deliberate", live: &stack.LivePool{Weights: weights(50), Description: record(50, "slotless release", 0, 10)}, want: 90, m: up, by: stack.ByPulumiUp},
		{name: "a portal edit is not undone", live: &stack.LivePool{Weights: weights(0), Description: record(10, stack.ByPulumiUp)}, want: 10, m: up,
			refused: []string{"changed outside Pulumi and slotless", "its record says green 90% / blue 10% set by pulumi up"}},
		{name: "slotless moves and keeps what it superseded", live: &stack.LivePool{Weights: weights(10), Description: record(10, "slotless release", 0)}, want: 50, m: release, by: "slotless release", superseded: []int{0, 10}},
		{name: "a pool from before records", live: &stack.LivePool{Weights: weights(10), Description: "Weighted pool over the green and blue slots; weights come from stack config"}, want: 0, m: up, by: stack.ByPulumiUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desc, err := stack.PoolDescription(tt.live, weights(tt.want), tt.m, "test")
			if len(tt.refused) > 0 {
				if err == nil {
					t.Fatalf("got %q, want the update refused", desc)
				}
				for _, s := range tt.refused {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want the update allowed", err)
			}
			rec, ok := stack.ParsePoolRecord(desc)
			if !ok || rec.By != tt.by || len(rec.Superseded) != len(tt.superseded) {
				t.Fatalf("description %q: got %+v, want by %q superseding %v", desc, rec, tt.by, tt.superseded)
			}
			for i := range tt.superseded {
				if rec.Superseded[i] != tt.superseded[i] {
					t.Errorf("superseded: got %v, want %v", rec.Superseded, tt.superseded)
				}
			}
		})
	}
}

// TestProgramRefusesAStaleUpdate: the whole program, under the mock engine, with API Management
// holding a pool a release moved from 0 through 10 to 50: a plain update with the stale
// blueWeight 10 fails with the guard's error and registers no pool, while blueWeight 0 is the
// literal rollback to where the release began, never refused.
func TestProgramRefusesAStaleUpdate(t *testing.T) {
	live := map[string]any{
		"name": stack.PoolID, "type": "Microsoft.ApiManagement/service/backends", "azureApiVersion": "2024-05-01", "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/apim/backends/" + stack.PoolID,
		"description": record(50, "slotless release", 0, 10),
		"pool": map[string]any{"services": []any{
			map[string]any{"id": "/subscriptions/s/x/backends/green-backend", "weight": 50.0, "priority": 1.0},
			map[string]any{"id": "/subscriptions/s/x/backends/blue-backend", "weight": 50.0, "priority": 1.0},
		}},
	}
	for _, tt := range []struct {
		blue    string
		refused bool
	}{{"10", true}, {"0", false}, {"50", false}, {"90", false}} {
		m := &plan.Mocks{Backends: map[string]map[string]any{stack.PoolID: live}}
		cfg := config(t, map[string]string{"blueWeight": tt.blue})
		err := pulumi.RunErr(stack.ProgramBy(stack.Mover{By: stack.ByPulumiUp, At: at}), pulumi.WithMocks("slotless", "test", m), func(info *pulumi.RunInfo) {
			info.Config = cfg.Values
			info.ConfigSecretKeys = cfg.Secrets
		})
		if got := err != nil && strings.Contains(err.Error(), "traffic guard"); got != tt.refused {
			t.Errorf("blueWeight %s: got %v, want refused %v", tt.blue, err, tt.refused)
		}
		if tt.refused {
			for _, r := range m.Recorded {
				if r.Name == stack.PoolID {
					t.Errorf("blueWeight %s: the pool was registered despite the refusal", tt.blue)
				}
			}
		}
	}
}
