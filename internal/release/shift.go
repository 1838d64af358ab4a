package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/slotless/slotless/stack"
)

// Stack is what a shift needs from a Pulumi stack. The Automation API implements it for real
// runs, FileStack for --write-only, and tests fake it to check the order of the calls.
type Stack interface {
	// GetConfig returns a namespaced config value; ok is false when it is not set.
	GetConfig(ctx context.Context, key string) (value string, ok bool, err error)
	// SetConfig sets a namespaced, non-secret config value.
	SetConfig(ctx context.Context, key, value string) error
	// Up applies the stack, streaming progress to out, and returns a one-line summary.
	Up(ctx context.Context, out io.Writer) (string, error)
}

// HealthCheck runs the health gate against a slot; nil error means healthy.
type HealthCheck func(ctx context.Context, slot stack.Slot) error

// ShiftRequest asks for a slot to carry a given share of traffic.
type ShiftRequest struct {
	Slot stack.Slot
	To   int
	// Force lifts the step limit and skips the health gate of an advance.
	Force bool
	// WriteOnly edits the config and does not run up, for GitOps.
	WriteOnly bool
	// MaxStep comes from the stack config's maxStep.
	MaxStep int
	// History tells the origin of a release in progress; nil means none is known.
	History func() (stack.Slot, bool)
	// Health is the gate an advance must pass; nil means no gate is configured.
	Health HealthCheck
}

// ErrBlocked wraps every guard-rail refusal.
var ErrBlocked = errors.New("blocked by a guard rail")

// Shift carries out a request: read the weights, classify the move, apply the guard rails,
// write the config, run up. Nothing is written unless every guard passes.
func Shift(ctx context.Context, st Stack, req ShiftRequest, out io.Writer) (Move, error) {
	if req.To < 0 || req.To > 100 {
		return Move{}, fmt.Errorf("--to: %d is out of range 0..100", req.To)
	}
	from, err := currentWeights(ctx, st)
	if err != nil {
		return Move{}, err
	}
	to := stack.Weights{Green: 100 - req.To, Blue: req.To}
	if req.Slot == stack.Green {
		to = stack.Weights{Green: req.To, Blue: 100 - req.To}
	}
	origin, why := Origin(from, req.History)
	m := Classify(from, to, origin)
	fmt.Fprintf(out, "traffic now %s; origin %s is %s\n", from, origin, why)
	if m.Kind == NoMove {
		fmt.Fprintf(out, "%s already carries %d%%: nothing to do\n", req.Slot, req.To)
		return m, nil
	}
	fmt.Fprintf(out, "%s\n", m)
	if m.Kind == Advance && !req.Force {
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
	if err := writeWeights(ctx, st, to); err != nil {
		return m, err
	}
	fmt.Fprintf(out, "config: blueWeight %d → %d\n", from.Blue, to.Blue)
	if req.WriteOnly {
		fmt.Fprintln(out, "written only: commit Pulumi.<stack>.yaml and let the deployment apply it")
		return m, nil
	}
	summary, err := st.Up(ctx, out)
	if err != nil {
		return m, fmt.Errorf("pulumi up after setting %s: %w; the config is already changed, so run up again or shift back", to, err)
	}
	fmt.Fprintf(out, "applied: %s; %s\n", to, summary)
	return m, nil
}

func currentWeights(ctx context.Context, st Stack) (stack.Weights, error) {
	raw, ok, err := st.GetConfig(ctx, stack.Project+":blueWeight")
	if err != nil {
		return stack.Weights{}, fmt.Errorf("read blueWeight: %w", err)
	}
	blue := 0
	if ok {
		if blue, err = strconv.Atoi(raw); err != nil || blue < 0 || blue > 100 {
			return stack.Weights{}, fmt.Errorf("blueWeight: %q in the stack config is out of range 0..100", raw)
		}
	}
	return stack.Weights{Green: 100 - blue, Blue: blue}, nil
}

// writeWeights sets blueWeight, and greenWeight too when the stack sets it, so they keep
// summing to 100.
func writeWeights(ctx context.Context, st Stack, w stack.Weights) error {
	if err := st.SetConfig(ctx, stack.Project+":blueWeight", strconv.Itoa(w.Blue)); err != nil {
		return fmt.Errorf("set blueWeight: %w", err)
	}
	if _, ok, err := st.GetConfig(ctx, stack.Project+":greenWeight"); err != nil {
		return fmt.Errorf("read greenWeight: %w", err)
	} else if ok {
		if err := st.SetConfig(ctx, stack.Project+":greenWeight", strconv.Itoa(w.Green)); err != nil {
			return fmt.Errorf("set greenWeight: %w", err)
		}
	}
	return nil
}
