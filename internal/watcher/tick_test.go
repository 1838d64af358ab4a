package watcher

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/history"
	"github.com/slotless/slotless/internal/ncrontab"
	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// clock is a fake clock whose Sleep moves time at once.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// store is an in-memory Store.
type store struct {
	held    *Holder
	readErr error
	cursor  time.Time
	// mark and stood are what the last tick saw of the pool, as the cursor keeps them.
	mark   string
	stood  time.Time
	puts   []rollout.Record
	beats  []history.Heartbeat
	leased bool
	// judged is how far the lease's holder records having judged, judgedErr why it cannot be
	// read.
	judged    time.Time
	judgedErr error
}

func (s *store) Judged(context.Context, Holder) (time.Time, error) { return s.judged, s.judgedErr }

func (s *store) Acquire(_ context.Context, h Holder, _ time.Duration) (func(context.Context) error, error) {
	switch {
	case s.readErr != nil:
		return nil, s.readErr
	case s.held != nil:
		return nil, &HeldError{Holder: *s.held}
	}
	s.leased = true
	return func(context.Context) error { s.leased = false; return nil }, nil
}

func (s *store) Cursor(context.Context) (Cursor, func(context.Context, Cursor) error, error) {
	return Cursor{At: s.cursor, Mark: s.mark, Stood: s.stood}, func(_ context.Context, to Cursor) error {
		s.cursor, s.mark, s.stood = to.At, to.Mark, to.Stood
		return nil
	}, nil
}

func (s *store) Put(_ context.Context, rec rollout.Record, _ string) error {
	s.puts = append(s.puts, rec)
	return nil
}

func (s *store) Beat(_ context.Context, h history.Heartbeat) error {
	s.beats = append(s.beats, h)
	return nil
}

// livePool is the pool as a fake ARM holds it.
type livePool struct {
	live   pool.Live
	writes int
}

func (l *livePool) Read(context.Context) (pool.Live, error) { return l.live, nil }
func (l *livePool) Write(_ context.Context, w stack.Weights, current, note string, _ io.Writer) (pool.Live, error) {
	l.writes++
	l.live = pool.Live{Weights: w, CurrentSlotName: current, Description: note}
	return l.live, nil
}

// health answers for the canary (blue) as told, and healthy for green.
type health struct{ canaryDown bool }

func (h health) answer(slot stack.Slot) (gate.HealthResult, error) {
	if slot == stack.Blue && h.canaryDown {
		return gate.HealthResult{}, &gate.GateError{Reason: gate.ReasonUnhealthy, Detail: "503", HTTPStatus: 503, From: "blue"}
	}
	return gate.HealthResult{Slot: string(slot), Version: "1.0.0"}, nil
}
func (h health) Ready(_ context.Context, s stack.Slot) (gate.HealthResult, error) { return h.answer(s) }
func (h health) Check(_ context.Context, s stack.Slot) (gate.HealthResult, error) { return h.answer(s) }
func (h health) Control(_ context.Context, s stack.Slot) (gate.HealthResult, error) {
	return h.answer(s)
}

// metrics gives both slots clean figures, or fails the query (Log Analytics down).
type metrics struct{ down bool }

func (m metrics) Figures(context.Context, stack.Slot, stack.Slot, rollout.Window) (gate.SlotFigures, gate.SlotFigures, error) {
	if m.down {
		return gate.SlotFigures{}, gate.SlotFigures{}, errors.New("log analytics: 503")
	}
	f := gate.SlotFigures{Requests: 1000, Rows: 1000, Current: 1000, P95Ms: 50}
	return f, f, nil
}

type told struct{ recs []rollout.Record }

func (t *told) WatcherWatched(rec rollout.Record) { t.recs = append(t.recs, rec) }
func (t *told) Close() []rollout.Notification     { return nil }

