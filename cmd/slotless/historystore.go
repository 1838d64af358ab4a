package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/credential"
	"github.com/slotless/slotless/internal/history"
	"github.com/slotless/slotless/internal/notify"
	"github.com/slotless/slotless/internal/release"
	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// envHistoryURL names the history container when the stack's outputs cannot be read (the
// Pulumi backend down): https://<account>.blob.core.windows.net/history.
const envHistoryURL = "SLOTLESS_HISTORY_URL"

// The stack's lease as the commands hold it: for 60 s, renewed every 20 s in the background, so
// a holder whose process died loses it within a minute.
const (
	leaseFor         = 60 * time.Second
	leaseRenewEvery  = 20 * time.Second
	defaultLeaseWait = 2 * time.Minute
	// rollbackLeaseTry bounds the one attempt a rollback makes at the lease: it never waits.
	rollbackLeaseTry = 10 * time.Second
)

// historyFlag adds --history-url.
func historyFlag(cmd *cobra.Command, url *string) {
	cmd.Flags().StringVar(url, "history-url", "", "the stack's history container, https://<account>.blob.core.windows.net/history; default $"+envHistoryURL+", else the stack output "+stack.OutHistoryURL)
}

// historyURL is the history container's URL: --history-url, else SLOTLESS_HISTORY_URL, else the
// stack output historyUrl; "" when none says, with why.
func historyURL(flag string, getenv func(string) string, outs map[string]any) (string, string) {
	if flag != "" {
		return flag, ""
	}
	if v := getenv(envHistoryURL); v != "" {
		return v, ""
	}
	if v, _ := outs[stack.OutHistoryURL].(string); v != "" {
		return v, ""
	}
	if outs == nil {
		return "", "the stack's outputs cannot be read; set --history-url or " + envHistoryURL
	}
	return "", "the stack has no " + stack.OutHistoryURL + " output yet (pulumi up with this slotless creates its history container)"
}

// openHistory opens the history container at url with the release's Azure credential. History
// is never in a command's critical path, so a request is retried little: a store that does not
// answer costs seconds, not minutes.
func openHistory(url string, getenv func(string) string) (*history.Store, error) {
	cred, _, err := credential.Azure(getenv)
	if err != nil {
		return nil, err
	}
	return history.Open(url, cred, &azblob.ClientOptions{ClientOptions: policy.ClientOptions{
		Retry: policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Second, MaxRetryDelay: 4 * time.Second, TryTimeout: 20 * time.Second, ShouldRetry: retryHistory},
	}})
}

