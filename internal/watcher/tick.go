package watcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/slotless/slotless/internal/history"
	"github.com/slotless/slotless/internal/rollout"
)

// LeaseFor is how long a tick's lease lasts unrenewed: Azure's longest finite blob lease. A
// tick takes well under a minute; a watcher that dies mid-tick leaves the lease to expire.
const LeaseFor = 60 * time.Second

// MaxWindow is the longest stretch of telemetry one tick judges: after the watcher was down
// (or refused the lease) for longer, a tick judges the last MaxWindow and names the rest in its
// record (rollout.Record.Unjudged) and its history entry.
const MaxWindow = 30 * time.Minute

// MaxWatchFor bounds how long one tick watches the canary with the health gate and the
// probes; a shorter schedule watches for half its period, so a tick ends before the next.
const MaxWatchFor = 20 * time.Second

// Holder names who holds the lease.
type Holder struct {
	Kind, ID, By string
	Since        time.Time
}

// HeldError is a lease held by another.
type HeldError struct{ Holder Holder }

func (e *HeldError) Error() string {
	return fmt.Sprintf("the lease is held by %s %s (%s) since %s", e.Holder.Kind, e.Holder.ID, e.Holder.By, e.Holder.Since.UTC().Format(time.RFC3339))
}

// Cursor is what a tick leaves the next: where the last judged window ended, and the pool's
// setting it saw (weights, current-slot-name and record: Mark) with the instant from which it
// counts the canary's weight as standing (Stood).
type Cursor struct {
	At    time.Time
	Mark  string
	Stood time.Time
}

// Store is what a tick needs of the stack's history storage: the lease a release holds while it
// judges its own canary, the cursor and the records.
type Store interface {
	// Acquire takes the lease for d; a *HeldError when another holds it.
	Acquire(ctx context.Context, h Holder, d time.Duration) (release func(context.Context) error, err error)
	// Cursor is the cursor as the last tick left it (zero when none yet), and how to move it
	// on, conditionally on nobody having moved it since.
	Cursor(ctx context.Context) (c Cursor, advance func(ctx context.Context, to Cursor) error, err error)
	// Put stores a tick's record as a history entry.
	Put(ctx context.Context, rec rollout.Record, by string) error
	// Judged is where the holder of the lease is known to have judged the arrivals to: the end
	// of the last window its in-flight history entry records (rollout.Record.JudgedTo); zero
	// when it records none.
	Judged(ctx context.Context, h Holder) (time.Time, error)
	// Beat writes the tick's heartbeat, the one a healthy tick leaves too.
	Beat(ctx context.Context, h history.Heartbeat) error
}

// Notifier is told how a tick ended (notify.Notifier's WatcherWatched and Close).
type Notifier interface {
	WatcherWatched(rollout.Record)
	Close() []rollout.Notification
}

// Outcome of one tick, besides the record's own.
type Outcome string

const (
	// OutcomeSkipped: another holds the lease (a release judging its own canary, a shift).
	OutcomeSkipped Outcome = "skipped"
	// OutcomeNoLease: the lease could not be read, so the tick cannot tell whether a release
	// is judging: it does not act (the CI watch is the second line) and fails, so the
	// platform's monitoring shows it.
	OutcomeNoLease Outcome = "no-lease"
	// OutcomeJudged: the tick ran the watch; Record says how it ended.
	OutcomeJudged Outcome = "judged"
)

// Result is how one tick ended.
type Result struct {
	Outcome Outcome
	Held    *Holder
	Record  *rollout.Record
	// JudgedTo is where the cursor moved to, zero when it did not move; Cursor where it stands
	// after the tick, as far as the tick knows (zero when it could not read it).
	JudgedTo time.Time
	Cursor   time.Time
	// Took is the tick's own time, from its start to its end.
	Took time.Duration
}

// Tick is one run of the watcher.
type Tick struct {
	Settings Settings
	Store    Store
	// Controller builds the watch's controller: the live pool through ARM for traffic, the
	// gates and the prober against the API, the metrics gate against Log Analytics.
	Controller func() *rollout.Controller
	Notifier   Notifier
	Clock      rollout.Clock
	// By names the watcher in the lease, the records and the messages.
	By  string
	Out io.Writer
	// Version is the slotless this tick runs, written in its heartbeat.
	Version string
}

// Run is one tick: take the lease (a live release holds it: skip, it judges itself), judge the
// canary standing in the live pool from the cursor to now with the release's own controller,
// roll it back through ARM when it fails, tell the notify targets, move the cursor over what
// was judged, record what needs recording, and give the lease back. The health gate and the
// probes run whatever the metrics query does, so a tick that cannot read Log Analytics still
// rolls back a canary that stopped answering.
// Every tick ends with its heartbeat (heartbeat.go), a healthy one included, so a watcher that
// stopped can be told from one that finds nothing to do; a heartbeat that cannot be written is
// a warning.
func (t Tick) Run(ctx context.Context) (Result, error) {
	start := t.Clock.Now()
	res, err := t.run(ctx)
	if !res.JudgedTo.IsZero() {
		res.Cursor = res.JudgedTo
	}
	res.Took = t.Clock.Now().Sub(start)
	if berr := t.Store.Beat(context.WithoutCancel(ctx), t.beat(res, start)); berr != nil {
		fmt.Fprintf(t.Out, "warning: the heartbeat could not be written (%v); slotless status will call the watcher down\n", berr)
	}
	return res, err
}

