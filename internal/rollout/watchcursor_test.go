package rollout

import (
	"context"
	"testing"
	"time"
)

// TestWatchJudgesFromTheCursor: a watch given where the last judged window ended judges the
// arrivals from there (a late or missed run judges the gap), at least its Window and at most
// its MaxWindow; the stretch beyond MaxWindow is named in the record, never passed over.
func TestWatchJudgesFromTheCursor(t *testing.T) {
	const window, maxWindow = time.Minute, 10 * time.Minute
	for _, tt := range []struct {
		name     string
		back     time.Duration // how far before the watch's end the cursor stands; 0 for none
		wantSpan time.Duration
		unjudged time.Duration
	}{
		{"no cursor", 0, window, 0},
		{"cursor within the window", 30 * time.Second, window, 0},
		{"three missed runs", 4 * time.Minute, 4 * time.Minute, 0},
		{"a gap beyond the cap", 25 * time.Minute, maxWindow, 15 * time.Minute},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newScene(t)
			p := testPlan()
			if _, err := s.run(context.Background(), p, Options{Until: 10}); err != nil {
				t.Fatal(err)
			}
			s.clock.advance(context.Background(), 30*time.Minute)
			w := WatchOptions{For: 10 * time.Second, Window: window, MaxWindow: maxWindow}
			end := s.clock.Now().Add(w.For - settle(p)).Truncate(time.Second)
			if tt.back > 0 {
				w.From = end.Add(-tt.back)
			}
			rec, err := s.controller().Watch(context.Background(), p, w)
			if err != nil || rec.Outcome != OutcomeWatched {
				t.Fatalf("got %v, %s; want watched", err, rec.Outcome)
			}
			from, to, ok := rec.Judged()
			if !ok || !to.Equal(end) || to.Sub(from) != tt.wantSpan {
				t.Errorf("judged [%s, %s) %v; want %s ending at %s", from, to, ok, tt.wantSpan, end)
			}
			switch {
			case tt.unjudged == 0 && rec.Unjudged != nil:
				t.Errorf("unjudged %v, want none", rec.Unjudged)
			case tt.unjudged > 0 && (rec.Unjudged == nil || rec.Unjudged.To.Sub(rec.Unjudged.From) != tt.unjudged || !rec.Unjudged.To.Equal(from)):
				t.Errorf("unjudged %v, want %s ending where the judged window starts", rec.Unjudged, tt.unjudged)
			}
		})
	}

	t.Run("a window the query could not read is not judged", func(t *testing.T) {
		s := newScene(t)
		p := testPlan()
		if _, err := s.run(context.Background(), p, Options{Until: 10}); err != nil {
			t.Fatal(err)
		}
		s.logs.errorsToGive = 1
		rec, _ := s.controller().Watch(context.Background(), p, WatchOptions{For: 10 * time.Second, Window: window})
		if _, _, ok := rec.Judged(); ok {
			t.Error("Judged says a window the query failed on was judged")
		}
	})
}