func settings(t *testing.T) Settings {
	cfg, err := stack.Parse(func(k string) (string, bool) {
		v, ok := map[string]string{"azure-native:location": "westeurope", "publisherEmail": "ops@example.com", "pinToken": "0123456789abcdef"}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := rollout.NewPlan(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sched, _ := ncrontab.Parse("*/10 * * * * *")
	return Settings{Stack: "dev", Config: cfg, Plan: p, Schedule: sched}
}

// TestTick: one tick for each state the watcher meets: the lease a release holds, a lease that
// cannot be read, nothing to watch, a healthy canary, a dead canary, and a dead canary while
// Log Analytics is down (the watch must not go blind).
func TestTick(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 3, 15, 0, 0, time.UTC)
	canary := pool.Live{Weights: stack.Weights{Green: 90, Blue: 10}, CurrentSlotName: "green-backend"}
	idle := pool.Live{Weights: stack.Weights{Green: 100}, CurrentSlotName: "green-backend"}
	for _, tt := range []struct {
		name       string
		held       *Holder
		readErr    error
		live       pool.Live
		h          health
		m          metrics
		outcome    Outcome
		rec        rollout.Outcome
		err        bool
		rolledBack bool
		cursor     bool // the cursor moved
		recorded   bool
		told       bool
		found      string // what its heartbeat says it found
	}{
		{name: "a release holds the lease, no analysis recorded yet", held: &Holder{Kind: "release", By: "slotless release", Since: t0.Add(-time.Minute)}, live: canary, outcome: OutcomeSkipped, found: "release holds the lease"},
		{name: "a previous tick holds the lease", held: &Holder{Kind: "watcher", By: "slotless watcher", Since: t0.Add(-5 * time.Second)}, live: canary, outcome: OutcomeSkipped, found: "watcher holds the lease"},
		{name: "the lease cannot be read", readErr: errors.New("storage: 503"), live: canary, outcome: OutcomeNoLease, err: true, found: "could not be read"},
		{name: "nothing to watch", live: idle, outcome: OutcomeJudged, rec: rollout.OutcomeNothingToDo, cursor: true, found: "nothing to watch"},
		{name: "a healthy canary", live: canary, outcome: OutcomeJudged, rec: rollout.OutcomeWatched, cursor: true, told: true, found: "blue: watched"},
		{name: "a dead canary", live: canary, h: health{canaryDown: true}, outcome: OutcomeJudged, rec: rollout.OutcomeRolledBack, err: true, rolledBack: true, recorded: true, told: true},
		{name: "Log Analytics down, canary healthy", live: canary, m: metrics{down: true}, outcome: OutcomeJudged, rec: rollout.OutcomeFailed, err: true, recorded: true, told: true},
		{name: "Log Analytics down, canary dead", live: canary, h: health{canaryDown: true}, m: metrics{down: true}, outcome: OutcomeJudged, rec: rollout.OutcomeRolledBack, err: true, rolledBack: true, recorded: true, told: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{now: t0}
			st := &store{held: tt.held, readErr: tt.readErr, cursor: t0.Add(-time.Minute)}
			lp := &livePool{live: tt.live}
			n := &told{}
			var out strings.Builder
			tick := Tick{Settings: settings(t), Store: st, Clock: c, By: "slotless watcher", Out: &out, Notifier: n, Version: "v1.2.3",
				Controller: func() *rollout.Controller {
					return rollout.New(c, ARMTraffic{Live: lp, Out: &out}, tt.h, tt.m, nil, &out)
				}}
			res, err := tick.Run(context.Background())
			t.Logf("%s", out.String())
			if res.Outcome != tt.outcome || (err != nil) != tt.err {
				t.Fatalf("got %s, %v; want %s, error %v", res.Outcome, err, tt.outcome, tt.err)
			}
			if tt.rec != "" && (res.Record == nil || res.Record.Outcome != tt.rec) {
				t.Fatalf("record %+v, want outcome %s", res.Record, tt.rec)
			}
			rolled := lp.live.Weights.Blue == 0 && tt.live.Weights.Blue > 0
			if rolled != tt.rolledBack {
				t.Errorf("pool %s, rolled back %v, want %v", lp.live.Weights, rolled, tt.rolledBack)
			}
			if rolled {
				rec, ok := lp.live.Record()
				if !ok || rec.By != stack.WatcherBy || lp.live.CurrentSlotName != "green-backend" {
					t.Errorf("pool record %q, current-slot-name %s; want it to name %q and green-backend", lp.live.Description, lp.live.CurrentSlotName, stack.WatcherBy)
				}
			}
			if moved := !st.cursor.Equal(t0.Add(-time.Minute)); moved != tt.cursor {
				t.Errorf("cursor at %s: moved %v, want %v", st.cursor, moved, tt.cursor)
			}
			if (len(st.puts) > 0) != tt.recorded || (len(n.recs) > 0) != tt.told {
				t.Errorf("%d records, %d told; want recorded %v, told %v", len(st.puts), len(n.recs), tt.recorded, tt.told)
			}
			if st.leased {
				t.Error("the tick did not give the lease back")
			}
			// Every tick leaves its heartbeat, a healthy or skipped one too.
			if len(st.beats) != 1 {
				t.Fatalf("%d heartbeats, want 1", len(st.beats))
			}
			b := st.beats[0]
			if b.Version != "v1.2.3" || !b.At.Equal(t0) || b.Outcome != string(tt.outcome) || b.PeriodSeconds != 10 || (tt.found != "" && !strings.Contains(b.Found, tt.found)) {
				t.Errorf("heartbeat %+v; want version v1.2.3 at %s, outcome %s, period 10 s, found %q", b, t0, tt.outcome, tt.found)
			}
			if tt.cursor && !b.Cursor.Equal(st.cursor) {
				t.Errorf("heartbeat cursor %s, want where the cursor stands, %s", b.Cursor, st.cursor)
			}
		})
	}
}

// users are the users' requests as the metrics gate counts them over a window: 100 a second,
// the canary's share 0 before moved and 10% from then on, none failing.
type users struct {
	moved   time.Time
	windows []rollout.Window
}

func (u *users) Figures(_ context.Context, _, _ stack.Slot, w rollout.Window) (gate.SlotFigures, gate.SlotFigures, error) {
	u.windows = append(u.windows, w)
	var c, s gate.SlotFigures
	for at := w.ServedFrom; at.Before(w.ArrivedTo); at = at.Add(time.Second) {
		n := int64(0)
		if !at.Before(u.moved) {
			n = 10
		}
		c.Requests, c.Rows, s.Requests, s.Rows = c.Requests+n, c.Rows+n, s.Requests+100-n, s.Rows+100-n
		if !at.Before(w.Current) {
			c.Settled, c.SettledRows, c.Current = c.Settled+n, c.SettledRows+n, c.Current+n
			s.Settled, s.SettledRows, s.Current = s.Settled+100-n, s.SettledRows+100-n, s.Current+100-n
		}
	}
	c.P95Ms, s.P95Ms = 50, 50
	return c, s, nil
}

// TestTickCountsTheShareFromWhenTheWeightStood: a tick seconds after a release paused at 10%
// reads a window served mostly at 0%. It counts the canary's share only from when it first saw
// the pool's setting (and the initial delay), so a healthy canary is not rolled back as one
// that lost its requests; the next tick, finding the same setting, counts from that first
// sighting; a new setting (a shift, even to the same weights) counts afresh.
func TestTickCountsTheShareFromWhenTheWeightStood(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 3, 15, 0, 0, time.UTC)
	record := func(by string, at time.Time) string {
		return stack.PoolRecord{Weights: stack.Weights{Green: 90, Blue: 10}, By: by, At: at}.String()
	}
	c := &clock{now: t0}
	st := &store{}
	lp := &livePool{live: pool.Live{Weights: stack.Weights{Green: 90, Blue: 10}, CurrentSlotName: "green-backend", Description: record("slotless release", t0.Add(-time.Minute))}}
	u := &users{moved: t0.Add(-2 * time.Second)}
	var out strings.Builder
	s := settings(t)
	tick := Tick{Settings: s, Store: st, Clock: c, By: "slotless watcher", Out: &out,
		Controller: func() *rollout.Controller {
			return rollout.New(c, ARMTraffic{Live: lp, Out: &out}, health{}, u, nil, &out)
		}}
	delay := s.Plan.InitialDelay
	var first time.Time
	for _, step := range []struct {
		name string
		// reshift writes a new record with the same weights before the tick; fresh says the
		// tick counts from its own start, else from the first tick's.
		reshift, fresh bool
	}{
		{name: "first sight, seconds after the pause", fresh: true},
		{name: "the same setting, a period later"},
		{name: "a new setting with the same weights", reshift: true, fresh: true},
	} {
		if step.fresh {
			first = c.Now().Add(delay)
		}
		want := first
		if step.reshift {
			lp.live.Description = record("slotless shift", c.Now().Add(-time.Second))
			u.moved = c.Now().Add(-time.Second)
		}
		res, err := tick.Run(context.Background())
		t.Logf("%s:\n%s", step.name, out.String())
		out.Reset()
		if err != nil || res.Record == nil || res.Record.Outcome != rollout.OutcomeWatched {
			t.Fatalf("%s: %v, %+v; want the healthy canary watched and left alone", step.name, err, res.Record)
		}
		w := u.windows[len(u.windows)-1]
		if !w.Current.Equal(want.Truncate(time.Second)) {
			t.Errorf("%s: the share counted from %s, want %s", step.name, w.Current.Format(time.TimeOnly), want.Format(time.TimeOnly))
		}
		if !st.stood.Equal(want) || !strings.Contains(st.mark, lp.live.Description) {
			t.Errorf("%s: the cursor keeps %q since %s, want the pool's setting since %s", step.name, st.mark, st.stood, want)
		}
		c.now = c.now.Add(10 * time.Second)
	}
	if lp.writes != 0 {
		t.Errorf("the pool was written %d times, want none", lp.writes)
	}
}

// TestTickBehindTheCursor: a release that held the lease moved the cursor past its run, so the
// next tick's window ends before it: the cursor stays (it never goes back), keeps the pool's
// setting the tick saw, and nothing warns.
func TestTickBehindTheCursor(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 3, 15, 0, 0, time.UTC)
	c := &clock{now: t0}
	ahead := t0.Add(time.Minute)
	st := &store{cursor: ahead}
	lp := &livePool{live: pool.Live{Weights: stack.Weights{Green: 90, Blue: 10}, CurrentSlotName: "green-backend"}}
	var out strings.Builder
	tick := Tick{Settings: settings(t), Store: st, Clock: c, By: "slotless watcher", Out: &out,
		Controller: func() *rollout.Controller {
			return rollout.New(c, ARMTraffic{Live: lp, Out: &out}, health{}, metrics{}, nil, &out)
		}}
	res, err := tick.Run(context.Background())
	if err != nil || res.Record == nil || res.Record.Outcome != rollout.OutcomeWatched {
		t.Fatalf("got %v, %+v; want watched", err, res.Record)
	}
	if !st.cursor.Equal(ahead) || !res.JudgedTo.IsZero() || st.mark == "" {
		t.Errorf("cursor %s (judged to %s), mark %q; want it kept at %s with the pool's setting", st.cursor, res.JudgedTo, st.mark, ahead)
	}
	if strings.Contains(out.String(), "cursor") {
		t.Errorf("a tick behind the cursor warns about it:\n%s", out.String())
	}
}

