package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/internal/pin"
	"github.com/slotless/slotless/stack"
)

// Stack is what a traffic change needs from a Pulumi stack. The in-process engine implements it
// for real runs (AutoStack), FileStack for --write-only, and tests fake it.
type Stack interface {
	// Deployed reads where traffic stands from the deployed stack's outputs.
	Deployed(ctx context.Context) (Deployed, error)
	// GetConfig returns a project config value by its bare key (blueWeight), which the stack
	// puts in its project's namespace; ok is false when it is not set.
	GetConfig(ctx context.Context, key string) (value string, ok bool, err error)
	// SetConfig sets a non-secret project config value by its bare key.
	SetConfig(ctx context.Context, key, value string) error
	// RemoveConfig removes a project config value by its bare key.
	RemoveConfig(ctx context.Context, key string) error
	// Preview plans an update with the current config, streaming progress to out.
	Preview(ctx context.Context, out io.Writer) (engine.Changes, error)
	// Up applies the stack, only the resources whose URNs are in targets when targets is not
	// empty, streaming progress to out.
	Up(ctx context.Context, out io.Writer, targets []string) (engine.Changes, error)
	// Refresh reads the resources whose URNs are in targets back from Azure into state, so an
	// edit made outside Pulumi (the portal, a break-glass rollback) shows in the next diff.
	Refresh(ctx context.Context, out io.Writer, targets []string) error
	// URN is the URN of a top-level resource of this stack.
	URN(typ, name string) string
}

// Deployed is where traffic stands on the deployed stack.
type Deployed struct {
	Weights stack.Weights
	// CurrentSlotName is the deployed current-slot-name: the live slot's backend id at 0 and
	// 100, and while a release is in progress the backend id of the slot it started from.
	CurrentSlotName string
	// Source says where this came from, for messages.
	Source string
	// Version is the slotless that last changed the stack (output slotlessVersion); empty for a
	// stack deployed before stacks recorded it.
	Version string
}

// Origin is the slot the release in progress started from, read from current-slot-name; when
// a stack has no such output (deployed before it existed), the slot with the larger share.
func (d Deployed) Origin() (stack.Slot, string) {
	if _, idle := d.Weights.Idle(); idle {
		return d.Weights.Live(), "the live slot"
	}
	if s, ok := stack.SlotOfBackendID(d.CurrentSlotName); ok {
		return s, "the slot current-slot-name names (" + d.CurrentSlotName + "), live when this release began"
	}
	return d.Weights.Live(), "the slot with the larger share (the deployed stack does not say where this release began)"
}

// HealthCheck runs the health gate against a slot; nil error means healthy.
type HealthCheck func(ctx context.Context, slot stack.Slot) error

// ShiftRequest asks for a slot to carry a given share of traffic.
type ShiftRequest struct {
	Slot stack.Slot
	To   int
	// Rollback marks the rollback command: whatever the weights, it is never refused by a guard
	// rail, never refused for pending changes, and retried while another update holds the stack.
	Rollback bool
	// Force lifts the step limit and skips the health gate of an advance.
	Force bool
	// AllowOtherChanges lets a shift apply pending changes other than traffic with it.
	AllowOtherChanges bool
	// WriteOnly edits the config and does not run up, for GitOps.
	WriteOnly bool
	// MaxStep comes from the stack config's maxStep.
	MaxStep int
	// Health is the gate an advance must pass; nil means no gate is configured.
	Health HealthCheck
	// Traffic decides which planned steps are part of a traffic change; nil means TrafficOnly.
	Traffic func(engine.Step) bool
	// Attempts and Interval bound a rollback's retries while another update holds the stack;
	// zero means DefaultRollbackAttempts and DefaultRollbackInterval.
	Attempts int
	Interval time.Duration
	// ReadyAfterRestart runs after the release slot's app was updated before the traffic
	// moved (its always-ready count raised, a Flex site update that restarts it): the shift
	// waits for it to answer again. nil means Health, when set.
	ReadyAfterRestart HealthCheck
	// Wait bounds how long a shift waits for another update that holds the stack before it
	// fails (with the config put back); zero fails at once. A rollback uses Attempts.
	Wait time.Duration
	// Live, when read, is the pool as API Management holds it. A rollback moves from there, not
	// from Pulumi state, which a portal edit or a break-glass write leaves behind.
	Live *stack.Weights
	// Running is this slotless's version, and Pinned the version the project's Pulumi.yaml
	// pins (empty for none): a move other than a rollback is refused under version skew
	// (CheckVersion).
	Running, Pinned string
}

