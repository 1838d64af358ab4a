package release

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/stack"
)

// watcherInputs are the watcher app's inputs as the engine reports them, with its plan setting
// and a maximum instance count.
func watcherInputs(plan string, maxInstances int) map[string]any {
	return map[string]any{
		"name":              "watcher-x",
		"functionAppConfig": map[string]any{"runtime": map[string]any{"name": "custom"}, "scaleAndConcurrency": map[string]any{"maximumInstanceCount": float64(maxInstances)}},
		"siteConfig": map[string]any{"minTlsVersion": "1.2", "appSettings": []any{
			map[string]any{"name": "AZURE_CLIENT_ID", "value": "c1"},
			map[string]any{"name": stack.EnvWatcherConfig, "value": plan},
		}},
	}
}

func watcherStep(old, new map[string]any, diffs ...string) engine.Step {
	return engine.Step{Op: "update", Type: "azure-native:web:WebApp", Name: stack.WatcherAppResource,
		URN:   "urn:pulumi:dev::slotless::azure-native:web:WebApp::" + stack.WatcherAppResource,
		Diffs: diffs, OldInputs: old, NewInputs: new}
}

func TestWatcherSettingsOnly(t *testing.T) {
	before := watcherInputs(`{"bakeMinutes":"5"}`, 40)
	tests := []struct {
		name string
		step engine.Step
		want bool
	}{
		{"a plan key set", watcherStep(before, watcherInputs(`{"bakeMinutes":"1"}`, 40), "siteConfig"), true},
		{"a setting added", func() engine.Step {
			n := watcherInputs(`{"bakeMinutes":"5"}`, 40)
			sc := n["siteConfig"].(map[string]any)
			sc["appSettings"] = append(sc["appSettings"].([]any), map[string]any{"name": stack.EnvWatcherNotify, "value": "[secret]"})
			return watcherStep(before, n, "siteConfig")
		}(), true},
		{"its scale besides", watcherStep(before, watcherInputs(`{"bakeMinutes":"1"}`, 80), "siteConfig", "functionAppConfig"), false},
		{"its scale alone", watcherStep(before, watcherInputs(`{"bakeMinutes":"5"}`, 80), "functionAppConfig"), false},
		{"another site setting", func() engine.Step {
			n := watcherInputs(`{"bakeMinutes":"5"}`, 40)
			n["siteConfig"].(map[string]any)["minTlsVersion"] = "1.0"
			return watcherStep(before, n, "siteConfig")
		}(), false},
		{"a top-level input the diff does not name", func() engine.Step {
			n := watcherInputs(`{"bakeMinutes":"1"}`, 40)
			n["httpsOnly"] = false
			return watcherStep(before, n, "siteConfig")
		}(), false},
		{"no inputs reported", watcherStep(nil, nil, "siteConfig"), false},
		{"a replacement", func() engine.Step {
			s := watcherStep(before, watcherInputs(`{"bakeMinutes":"1"}`, 40), "siteConfig")
			s.Op = "replace"
			return s
		}(), false},
		{"a slot's app settings", func() engine.Step {
			s := watcherStep(before, watcherInputs(`{"bakeMinutes":"1"}`, 40), "siteConfig")
			s.Name = stack.AppResourceName(stack.Blue)
			return s
		}(), false},
		{"another type of that name", func() engine.Step {
			s := watcherStep(before, watcherInputs(`{"bakeMinutes":"1"}`, 40), "siteConfig")
			s.Type = "azure-native:web:WebAppApplicationSettings"
			return s
		}(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := WatcherSettingsOnly(tt.step); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestShiftAppliesTheWatchersSettingsAfterTheTraffic: a plan key set since the last pulumi up
// changes the watcher's settings; no shift, step of a release or rollback is refused for it:
// each applies it after the traffic, and its failure fails nothing.
func TestShiftAppliesTheWatchersSettingsAfterTheTraffic(t *testing.T) {
	settings := watcherStep(watcherInputs(`{"bakeMinutes":"5"}`, 40), watcherInputs(`{"bakeMinutes":"1"}`, 40), "siteConfig")
	scale := watcherStep(watcherInputs(`{"bakeMinutes":"5"}`, 40), watcherInputs(`{"bakeMinutes":"5"}`, 80), "functionAppConfig")
	tests := []struct {
		name    string
		blue    int
		req     ShiftRequest
		pending []engine.Step
		upErrs  []error
		// blocked: refused, with nothing applied; else targets are the ups' targets by name.
		blocked bool
		targets [][]string
	}{
		{"the first step", 0, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50, Force: true}, []engine.Step{settings}, nil,
			false, [][]string{{stack.PoolID, stack.CurrentSlotNamedValue}, {stack.WatcherAppResource}}},
		{"a step with always-ready counts", 0, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50, Force: true, Traffic: TrafficWith(AlwaysReadyChanges(w(0), w(10), 2))},
			[]engine.Step{appStep(stack.Blue, appInputs(0, 100), appInputs(2, 100)), settings}, nil,
			false, [][]string{{"blue-app"}, {stack.PoolID, stack.CurrentSlotNamedValue}, {stack.WatcherAppResource}}},
		{"its update fails", 10, ShiftRequest{Slot: stack.Blue, To: 50, MaxStep: 50, Force: true}, []engine.Step{settings}, []error{nil, errors.New("site update failed")},
			false, [][]string{{stack.PoolID, stack.CurrentSlotNamedValue}, {stack.WatcherAppResource}}},
		{"a rollback", 50, ShiftRequest{Slot: stack.Blue, To: 0, Rollback: true}, []engine.Step{settings}, nil,
			false, [][]string{{stack.PoolID, stack.CurrentSlotNamedValue}, {stack.WatcherAppResource}}},
		{"another change of the watcher refuses a shift", 0, ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50, Force: true}, []engine.Step{scale}, nil,
			true, nil},
		{"and a rollback leaves it", 50, ShiftRequest{Slot: stack.Blue, To: 0, Rollback: true}, []engine.Step{scale}, nil,
			false, [][]string{{stack.PoolID, stack.CurrentSlotNamedValue}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &fakeStack{deployed: deployedAt(tt.blue, stack.Green), config: map[string]string{}, pending: tt.pending, upErrs: tt.upErrs}
			var out strings.Builder
			_, err := Shift(context.Background(), st, tt.req, &out)
			if tt.blocked {
				if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), stack.WatcherAppResource) {
					t.Fatalf("got %v, want a refusal naming %s", err, stack.WatcherAppResource)
				}
				if slices.Contains(st.calls, "up") {
					t.Error("a refused shift ran up")
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want the move applied\n%s", err, out.String())
			}
			var got [][]string
			for _, ts := range st.targets {
				var names []string
				for _, u := range ts {
					names = append(names, u[strings.LastIndex(u, "::")+2:])
				}
				got = append(got, names)
			}
			if !slices.EqualFunc(got, tt.targets, slices.Equal) {
				t.Errorf("targets: got %v, want %v", got, tt.targets)
			}
			if tt.upErrs != nil && !strings.Contains(out.String(), "warning: the update of") {
				t.Errorf("output: got\n%s\nwant a warning for the failed update", out.String())
			}
		})
	}
}
