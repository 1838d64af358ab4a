package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/slotless/slotless/internal/engine"
	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/stack"
)

// LivePool is the pool as API Management holds it, read and written through ARM, outside
// Pulumi. pool.Located implements it.
type LivePool interface {
	Read(ctx context.Context) (pool.Live, error)
	Write(ctx context.Context, w stack.Weights, currentSlot, note string, out io.Writer) (pool.Live, error)
}

// ErrBreakGlass marks a rollback that reached 0% by writing the pool through ARM because the
// Pulumi update could not go through: traffic is where it should be, and Pulumi state lags.
var ErrBreakGlass = errors.New("rolled back through ARM, outside Pulumi (break-glass)")

// RollbackResult says which way a rollback reached 0%.
type RollbackResult struct {
	// BreakGlass is true when the pool was written through ARM because the Pulumi update could
	// not go through; Pulumi state then lags Azure until the next update.
	BreakGlass bool
	// Reason is why the Pulumi path was left, when BreakGlass.
	Reason string
}

// RollbackSlot takes req.Slot to 0% whatever stands in the way:
//
//  1. It reads the live pool (when live is not nil), so a portal edit made during an incident
//     is rolled back too, and never answered with "nothing to do".
//  2. Through Pulumi: when the live pool differs from state (or cannot be read), the traffic
//     resources are refreshed first, so the update writes 0 whatever state said; then the
//     traffic-only update of Shift, retried while another update holds the stack.
//  3. It reads the live pool again; a pool that still gives the slot traffic counts as a
//     failed update.
//  4. Break-glass: when the stack cannot be opened (the backend unreachable), the update
//     fails (a lock left by a job that died, a 409 beyond the retries) or step 3 finds traffic
//     left, it writes the pool's weights and current-slot-name directly through ARM, marks the
//     pool's description so status can tell, and records the weights in the stack file, so
//     the next `pulumi up` converges state onto what Azure already has without moving traffic.
//
// It never runs `pulumi cancel`: a lock's holder may still be running (a colleague's update, a
// Deployments run), and cancelling it would leave its resources half-written; the break-glass
// write does not need the lock. The command prints how to clear a dead one.
func RollbackSlot(ctx context.Context, open func(context.Context) (Stack, error), live LivePool, file Stack, req ShiftRequest, out io.Writer) (RollbackResult, error) {
	req.Rollback, req.To = true, 0
	to := weightsWith(req.Slot, 0)
	var liveNow *pool.Live
	if live != nil {
		if l, err := live.Read(ctx); err != nil {
			fmt.Fprintf(out, "warning: could not read the live pool through ARM (%v); rolling back from Pulumi state\n", err)
		} else {
			liveNow = &l
			fmt.Fprintf(out, "live pool: %s, current-slot-name %s\n", l.Weights, l.CurrentSlotName)
			if rec, ok := l.Record(); ok && rec.Weights == l.Weights {
				fmt.Fprintf(out, "the pool's record: set by %s at %s\n", rec.By, rec.At.Format(time.RFC3339))
			}
		}
	}

	phase := "the stack cannot be opened"
	pulumiErr := func() error {
		st, err := open(ctx)
		if err != nil {
			return fmt.Errorf("open the stack: %w", err)
		}
		phase = "the deployed stack cannot be read"
		dep, err := st.Deployed(ctx)
		if err != nil {
			return err
		}
		phase = "the update failed"
		if liveNow == nil || liveNow.Weights != dep.Weights {
			if liveNow != nil {
				fmt.Fprintf(out, "the live pool (%s) differs from Pulumi state (%s): changed outside Pulumi (the portal, a break-glass rollback)\n", liveNow.Weights, dep.Weights)
				req.Live = &liveNow.Weights
			}
			fmt.Fprintln(out, "pulumi refresh, traffic resources only...")
			if err := st.Refresh(ctx, io.Discard, trafficTargets(st, req, nil, TrafficOnly)); err != nil {
				fmt.Fprintf(out, "warning: the refresh failed (%v); going on\n", oneLine(err))
			}
		}
		if _, err := Shift(ctx, st, req, out); err != nil {
			return err
		}
		if live == nil {
			return nil
		}
		phase = "the update left traffic on the slot"
		after, err := live.Read(ctx)
		switch {
		case err != nil:
			fmt.Fprintf(out, "warning: could not read the live pool after the update (%v)\n", err)
		case after.Weights.Of(req.Slot) != 0:
			return fmt.Errorf("after the update the live pool still gives %s %d%%", req.Slot, after.Weights.Of(req.Slot))
		}
		return nil
	}()
	if pulumiErr == nil {
		return RollbackResult{}, nil
	}
	if errors.Is(pulumiErr, context.Canceled) && ctx.Err() != nil {
		// The caller gave up; the break-glass path below still runs, detached, since a
		// cancelled rollback would leave the failing slot with its traffic.
		ctx = context.WithoutCancel(ctx)
	}
	if live == nil {
		return RollbackResult{}, fmt.Errorf("the rollback could not go through Pulumi (%w), and the live pool cannot be reached through ARM for a break-glass write", pulumiErr)
	}
	reason := phase + ": " + oneLine(pulumiErr)
	fmt.Fprintf(out, "break-glass: the Pulumi update cannot go through (%s); writing the pool through ARM\n", reason)
	if err := WriteRollback(ctx, live, liveNow, req.Slot, pool.BreakGlassBy, out); err != nil {
		return RollbackResult{}, fmt.Errorf("rollback through Pulumi failed (%w), and so did the break-glass write through ARM: %w", pulumiErr, err)
	}
	fmt.Fprintf(out, "traffic: %s, written through ARM (break-glass)\n", to)
	if file != nil {
		if _, err := writeWeights(ctx, file, to); err != nil {
			fmt.Fprintf(out, "warning: the stack file could not record blueWeight %d (%v); set it before the next pulumi up\n", to.Blue, err)
		} else {
			fmt.Fprintf(out, "config: blueWeight %d recorded in the stack file, so the next pulumi up converges state without moving traffic\n", to.Blue)
		}
	}
	return RollbackResult{BreakGlass: true, Reason: reason}, nil
}

