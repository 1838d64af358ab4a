package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/stack"
)

// appInputs are an app's inputs as the engine reports them, with n always-ready instances (no
// entry at 0) and a maximum instance count.
func appInputs(n, maxInstances int) map[string]any {
	sc := map[string]any{"maximumInstanceCount": float64(maxInstances), "instanceMemoryMB": float64(2048)}
	if n > 0 {
		sc["alwaysReady"] = []any{map[string]any{"name": "http", "instanceCount": float64(n)}}
	}
	return map[string]any{
		"name":              "func-x",
		"functionAppConfig": map[string]any{"runtime": map[string]any{"name": "custom"}, "scaleAndConcurrency": sc},
	}
}

// appStep is a planned update of a slot's app from one set of inputs to another.
func appStep(slot stack.Slot, old, new map[string]any) engine.Step {
	return engine.Step{Op: "update", Type: "azure-native:web:WebApp", Name: stack.AppResourceName(slot),
		URN:   "urn:pulumi:dev::slotless::slotless:stack:Colour$azure-native:web:WebApp::" + stack.AppResourceName(slot),
		Diffs: []string{"functionAppConfig"}, OldInputs: old, NewInputs: new}
}

func TestAlwaysReadyChanges(t *testing.T) {
	tests := []struct {
		from, to, n int
		want        string
	}{
		{0, 10, 0, ""},
		{0, 10, 2, "blue-app always-ready instances 0 → 2"},
		{10, 50, 2, ""},
		{50, 100, 2, "green-app always-ready instances 2 → 0"},
		{50, 0, 2, "blue-app always-ready instances 2 → 0"},
		{0, 100, 3, "green-app always-ready instances 3 → 0; blue-app always-ready instances 0 → 3"},
		{100, 90, 2, "green-app always-ready instances 0 → 2"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("blue %d→%d n %d", tt.from, tt.to, tt.n), func(t *testing.T) {
			var got []string
			for _, c := range AlwaysReadyChanges(w(tt.from), w(tt.to), tt.n) {
				got = append(got, c.String())
			}
			if strings.Join(got, "; ") != tt.want {
				t.Errorf("got %q, want %q", strings.Join(got, "; "), tt.want)
			}
		})
	}
}

