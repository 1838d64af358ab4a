//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/internal/history"
	"github.com/slotless/slotless/internal/notify"
	"github.com/slotless/slotless/stack"
)

// The watcher scenarios run the watcher as Azure runs it: the stack declares its app (config
// watcher true), `slotless watcher deploy` deploys its package through the deployment host, and
// the stand-in's Functions host (azurefake.FunctionsHost) runs the package's slotless as its
// custom handler, with the app's settings as its environment, its identity's tokens from
// App Service's identity endpoint, and its timer fired on the test's clock. What stands in for
// Azure's public endpoints is the platform environment below: the ARM facade, the scripted Log
// Analytics query API, and the HTTPS proxy to the storage accounts' blob endpoints and the API
// Management gateway.

// watcherWorld is a deployed stack with the watcher on, a paused-release-ready API and users,
// a json webhook, the history, and the watcher's host.
type watcherWorld struct {
	u    *user
	svc  *services
	hist *historyWorld
	hook *hook
	host *azurefake.FunctionsHost
	// period is the schedule's; app the watcher app's name.
	period time.Duration
	app    string
}

// watcherUser deploys the stack with the watcher on its seconds-scale schedule, deploys the
// watcher's package, and starts its host (not its process: the first occurrence does).
func watcherUser(t *testing.T, schedule string, period time.Duration, config ...string) *watcherWorld {
	t.Helper()
	u, svc := releaseUser(t, append([]string{"bakeMinutes 0", "watcher true", fmt.Sprintf("watcherSchedule %q", schedule)}, config...)...)
	doc, docURL := newHook(t, http.StatusOK, false)
	u.sh(fmt.Sprintf(`pulumi config set-all --stack dev --path --plaintext 'notify[0].kind=json' --secret 'notify[0].url=%s'`, docURL))
	u.up("dev")
	// Log Analytics authorizes a caller other than the deploying identity by its roles.
	svc.table.Access = &azurefake.QueryAccess{Store: &u.cloud}
	h := withHistory(t, u)
	w := &watcherWorld{u: u, svc: svc, hist: h, hook: doc, period: period}
	c, err := u.cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.ByType("azure-native:web:WebApp") {
		if r.Subscription == u.sub && strings.HasPrefix(r.Name(), "watcher-app") {
			w.app = r.Name()
		}
	}
	if w.app == "" {
		t.Fatal("the stack declares no watcher app")
	}
	u.sh("slotless watcher deploy --stack dev")
	// What Azure's network is to the watcher's process: the storage accounts and the gateway
	// behind the HTTPS proxy, under the CA its SSL_CERT_FILE trusts.
	blobs := &azurefake.BlobService{Store: &u.cloud}
	proxy := httptest.NewServer(azurefake.AppProxy{Hosts: http.NotFoundHandler(), CA: u.arm.pool, Blobs: blobs, Gateway: http.HandlerFunc(svc.serveAPI)})
	t.Cleanup(proxy.Close)
	platform := map[string]string{
		"ARM_RESOURCE_MANAGER_ENDPOINT": u.arm.url,
		"ARM_RESOURCE_MANAGER_AUDIENCE": "https://management.azure.com",
		"SLOTLESS_LOGS_ENDPOINT":        svc.logs.URL + "/v1",
		"SLOTLESS_LOGS_AUDIENCE":        "https://api.loganalytics.io",
		"SSL_CERT_FILE":                 svc.certFile,
		"HTTPS_PROXY":                   proxy.URL,
	}
	w.host = azurefake.NewFunctionsHost(&u.cloud, w.app, time.Now(), platform, t.TempDir())
	w.host.Output = testWriter{t}
	t.Cleanup(w.host.Stop)
	return w
}

// fire runs the next occurrence and fails the test when the host cannot run it.
func (w *watcherWorld) fire(t *testing.T) *azurefake.Execution {
	t.Helper()
	e, err := w.host.Fire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("occurrence %s (past due %v): %d in %s, %s\n%s", e.At.Format(time.TimeOnly), e.Timer.IsPastDue, e.Status, e.Took.Round(time.Millisecond), e.ReturnValue, strings.Join(e.Logs, "\n"))
	return e
}

// summary is a tick's ReturnValue.
func summary(t *testing.T, e *azurefake.Execution) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(e.ReturnValue, &m); err != nil {
		t.Fatalf("the tick's return value %s: %v", e.ReturnValue, err)
	}
	return m
}

