package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/slotless/slotless/internal/notify"
	"github.com/slotless/slotless/internal/plan"
)

// notifyReadTimeout bounds reading the stack's decrypted config for its webhooks, which a
// break-glass rollback does after its write, with a backend that may not answer.
const notifyReadTimeout = 30 * time.Second

// newNotifier wires internal/notify for a command over the stack st: the targets from the
// stack's config decrypted with its own secrets provider, the CI run it runs in, the real HTTP
// client and clock, and warnings on warn. It is nil, telling nobody, when the stack file sets no
// notify or the targets cannot be read (which it says on warn): a run never stops for them.
func newNotifier(ctx context.Context, raw plan.StackConfig, stackName string, st any, by string, getenv func(string) string, progress, warn io.Writer) *notify.Notifier {
	if _, set := raw.Source()(notify.ConfigKey); !set {
		return nil
	}
	r, ok := st.(notify.ConfigReader)
	if !ok {
		fmt.Fprintf(warn, "warning: %v: the stack's config cannot be read decrypted here\n", notify.ErrNoTargets)
		return nil
	}
	rctx, cancel := context.WithTimeout(ctx, notifyReadTimeout)
	targets, err := notify.Targets(rctx, r)
	cancel()
	if err != nil {
		fmt.Fprintf(warn, "warning: %v\n", err)
		return nil
	}
	if len(targets) == 0 {
		return nil
	}
	kinds := make([]string, len(targets))
	for i, t := range targets {
		kinds[i] = string(t.Kind)
	}
	link, actor := notify.RunLink(getenv)
	where := "no CI run to link to"
	if link != nil {
		where = "linking to " + link.Text
	}
	fmt.Fprintf(progress, "notify: %d webhooks (%s), told in the background, %s\n", len(targets), strings.Join(kinds, ", "), where)
	clock := notify.SystemClock{}
	sender := notify.NewSender(notify.NewHTTPClient(), clock, notify.DefaultLimits, warn)
	return notify.New(targets, notify.Origin{Project: raw.Project, Stack: stackName, By: by, Actor: actor, Link: link}, sender, clock)
}
