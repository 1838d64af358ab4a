package history

import (
	"context"
	"testing"
	"time"
)

// TestTheHeartbeatIsTheNewestTick: none before the first tick; each tick's replaces the one
// before; the release identity reads it; an app's identity can neither read nor write it.
func TestTheHeartbeatIsTheNewestTick(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	s := w.open(t, "watcher")
	if _, found, err := s.Heartbeat(ctx, "watcher"); err != nil || found {
		t.Fatalf("before any tick: got found %v, %v; want none", found, err)
	}
	t1 := time.Date(2026, 12, 7, 3, 1, 0, 0, time.UTC)
	for i, h := range []Heartbeat{
		{Version: "v1.2.3", At: t1, TookMs: 900, PeriodSeconds: 60, Outcome: "judged", Found: "nothing to watch: green carries 100%", Cursor: t1},
		{Version: "v1.2.4", At: t1.Add(time.Minute), TookMs: 21000, PeriodSeconds: 60, Outcome: "skipped", Found: "release holds the lease"},
	} {
		if err := s.PutHeartbeat(ctx, "watcher", h); err != nil {
			t.Fatal(err)
		}
		got, found, err := w.open(t, "writer").Heartbeat(ctx, "watcher")
		if err != nil || !found || got.Version != h.Version || !got.At.Equal(h.At) || got.Found != h.Found || !got.Cursor.Equal(h.Cursor) || got.PeriodSeconds != 60 {
			t.Fatalf("tick %d: got %+v, %v, %v; want %+v", i, got, found, err, h)
		}
	}
	app := w.open(t, "app")
	if _, _, err := app.Heartbeat(ctx, "watcher"); err == nil {
		t.Error("an app's identity read the heartbeat")
	}
	if err := app.PutHeartbeat(ctx, "watcher", Heartbeat{Version: "forged"}); err == nil {
		t.Error("an app's identity wrote the heartbeat")
	}
	if err := s.PutHeartbeat(ctx, "../lease", Heartbeat{}); err == nil {
		t.Error("a heartbeat name that is a path: got nil")
	}
}