// watcherToken is a token Entra issues the watcher's identity for resource.
func (w *watcherWorld) watcherToken(t *testing.T, resource string) string {
	t.Helper()
	var token string
	if err := w.u.cloud.Update(func(c *azurefake.Cloud) error {
		for _, r := range c.ByType("azure-native:managedidentity:UserAssignedIdentity") {
			if r.Subscription == w.u.sub && strings.HasPrefix(r.Name(), "watcher-identity") {
				client, _ := r.Properties["clientId"].(string)
				var err error
				token, err = c.IssueToken(client, resource)
				return err
			}
		}
		return fmt.Errorf("no watcher identity")
	}); err != nil {
		t.Fatal(err)
	}
	return token
}

// TestWatcherRollsBackAPausedCanary: a release stops at --until 10 and its job is gone; the
// watcher is deployed and runs in Azure. The canary starts failing (20% of its requests answer
// 500, recorded with Success == true) while the Pulumi backend is unreachable; the timer's
// occurrences take it to 0% within three, through ARM, the pool's record naming the watcher,
// a json webhook told with the report's headline, and the history listing the watcher's
// entry (read with --history-url, the backend still away). The watcher's own token can
// neither repoint a backend nor deploy. With the backend back, a plain pulumi up with the
// stale stack file converges without moving traffic.
func TestWatcherRollsBackAPausedCanary(t *testing.T) {
	parallel(t, 100*time.Second)
	const period = 10 * time.Second
	w := watcherUser(t, "*/10 * * * * *", period)
	u, svc := w.u, w.svc
	u.sh(w.hist.env + svc.release("--until 10", filepath.Join(t.TempDir(), "release.json")))
	if got := u.weights(); got.Blue != 10 {
		t.Fatalf("pool after --until 10: got %s, want blue 10", got)
	}

	// The Pulumi backend is unreachable for the watcher's whole part.
	away := u.backend + ".away"
	if err := os.Rename(u.backend, away); err != nil {
		t.Fatal(err)
	}
	onset := svc.failCanary()
	const within = 3
	var ticks time.Duration
	var logs []string
	n := 0
	for ; n < within && u.weights().Blue != 0; n++ {
		e := w.fire(t)
		ticks += e.Took
		logs = append(logs, e.Logs...)
	}
	// Rolled back for the failure it was shown, not for a verdict on data it misread.
	if why := strings.Join(logs, "\n"); !strings.Contains(why, "metrics gate: failure-rate") || strings.Contains(why, "sample-ratio") {
		t.Errorf("the watcher's rollback does not name the canary's failure rate (or names a sample-ratio failure of a canary that lost nothing):\n%s", why)
	}
	took := time.Since(onset)
	if got := u.weights(); got.Blue != 0 || u.currentSlotName() != "green-backend" {
		t.Fatalf("after %d occurrences: %s, %s; want blue 0 and green-backend", n, got, u.currentSlotName())
	}
	t.Logf("MEASURED failing canary (5xx recorded as success) to 0%% by the watcher: %d occurrence(s); in Azure at most %d × %s + the ticks' %s = %s; here %s from the first failing request",
		n, n, period, ticks.Round(time.Millisecond), (time.Duration(n)*period + ticks).Round(time.Second), took.Round(time.Millisecond))
	if rec, ok := stack.ParsePoolRecord(u.poolDescription()); !ok || rec.By != stack.WatcherBy {
		t.Errorf("the pool's record %q does not name the watcher", u.poolDescription())
	}
	msg := w.hook.message(t, string(notify.WatcherRolledBack))
	var told struct{ Slot, Headline string }
	if err := json.Unmarshal([]byte(msg), &told); err != nil || told.Slot != "blue" || !strings.Contains(told.Headline, "rolled back") {
		t.Errorf("the webhook got %v (%q), want %s of blue with the headline", w.hook.events(t), msg, notify.WatcherRolledBack)
	}
	out := u.sh(w.hist.env + "slotless history --stack dev --history-url " + w.hist.url + " --json 2>/dev/null")
	var es []history.Entry
	if err := json.Unmarshal([]byte(out), &es); err != nil {
		t.Fatalf("slotless history --json: %v\n%s", err, out)
	}
	if len(es) == 0 || es[0].Kind != history.KindWatcher || es[0].Outcome != "rolled-back" || es[0].By != stack.WatcherBy {
		t.Errorf("history: %+v, want the watcher's rollback first", es)
	}

	// The watcher's identity, by its own token: no backend repointed, no deployment.
	armTok := w.watcherToken(t, "https://management.azure.com")
	client := tlsClient(u.arm.pool)
	pool := u.poolTarget()
	backend := fmt.Sprintf("%s/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ApiManagement/service/%s/backends/blue-backend?api-version=2024-05-01", u.arm.url, pool.Subscription, pool.ResourceGroup, pool.Service)
	for _, call := range []struct{ what, method, url, body string }{
		{"repoint a backend", http.MethodPatch, backend, `{"properties":{"url":"https://elsewhere.example"}}`},
		{"deploy", http.MethodPost, u.arm.url + "/scm/" + w.app + "/api/publish", "not a package"},
	} {
		req, _ := http.NewRequest(call.method, call.url, bytes.NewBufferString(call.body))
		req.Header.Set("Authorization", "Bearer "+armTok)
		req.Header.Set("If-Match", "*")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("the watcher's identity may %s: %d, want 403", call.what, resp.StatusCode)
		}
	}

	// The backend back: the stack file still says blue 10; a plain update keeps 0%.
	if err := os.Rename(away, u.backend); err != nil {
		t.Fatal(err)
	}
	_, upOut, err := u.tryUp("dev")
	if err != nil {
		t.Fatalf("pulumi up after the watcher's rollback: %v\n%s", err, upOut)
	}
	if got := u.weights(); got.Blue != 0 || !strings.Contains(upOut, "slotless record --stack dev") {
		t.Errorf("pulumi up with the stale stack file: %s; want blue kept at 0 and a warning naming slotless record", got)
	}
}