func TestTrafficWith(t *testing.T) {
	first := TrafficWith(AlwaysReadyChanges(w(0), w(10), 2)) // blue-app 0 → 2
	pool := engine.Step{Op: "update", Type: "azure-native:apimanagement:Backend", Name: stack.PoolID}
	tests := []struct {
		name string
		step engine.Step
		want bool
	}{
		{"the pool", pool, true},
		{"the release slot's count 0 → 2", appStep(stack.Blue, appInputs(0, 100), appInputs(2, 100)), true},
		{"the count and another setting", appStep(stack.Blue, appInputs(0, 100), appInputs(2, 200)), false},
		{"another setting alone", appStep(stack.Blue, appInputs(0, 100), appInputs(0, 200)), false},
		{"a count the weights do not explain", appStep(stack.Blue, appInputs(0, 100), appInputs(3, 100)), false},
		{"from a count the weights do not explain", appStep(stack.Blue, appInputs(1, 100), appInputs(2, 100)), false},
		{"the live slot's app", appStep(stack.Green, appInputs(2, 100), appInputs(0, 100)), false},
		{"a diff outside functionAppConfig", func() engine.Step {
			s := appStep(stack.Blue, appInputs(0, 100), appInputs(2, 100))
			s.Diffs = append(s.Diffs, "siteConfig")
			return s
		}(), false},
		{"a top-level input changed besides", func() engine.Step {
			s := appStep(stack.Blue, appInputs(0, 100), appInputs(2, 100))
			s.NewInputs["httpsOnly"] = false
			return s
		}(), false},
		{"no inputs reported", appStep(stack.Blue, nil, nil), false},
		{"a replacement", func() engine.Step {
			s := appStep(stack.Blue, appInputs(0, 100), appInputs(2, 100))
			s.Op = "replace"
			return s
		}(), false},
		{"another group", appStep(stack.Blue, appInputs(0, 100), map[string]any{"name": "func-x", "functionAppConfig": map[string]any{"runtime": map[string]any{"name": "custom"},
			"scaleAndConcurrency": map[string]any{"maximumInstanceCount": float64(100), "instanceMemoryMB": float64(2048), "alwaysReady": []any{map[string]any{"name": "function:x", "instanceCount": float64(2)}}}}}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := first(tt.step); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	// Inside a release no app may change.
	inside := TrafficWith(AlwaysReadyChanges(w(10), w(50), 2))
	if inside(appStep(stack.Blue, appInputs(2, 100), appInputs(2, 100))) || inside(appStep(stack.Blue, appInputs(0, 100), appInputs(2, 100))) {
		t.Error("a step inside a release admitted an app change")
	}
}

// TestShiftAppliesTheAlwaysReadyCountWithTheTraffic: the first step of a release applies the
// release slot's app with the pool when its always-ready count alone changes, and a pending
// change of the live slot's app still refuses the shift.
func TestShiftAppliesTheAlwaysReadyCountWithTheTraffic(t *testing.T) {
	warmBlue := appStep(stack.Blue, appInputs(0, 100), appInputs(2, 100))
	req := ShiftRequest{Slot: stack.Blue, To: 10, MaxStep: 50, Force: true, Traffic: TrafficWith(AlwaysReadyChanges(w(0), w(10), 2))}
	st := &fakeStack{deployed: deployedAt(0, stack.Green), config: map[string]string{}, pending: []engine.Step{warmBlue}}
	if _, err := Shift(context.Background(), st, req, io.Discard); err != nil {
		t.Fatalf("got %v, want the shift applied", err)
	}
	// blue-app's site update restarts it: first, alone, while it carries no traffic; then the
	// pool and current-slot-name alone.
	if len(st.targets) != 2 || !slices.Equal(st.targets[0], []string{warmBlue.URN}) || len(st.targets[1]) != 2 || slices.Contains(st.targets[1], warmBlue.URN) {
		t.Errorf("targets: got %v, want blue-app alone, then the pool and current-slot-name", st.targets)
	}

	live := appStep(stack.Green, appInputs(2, 100), appInputs(2, 200))
	st = &fakeStack{deployed: deployedAt(0, stack.Green), config: map[string]string{}, pending: []engine.Step{warmBlue, live}}
	_, err := Shift(context.Background(), st, req, io.Discard)
	if !errors.Is(err, ErrBlocked) || !strings.Contains(err.Error(), "green-app") {
		t.Fatalf("got %v, want a refusal naming green-app", err)
	}
	if slices.Contains(st.calls, "up") {
		t.Error("a refused shift ran up")
	}

	// A rollback from inside a release takes the release slot's count back to 0 with the pool.
	cool := appStep(stack.Blue, appInputs(2, 100), appInputs(0, 100))
	st = &fakeStack{deployed: deployedAt(50, stack.Green), config: map[string]string{"blueWeight": "50"}, pending: []engine.Step{cool, live}}
	rb := ShiftRequest{Slot: stack.Blue, To: 0, Rollback: true, Traffic: TrafficWith(AlwaysReadyChanges(w(50), w(0), 2))}
	if _, err := Shift(context.Background(), st, rb, io.Discard); err != nil {
		t.Fatalf("rollback: got %v, want it applied", err)
	}
	// The pool first, alone; blue-app's count after the traffic has left it; green-app's
	// pending change left out.
	if len(st.targets) != 2 || slices.Contains(st.targets[0], cool.URN) || !slices.Equal(st.targets[1], []string{cool.URN}) || slices.Contains(slices.Concat(st.targets...), live.URN) {
		t.Errorf("rollback targets: got %v, want the traffic alone, then blue-app, and green-app's pending change left out", st.targets)
	}

	// GA: the old slot's count goes after the traffic has left it, and its failure fails
	// nothing.
	coolGreen := appStep(stack.Green, appInputs(2, 100), appInputs(0, 100))
	st = &fakeStack{deployed: deployedAt(50, stack.Green), config: map[string]string{"blueWeight": "50"}, pending: []engine.Step{coolGreen}, upErrs: []error{nil, errors.New("site update failed")}}
	ga := ShiftRequest{Slot: stack.Blue, To: 100, MaxStep: 50, Force: true, Traffic: TrafficWith(AlwaysReadyChanges(w(50), w(100), 2))}
	if _, err := Shift(context.Background(), st, ga, io.Discard); err != nil {
		t.Fatalf("GA with a failing always-ready update: got %v, want the traffic moved and a warning", err)
	}
	if len(st.targets) != 2 || slices.Contains(st.targets[0], coolGreen.URN) || !slices.Equal(st.targets[1], []string{coolGreen.URN}) {
		t.Errorf("GA targets: got %v, want the traffic, then green-app", st.targets)
	}
}
