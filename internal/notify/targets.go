// Package notify tells a team's channels what a release, a watch and a break-glass rollback did:
// every release start, step, GA, rollback and stop, every break-glass write and every watch
// rollback, to the incoming webhooks of the stack's notify config (Slack, Microsoft Teams
// Workflows, or slotless's own JSON).
//
// A notification never holds up what it reports: messages are queued and sent on their own
// goroutines, each bounded in time and retries, and their outcomes are only recorded. The
// release's path calls Progress, Released, Watched and BreakGlass, which return at once; Close,
// after the run, waits for the messages still in flight, at most one message's time.
//
// One file per concern: targets.go reads the webhooks from the stack's decrypted config,
// events.go says what each event tells, formats.go renders it for each kind of webhook,
// sender.go delivers it, run.go finds the CI run to link to, and notifier.go ties them together.
package notify

import (
	"context"
	"errors"
	"fmt"

	"github.com/slotless/slotless/stack"
)

// ConfigKey is the stack config key of the targets.
const ConfigKey = "notify"

// ConfigReader reads one key of a stack's config with its secrets decrypted, as the Pulumi CLI
// does with the stack's own secrets provider (`pulumi config --show-secrets`): the same
// credentials a release already uses to reach its backend and its pinning token decrypt the
// webhook URLs, so a CI job needs no second copy of them. secret reports whether Pulumi holds the
// key as a secret; found is false when the key is not set.
type ConfigReader interface {
	DecryptedConfig(ctx context.Context, key string) (value string, secret, found bool, err error)
}

// ErrNoTargets wraps why the targets could not be read; the run goes on without telling anyone.
var ErrNoTargets = errors.New("the stack's notify targets could not be read, so nobody is told of this run")

// Targets reads the notify targets from the stack's decrypted config and checks them as the
// program does (stack.ParseNotify). A key that is not set gives none. A list whose URLs are in
// plain text, or that does not validate, is refused whole with the reasons: a release goes on
// without notifications rather than post a credential it should not have been given.
func Targets(ctx context.Context, r ConfigReader) ([]stack.NotifyTarget, error) {
	raw, secret, found, err := r.DecryptedConfig(ctx, ConfigKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoTargets, err)
	}
	if !found {
		return nil, nil
	}
	targets, problems := stack.ParseNotify(ConfigKey, raw)
	if msg := stack.NotifySecretProblem(ConfigKey, targets, secret); msg != "" {
		problems = append(problems, msg)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoTargets, joinLines(problems))
	}
	return targets, nil
}

func joinLines(lines []string) string {
	out := ""
	for i, l := range lines {
		if i > 0 {
			out += "; "
		}
		out += l
	}
	return out
}