func (t Tick) run(ctx context.Context) (Result, error) {
	now := t.Clock.Now()
	release, err := t.Store.Acquire(ctx, Holder{Kind: "watcher", ID: now.UTC().Format("20060102T150405Z"), By: t.By, Since: now}, LeaseFor)
	var held *HeldError
	switch {
	case errors.As(err, &held):
		fmt.Fprintf(t.Out, "skipped: %s holds the lease since %s (%s); it judges the canary itself\n", held.Holder.Kind, held.Holder.Since.UTC().Format(time.RFC3339), held.Holder.By)
		res := Result{Outcome: OutcomeSkipped, Held: &held.Holder}
		if held.Holder.Kind == "release" {
			// A release judges its own exposure while it holds the lease, and records how far
			// at every analysis: the watcher's cursor moves to there, so it never judges that
			// twice, and no further, so what a release that dies leaves unjudged (from its
			// last analysis to its death) is judged once the lease frees.
			to, err := t.Store.Judged(ctx, held.Holder)
			switch {
			case err != nil:
				fmt.Fprintf(t.Out, "warning: how far the release judged cannot be read (%v); the cursor stays where it is\n", err)
			case !to.IsZero():
				if to.After(now) {
					to = now
				}
				// Truncated: the cursor never reaches past an arrival the release judged.
				if to = to.Truncate(time.Second); t.advance(ctx, to) {
					res.JudgedTo = to
				}
			}
		}
		return res, nil
	case err != nil:
		return Result{Outcome: OutcomeNoLease}, fmt.Errorf("the lease cannot be read, so a release may be judging this canary; the watcher does not act on it this time (the scheduled CI watch is the second line): %w", err)
	}
	defer func() {
		if err := release(context.WithoutCancel(ctx)); err != nil {
			fmt.Fprintf(t.Out, "warning: the lease could not be given back (%v); it expires within %s\n", err, LeaseFor)
		}
	}()

	cur, advance, err := t.Store.Cursor(ctx)
	if err != nil {
		// Without the cursor the tick still judges its own window: nobody else judges it.
		fmt.Fprintf(t.Out, "warning: the cursor cannot be read (%v); judging the last %s only\n", err, t.window())
		cur, advance = Cursor{}, nil
	}
	p := t.Settings.Plan
	period := t.window()
	next := cur
	w := rollout.WatchOptions{For: min(period/2, MaxWatchFor), Window: period, From: cur.At, MaxWindow: MaxWindow,
		Stood: func(st rollout.Status) time.Time {
			next.Mark, next.Stood = t.stood(cur, st)
			return next.Stood
		}}
	rec, werr := t.Controller().Watch(ctx, p, w)
	res := Result{Outcome: OutcomeJudged, Record: &rec, Cursor: cur.At}

	if rec.Outcome == rollout.OutcomeNothingToDo {
		// One slot carries all the traffic: nothing is exposed, so nothing is left unjudged.
		if advance != nil {
			next.At = t.Clock.Now().Truncate(time.Second)
			if t.move(ctx, advance, next) {
				res.JudgedTo = next.At
			}
		}
		return res, nil
	}
	if _, to, ok := rec.Judged(); ok && advance != nil {
		// A release that held the lease moved the cursor past its own run: a window ending
		// before it leaves the cursor where it stands (a cursor never goes back), with the
		// pool's setting this tick saw.
		next.At = to
		if to.Before(cur.At) {
			next.At = cur.At
		}
		if t.move(ctx, advance, next) && to.After(cur.At) {
			res.JudgedTo = to
		}
	}
	if t.Notifier != nil {
		t.Notifier.WatcherWatched(rec)
		rec.Notifications = t.Notifier.Close()
	}
	if rec.Outcome != rollout.OutcomeWatched || rec.Unjudged != nil {
		// A healthy tick over a judged window leaves its trace in the cursor; the history keeps
		// the ticks that acted, could not judge, or left a stretch unjudged.
		if err := t.Store.Put(ctx, rec, t.By); err != nil {
			fmt.Fprintf(t.Out, "warning: the run could not be recorded in the history (%v)\n", err)
		}
	}
	return res, werr
}

// window is the least stretch a tick judges: the schedule's period.
func (t Tick) window() time.Duration {
	if p := t.Settings.Period(); p > 0 {
		return p
	}
	return time.Minute
}

// stood is from when a tick counts the canary's weight in st as standing: the pool's setting
// (its weights, current-slot-name and record, which names who set it and when) is the one the
// cursor's tick saw, so it stood since then; or it is new, and the move may have been written
// just before this tick read it, so it counts from now and the plan's initial delay, as a
// release counts a step from its shift's end and that delay. The record's own time cannot
// serve: it is when the mover's run started, before its write reached the pool.
func (t Tick) stood(cur Cursor, st rollout.Status) (mark string, stood time.Time) {
	mark = fmt.Sprintf("%s; current-slot-name %s; %s", st.Weights, st.CurrentSlotName, st.Record)
	if mark == cur.Mark && !cur.Stood.IsZero() {
		return mark, cur.Stood
	}
	return mark, t.Clock.Now().Add(t.Settings.Plan.InitialDelay)
}

// advance moves the cursor to `to` when it stands before it, and reports whether it moved.
func (t Tick) advance(ctx context.Context, to time.Time) bool {
	c, adv, err := t.Store.Cursor(ctx)
	if err != nil || !c.At.Before(to) {
		return false
	}
	c.At = to
	return t.move(ctx, adv, c)
}

func (t Tick) move(ctx context.Context, advance func(context.Context, Cursor) error, to Cursor) bool {
	if err := advance(ctx, to); err != nil {
		fmt.Fprintf(t.Out, "warning: the cursor could not be moved to %s (%v); the next run judges from where it stands\n", to.At.UTC().Format(time.RFC3339), err)
		return false
	}
	return true
}
