package stack

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A Pulumi update from a checkout whose stack file lags the deployed weights would put traffic
// back where a release moved it from. The program guards against that itself, on every path
// that runs it (a laptop's pulumi up, Pulumi Deployments' update and remediate-drift, the infra
// pipeline): before the pool is written it reads the pool as API Management holds it
// (getBackend) and the record the pool's description keeps of who set its weights.

// Mover names what runs the program: a plain `pulumi up` (or preview), or a slotless command
// moving traffic through the in-process engine after its own guards.
type Mover struct {
	// By is "pulumi up" for a plain update, or the slotless command ("slotless shift").
	By string
	// At is when the run started; the zero time leaves it out of the record (the offline plan).
	At time.Time
	// Version is the slotless running the program (buildinfo.Version), which the stack records
	// (output slotlessVersion) and checks against the version that last changed it.
	Version string
	// AllowLiveChange gives a new app configuration to the slots that carry traffic too
	// (EnvAllowLiveChange), restarting them; by default they keep theirs until a release.
	AllowLiveChange bool
}

// ByPulumiUp is the mover of a plain `pulumi up`.
const ByPulumiUp = "pulumi up"

// PlainUpdate reports whether the mover is a plain pulumi up, whose traffic moves the guard
// checks; slotless commands read the live pool and apply their own guards.
func (m Mover) PlainUpdate() bool { return m.By == ByPulumiUp }

// poolDescription is the pool's description before its record.
const poolDescription = "Weighted pool over the green and blue slots; weights come from stack config."

// PoolRecord is what the pool's description records of the last move of its weights: the
// weights, who set them and when, and the blue weights that slotless moves have superseded since
// the weights were last set from a stack file by a plain update.
type PoolRecord struct {
	Weights Weights
	By      string
	At      time.Time
	// Superseded are blue's earlier weights since the last plain update, oldest first.
	Superseded []int
}

// String renders the record as the pool's description.
func (r PoolRecord) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s [slotless: green %d / blue %d set by %s", poolDescription, r.Weights.Green, r.Weights.Blue, r.By)
	if !r.At.IsZero() {
		fmt.Fprintf(&b, " at %s", r.At.UTC().Format(time.RFC3339))
	}
	if len(r.Superseded) > 0 {
		parts := make([]string, len(r.Superseded))
		for i, s := range r.Superseded {
			parts[i] = strconv.Itoa(s)
		}
		fmt.Fprintf(&b, "; superseded blue %s", strings.Join(parts, ", "))
	}
	b.WriteString("]")
	return b.String()
}

var recordPattern = regexp.MustCompile(`\[slotless: green (\d+) / blue (\d+) set by ([^;\]]+?)(?: at (\S+?))?(?:; superseded blue ([\d, ]+))?\]$`)

// ParsePoolRecord reads the record back from a pool's description; ok is false when there is
// none (a pool written before records, or a description edited by hand).
func ParsePoolRecord(description string) (PoolRecord, bool) {
	m := recordPattern.FindStringSubmatch(description)
	if m == nil {
		return PoolRecord{}, false
	}
	g, _ := strconv.Atoi(m[1])
	bl, _ := strconv.Atoi(m[2])
	r := PoolRecord{Weights: Weights{Green: g, Blue: bl}, By: m[3]}
	if m[4] != "" {
		r.At, _ = time.Parse(time.RFC3339, m[4])
	}
	for _, s := range strings.Split(m[5], ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			r.Superseded = append(r.Superseded, n)
		}
	}
	return r, true
}

// ReleaseOrigin is blue's weight where the latest release among the recorded moves began: the
// newest superseded weight that gave one slot all the traffic (0 or 100). ok is false when the
// moves since the last plain update began elsewhere.
func (r PoolRecord) ReleaseOrigin() (blue int, ok bool) {
	for i := len(r.Superseded) - 1; i >= 0; i-- {
		if b := r.Superseded[i]; b == 0 || b == 100 {
			return b, true
		}
	}
	return 0, false
}

