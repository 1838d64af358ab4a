package stack_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

// alwaysReadyOf is the always-ready count a plan gives a slot's app: 0 when the app has no
// alwaysReady entry.
func alwaysReadyOf(t *testing.T, p *plan.Plan, slot stack.Slot) int {
	t.Helper()
	flat := plan.Flatten(find(t, p, "azure-native:web:WebApp", stack.AppResourceName(slot)).Inputs)
	raw, ok := flat["functionAppConfig.scaleAndConcurrency.alwaysReady[0].instanceCount"]
	if !ok {
		for k := range flat {
			if strings.Contains(k, "alwaysReady") {
				t.Fatalf("%s app: got %s = %s without an instanceCount, want both or neither", slot, k, flat[k])
			}
		}
		return 0
	}
	if got := flat["functionAppConfig.scaleAndConcurrency.alwaysReady[0].name"]; got != q(stack.AlwaysReadyGroup) {
		t.Errorf("%s app alwaysReady name: got %s, want %q", slot, got, stack.AlwaysReadyGroup)
	}
	var n int
	if _, err := fmt.Sscan(raw, &n); err != nil {
		t.Fatalf("%s app alwaysReady instanceCount %q: %v", slot, raw, err)
	}
	return n
}

// TestAlwaysReadyFollowsTheLiveSlot: with alwaysReadyInstances N, the live slot's app keeps N
// warm at steady state, the idle slot's none, and both apps N while a release is in progress.
// With 0 (the default) neither app has an alwaysReady entry at any weight.
func TestAlwaysReadyFollowsTheLiveSlot(t *testing.T) {
	tests := []struct {
		blue, n     int
		green, bare int // want: green's count, blue's count
	}{
		{0, 0, 0, 0}, {50, 0, 0, 0}, {100, 0, 0, 0},
		{0, 2, 2, 0}, {1, 2, 2, 2}, {50, 2, 2, 2}, {99, 2, 2, 2}, {100, 2, 0, 2},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("blue %d, alwaysReadyInstances %d", tt.blue, tt.n), func(t *testing.T) {
			p := runPlan(t, map[string]string{"blueWeight": fmt.Sprint(tt.blue), "alwaysReadyInstances": fmt.Sprint(tt.n)})
			if got := alwaysReadyOf(t, p, stack.Green); got != tt.green {
				t.Errorf("green: got %d always-ready instances, want %d", got, tt.green)
			}
			if got := alwaysReadyOf(t, p, stack.Blue); got != tt.bare {
				t.Errorf("blue: got %d always-ready instances, want %d", got, tt.bare)
			}
		})
	}
}

// TestAlwaysReadyOffLeavesTheAppsAsTheyWere: a stack that does not set alwaysReadyInstances,
// and one that sets it to 0, plan the same apps, so turning the feature off (or never on) shows
// no diff on an existing stack.
func TestAlwaysReadyOffLeavesTheAppsAsTheyWere(t *testing.T) {
	for _, blue := range []string{"0", "10", "100"} {
		unset := runPlan(t, map[string]string{"blueWeight": blue})
		zero := runPlan(t, map[string]string{"blueWeight": blue, "alwaysReadyInstances": "0"})
		if d := plan.Diff(unset, zero); len(d) != 0 {
			t.Errorf("blue %s: alwaysReadyInstances 0 changes %+v, want nothing", blue, d)
		}
	}
}

// TestBlastRadiusWithAlwaysReady is TestBlastRadius with alwaysReadyInstances 2: a traffic
// change touches the pool, current-slot-name when a release completes or rolls back, and the
// apps whose always-ready count the weights change, in that count alone. Starting a release
// (0 → 1..99) adds the release slot's app, ending it (→ 0 or 100) the app left idle, and a
// step inside a release touches the pool only.
func TestBlastRadiusWithAlwaysReady(t *testing.T) {
	const n = 2
	values := []int{0, 1, 10, 50, 51, 90, 100}
	plans := map[int]*plan.Plan{}
	for _, v := range values {
		plans[v] = runPlan(t, map[string]string{"blueWeight": fmt.Sprint(v), "alwaysReadyInstances": fmt.Sprint(n)})
	}
	w := func(blue int) stack.Weights { return stack.Weights{Green: 100 - blue, Blue: blue} }
	for _, from := range values {
		for _, to := range values {
			if from == to {
				continue
			}
			t.Run(fmt.Sprintf("%d->%d", from, to), func(t *testing.T) {
				allowed := map[string]bool{stack.PoolID: true, stack.CurrentSlotNamedValue: to == 0 || to == 100}
				var wantApps, gotApps []string
				for _, s := range stack.Slots {
					if w(from).AlwaysReady(s, n) != w(to).AlwaysReady(s, n) {
						wantApps = append(wantApps, stack.AppResourceName(s))
					}
				}
				sawPool := false
				for _, c := range plan.Diff(plans[from], plans[to]) {
					sawPool = sawPool || c.Name == stack.PoolID
					if c.Type != "azure-native:web:WebApp" {
						if !allowed[c.Name] {
							t.Errorf("changes %s %s (%v), want only the pool, current-slot-name at 0 and 100, and apps", c.Type, c.Name, c.Properties)
						}
						continue
					}
					gotApps = append(gotApps, c.Name)
					for _, p := range c.Properties {
						if !strings.HasPrefix(p.Path, "functionAppConfig.scaleAndConcurrency.alwaysReady") {
							t.Errorf("%s changes %s (%s → %s), want alwaysReady alone", c.Name, p.Path, p.Before, p.After)
						}
					}
				}
				if !sawPool {
					t.Error("got no pool change, want one")
				}
				slices.Sort(gotApps)
				slices.Sort(wantApps)
				if !slices.Equal(gotApps, wantApps) {
					t.Errorf("apps changed: got %v, want %v", gotApps, wantApps)
				}
			})
		}
	}
}