// judgedWindow reads, from a tick's logs, the arrivals its metrics gate judged: the window's
// start as the watch printed it (a time of day), on the date of end, the tick's judgedTo.
var judgedWindowRE = regexp.MustCompile(`reached Log Analytics in \[(\d\d:\d\d:\d\d), (\d\d:\d\d:\d\d)\)`)

// TestWatcherLeavesAHealthyCanaryAloneAndNeverJudgesBesideARelease: one deployed stack, a
// release paused at 10% with a healthy canary, and the watcher on a four-second schedule.
//
// A simulated night: 44 occurrences, 36 of them missed while the app was down (Miss, twice):
// each comeback runs one catch-up execution marked IsPastDue, not one per missed occurrence;
// every execution judges the canary and leaves it alone; no notification but the release's own
// reaches the webhook; the history holds no watcher entry (a tick that left a stretch unjudged
// would write one); and each window starts at or before where the last one ended, so the
// cursor covers every arrival.
//
// Then one judge at a time, every hold by construction: a release resuming from 10% takes the
// stack's lease and is held in its first request to the API; the occurrences fired meanwhile
// skip, naming the release; the release is killed, and its lease, which a dead process no longer
// renews, still keeps the watcher out until it has expired (ExpireLeases), when the next
// occurrence judges the canary. A tick held in its Log Analytics query holds the lease: a
// `slotless shift` waits for it (--lease-wait 1s) and moves nothing, exiting 3 naming the
// watcher, while a `slotless rollback` goes through at once; the held tick, let go, writes
// nothing over it.
func TestWatcherLeavesAHealthyCanaryAloneAndNeverJudgesBesideARelease(t *testing.T) {
	parallel(t, 90*time.Second)
	const period = 4 * time.Second
	// A four-second window has about 40 of the canary's users' requests: enough to judge.
	w := watcherUser(t, "*/4 * * * * *", period, "metricsMinRequests 20")
	u, svc := w.u, w.svc
	u.sh(w.hist.env + svc.release("--until 10", filepath.Join(t.TempDir(), "release.json")))
	if got := u.weights(); got.Blue != 10 {
		t.Fatalf("pool after --until 10: got %s, want blue 10", got)
	}
	told := w.hook.events(t)

	// The night.
	start := time.Now()
	var last time.Time
	executions, occurrences := 0, 0
	for _, step := range []struct{ miss, fire int }{{0, 3}, {12, 2}, {24, 3}} {
		if step.miss > 0 {
			w.host.Miss(step.miss)
			occurrences += step.miss
		}
		for i := 0; i < step.fire; i++ {
			e := w.fire(t)
			executions++
			occurrences++
			if pastDue := step.miss > 0 && i == 0; e.Timer.IsPastDue != pastDue {
				t.Errorf("execution %d: IsPastDue %v, want %v (one catch-up run after the app was down)", executions, e.Timer.IsPastDue, pastDue)
			}
			m := summary(t, e)
			if !e.Succeeded() || m["outcome"] != "judged" || m["record"] != "watched" {
				t.Fatalf("execution %d: %d, %v; want the healthy canary watched", executions, e.Status, m)
			}
			to, err := time.Parse(time.RFC3339, fmt.Sprint(m["judgedTo"]))
			if err != nil || !to.After(last) {
				t.Fatalf("execution %d: judged to %v (%v), want past %s", executions, m["judgedTo"], err, last)
			}
			got := judgedWindowRE.FindStringSubmatch(strings.Join(e.Logs, "\n"))
			if got == nil {
				t.Fatalf("execution %d: no judged window in its logs", executions)
			}
			from, err := time.Parse(time.DateOnly+" "+time.TimeOnly, to.UTC().Format(time.DateOnly)+" "+got[1])
			if err == nil && from.After(to) {
				from = from.AddDate(0, 0, -1) // the window began before midnight
			}
			if err != nil || !last.IsZero() && from.After(last) {
				t.Errorf("execution %d: judged from %s, but the last window ended at %s: the arrivals between were never judged", executions, got[1], last.Format(time.TimeOnly))
			}
			last = to
		}
	}
	t.Logf("MEASURED a night of %d occurrences (%d executed, %d missed) in %s", occurrences, executions, occurrences-executions, time.Since(start).Round(time.Millisecond))
	if got := u.weights(); got.Blue != 10 {
		t.Fatalf("after the night: %s, want the canary left at blue 10", got)
	}
	if got := w.hook.events(t); !slices.Equal(got, told) {
		t.Errorf("the webhook got %v during the night, want nothing after the release's own %v", got[len(told):], told)
	}
	for _, e := range w.hist.entries(t) {
		if e.Kind == history.KindWatcher {
			t.Errorf("the history has a watcher entry after a healthy night: %+v", e)
		}
	}

	// A release resuming from 10% holds the lease; it is held in its first request to the API.
	held, let := svc.holdDirect()
	defer let()
	rel, relOut := u.start("env " + w.hist.env + svc.release("--until 50", filepath.Join(t.TempDir(), "resumed.json")))
	select {
	case <-held:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the resumed release never reached the API:\n%s", relOut.String())
	}
	skips := func(why string) {
		t.Helper()
		e := w.fire(t)
		m := summary(t, e)
		if !e.Succeeded() || m["outcome"] != "skipped" || !strings.HasPrefix(fmt.Sprint(m["heldBy"]), "release ") {
			t.Errorf("an occurrence %s: %d, %v; want it skipped, naming the release", why, e.Status, m)
		}
	}
	skips("while the release runs")
	skips("while the release runs, again")
	_ = syscall.Kill(-rel.Process.Pid, syscall.SIGKILL)
	_ = rel.Wait()
	let()
	skips("after the release died, before its lease expired")
	if err := u.cloud.Update(func(c *azurefake.Cloud) error { c.ExpireLeases(); return nil }); err != nil {
		t.Fatal(err)
	}
	if e := w.fire(t); summary(t, e)["outcome"] != "judged" || summary(t, e)["record"] != "watched" {
		t.Errorf("the occurrence after the dead release's lease expired: %v, want it to judge the canary", summary(t, e))
	}
	if got := u.weights(); got.Blue != 10 {
		t.Fatalf("after the dead release: %s, want blue 10", got)
	}

	// A tick held in its metrics query holds the lease.
	queried, letQuery := make(chan struct{}), make(chan struct{})
	var once sync.Once
	svc.onQuery(func(int) { once.Do(func() { close(queried); <-letQuery }) })
	tick, err := w.host.Go(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() { tick.Wait(); close(ended) }()
	select {
	case <-queried:
	case <-ended:
		t.Fatalf("the tick ended without querying Log Analytics: %s\n%s", tick.ReturnValue, strings.Join(tick.Logs, "\n"))
	}
	out, err := u.trySh(w.hist.env + "slotless shift --stack dev --slot blue --to 50 --lease-wait 1s")
	if code := exitCode(err); code != 3 || !strings.Contains(out, "held by watcher") || u.weights().Blue != 10 {
		t.Errorf("a shift while a tick holds the lease: exit %d, pool %s; want 3, naming the watcher, and blue 10\n%s", code, u.weights(), out)
	}
	out, err = u.trySh(w.hist.env + "slotless rollback --stack dev --slot blue")
	if err != nil || u.weights().Blue != 0 || !strings.Contains(out, "a rollback never waits for it") {
		t.Errorf("a rollback while a tick holds the lease: %v, pool %s; want it through at once\n%s", err, u.weights(), out)
	}
	close(letQuery)
	svc.onQuery(nil)
	e := tick.Wait()
	t.Logf("the held tick: %d, %s\n%s", e.Status, e.ReturnValue, strings.Join(e.Logs, "\n"))
	if rec, ok := stack.ParsePoolRecord(u.poolDescription()); !ok || rec.By == stack.WatcherBy || u.weights().Blue != 0 {
		t.Errorf("after the held tick: %s, record %q; want the rollback's blue 0, not the watcher's write", u.weights(), u.poolDescription())
	}
}