// ErrBlocked wraps every guard-rail refusal.
var ErrBlocked = errors.New("blocked by a guard rail")

// CheckVersion refuses, as a guard rail, a slotless that may not change a stack last changed
// by d's version under a project pinned to pinned (package pin). A rollback never asks: version
// skew never keeps traffic on a failing slot.
func CheckVersion(running, pinned string, d Deployed) ([]string, error) {
	warnings, err := pin.Check(running, pinned, d.Version)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBlocked, err)
	}
	return warnings, nil
}

// Default concurrent-update retries of a rollback: bounded and short, since a canary that fails
// keeps its traffic while the rollback waits; past them the rollback writes the pool through
// ARM (see RollbackSlot), so a lock left by a job that died never stops it.
const (
	DefaultRollbackAttempts = 2
	DefaultRollbackInterval = 5 * time.Second
)

// IsConcurrentUpdate tells an update refused because another holds the stack; the engine's
// implementation wraps auto.IsConcurrentUpdateError, tests replace it.
var IsConcurrentUpdate = engine.IsConcurrentUpdate

// TrafficOnly reports whether a planned step belongs to a traffic change: the pool's weights
// and current-slot-name. Nothing else may change in a shift without --allow-other-changes.
func TrafficOnly(s engine.Step) bool {
	return s.Name == stack.PoolID || s.Name == stack.CurrentSlotNamedValue
}