// WriteRollback takes slot to 0% by writing the pool's weights and current-slot-name through
// ARM alone (the break-glass write), the pool's record naming by; before is the pool as last
// read, nil to read it now. The write is ETag-conditional (pool.Located), so it never silently
// overwrites a move made since the read. The watcher rolls back this way, as does a rollback
// whose Pulumi update could not go through.
func WriteRollback(ctx context.Context, live LivePool, before *pool.Live, slot stack.Slot, by string, out io.Writer) error {
	to := weightsWith(slot, 0)
	if before == nil {
		if l, err := live.Read(ctx); err == nil {
			before = &l
		}
	}
	var note string
	if before != nil {
		note = stack.NextRecord(before.Weights, before.Description, to, stack.Mover{By: by, At: time.Now()}).String()
	} else {
		note = stack.PoolRecord{Weights: to, By: by, At: time.Now()}.String()
	}
	_, err := live.Write(ctx, to, to.CurrentSlotName(), note, out)
	return err
}

// RecordWeights writes w into a stack's config: blueWeight, and greenWeight when it is set.
func RecordWeights(ctx context.Context, st Stack, w stack.Weights) error {
	_, err := writeWeights(ctx, st, w)
	return err
}

// weightsWith are the weights that give slot pct percent.
func weightsWith(slot stack.Slot, pct int) stack.Weights {
	if slot == stack.Blue {
		return stack.Weights{Green: 100 - pct, Blue: pct}
	}
	return stack.Weights{Green: pct, Blue: 100 - pct}
}

// oneLine is the line of an error worth showing: the Pulumi CLI's own "error:" line when the
// error came from the engine, else its first line.
func oneLine(err error) string { return engine.Message(err) }
