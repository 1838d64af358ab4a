package watcher

import (
	"fmt"
	"strings"
	"time"

	"github.com/slotless/slotless/internal/history"
	"github.com/slotless/slotless/internal/rollout"
)

// HeartbeatName is the watcher's heartbeat in the stack's history container; DeployedName the
// note `slotless release` leaves when it deployed the watcher, so the next release does not
// deploy it again before its first tick was due.
const (
	HeartbeatName = "watcher"
	DeployedName  = "watcher-deployed"
)

// StalePeriods is how many of its periods may pass since the watcher's last tick before it
// counts as down: one late occurrence (the timer's catch-up run after a restart, a slow tick,
// a cold start) is not an outage, three missed in a row are.
const StalePeriods = 3

// beat is the heartbeat a tick leaves (history.Heartbeat), whatever it found.
func (t Tick) beat(res Result, start time.Time) history.Heartbeat {
	h := history.Heartbeat{Version: t.Version, At: start.UTC(), TookMs: res.Took.Milliseconds(),
		PeriodSeconds: int(t.window() / time.Second), Outcome: string(res.Outcome), Cursor: res.Cursor.UTC()}
	switch {
	case res.Held != nil:
		h.Found = strings.TrimSpace(res.Held.Kind+" "+res.Held.ID) + " holds the lease: it judges the canary itself"
	case res.Outcome == OutcomeNoLease:
		h.Found = "the lease could not be read: it did not act"
	case res.Record != nil && res.Record.Outcome == rollout.OutcomeNothingToDo:
		h.Found = "nothing to watch: one slot carries all the traffic"
	case res.Record != nil:
		h.Found = fmt.Sprintf("%s: %s", res.Record.Slot, res.Record.Outcome)
	}
	return h
}

// Liveness is what the watcher's heartbeat says of it, for `slotless status` and the check at
// the start of `slotless release`.
type Liveness struct {
	// Found is false when the watcher never left a heartbeat (never deployed, or never ran).
	Found bool
	// Stale is true when the last tick is more than StalePeriods periods old.
	Stale bool
	// OtherVersion is true when the last tick ran another slotless than Want.
	OtherVersion bool
	Want         string
	Last         history.Heartbeat
	// Ago is how long ago the last tick began; Missed how many whole periods have passed since.
	Ago    time.Duration
	Missed int
}

// Live reads a heartbeat (found false: none) at now against the version the caller runs.
func Live(h history.Heartbeat, found bool, now time.Time, want string) Liveness {
	l := Liveness{Found: found, Want: want, Last: h}
	if !found {
		return l
	}
	l.Ago = now.Sub(h.At)
	period := time.Duration(h.PeriodSeconds) * time.Second
	if period <= 0 {
		period = time.Minute
	}
	l.Missed = int(l.Ago / period)
	l.Stale = l.Ago > StalePeriods*period
	l.OtherVersion = want != "" && h.Version != want
	return l
}

// NeedsDeploy says whether a release should deploy the watcher before its first shift: it never
// ran, stopped running, or runs another version than the release.
func (l Liveness) NeedsDeploy() bool { return !l.Found || l.Stale || l.OtherVersion }

// String is the line `slotless status` prints.
func (l Liveness) String() string {
	if !l.Found {
		return "watcher: no heartbeat: it has never run (deploy it with slotless watcher deploy, or let the next slotless release do it)"
	}
	ago := l.Ago.Round(time.Second)
	s := fmt.Sprintf("watcher: last ran %s ago (%s), version %s", ago, l.Last.At.UTC().Format(time.RFC3339), l.Last.Version)
	if l.Last.Found != "" {
		s += "; found " + l.Last.Found
	}
	if l.Stale {
		s += fmt.Sprintf("; it has not run for %d periods of %ds: it is down, and nothing watches a paused canary but the CI watch", l.Missed, l.Last.PeriodSeconds)
	}
	if l.OtherVersion {
		s += fmt.Sprintf("; this slotless is %s: the next slotless release deploys it", l.Want)
	}
	return s
}

// DecideDeploy is the check at the start of `slotless release`: from the watcher's heartbeat
// (found false: none) and the note of the last deploy a release made (deployed false: none),
// whether to deploy want to the watcher before the first shift, and the line that says why.
// It deploys when the watcher never ran, stopped (StalePeriods) or runs another version,
// unless want was deployed within the last periods and no tick of another version came since:
// its first tick is simply not due yet.
func DecideDeploy(h history.Heartbeat, found bool, dep history.Heartbeat, deployed bool, now time.Time, want string) (bool, string) {
	live, last := Live(h, found, now, want), Live(dep, deployed, now, want)
	switch {
	case !live.NeedsDeploy():
		return false, live.String()
	case !last.NeedsDeploy() && !(found && live.OtherVersion && h.At.After(dep.At)):
		return false, fmt.Sprintf("%s; slotless %s was deployed to it %s ago, and its first tick is due", live, want, last.Ago.Round(time.Second))
	default:
		return true, fmt.Sprintf("%s: deploying slotless %s to it before the first shift", live, want)
	}
}