// retryStatuses are the answers azcore's retry policy retries by default (policy.RetryOptions:
// "408, 429, 500, 502, 503, 504"); ShouldRetry replaces that list, so it is kept here.
var retryStatuses = []int{http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// retryHistory is azcore's retry rule, but for a name that does not resolve: an account's
// endpoint that DNS does not know will not appear within a retry's backoff, and the command is
// better told at once that its history is out of reach.
func retryHistory(resp *http.Response, err error) bool {
	if err != nil {
		var dns *net.DNSError
		return !(errors.As(err, &dns) && dns.IsNotFound)
	}
	return resp != nil && slices.Contains(retryStatuses, resp.StatusCode)
}

// unreachable reports whether err says the history did not answer at all (no HTTP answer), so a
// command stops trying it for the rest of its run instead of paying for each attempt.
func unreachable(err error) bool {
	var re *azcore.ResponseError
	return err != nil && !errors.As(err, &re) && !history.IsHeldErr(err)
}

// historyFor opens the history for a command that has the stack's outputs, or says on warn why
// it cannot, and returns nil: the command goes on without it.
func historyFor(flag string, outs map[string]any, getenv func(string) string, warn io.Writer) *history.Store {
	url, why := historyURL(flag, getenv, outs)
	if url == "" {
		fmt.Fprintf(warn, "warning: no history: %s\n", why)
		return nil
	}
	s, err := openHistory(url, getenv)
	if err != nil {
		fmt.Fprintf(warn, "warning: no history: %v\n", err)
		return nil
	}
	return s
}

// openHistoryStore opens the history of a stack for history and report --id: the container
// --history-url or SLOTLESS_HISTORY_URL names, else the one the stack's outputs name.
func (d deps) openHistoryStore(ctx context.Context, dir, stackName, flag string, getenv func(string) string) (*history.Store, error) {
	var outs map[string]any
	url, _ := historyURL(flag, getenv, nil)
	if url == "" {
		var err error
		if outs, err = d.stackOutputs(ctx, dir, stackName); err != nil {
			return nil, fmt.Errorf("%w (with the Pulumi backend down, set --history-url or %s)", err, envHistoryURL)
		}
		var why string
		if url, why = historyURL(flag, getenv, outs); url == "" {
			return nil, errors.New(why)
		}
	}
	return openHistory(url, getenv)
}

// historyRun is one run's lease and record: a release's or a watch's. A nil one does nothing.
type historyRun struct {
	store    *history.Store
	lease    *history.Lease
	keep     func() error
	recorder *history.Recorder
	kind     string
	base     history.Entry
	warn     io.Writer
}

// startRelease takes the stack's lease for a release, waiting up to wait while another holds it
// (exit 3 naming the holder after that), and starts recording the release in the history. When
// the history cannot be reached, the release goes on without the lease and says so loudly: a
// release is not refused because its history is down (docs/releases.md#the-lease).
func startRelease(ctx context.Context, flag string, outs map[string]any, stackName string, slot stack.Slot, version string, wait time.Duration, p rollout.Plan, getenv func(string) string, progress, warn io.Writer) (*historyRun, error) {
	s := historyFor(flag, outs, getenv, warn)
	_, actor := notify.RunLink(getenv)
	now := time.Now().UTC()
	r := &historyRun{store: s, kind: history.KindRelease, warn: warn, base: history.Entry{
		ID: history.NewID(history.KindRelease, now), Kind: history.KindRelease, Started: now,
		By: history.By("slotless release", actor), Stack: stackName, Slot: string(slot), Version: version,
	}}
	if s == nil {
		fmt.Fprintf(warn, "warning: the release runs WITHOUT the stack's lease: the watcher cannot see it, and may judge this canary too (both only ever roll back; the pool write stays ETag-conditional)\n")
		return r, nil
	}
	l, err := s.AcquireWaiting(ctx, history.Holder{Kind: history.HolderRelease, ID: r.base.ID, By: r.base.By, Since: now}, leaseFor, history.Wait{For: wait, Progress: progress})
	if _, held := history.IsHeld(err); held {
		return nil, fmt.Errorf("release: %w: %w; nothing was moved: run it again once the holder lets go", release.ErrBlocked, err)
	}
	if err != nil {
		fmt.Fprintf(warn, "warning: the release runs WITHOUT the stack's lease, which cannot be taken (%v): the watcher cannot see it, and may judge this canary too (both only ever roll back; the pool write stays ETag-conditional)\n", err)
		if unreachable(err) {
			r.store = nil // not tried again in this run
			return r, nil
		}
	} else {
		r.lease, r.keep = l, l.Keep(ctx, leaseRenewEvery)
		fmt.Fprintf(progress, "lease: held for this release (%s), renewed every %s; history %s\n", r.base.ID, leaseRenewEvery, s.URL())
	}
	r.recorder = history.NewRecorder(s, r.base, p, warn)
	return r, nil
}

// startWatch takes the stack's lease for one CI watch, without waiting: a release or the
// in-Azure watcher that holds it judges the canary itself, so the watch skips (skip true). A
// history that cannot be reached does not stop the watch, the second line.
func startWatch(ctx context.Context, flag string, outs map[string]any, stackName string, getenv func(string) string, progress, warn io.Writer) (run *historyRun, skip bool) {
	s := historyFor(flag, outs, getenv, warn)
	_, actor := notify.RunLink(getenv)
	now := time.Now().UTC()
	r := &historyRun{store: s, kind: history.KindWatcher, warn: warn, base: history.Entry{
		ID: history.NewID(history.KindWatcher, now), Kind: history.KindWatcher, Started: now, By: history.By("slotless watch", actor), Stack: stackName,
	}}
	if s == nil {
		return r, false
	}
	l, err := s.Acquire(ctx, history.Holder{Kind: history.HolderWatcher, ID: r.base.ID, By: r.base.By, Since: now}, leaseFor)
	if h, held := history.IsHeld(err); held {
		fmt.Fprintf(progress, "skipped: the stack's lease is held by %s, which judges the canary itself\n", h)
		return nil, true
	}
	if err != nil {
		fmt.Fprintf(warn, "warning: the watch runs without the stack's lease (%v)\n", err)
		if unreachable(err) {
			r.store = nil
		}
		return r, false
	}
	r.lease, r.keep = l, l.Keep(ctx, leaseRenewEvery)
	return r, false
}

// progress records a moment of a release in flight.
func (r *historyRun) progress(p rollout.Progress) {
	if r != nil {
		r.recorder.Progress(p)
	}
}

// finish writes the run's entry and gives the lease back; a paused release gives it back too,
// and the watcher takes over between runs. Failures are warnings.
func (r *historyRun) finish(ctx context.Context, rec rollout.Record) {
	if r == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if r.store != nil && rec.Outcome != rollout.OutcomeDryRun {
		var err error
		if r.recorder != nil {
			_, err = r.recorder.Finish(ctx, rec)
		} else {
			var e history.Entry
			if e, err = history.EntryOf(r.base.ID, r.kind, r.base.By, r.base.Stack, rec); err == nil {
				err = history.Record(ctx, r.store, e)
			}
		}
		if err != nil {
			fmt.Fprintf(r.warn, "warning: the run could not be recorded in the history (%v)\n", err)
		}
	}
	if r.lease == nil {
		return
	}
	if err := r.keep(); err != nil {
		fmt.Fprintf(r.warn, "warning: the stack's lease was lost during the run: %v\n", err)
	}
	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := r.lease.Release(lctx); err != nil {
		fmt.Fprintf(r.warn, "warning: the stack's lease could not be given back (%v); it expires within %s\n", err, leaseFor)
	}
}

// moveRun is a shift's, promote's or rollback's lease and record.
type moveRun struct {
	store   *history.Store
	lease   *history.Lease
	keep    func() error
	command string
	id, by  string
	stack   string
	started time.Time
	warn    io.Writer
}

// startMove takes the stack's lease for a shift, promote or rollback. A shift or promote waits
// for another holder as a release does (exit 3 after wait). A rollback never waits and is never
// refused: one short attempt, and it goes on without the lease, saying so.
func startMove(ctx context.Context, command, flag string, outs map[string]any, stackName string, wait time.Duration, getenv func(string) string, progress, warn io.Writer) (*moveRun, error) {
	s := historyFor(flag, outs, getenv, warn)
	_, actor := notify.RunLink(getenv)
	now := time.Now().UTC()
	m := &moveRun{store: s, command: command, id: history.NewID(command, now), by: history.By("slotless "+command, actor), stack: stackName, started: now, warn: warn}
	if s == nil {
		return m, nil
	}
	h := history.Holder{Kind: history.HolderShift, ID: m.id, By: m.by, Since: now}
	var l *history.Lease
	var err error
	if command == "rollback" {
		actx, cancel := context.WithTimeout(ctx, rollbackLeaseTry)
		l, err = s.Acquire(actx, h, leaseFor)
		cancel()
		if err != nil {
			fmt.Fprintf(progress, "lease: the rollback goes on without the stack's lease (%v): a rollback never waits for it\n", err)
			if unreachable(err) {
				m.store = nil
			}
			return m, nil
		}
	} else {
		l, err = s.AcquireWaiting(ctx, h, leaseFor, history.Wait{For: wait, Progress: progress})
		if _, held := history.IsHeld(err); held {
			return nil, fmt.Errorf("%s: %w: %w; nothing was moved", command, release.ErrBlocked, err)
		}
		if err != nil {
			fmt.Fprintf(warn, "warning: the %s runs without the stack's lease, which cannot be taken (%v)\n", command, err)
			if unreachable(err) {
				m.store = nil
			}
			return m, nil
		}
	}
	m.lease, m.keep = l, l.Keep(ctx, leaseRenewEvery)
	return m, nil
}

// recordOnly is a moveRun that records and holds no lease, for a rollback that never reached
// the stack; nil without a history.
func recordOnly(ctx context.Context, command, flag string, outs map[string]any, stackName string, getenv func(string) string, warn io.Writer) *moveRun {
	url, _ := historyURL(flag, getenv, outs)
	if url == "" {
		return nil
	}
	s, err := openHistory(url, getenv)
	if err != nil {
		fmt.Fprintf(warn, "warning: no history: %v\n", err)
		return nil
	}
	_, actor := notify.RunLink(getenv)
	now := time.Now().UTC()
	return &moveRun{store: s, command: command, id: history.NewID(command, now), by: history.By("slotless "+command, actor), stack: stackName, started: now, warn: warn}
}

// finish records the move and gives the lease back. kind is the command, or break-glass for a
// rollback written through ARM.
func (m *moveRun) finish(ctx context.Context, kind string, rec rollout.Record) {
	if m == nil {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if m.store != nil {
		id := m.id
		if kind != m.command {
			id = strings.Replace(id, "-"+m.command+"-", "-"+kind+"-", 1)
		}
		e, err := history.EntryOf(id, kind, m.by, m.stack, rec)
		if err == nil {
			err = history.Record(ctx, m.store, e)
		}
		if err != nil {
			fmt.Fprintf(m.warn, "warning: the %s could not be recorded in the history (%v)\n", m.command, err)
		}
	}
	if m.lease == nil {
		return
	}
	if err := m.keep(); err != nil {
		fmt.Fprintf(m.warn, "warning: the stack's lease was lost during the %s: %v\n", m.command, err)
	}
	lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := m.lease.Release(lctx); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(m.warn, "warning: the stack's lease could not be given back (%v); it expires within %s\n", err, leaseFor)
	}
}