// Shift carries out a request: read the deployed weights, classify the move against the
// release's origin, apply the guard rails, write the config, preview, then apply the traffic
// resources alone. Nothing is written unless every guard passes, and a refused or failed
// preview puts the config back.
func Shift(ctx context.Context, st Stack, req ShiftRequest, out io.Writer) (Move, error) {
	if req.To < 0 || req.To > 100 {
		return Move{}, fmt.Errorf("--to: %d is out of range 0..100", req.To)
	}
	traffic := req.Traffic
	if traffic == nil {
		traffic = TrafficOnly
	}
	dep, err := st.Deployed(ctx)
	if err != nil {
		return Move{}, err
	}
	if !req.Rollback {
		warnings, err := CheckVersion(req.Running, req.Pinned, dep)
		if err != nil {
			return Move{}, err
		}
		for _, w := range warnings {
			fmt.Fprintf(out, "warning: %s\n", w)
		}
	}
	from := dep.Weights
	if req.Live != nil && *req.Live != from {
		fmt.Fprintf(out, "note: the live pool says %s, Pulumi state %s; moving from the live pool\n", *req.Live, from)
		from, dep.Weights, dep.Source = *req.Live, *req.Live, "the live pool"
	}
	// The weight keys are read once, for the note here and for writeWeights to put back.
	keys, readErr := readWeightKeys(ctx, st)
	if local, err := keys.weights(); readErr == nil && err == nil && local != from {
		fmt.Fprintf(out, "note: the stack config says %s, %s %s; moving from %s\n", local, dep.Source, from, dep.Source)
	}
	to := stack.Weights{Green: 100 - req.To, Blue: req.To}
	if req.Slot == stack.Green {
		to = stack.Weights{Green: req.To, Blue: 100 - req.To}
	}
	origin, why := dep.Origin()
	m := Classify(from, to, origin)
	fmt.Fprintf(out, "traffic now %s (%s); origin %s is %s\n", from, dep.Source, origin, why)
	if m.Kind == NoMove && !req.Rollback {
		fmt.Fprintf(out, "%s already carries %d%%: nothing to do\n", req.Slot, req.To)
		return m, nil
	}
	if req.Rollback {
		// Written even when it already reads 0: the update is what makes state, config and the
		// pool agree, and it costs one targeted update.
		fmt.Fprintf(out, "rollback: %s %d%% → 0%%; a rollback is never refused\n", req.Slot, from.Of(req.Slot))
	} else {
		fmt.Fprintf(out, "%s\n", m)
	}
	if m.Kind == Advance && !req.Force && !req.Rollback {
		if f := CheckStep(m, req.MaxStep, false); len(f) > 0 {
			return m, fmt.Errorf("%w: %s (or --force)", ErrBlocked, f[0].Message)
		}
		if req.Health == nil {
			return m, fmt.Errorf("%w: no health gate is configured for %s; pass --api-url (or --url) so the gate can run, or --force", ErrBlocked, m.ReleaseSlot())
		}
		fmt.Fprintf(out, "health gate on %s...\n", m.ReleaseSlot())
		if err := req.Health(ctx, m.ReleaseSlot()); err != nil {
			return m, fmt.Errorf("%w: health gate on %s: %v", ErrBlocked, m.ReleaseSlot(), err)
		}
	}

	if readErr != nil {
		return m, readErr
	}
	restore, err := keys.write(ctx, st, to)
	if err != nil {
		return m, err
	}
	fmt.Fprintf(out, "config: blueWeight %d\n", to.Blue)
	if req.WriteOnly {
		fmt.Fprintln(out, "written only: commit Pulumi.<stack>.yaml and let the deployment apply it")
		return m, nil
	}

	targets, apps, err := planTraffic(ctx, st, req, traffic, out)
	if err != nil {
		return m, errors.Join(err, restore(ctx))
	}
	before, after := orderAppUpdates(req, apps)
	if len(before) > 0 {
		// A Flex app's configuration change is a site update, which restarts its instances
		// (Recreate): made while the slot carries no traffic yet, then waited out.
		fmt.Fprintf(out, "pulumi up, the release slot's always-ready count first, while it carries no traffic (--target %s)...\n", strings.Join(before, " --target "))
		if _, err := st.Up(ctx, out, before); err != nil {
			return m, errors.Join(fmt.Errorf("pulumi up of the release slot's always-ready count: %w; traffic was not moved", err), restore(ctx))
		}
		ready := req.ReadyAfterRestart
		if ready == nil {
			ready = req.Health
		}
		if ready != nil {
			fmt.Fprintf(out, "waiting for %s to answer after its site update...\n", m.ReleaseSlot())
			if err := ready(ctx, m.ReleaseSlot()); err != nil {
				return m, errors.Join(fmt.Errorf("%w: %s after its site update: %v; traffic was not moved", ErrBlocked, m.ReleaseSlot(), err), restore(ctx))
			}
		}
	}
	changes, err := upWithRetry(ctx, st, req, targets, out)
	if err != nil {
		if IsConcurrentUpdate(err) && !req.Rollback {
			return m, errors.Join(fmt.Errorf("another update holds the stack (a Pulumi Deployments run, a pipeline or a colleague)%s; nothing was applied and the config is back at %s: run the shift again when it has finished, or give it --wait: %w", waited(req.Wait), from, err), restore(ctx))
		}
		return m, fmt.Errorf("pulumi up after setting %s: %w; the config is already changed, so run the command again or shift back", to, err)
	}
	fmt.Fprintf(out, "applied: %s; %s\n", to, changes)
	if len(after) > 0 {
		// Traffic has left these apps, or they never carry any (the watcher): their site
		// update restarts nothing anyone uses. A failure leaves the change for the next update
		// and fails nothing, a rollback least.
		fmt.Fprintf(out, "pulumi up, the apps' updates that go with the traffic, after it (--target %s)...\n", strings.Join(after, " --target "))
		if _, err := st.Up(ctx, out, after); err != nil {
			fmt.Fprintf(out, "warning: the update of %s failed (%v); traffic is at %s all the same, and the next pulumi up applies it\n", strings.Join(after, ", "), oneLine(err), to)
		}
	}
	return m, nil
}

// orderAppUpdates splits the apps a traffic change updates (their always-ready count alone, or
// the watcher's settings alone) by when the update may run: a count raised on the release slot
// before the traffic reaches it, every other after the traffic has left (a rollback's all
// after: it moves the pool alone first), the watcher's always after, so it never delays or
// fails a move. The traffic update itself then carries only the pool and current-slot-name.
func orderAppUpdates(req ShiftRequest, apps []engine.Step) (before, after []string) {
	for _, s := range apps {
		if WatcherSettingsOnly(s) {
			after = append(after, s.URN)
			continue
		}
		_, was, _ := splitAlwaysReady(s.OldInputs)
		_, now, _ := splitAlwaysReady(s.NewInputs)
		if now > was && !req.Rollback {
			before = append(before, s.URN)
		} else {
			after = append(after, s.URN)
		}
	}
	return before, after
}

