package release

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/stack"
)

// fakeLive is the pool as APIM holds it. afterUp, when set, is what the pool reads once an
// update has run (what a Pulumi update did to it); writes record the break-glass writes.
type fakeLive struct {
	live    pool.Live
	readErr error
	writes  []stack.Weights
	notes   []string
}

func (f *fakeLive) Read(context.Context) (pool.Live, error) { return f.live, f.readErr }

func (f *fakeLive) Write(_ context.Context, w stack.Weights, current, note string, _ io.Writer) (pool.Live, error) {
	f.writes = append(f.writes, w)
	f.notes = append(f.notes, note)
	f.live = pool.Live{Weights: w, CurrentSlotName: current, Description: note}
	return f.live, nil
}

// upSetsLive makes the fake stack's updates write the live pool too, as a Pulumi update does.
type upSetsLive struct {
	*fakeStack
	live *fakeLive
	to   stack.Weights
}

func (u upSetsLive) Up(ctx context.Context, out io.Writer, targets []string) (engine.Changes, error) {
	ch, err := u.fakeStack.Up(ctx, out, targets)
	if err == nil {
		u.live.live.Weights = u.to
	}
	return ch, err
}

func TestRollbackSlot(t *testing.T) {
	busy := errors.New("[409] Conflict: Another update is currently in progress.")
	old := IsConcurrentUpdate
	IsConcurrentUpdate = func(err error) bool { return errors.Is(err, busy) }
	t.Cleanup(func() { IsConcurrentUpdate = old })
	always := []error{busy, busy, busy, busy}
	req := ShiftRequest{Slot: stack.Blue, Attempts: 3, Interval: time.Millisecond}

	tests := []struct {
		name string
		// deployed is Pulumi state, live the pool in APIM.
		deployed, live int
		upErrs         []error
		openErr        error
		noLive         bool
		// upNoEffect: the update leaves the live pool as it was.
		upNoEffect bool
		calls      []string
		breakGlass bool
		fails      bool
	}{
		{name: "through Pulumi", deployed: 10, live: 10,
			calls: []string{"deployed", "deployed", "set blueWeight=0", "preview", "up"}},
		// State says 0, someone set 10 in the portal: refreshed first, and written, never
		// "nothing to do".
		{name: "portal edit with state at 0", deployed: 0, live: 10,
			calls: []string{"deployed", "refresh", "deployed", "set blueWeight=0", "preview", "up"}},
		{name: "already 0 everywhere is still written", deployed: 0, live: 0,
			calls: []string{"deployed", "deployed", "set blueWeight=0", "preview", "up"}},
		{name: "locked beyond the retries", deployed: 10, live: 10, upErrs: always, breakGlass: true,
			calls: []string{"deployed", "deployed", "set blueWeight=0", "preview", "up", "up", "up"}},
		{name: "backend unreachable", deployed: 10, live: 10, openErr: errors.New("dial tcp: connection refused"), breakGlass: true},
		{name: "the update leaves traffic on the slot", deployed: 10, live: 10, upNoEffect: true, breakGlass: true,
			calls: []string{"deployed", "deployed", "set blueWeight=0", "preview", "up"}},
		{name: "no ARM and locked", deployed: 10, live: 10, upErrs: always, noLive: true, fails: true,
			calls: []string{"deployed", "refresh", "deployed", "set blueWeight=0", "preview", "up", "up", "up"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := &fakeStack{deployed: deployedAt(tt.deployed, stack.Green), config: map[string]string{"blueWeight": "10"}, upErrs: tt.upErrs}
			live := &fakeLive{live: pool.Live{Weights: w(tt.live), CurrentSlotName: "green-backend"}}
			var st Stack = upSetsLive{fs, live, w(0)}
			if tt.upNoEffect {
				st = fs
			}
			var lp LivePool = live
			if tt.noLive {
				lp = nil
			}
			file := &fakeStack{config: map[string]string{"blueWeight": "10"}}
			open := func(context.Context) (Stack, error) { return st, tt.openErr }
			var out bytes.Buffer
			res, err := RollbackSlot(context.Background(), open, lp, file, req, &out)
			if tt.fails {
				if err == nil {
					t.Fatalf("got no error, want the rollback to fail without a break-glass path\n%s", out.String())
				}
			} else if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			if !slices.Equal(fs.calls, tt.calls) {
				t.Errorf("calls: got %v, want %v", fs.calls, tt.calls)
			}
			if res.BreakGlass != tt.breakGlass {
				t.Fatalf("break-glass: got %v, want %v\n%s", res.BreakGlass, tt.breakGlass, out.String())
			}
			if tt.breakGlass {
				rec, ok := stack.ParsePoolRecord(live.notes[0])
				if len(live.writes) != 1 || live.writes[0] != w(0) || !ok || rec.By != pool.BreakGlassBy || !slices.Contains(rec.Superseded, tt.live) {
					t.Errorf("ARM writes: got %v %q, want one of blue 0 recorded as break-glass, superseding blue %d", live.writes, live.notes, tt.live)
				}
				if file.config["blueWeight"] != "0" {
					t.Errorf("stack file: got blueWeight %s, want 0 recorded", file.config["blueWeight"])
				}
			} else if len(live.writes) != 0 {
				t.Errorf("ARM writes: got %v, want none when Pulumi went through", live.writes)
			}
		})
	}
}