// RollbackTo reports whether w sends every share back to where the latest recorded release
// began: a rollback, which the traffic guard never refuses, even though that weight is one the
// release superseded. A checkout whose stack file merely lags a release looks the same, so
// the program says what it undoes (rollbackWarning); Pulumi Deployments' pre-run drift check
// compares with git and stops that case before the update starts.
func (r PoolRecord) RollbackTo(w Weights) bool {
	origin, ok := r.ReleaseOrigin()
	return ok && w.Blue == origin && r.By != ByPulumiUp
}

// rollbackWarning says what a plain update that rolls a release back undoes; empty when it is
// not one.
func rollbackWarning(live *LivePool, w Weights) string {
	if live == nil || live.Weights == w {
		return ""
	}
	rec, ok := ParsePoolRecord(live.Description)
	if !ok || !rec.RollbackTo(w) || rec.Weights != live.Weights {
		return ""
	}
	return fmt.Sprintf("traffic guard: this update sends all traffic back to %s, where the latest release began (%s moved it to %s): a rollback, which is never refused. If this checkout only lags the release's record in git, stop now and pull first", w, rec.By, live.Weights)
}

// NextRecord is the record of moving the pool from live (its weights and description) to w by
// mover: superseded weights accumulate across slotless moves, and a plain update starts afresh.
func NextRecord(live Weights, liveDescription string, w Weights, m Mover) PoolRecord {
	r := PoolRecord{Weights: w, By: m.By, At: m.At}
	if m.PlainUpdate() {
		return r
	}
	if prev, ok := ParsePoolRecord(liveDescription); ok && prev.By != ByPulumiUp {
		r.Superseded = slices.Clone(prev.Superseded)
	}
	if live != w && !slices.Contains(r.Superseded, live.Blue) {
		r.Superseded = append(r.Superseded, live.Blue)
	}
	return r
}

// LivePool is the pool as API Management holds it, for the guard.
type LivePool struct {
	Weights     Weights
	Description string
}

// PoolDescription decides the pool's description for this update and refuses a plain update
// that would undo a move it cannot see. live is nil when the pool does not exist yet.
//
// With the weights unchanged, the description stays what it is, so an update that moves no
// traffic changes nothing; otherwise it is the next record. A plain update that would move
// traffic is refused when:
//   - the pool's weights are not what its record says (someone moved traffic outside Pulumi
//     and slotless: the portal during an incident, say), or
//   - a slotless move set the weights and this config's blue weight is one that move
//     superseded: the checkout's stack file has not caught up.
//
// A plain update that sets a weight no slotless move superseded is the user's deliberate choice
// and goes through, as does any update of a pool without a record (written before records).
func PoolDescription(live *LivePool, w Weights, m Mover, stackName string) (string, error) {
	if live == nil {
		return NextRecord(w, "", w, m).String(), nil
	}
	rec, ok := ParsePoolRecord(live.Description)
	if live.Weights == w {
		if ok {
			return live.Description, nil
		}
		return NextRecord(w, live.Description, w, m).String(), nil
	}
	if m.PlainUpdate() && ok {
		when := ""
		if !rec.At.IsZero() {
			when = " at " + rec.At.UTC().Format(time.RFC3339)
		}
		ways := fmt.Sprintf("record the deployed weights in the stack file (slotless record --stack %s, then commit it) and set the weight you want from there, or move traffic with slotless (shift, rollback)", stackName)
		switch {
		case rec.Weights != live.Weights:
			return "", fmt.Errorf("traffic guard: this update would move traffic from %s (the pool as API Management has it) to %s (this stack config), but the pool was changed outside Pulumi and slotless: its record says %s set by %s%s. Undoing that could undo an incident's fix; %s", live.Weights, w, rec.Weights, rec.By, when, ways)
		case rec.By != ByPulumiUp && slices.Contains(rec.Superseded, w.Blue) && !rec.RollbackTo(w):
			return "", fmt.Errorf("traffic guard: this update would move traffic from %s (the pool as API Management has it) back to %s (this stack config), but %s moved it to %s%s, superseding blue %d: this checkout's stack file has not caught up. %s", live.Weights, w, rec.By, rec.Weights, when, w.Blue, upperFirst(ways))
		}
	}
	return NextRecord(live.Weights, live.Description, w, m).String(), nil
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
