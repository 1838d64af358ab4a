package rollout

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/stack"
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

// TestWatchCountsTheShareFromWhenTheWeightStood: a watch soon after a pause (the canary moved
// to 10% seconds ago) reads a window of the users' requests mostly served before the move, at
// 0%: counted for the share, a healthy canary looks as if it lost its requests. Told when the
// weight stood (Stood), the watch counts the share and latency from then only; the requests
// before still count for the failure rates.
func TestWatchCountsTheShareFromWhenTheWeightStood(t *testing.T) {
	const window = 5 * time.Minute
	for _, tt := range []struct {
		name string
		// stood is when the watch is told the weight stood, relative to the move; nil: not told.
		stood       *time.Duration
		wantOutcome Outcome
		wantSettled bool // the share was counted over some requests
	}{
		{name: "not told: the window's requests before the move count against the canary", wantOutcome: OutcomeRolledBack},
		{name: "told the move's instant", stood: ptr(time.Duration(0)), wantOutcome: OutcomeWatched, wantSettled: true},
		{name: "told an instant after the window (first seen now)", stood: ptr(time.Hour), wantOutcome: OutcomeWatched},
		{name: "stood for long before the window", stood: ptr(-time.Hour), wantOutcome: OutcomeWatched, wantSettled: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newScene(t)
			p := testPlan()
			// Both slots' rows arrive within seconds here, so a 5-minute window is mostly
			// settled: the case where the share would be judged.
			s.logs.lagMin, s.logs.lagMax = time.Second, 5*time.Second
			p.Lag = 10 * time.Second
			s.metrics = NewGateMetrics(s.metrics.Client, s.metrics.WorkspaceID, apps, p)
			moved := epoch.Add(time.Hour)
			if tt.stood != nil && *tt.stood < 0 {
				moved = epoch.Add(5 * time.Minute)
			}
			s.clock.advance(context.Background(), moved.Sub(epoch))
			s.traffic.mu.Lock()
			s.traffic.apply(stack.Weights{Green: 90, Blue: 10})
			s.traffic.name = "green-backend"
			s.traffic.mu.Unlock()
			s.clock.advance(context.Background(), time.Hour+20*time.Second-moved.Sub(epoch))
			w := WatchOptions{For: 10 * time.Second, Window: window}
			if tt.stood != nil {
				w.Stood = func(st Status) time.Time {
					if st.Weights.Blue != 10 {
						t.Errorf("Stood asked about %s, want the weights found", st.Weights)
					}
					return moved.Add(*tt.stood)
				}
			}
			rec, _ := s.controller().Watch(context.Background(), p, w)
			t.Logf("%s", s.out.String())
			if rec.Outcome != tt.wantOutcome {
				t.Fatalf("outcome %s (%s), want %s", rec.Outcome, rec.Error, tt.wantOutcome)
			}
			if tt.wantOutcome == OutcomeRolledBack && !strings.Contains(rec.Error, "sample-ratio") {
				t.Errorf("rolled back for %q, want the share check", rec.Error)
			}
			m := rec.StepsTaken[0].Analyses[0].Metrics
			if m == nil || m.Canary == nil || m.Canary.Requests == 0 {
				t.Fatalf("the metrics gate judged no canary requests: %+v", m)
			}
			if tt.stood != nil {
				if settled := m.Canary.Settled + m.Stable.Settled; (settled > 0) != tt.wantSettled {
					t.Errorf("share counted over %d settled requests, want some: %v", settled, tt.wantSettled)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// TestRecordJudgedTo: how far a release's record says its metrics gate judged the arrivals: the
// latest end of a window with a verdict, over every step; a window the query could not read,
// or an analysis without the metrics gate, judged nothing.
func TestRecordJudgedTo(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 3, 15, 0, 0, time.UTC)
	a := func(verdict string, end time.Time) Analysis {
		return Analysis{Metrics: &Check{Verdict: verdict, WindowStart: end.Add(-time.Minute), WindowEnd: end}}
	}
	for _, tt := range []struct {
		name  string
		steps []StepRecord
		want  time.Time
	}{
		{name: "no step yet"},
		{name: "a step with no analysis yet", steps: []StepRecord{{To: 10}}},
		{name: "the last pass of the last step", steps: []StepRecord{{To: 10, Analyses: []Analysis{a(VerdictPass, t0.Add(-2*time.Minute))}}, {To: 50, Analyses: []Analysis{a(VerdictPass, t0.Add(-time.Minute)), a(VerdictInconclusive, t0)}}}, want: t0},
		{name: "a window that could not be read", steps: []StepRecord{{To: 10, Analyses: []Analysis{a(VerdictPass, t0.Add(-time.Minute)), a(VerdictError, t0)}}}, want: t0.Add(-time.Minute)},
		{name: "an analysis without the metrics gate", steps: []StepRecord{{To: 10, Analyses: []Analysis{{Verdict: VerdictFail}}}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Record{StepsTaken: tt.steps}).JudgedTo(); !got.Equal(tt.want) {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