// TestTickSkipsOnlyWhatTheReleaseJudged: a tick that finds a release holding the lease moves
// the cursor to where the release's in-flight entry says its analyses judged the arrivals to,
// never past it (nor back, nor past now): a release that dies after its last analysis leaves
// the stretch since for the watcher, which judges from there once the lease frees.
func TestTickSkipsOnlyWhatTheReleaseJudged(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 3, 15, 0, 0, time.UTC)
	cursor := t0.Add(-2 * time.Minute)
	for _, tt := range []struct {
		name      string
		judged    time.Time
		judgedErr error
		want      time.Time // the cursor after the skip
	}{
		{name: "the release judged to 20 s ago", judged: t0.Add(-20 * time.Second), want: t0.Add(-20 * time.Second)},
		{name: "to a fraction of a second", judged: t0.Add(-20*time.Second + 700*time.Millisecond), want: t0.Add(-20 * time.Second)},
		{name: "no analysis recorded yet", want: cursor},
		{name: "judged only to before the cursor", judged: cursor.Add(-time.Minute), want: cursor},
		{name: "its entry cannot be read", judged: t0, judgedErr: errors.New("storage: 503"), want: cursor},
		{name: "a record ahead of the tick's clock", judged: t0.Add(time.Minute), want: t0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{now: t0}
			st := &store{held: &Holder{Kind: "release", ID: "20261207T031000Z-release-0123abcd", By: "slotless release", Since: t0.Add(-5 * time.Minute)},
				cursor: cursor, judged: tt.judged, judgedErr: tt.judgedErr}
			lp := &livePool{live: pool.Live{Weights: stack.Weights{Green: 90, Blue: 10}, CurrentSlotName: "green-backend"}}
			u := &users{moved: t0.Add(-time.Hour)}
			var out strings.Builder
			tick := Tick{Settings: settings(t), Store: st, Clock: c, By: "slotless watcher", Out: &out,
				Controller: func() *rollout.Controller {
					return rollout.New(c, ARMTraffic{Live: lp, Out: &out}, health{}, u, nil, &out)
				}}
			res, err := tick.Run(context.Background())
			if err != nil || res.Outcome != OutcomeSkipped {
				t.Fatalf("got %s, %v; want skipped", res.Outcome, err)
			}
			if !st.cursor.Equal(tt.want) {
				t.Fatalf("cursor at %s after the skip, want %s", st.cursor.Format(time.TimeOnly), tt.want.Format(time.TimeOnly))
			}
			if tt.judgedErr != nil && !strings.Contains(out.String(), "503") {
				t.Errorf("an unreadable entry is not said:\n%s", out.String())
			}

			// The release dies; once its lease frees, the next tick judges from the cursor.
			st.held = nil
			c.now = t0.Add(10 * time.Second)
			res, err = tick.Run(context.Background())
			if err != nil || res.Record == nil || res.Record.Outcome != rollout.OutcomeWatched || len(u.windows) != 1 {
				t.Fatalf("the tick after the release died: %v, %+v; want the canary watched", err, res.Record)
			}
			// From the cursor, or earlier when that is less than the schedule's period ago.
			w := u.windows[0]
			want := tt.want
			if least := w.ArrivedTo.Add(-tick.window()); least.Before(want) {
				want = least
			}
			if !w.ArrivedFrom.Equal(want) {
				t.Errorf("the tick after the release died judged arrivals from %s, want from %s (the cursor at %s)", w.ArrivedFrom.Format(time.TimeOnly), want.Format(time.TimeOnly), tt.want.Format(time.TimeOnly))
			}
		})
	}
}
