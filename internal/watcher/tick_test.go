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
	puts    []rollout.Record
	beats   []history.Heartbeat
	leased  bool
}

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

func (s *store) Cursor(context.Context) (time.Time, func(context.Context, time.Time) error, error) {
	return s.cursor, func(_ context.Context, to time.Time) error { s.cursor = to; return nil }, nil
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
		{name: "a release holds the lease", held: &Holder{Kind: "release", By: "slotless release", Since: t0.Add(-time.Minute)}, live: canary, outcome: OutcomeSkipped, cursor: true, found: "release holds the lease"},
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