// planTraffic previews the change and decides what to apply: the traffic resources (their URNs
// as targets) and, apart, the app updates the traffic rule admits; or everything at once when
// other changes are allowed (nil targets). A shift refuses when anything else would change; a
// rollback applies the traffic alone and says what it left.
func planTraffic(ctx context.Context, st Stack, req ShiftRequest, traffic func(engine.Step) bool, out io.Writer) ([]string, []engine.Step, error) {
	fmt.Fprintln(out, "preview...")
	pre, err := st.Preview(ctx, out)
	if err != nil {
		if req.Rollback {
			fmt.Fprintf(out, "warning: the preview failed (%v); applying the traffic resources alone\n", err)
			return trafficTargets(st, req, nil, traffic), nil, nil
		}
		return nil, nil, fmt.Errorf("preview: %w", err)
	}
	var others []string
	var apps []engine.Step
	for _, s := range pre.Changed() {
		switch {
		case WatcherSettingsOnly(s):
			apps = append(apps, s)
		case !traffic(s):
			others = append(others, describe(s))
		case !TrafficOnly(s):
			apps = append(apps, s)
		}
	}
	switch {
	case len(others) == 0:
	case req.AllowOtherChanges:
		fmt.Fprintf(out, "applying other pending changes too (--allow-other-changes):\n  %s\n", strings.Join(others, "\n  "))
		return nil, nil, nil
	case req.Rollback:
		fmt.Fprintf(out, "other pending changes are left for a later pulumi up; a rollback applies the traffic resources alone:\n  %s\n", strings.Join(others, "\n  "))
	default:
		return nil, nil, fmt.Errorf("%w: besides traffic, this update would change:\n  %s\nthe shift would apply them without review; apply them first with pulumi up, or pass --allow-other-changes", ErrBlocked, strings.Join(others, "\n  "))
	}
	return trafficTargets(st, req, nil, traffic), apps, nil
}

// trafficTargets are the URNs a traffic change applies: the pool and current-slot-name always,
// and any other planned step the traffic rule admits.
func trafficTargets(st Stack, req ShiftRequest, planned []engine.Step, traffic func(engine.Step) bool) []string {
	targets := []string{
		st.URN("azure-native:apimanagement:Backend", stack.PoolID),
		st.URN("azure-native:apimanagement:NamedValue", stack.CurrentSlotNamedValue),
	}
	for _, s := range planned {
		if traffic(s) && !TrafficOnly(s) {
			targets = append(targets, s.URN)
		}
	}
	return targets
}

func describe(s engine.Step) string {
	d := s.Op + " " + s.Type + " " + s.Name
	if len(s.Diffs) > 0 {
		d += " (" + strings.Join(s.Diffs, ", ") + ")"
	}
	return d
}

// upWithRetry applies; a rollback waits out another update holding the stack, within its
// attempts, and a shift within req.Wait (none by default: it fails at once).
func upWithRetry(ctx context.Context, st Stack, req ShiftRequest, targets []string, out io.Writer) (engine.Changes, error) {
	attempts, interval := req.Attempts, req.Interval
	if attempts <= 0 {
		attempts = DefaultRollbackAttempts
	}
	if interval <= 0 {
		interval = DefaultRollbackInterval
	}
	deadline := time.Now().Add(req.Wait)
	for attempt := 1; ; attempt++ {
		if len(targets) > 0 {
			fmt.Fprintf(out, "pulumi up, traffic resources only (--target %s)...\n", strings.Join(targets, " --target "))
		} else {
			fmt.Fprintln(out, "pulumi up...")
		}
		changes, err := st.Up(ctx, out, targets)
		if err == nil || !IsConcurrentUpdate(err) {
			return changes, err
		}
		switch {
		case req.Rollback && attempt < attempts:
			fmt.Fprintf(out, "another update holds the stack; rollback attempt %d of %d failed, trying again in %s\n", attempt, attempts, interval)
		case !req.Rollback && time.Now().Add(shiftWaitEvery).Before(deadline):
			fmt.Fprintf(out, "another update holds the stack; waiting for it (up to %s more), trying again in %s\n", time.Until(deadline).Round(time.Second), shiftWaitEvery)
			interval = shiftWaitEvery
		default:
			return changes, err
		}
		select {
		case <-ctx.Done():
			return changes, errors.Join(err, ctx.Err())
		case <-time.After(interval):
		}
	}
}

