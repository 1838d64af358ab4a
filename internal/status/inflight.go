package status

import (
	"fmt"
	"io"
	"time"

	"github.com/slotless/slotless/internal/history"
	"github.com/slotless/slotless/internal/rollout"
)

// InFlight is the release in flight as the stack's history keeps it: running, or paused between
// runs (--until), standing on a step.
type InFlight struct {
	ID      string    `json:"id"`
	By      string    `json:"by"`
	Slot    string    `json:"slot"`
	Version string    `json:"version"`
	Started time.Time `json:"started"`
	// Paused is a release that stopped at --until; PausedSince is when.
	Paused      bool      `json:"paused,omitempty"`
	PausedSince time.Time `json:"pausedSince,omitzero"`
	// Step is the step it stands on (from 1) of Steps, at Weight percent.
	Step   int   `json:"step,omitempty"`
	Steps  []int `json:"steps,omitempty"`
	Weight int   `json:"weight,omitempty"`
	// BakeStarted, Bake and, for a running release, how much of it has passed and is left.
	BakeStarted   time.Time     `json:"bakeStarted,omitzero"`
	Bake          time.Duration `json:"bakeNs,omitempty"`
	BakeElapsed   time.Duration `json:"bakeElapsedNs,omitempty"`
	BakeRemaining time.Duration `json:"bakeRemainingNs,omitempty"`
	// LastAnalysis, Verdict and Detail are the last analysis of the step.
	LastAnalysis time.Time `json:"lastAnalysis,omitzero"`
	Verdict      string    `json:"verdict,omitempty"`
	Detail       string    `json:"detail,omitempty"`
}

// Lease is who holds the stack's lease, if anyone.
type Lease struct {
	Held  bool      `json:"held"`
	Kind  string    `json:"kind,omitempty"`
	ID    string    `json:"id,omitempty"`
	By    string    `json:"by,omitempty"`
	Since time.Time `json:"since,omitzero"`
}

// movesTraffic reports whether an entry's run may have moved traffic since a release: a
// release, shift, promote, rollback, break-glass write, or a watcher run that rolled back; not
// one refused before anything moved, nor a dry run.
func movesTraffic(e history.Entry) bool {
	switch rollout.Outcome(e.Outcome) {
	case rollout.OutcomeRefused, rollout.OutcomeInvalid, rollout.OutcomeDryRun, rollout.OutcomeNothingToDo:
		return false // nothing moved
	}
	switch e.Kind {
	case history.KindWatcher:
		return e.Outcome == string(rollout.OutcomeRolledBack) || e.Outcome == string(rollout.OutcomeRollbackFailed)
	default:
		return true
	}
}

// InFlightOf is the release in flight among entries (newest first): the newest entry that moved
// traffic, when it is a release still in flight; nil when none is, or a later move (a rollback,
// a shift, a watcher's rollback) superseded it.
func InFlightOf(entries []history.Entry, now time.Time) *InFlight {
	for _, e := range entries {
		if !movesTraffic(e) {
			continue
		}
		if e.Kind != history.KindRelease || !e.InFlight {
			return nil
		}
		in := &InFlight{ID: e.ID, By: e.By, Slot: e.Slot, Version: e.Version, Started: e.Started}
		if !e.Finished.IsZero() {
			in.Paused, in.PausedSince = true, e.Finished
		}
		if s := e.Step; s != nil {
			in.Step, in.Steps, in.Weight = s.Step, s.Steps, s.Weight
			in.BakeStarted, in.Bake = s.BakeStarted, s.Bake
			in.LastAnalysis, in.Verdict, in.Detail = s.LastAnalysis, s.Verdict, s.Detail
			if !in.Paused && !s.BakeStarted.IsZero() {
				in.BakeElapsed = max(now.Sub(s.BakeStarted), 0)
				in.BakeRemaining = max(s.Bake-in.BakeElapsed, 0)
			}
		}
		return in
	}
	return nil
}

// printHistory writes the release in flight and the lease, or why they are missing.
func (st Status) printHistory(w io.Writer) {
	if st.HistorySkipped == "" && st.Lease == nil && st.InFlight == nil {
		return // not asked
	}
	if st.HistorySkipped != "" {
		fmt.Fprintf(w, "in flight: not read: %s\n", st.HistorySkipped)
		return
	}
	if in := st.InFlight; in != nil {
		where := ""
		if in.Step > 0 {
			where = fmt.Sprintf(", step %d/%d at %d%%", in.Step, len(in.Steps), in.Weight)
		}
		fmt.Fprintf(w, "in flight: release %s of %s %s by %s, started %s%s\n", in.ID, in.Slot, orDash(in.Version), orDash(in.By), stamp(in.Started), where)
		switch {
		case in.Paused:
			fmt.Fprintf(w, "  paused at %d%% since %s (--until): the next run goes on from there; the watcher watches it meanwhile\n", in.Weight, stamp(in.PausedSince))
		case !in.BakeStarted.IsZero():
			fmt.Fprintf(w, "  bake: %s elapsed of %s, %s remaining\n", in.BakeElapsed.Round(time.Second), in.Bake.Round(time.Second), in.BakeRemaining.Round(time.Second))
		}
		if !in.LastAnalysis.IsZero() {
			detail := ""
			if in.Detail != "" {
				detail = " (" + in.Detail + ")"
			}
			fmt.Fprintf(w, "  last analysis: %s at %s%s\n", in.Verdict, stamp(in.LastAnalysis), detail)
		}
	} else {
		fmt.Fprintln(w, "in flight: no release in flight in the history")
	}
	if l := st.Lease; l != nil {
		if l.Held {
			fmt.Fprintf(w, "lease: held by %s %s (%s) since %s\n", l.Kind, l.ID, orDash(l.By), stamp(l.Since))
		} else {
			fmt.Fprintln(w, "lease: free")
		}
	}
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }
