// Package status tells where a release stands from a deployed stack's outputs, the live pool
// and one pinned health request to each slot: what slotless status prints.
package status

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

// Status is where a release stands, read from a deployed stack. Its JSON shape is what
// `slotless status --json` prints.
type Status struct {
	Stack   string `json:"stack"`
	Weights struct {
		Green int `json:"green"`
		Blue  int `json:"blue"`
	} `json:"weights"`
	LiveSlot string `json:"liveSlot"`
	// IdleSlot is empty while a release is in progress.
	IdleSlot          string `json:"idleSlot"`
	ReleaseInProgress bool   `json:"releaseInProgress"`
	// CurrentSlotName is the currentSlotName output, when the stack has it.
	CurrentSlotName string `json:"currentSlotName,omitempty"`
	// Origin is the slot live when the release in progress began, from CurrentSlotName;
	// ReleaseSlot is the other one. Both are empty when no release is in progress or the
	// stack has no currentSlotName output.
	Origin      string `json:"origin,omitempty"`
	ReleaseSlot string `json:"releaseSlot,omitempty"`
	APIURL      string `json:"apiUrl,omitempty"`
	// HealthURL is where the slots were asked: apiUrl and the stack's healthPath.
	HealthURL string `json:"healthUrl,omitempty"`
	// Live is the pool as API Management holds it, read through ARM; nil when it could not be
	// read (LiveSkipped says why).
	Live        *LiveStatus `json:"live,omitempty"`
	LiveSkipped string      `json:"liveSkipped,omitempty"`
	// Slots is each slot's answer to one pinned health request, green first.
	Slots []SlotHealth `json:"slots,omitempty"`
	// SlotsSkipped says why the slots were not asked.
	SlotsSkipped string `json:"slotsSkipped,omitempty"`
	// Settings says which settings generation each slot runs and which the deployed config
	// asks for (stack output settingsGenerations); nil for a stack deployed before they were
	// recorded.
	Settings *SettingsStatus `json:"settings,omitempty"`
	// InFlight is the release in flight as the stack's history keeps it, and Lease who holds
	// the stack's lease; HistorySkipped says why the history could not be read.
	InFlight       *InFlight `json:"inFlight,omitempty"`
	Lease          *Lease    `json:"lease,omitempty"`
	HistorySkipped string    `json:"historySkipped,omitempty"`
	// Watcher is the watcher's heartbeat, when the stack declares a watcher.
	Watcher  *Watcher `json:"watcher,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// SettingsStatus is the apps' configuration: the generation each slot runs (0: from before
// generations were recorded) and the one the config asks for.
type SettingsStatus struct {
	Green   int `json:"green"`
	Blue    int `json:"blue"`
	Desired int `json:"desired"`
	// LiveChange is the last configuration forced onto a slot that carried traffic.
	LiveChange string `json:"liveChange,omitempty"`
}

// LiveStatus is the live pool and what it says of who set it.
type LiveStatus struct {
	Green           int    `json:"green"`
	Blue            int    `json:"blue"`
	CurrentSlotName string `json:"currentSlotName"`
	// DiffersFromState is true when the pool's weights are not Pulumi state's.
	DiffersFromState bool `json:"differsFromState"`
	// SetBy and SetAt come from the pool's record (stack.PoolRecord), when it has one.
	SetBy string `json:"setBy,omitempty"`
	SetAt string `json:"setAt,omitempty"`
}

// SlotHealth is one slot's answer.
type SlotHealth struct {
	Slot string `json:"slot"`
	gate.Answer
}

// FromOutputs reads the weights and slots from a deployed stack's outputs.
func FromOutputs(name string, outs map[string]any) (Status, error) {
	st := Status{Stack: name}
	var problems []string
	weight := func(key string) int {
		v, ok := outs[key]
		if !ok {
			problems = append(problems, key+": missing")
			return 0
		}
		n, err := outputInt(v)
		if err != nil || n < 0 || n > 100 {
			problems = append(problems, fmt.Sprintf("%s: %v is not a weight 0..100", key, v))
		}
		return n
	}
	st.Weights.Green, st.Weights.Blue = weight(stack.OutGreenWeight), weight(stack.OutBlueWeight)
	if len(problems) > 0 {
		return st, fmt.Errorf("stack %s has no usable traffic outputs (%s): has it been deployed with this program (pulumi up)?", name, strings.Join(problems, "; "))
	}
	w := stack.Weights{Green: st.Weights.Green, Blue: st.Weights.Blue}
	if w.Green+w.Blue != 100 {
		st.Warnings = append(st.Warnings, fmt.Sprintf("the weights sum to %d, not 100", w.Green+w.Blue))
	}
	st.LiveSlot, _ = outs[stack.OutLiveSlot].(string)
	st.IdleSlot, _ = outs[stack.OutIdleSlot].(string)
	if st.LiveSlot == "" {
		st.LiveSlot = string(w.Live())
	}
	st.ReleaseInProgress = w.InProgress()
	if idle, ok := w.Idle(); ok && st.IdleSlot != string(idle) {
		st.Warnings = append(st.Warnings, fmt.Sprintf("idleSlot output %q disagrees with the weights, which leave %s idle", st.IdleSlot, idle))
	}
	if gens, ok := outs[stack.OutSettingsGenerations].(map[string]any); ok {
		n := func(k string) int { v, _ := outputInt(gens[k]); return v }
		st.Settings = &SettingsStatus{Green: n(string(stack.Green)), Blue: n(string(stack.Blue)), Desired: n("desired")}
		st.Settings.LiveChange, _ = outs[stack.OutSettingsLiveChange].(string)
	}
	st.CurrentSlotName, _ = outs[stack.OutCurrentSlotName].(string) // older stacks lack it
	if st.CurrentSlotName == "" {
		return st, nil
	}
	current := ""
	if s, ok := stack.SlotOfBackendID(st.CurrentSlotName); ok {
		current = string(s)
	}
	switch {
	case current == "":
		st.Warnings = append(st.Warnings, fmt.Sprintf("currentSlotName %q is not a slot's backend id", st.CurrentSlotName))
	case st.ReleaseInProgress:
		st.Origin, st.ReleaseSlot = current, string(stack.Slot(current).Other())
	case current != st.LiveSlot:
		st.Warnings = append(st.Warnings, fmt.Sprintf("currentSlotName %q does not name the live slot %s", st.CurrentSlotName, st.LiveSlot))
	}
	return st, nil
}

// outputInt reads a number output, which JSON delivers as float64.
func outputInt(v any) (int, error) {
	switch n := v.(type) {
	case float64:
		if n != float64(int(n)) {
			return 0, fmt.Errorf("%v is not an integer", n)
		}
		return int(n), nil
	case int:
		return n, nil
	case string:
		return strconv.Atoi(n)
	}
	return 0, fmt.Errorf("%v is not a number", v)
}

// AskSlots sends one health request to each slot, both at once, with the headers that pin it
// to the slot.
func AskSlots(ctx context.Context, healthURL string, pin func(stack.Slot) map[string]string, timeout time.Duration) []SlotHealth {
	out := make([]SlotHealth, len(stack.Slots))
	var wg sync.WaitGroup
	for i, slot := range stack.Slots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, err := gate.Probe(ctx, gate.HealthConfig{
				URL: healthURL, Headers: pin(slot), Slot: string(slot), RequestTimeout: timeout,
			})
			if err != nil {
				a = gate.Answer{Reason: gate.ReasonUnreachable, Detail: err.Error()}
			}
			out[i] = SlotHealth{Slot: string(slot), Answer: a}
		}()
	}
	wg.Wait()
	return out
}

// Print writes the status for people.
func (st Status) Print(w io.Writer) {
	fmt.Fprintf(w, "stack %s: traffic green %d%% / blue %d%%\n", st.Stack, st.Weights.Green, st.Weights.Blue)
	switch {
	case st.Live != nil:
		by := ""
		if st.Live.SetBy != "" {
			by = ", set by " + st.Live.SetBy
			if st.Live.SetAt != "" {
				by += " at " + st.Live.SetAt
			}
		}
		fmt.Fprintf(w, "live pool: green %d%% / blue %d%% (API Management%s)\n", st.Live.Green, st.Live.Blue, by)
	case st.LiveSkipped != "":
		fmt.Fprintf(w, "live pool: not read: %s\n", st.LiveSkipped)
	}
	idle := st.IdleSlot
	if idle == "" {
		idle = "none"
	}
	fmt.Fprintf(w, "live slot: %s\nidle slot: %s\n", st.LiveSlot, idle)
	switch {
	case !st.ReleaseInProgress:
		fmt.Fprintf(w, "release: none in progress; the next one deploys to %s\n", idle)
	case st.ReleaseSlot != "":
		fmt.Fprintf(w, "release: in progress, %s takes over from %s\n", st.ReleaseSlot, st.Origin)
	default:
		fmt.Fprintln(w, "release: in progress; which slot it started from is unknown (no currentSlotName output)")
	}
	if st.CurrentSlotName != "" {
		fmt.Fprintf(w, "current-slot-name: %s\n", st.CurrentSlotName)
	}
	st.printHistory(w)
	st.printWatcher(w)
	if s := st.Settings; s != nil {
		fmt.Fprintf(w, "settings: green runs generation %s, blue generation %s; the config asks for %d", generation(s.Green), generation(s.Blue), s.Desired)
		var behind []string
		for slot, g := range map[string]int{"green": s.Green, "blue": s.Blue} {
			if g != s.Desired {
				behind = append(behind, slot)
			}
		}
		if len(behind) == 1 {
			fmt.Fprintf(w, " (%s gets it once it is idle, at the next pulumi up)", behind[0])
		}
		fmt.Fprintln(w)
		if s.LiveChange != "" {
			fmt.Fprintf(w, "settings: last forced onto a live slot: %s\n", s.LiveChange)
		}
	}
	for _, warning := range st.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warning)
	}
	if st.SlotsSkipped != "" {
		fmt.Fprintf(w, "slots: not asked: %s\n", st.SlotsSkipped)
		return
	}
	fmt.Fprintf(w, "slots, one request each to %s, pinned:\n", st.HealthURL)
	for _, s := range st.Slots {
		verdict := "healthy"
		if !s.Healthy {
			verdict = string(s.Reason) + ": " + s.Detail
		}
		fmt.Fprintf(w, "  %-5s  version %s  %s\n", s.Slot, orDash(s.Version), verdict)
	}
}

// generation names a settings generation; 0 is one from before generations were recorded.
func generation(g int) string {
	if g == 0 {
		return "unknown (from before generations were recorded)"
	}
	return strconv.Itoa(g)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
