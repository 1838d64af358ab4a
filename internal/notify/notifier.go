package notify

import (
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// Notifier tells one command's events to a stack's targets. A nil Notifier, or one without
// targets, tells nobody, so a command calls it the same whether the stack has notify or not.
type Notifier struct {
	targets []stack.NotifyTarget
	origin  Origin
	sender  *Sender
	clock   Clock
}

// New returns a notifier sending o's events to targets through sender.
func New(targets []stack.NotifyTarget, o Origin, sender *Sender, clock Clock) *Notifier {
	return &Notifier{targets: targets, origin: o, sender: sender, clock: clock}
}

func (n *Notifier) active() bool { return n != nil && len(n.targets) > 0 }

// Progress tells a release's moment: its start, a step's shift, a step's passing. It returns at
// once (rollout.Controller.WithProgress).
func (n *Notifier) Progress(p rollout.Progress) {
	if !n.active() {
		return
	}
	n.sender.Send(n.targets, progressEvent(n.origin, p, n.clock.Now()))
}

// Released tells how a release ended, once Run has returned: after its rollback's write, if it
// had one, never before.
func (n *Notifier) Released(rec rollout.Record) {
	if !n.active() {
		return
	}
	if e, ok := releaseEndEvent(n.origin, rec, n.clock.Now()); ok {
		n.sender.Send(n.targets, e)
	}
}

// Watched tells how a watch ended, when it rolled its canary back or failed to.
func (n *Notifier) Watched(rec rollout.Record) {
	if !n.active() {
		return
	}
	if e, ok := watchEndEvent(n.origin, rec, n.clock.Now()); ok {
		n.sender.Send(n.targets, e)
	}
}

// WatcherWatched tells how one run of the watcher in Azure ended, when it rolled its canary
// back or failed to.
func (n *Notifier) WatcherWatched(rec rollout.Record) {
	if !n.active() {
		return
	}
	if e, ok := watcherEndEvent(n.origin, rec, n.clock.Now()); ok {
		n.sender.Send(n.targets, e)
	}
}

// BreakGlass tells of a rollback written through ARM, once the write is done.
func (n *Notifier) BreakGlass(slot stack.Slot, by, reason string) {
	if !n.active() {
		return
	}
	o := n.origin
	o.By = by
	n.sender.Send(n.targets, breakGlassEvent(o, slot, reason, n.clock.Now()))
}

// Close waits for the messages still in flight, at most one message's time (Limits), and
// returns every message's outcome for the run's record. Nothing it returns changes how the
// command ends.
func (n *Notifier) Close() []rollout.Notification {
	if !n.active() {
		return nil
	}
	return n.sender.Close()
}
