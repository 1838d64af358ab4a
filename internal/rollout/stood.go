package rollout

import (
	"fmt"
	"slices"
	"time"

	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/stack"
)

// OutsideWriteMargin is how long after the time a pool's record gives a write made through ARM
// alone (a break-glass rollback, the watcher's) that write is taken to have reached the pool:
// the record is stamped just before its one conditional PATCH, and a minute covers that
// request with azcore's retries.
const OutsideWriteMargin = time.Minute

// outsidePulumi are the movers whose record marks a write of the pool through ARM alone, which
// no Pulumi update's end bounds.
var outsidePulumi = []string{pool.BreakGlassBy, stack.WatcherBy}

// Written is what a watch that keeps no cursor of its own (the CI watch, `slotless watch`) knows
// of when the weights it finds were written, besides the pool's record in Status.Record.
type Written struct {
	// State is where Pulumi state has the weights; StateKnown is false when it was not read.
	State      stack.Weights
	StateKnown bool
	// LastUpdate is when the stack's newest Pulumi update ended (the newest entry of its update
	// history): every traffic write made through Pulumi happened before it. Zero when unknown:
	// the history could not be read, or an update is still running.
	LastUpdate time.Time
}

// StoodSince is from when a watch with no cursor counts the canary's weight in st as standing
// (WatchOptions.Stood), and why, for its progress. It is the plan's initial delay after:
//   - the pool's record's time and OutsideWriteMargin, when the record says the live weights
//     were written through ARM alone (a break-glass rollback, the watcher) and they differ
//     from Pulumi state, whose updates therefore did not write them;
//   - now, when the live weights differ from state and the record does not say who wrote them
//     through ARM (the portal): nothing bounds when they stood, so the share and latency count
//     from this watch on, and the next run judges them;
//   - else the end of the stack's last Pulumi update, which wrote them (or the record's time
//     and margin when that is later); now when that end is unknown.
//
// Only the share and latency checks count from then; the failure rates count the whole window.
// An instant too late only leaves fewer requests to the share check; one too early blames the
// canary for requests served before it had its weight, so every unknown counts from now.
func StoodSince(st Status, w Written, now time.Time, p Plan) (time.Time, string) {
	rec, ok := stack.ParsePoolRecord(st.Record)
	outside := ok && rec.Weights == st.Weights && slices.Contains(outsidePulumi, rec.By) && !rec.At.IsZero()
	wrote := rec.At.Add(OutsideWriteMargin)
	byARM := fmt.Sprintf("the pool's record: %s wrote %s through ARM at %s (and %s for the write)", rec.By, st.Weights, rec.At.UTC().Format(time.RFC3339), OutsideWriteMargin)
	var at time.Time
	var why string
	switch disagrees := w.StateKnown && w.State != st.Weights; {
	case disagrees && outside:
		at, why = wrote, byARM
	case disagrees:
		at, why = now, fmt.Sprintf("the live pool has %s and Pulumi state %s, and the pool's record does not say when it changed: counted from this watch", st.Weights, w.State)
	case !w.LastUpdate.IsZero():
		at, why = w.LastUpdate, "the stack's last Pulumi update ended "+w.LastUpdate.UTC().Format(time.RFC3339)
		if outside && wrote.After(at) {
			at, why = wrote, byARM
		}
	case outside:
		at, why = wrote, byARM
	default:
		at, why = now, "when the stack's last Pulumi update ended is unknown: counted from this watch"
	}
	return at.Add(p.InitialDelay), why
}
