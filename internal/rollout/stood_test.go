package rollout

import (
	"testing"
	"time"

	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/stack"
)

// TestStoodSince: from when a watch with no cursor counts the canary's weight, for each thing
// it may know: the last update's end when state has the live weights, the record's time and a
// margin for a write through ARM alone that state does not have, and now for anything else.
func TestStoodSince(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 15, 0, 0, time.UTC)
	update := now.Add(-10 * time.Minute)
	at10 := stack.Weights{Green: 90, Blue: 10}
	at0 := stack.Weights{Green: 100}
	record := func(by string, w stack.Weights, at time.Time) string {
		return stack.PoolRecord{Weights: w, By: by, At: at}.String()
	}
	p := Plan{InitialDelay: 30 * time.Second}
	for _, tt := range []struct {
		name string
		st   Status
		w    Written
		want time.Time
	}{
		{name: "state has the live weights: the last update's end",
			st: Status{Weights: at10, Record: record("slotless release", at10, now.Add(-time.Hour))}, w: Written{State: at10, StateKnown: true, LastUpdate: update}, want: update},
		{name: "read from state, the live pool out of reach",
			st: Status{Weights: at10}, w: Written{State: at10, StateKnown: true, LastUpdate: update}, want: update},
		{name: "a break-glass write state does not have: its record's time and the margin",
			st: Status{Weights: at10, Record: record(pool.BreakGlassBy, at10, now.Add(-3*time.Minute))}, w: Written{State: at0, StateKnown: true, LastUpdate: update}, want: now.Add(-3*time.Minute + OutsideWriteMargin)},
		{name: "the watcher's write state does not have",
			st: Status{Weights: at10, Record: record(stack.WatcherBy, at10, now.Add(-3*time.Minute))}, w: Written{State: at0, StateKnown: true}, want: now.Add(-3*time.Minute + OutsideWriteMargin)},
		{name: "a write through ARM older than the last update that caught state up: the update",
			st: Status{Weights: at10, Record: record(pool.BreakGlassBy, at10, now.Add(-time.Hour))}, w: Written{State: at10, StateKnown: true, LastUpdate: update}, want: update},
		{name: "a write through ARM newer than the last update, state alike: the write",
			st: Status{Weights: at10, Record: record(pool.BreakGlassBy, at10, now.Add(-time.Minute))}, w: Written{State: at10, StateKnown: true, LastUpdate: update}, want: now},
		{name: "live differs from state, the record names a Pulumi mover: now",
			st: Status{Weights: at10, Record: record("slotless shift", at10, now.Add(-time.Hour))}, w: Written{State: at0, StateKnown: true, LastUpdate: update}, want: now},
		{name: "live differs from its own record (the portal): now",
			st: Status{Weights: at10, Record: record(pool.BreakGlassBy, at0, now.Add(-time.Hour))}, w: Written{State: at0, StateKnown: true, LastUpdate: update}, want: now},
		{name: "the last update's end unknown: now",
			st: Status{Weights: at10}, w: Written{State: at10, StateKnown: true}, want: now},
		{name: "nothing known",
			st: Status{Weights: at10}, want: now},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, why := StoodSince(tt.st, tt.w, now, p)
			if want := tt.want.Add(p.InitialDelay); !got.Equal(want) || why == "" {
				t.Errorf("got %s (%s), want %s", got.Format(time.TimeOnly), why, want.Format(time.TimeOnly))
			}
		})
	}
}