func waited(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	return " and did not let go within " + d.String()
}

// shiftWaitEvery is how often a shift waiting for another update tries again.
const shiftWaitEvery = 5 * time.Second

// ConfigReader is a Stack that reads several config keys with one look at the stack's config.
// AutoStack is one: each look is a pulumi CLI process, so a shift reading its two weight keys
// starts one instead of two.
type ConfigReader interface {
	// GetConfigs returns the values of the keys that are set, by bare key; a secret among them
	// is an error.
	GetConfigs(ctx context.Context, keys ...string) (map[string]string, error)
}

// configValue is one config key as the stack config has it.
type configValue struct {
	key, value string
	ok         bool
}

// weightKeys are the weight keys as the stack config has them.
type weightKeys struct{ blue, green configValue }

// readWeightKeys reads blueWeight and greenWeight, with one look when st is a ConfigReader.
func readWeightKeys(ctx context.Context, st Stack) (weightKeys, error) {
	k := weightKeys{blue: configValue{key: "blueWeight"}, green: configValue{key: "greenWeight"}}
	if r, ok := st.(ConfigReader); ok {
		got, err := r.GetConfigs(ctx, k.blue.key, k.green.key)
		if err != nil {
			return k, fmt.Errorf("read blueWeight: %w", err)
		}
		k.blue.value, k.blue.ok = got[k.blue.key]
		k.green.value, k.green.ok = got[k.green.key]
		return k, nil
	}
	for _, c := range []*configValue{&k.blue, &k.green} {
		var err error
		if c.value, c.ok, err = st.GetConfig(ctx, c.key); err != nil {
			return k, fmt.Errorf("read %s: %w", c.key, err)
		}
	}
	return k, nil
}

// weights are the weights the keys give: blueWeight, 0 when unset.
func (k weightKeys) weights() (stack.Weights, error) {
	blue := 0
	if k.blue.ok {
		var err error
		if blue, err = strconv.Atoi(strings.TrimSpace(k.blue.value)); err != nil || blue < 0 || blue > 100 {
			return stack.Weights{}, fmt.Errorf("blueWeight: %q in the stack config is out of range 0..100", k.blue.value)
		}
	}
	return stack.Weights{Green: 100 - blue, Blue: blue}, nil
}

// writeWeights sets blueWeight, and greenWeight too when the stack sets it, so they keep
// summing to 100. It returns a function that puts back what it changed.
func writeWeights(ctx context.Context, st Stack, w stack.Weights) (func(context.Context) error, error) {
	k, err := readWeightKeys(ctx, st)
	if err != nil {
		return nil, err
	}
	return k.write(ctx, st, w)
}

// write sets the weights as writeWeights does, k being what the keys held before.
func (k weightKeys) write(ctx context.Context, st Stack, w stack.Weights) (func(context.Context) error, error) {
	var changed []configValue
	restore := func(ctx context.Context) error {
		for _, s := range changed {
			var err error
			if s.ok {
				err = st.SetConfig(ctx, s.key, s.value)
			} else {
				err = st.RemoveConfig(ctx, s.key)
			}
			if err != nil {
				return fmt.Errorf("put back %s: %w", s.key, err)
			}
		}
		return nil
	}
	set := func(old configValue, value string, always bool) error {
		if !old.ok && !always {
			return nil
		}
		if err := st.SetConfig(ctx, old.key, value); err != nil {
			return fmt.Errorf("set %s: %w", old.key, err)
		}
		changed = append(changed, old)
		return nil
	}
	if err := set(k.blue, strconv.Itoa(w.Blue), true); err != nil {
		return nil, err
	}
	if err := set(k.green, strconv.Itoa(w.Green), false); err != nil {
		return nil, errors.Join(err, restore(ctx))
	}
	return restore, nil
}
