//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/notify"
	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/internal/report"
	"github.com/slotless/slotless/internal/rollout"
)

// hook is a local webhook receiver: it keeps every message and answers status; a blocking one
// holds every request until the test frees it.
type hook struct {
	status int
	block  chan struct{}
	once   sync.Once

	mu sync.Mutex
	// got are the messages, in arrival order; held counts the requests it holds unanswered.
	got     [][]byte
	held    int
	arrived chan struct{}
	// first is when the first request arrived, and when its sender stopped waiting for the
	// answer (zero while it still waits).
	first, firstGaveUp time.Time
}

func newHook(t *testing.T, status int, blocking bool) (*hook, string) {
	h := &hook{status: status, arrived: make(chan struct{}, 64)}
	if blocking {
		h.block = make(chan struct{})
	}
	srv := httptest.NewServer(h)
	// Freed before the server closes, which waits for the requests it still holds.
	t.Cleanup(srv.Close)
	t.Cleanup(h.free)
	// The path stands for the webhook's credential: it must show nowhere slotless writes.
	return h, srv.URL + "/hook/SECRET-" + fmt.Sprint(status)
}

func (h *hook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	h.mu.Lock()
	h.got = append(h.got, body)
	isFirst := len(h.got) == 1
	if isFirst {
		h.first = time.Now()
	}
	if h.block != nil {
		h.held++
	}
	h.mu.Unlock()
	h.arrived <- struct{}{}
	if h.block != nil {
		select {
		case <-h.block:
		case <-r.Context().Done():
			// The sender stopped waiting (its attempt's time ran out): the request stays held.
			if isFirst {
				h.mu.Lock()
				h.firstGaveUp = time.Now()
				h.mu.Unlock()
			}
			<-h.block
		}
		h.mu.Lock()
		h.held--
		h.mu.Unlock()
	}
	w.WriteHeader(h.status)
}

func (h *hook) free() {
	if h.block != nil {
		h.once.Do(func() { close(h.block) })
	}
}

// holding is how many requests the hook holds unanswered, and how many it has got.
func (h *hook) holding() (held, got int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held, len(h.got)
}

// events are the event names of the messages a hook got, in arrival order, as each format
// carries them: the json document's event, and the "slotless · <event> · <time>" line of a
// Slack or Teams message.
func (h *hook) events(t *testing.T) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, b := range h.got {
		var doc struct{ Event string }
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("a webhook got %s, not JSON: %v", b, err)
		}
		if doc.Event == "" {
			if _, after, ok := strings.Cut(string(b), "slotless · "); ok {
				doc.Event, _, _ = strings.Cut(after, " ")
			}
		}
		out = append(out, doc.Event)
	}
	return out
}

// message is the first message a hook got of event.
func (h *hook) message(t *testing.T, event string) string {
	for i, e := range h.events(t) {
		if e == event {
			h.mu.Lock()
			defer h.mu.Unlock()
			return string(h.got[i])
		}
	}
	return ""
}

// TestReleaseTellsItsWebhooksAndNoneDelaysTheRollback: a release whose canary stops answering
// in its first bake tells a Slack, a Teams and a json webhook of its start, its shift to 10% and
// its rollback with the report's headline, while a webhook that answers 500 to everything and
// one that holds every request unanswered cost it nothing: the pool is back at 0% while the
// blocking webhook still holds the release's messages, the three others are told of the
// rollback while it still does, and the exit code is the rollback's. No webhook URL shows in
// the stack file, the state, the output, the record or the report.
func TestReleaseTellsItsWebhooksAndNoneDelaysTheRollback(t *testing.T) {
	parallel(t, 45*time.Second)
	u, svc := releaseUser(t, "analysisIntervalSeconds 10", `releaseSteps [{"weight": 10, "bake": "60s"}, 50, 100]`)
	slack, slackURL := newHook(t, http.StatusOK, false)
	teams, teamsURL := newHook(t, http.StatusAccepted, false)
	doc, docURL := newHook(t, http.StatusOK, false)
	failing, failingURL := newHook(t, http.StatusInternalServerError, false)
	stuck, stuckURL := newHook(t, http.StatusOK, true)
	// As a team sets them: each kind in plain text, each URL encrypted with the stack's secrets
	// provider, in one pulumi call.
	u.sh(fmt.Sprintf(`pulumi config set-all --stack dev --path `+
		`--plaintext 'notify[0].kind=slack' --secret 'notify[0].url=%s' `+
		`--plaintext 'notify[1].kind=teams' --secret 'notify[1].url=%s' `+
		`--plaintext 'notify[2].kind=json' --secret 'notify[2].url=%s' `+
		`--plaintext 'notify[3].kind=json' --secret 'notify[3].url=%s' `+
		`--plaintext 'notify[4].kind=slack' --secret 'notify[4].url=%s'`, slackURL, teamsURL, docURL, failingURL, stuckURL))

	failed := make(chan time.Time, 1)
	// Query 1 checks the credentials before anything moves; query 2 is the first analysis at
	// 10%, after which blue stops answering.
	svc.onQuery(func(n int) {
		if n == 2 {
			failed <- svc.setDown("blue", true)
		}
	})
	reports := t.TempDir()
	record := filepath.Join(t.TempDir(), "release.json")
	ci := "env GITHUB_ACTIONS=true GITHUB_SERVER_URL=https://github.com GITHUB_REPOSITORY=contoso/orders GITHUB_RUN_ID=42 GITHUB_ACTOR=octocat "
	cmd, out := u.start(ci + svc.release("--report-dir "+reports, record))
	select {
	case <-failed:
	case <-time.After(4 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the first analysis never came\n%s", out)
	}
	if _, ok := u.untilBlueIs(0, 3*time.Minute); !ok {
		_ = cmd.Process.Kill()
		t.Fatalf("blue's weight never went back to 0\n%s", out)
	}
	// The rollback is written while the blocking webhook holds what it was sent, unanswered.
	if held, got := stuck.holding(); held == 0 || held != got {
		t.Fatalf("at 0%% the blocking webhook holds %d of the %d requests it got; want every one held, and at least the start's", held, got)
	}
	// The others are told of the rollback while it still holds them.
	for name, h := range map[string]*hook{"slack": slack, "teams": teams, "json": doc} {
		for !contains(h.events(t), string(notify.ReleaseRolledBack)) {
			select {
			case <-h.arrived:
			case <-time.After(time.Minute):
				t.Fatalf("%s was never told of the rollback; it got %v\n%s", name, h.events(t), out)
			}
		}
	}
	if held, got := stuck.holding(); held == 0 || held != got {
		t.Fatalf("the blocking webhook answered before it was freed (%d held of %d)", held, got)
	}
	stuck.free()
	err := cmd.Wait()
	t.Log(out.String())
	if code := exitCode(err); code != 4 {
		t.Errorf("exit: got %d, want 4 (rolled back), whatever the webhooks answered", code)
	}

	rec := readRecord(t, record)
	if rec.Outcome != rollout.OutcomeRolledBack || len(rec.StepsTaken) == 0 {
		t.Fatalf("record: got %s after %d steps, want rolled back in the first", rec.Outcome, len(rec.StepsTaken))
	}
	// The release went on while slotless still waited for the blocking webhook's answer to the
	// first message it sent it, the start: a sender that waited would have shifted only once it
	// gave up on that answer.
	stuck.mu.Lock()
	first, gaveUp := stuck.first, stuck.firstGaveUp
	stuck.mu.Unlock()
	if shift := rec.StepsTaken[0].ShiftStarted; !gaveUp.IsZero() && !shift.Before(gaveUp) {
		t.Errorf("the first shift began at %s, after slotless gave up waiting for the blocking webhook's first answer (%s; the request came at %s): the release waited for it",
			shift.Format(time.RFC3339Nano), gaveUp.Format(time.RFC3339Nano), first.Format(time.RFC3339Nano))
	}
	headline, _ := report.Headline(rec)
	if !strings.Contains(headline, "was rolled back to 0% after") {
		t.Fatalf("the report's headline: %q", headline)
	}
	for name, h := range map[string]*hook{"slack": slack, "teams": teams, "json": doc} {
		events := h.events(t)
		for _, want := range []string{string(notify.ReleaseStarted), string(notify.ReleaseStep), string(notify.ReleaseRolledBack)} {
			if !contains(events, want) {
				t.Errorf("%s: got %v, want a %s message", name, events, want)
			}
		}
		said := headline
		if name == "slack" {
			said = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(headline)
		}
		if msg := h.message(t, string(notify.ReleaseRolledBack)); !strings.Contains(msg, jsonString(t, said)) {
			t.Errorf("%s: the rollback message does not say the report's headline %q:\n%s", name, said, msg)
		}
	}
	var card struct {
		Type        string
		Attachments []struct{ ContentType string }
	}
	var slackMsg struct {
		Text   string
		Blocks []any
	}
	var jsonMsg struct {
		Kind, Stack, Slot, Version, By, Actor, Reason string
		SchemaVersion                                 int
		Link                                          notify.Link
	}
	for _, d := range []struct {
		msg string
		v   any
	}{{teams.message(t, string(notify.ReleaseRolledBack)), &card}, {slack.message(t, string(notify.ReleaseRolledBack)), &slackMsg}, {doc.message(t, string(notify.ReleaseRolledBack)), &jsonMsg}} {
		if err := json.Unmarshal([]byte(d.msg), d.v); err != nil {
			t.Fatalf("%v: %s", err, d.msg)
		}
	}
	if card.Type != "message" || len(card.Attachments) != 1 || card.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" {
		t.Errorf("teams: got %+v, want a message with one Adaptive Card", card)
	}
	if slackMsg.Text == "" || len(slackMsg.Blocks) < 3 {
		t.Errorf("slack: got text %q and %d blocks, want both", slackMsg.Text, len(slackMsg.Blocks))
	}
	if jsonMsg.Kind != notify.JSONKind || jsonMsg.SchemaVersion != notify.JSONSchemaVersion || jsonMsg.Stack != "dev" || jsonMsg.Slot != "blue" || jsonMsg.Version != "1.1.0" ||
		jsonMsg.By != "slotless release" || jsonMsg.Actor != "octocat" || jsonMsg.Link.URL != "https://github.com/contoso/orders/actions/runs/42" || !strings.Contains(jsonMsg.Reason, "health gate") {
		t.Errorf("json: got %+v", jsonMsg)
	}

	// The record says how each message ended: the three told, the failing one given up after
	// its attempts, the blocking one whichever way its freeing found it.
	byTarget := map[int][]rollout.Notification{}
	for _, n := range rec.Notifications {
		byTarget[n.Target] = append(byTarget[n.Target], n)
	}
	for target := 0; target < 5; target++ {
		ns := byTarget[target]
		if len(ns) != 3 {
			t.Errorf("notify[%d]: %d messages recorded, want 3 (start, shift, rollback): %+v", target, len(ns), ns)
		}
		for _, n := range ns {
			switch {
			case target < 3 && n.Outcome != notify.OutcomeSent:
				t.Errorf("notify[%d]: %+v, want sent", target, n)
			case target == 3 && (n.Outcome != notify.OutcomeGaveUp || n.Attempts != 3 || !strings.HasPrefix(n.Detail, "HTTP 500")):
				t.Errorf("notify[3]: %+v, want given up after 3 attempts answered 500", n)
			}
		}
	}
	if _, got := failing.holding(); got != 9 {
		t.Errorf("the failing webhook got %d requests, want 3 attempts at each of the 3 messages", got)
	}
	if !strings.Contains(out.String(), "warning: notify[3] (json) was not told of release.rolledBack: gave-up: HTTP 500") {
		t.Errorf("no warning of the failing webhook in the output")
	}

	// The URLs are nowhere: not in the stack file (encrypted there), the state, the output, the
	// record or the report.
	if strings.Contains(out.String(), "SECRET-") {
		t.Errorf("a webhook URL shows in the output")
	}
	for _, dir := range []string{u.dir, u.backend, reports, filepath.Dir(record)} {
		_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if raw, err := os.ReadFile(path); err == nil && strings.Contains(string(raw), "SECRET-") {
				t.Errorf("a webhook URL shows in %s", path)
			}
			return nil
		})
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// jsonString is s as a JSON string's contents, as it stands in a message.
func jsonString(t *testing.T, s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(strings.TrimSpace(b.String()), `"`)[1:]
}

// breakGlassUser is a deployed dev stack at blue 10% with the ARM facade, and one json webhook.
func breakGlassUser(t *testing.T) (*user, *hook) {
	t.Helper()
	u := deployed(t)
	u.withARM()
	u.run("pulumi config set blueWeight 10 && pulumi up")
	doc, docURL := newHook(t, http.StatusOK, false)
	u.sh(fmt.Sprintf(`pulumi config set-all --stack dev --path --plaintext 'notify[0].kind=json' --secret 'notify[0].url=%s'`, docURL))
	return u, doc
}

// TestBreakGlassRollbackIsTold: a rollback that has to write the pool through ARM because a
// killed update left the stack locked tells the stack's webhooks after the write: the stack
// still opens and decrypts the URLs, and the json webhook gets rollback.breakGlass with the
// reason. Exit 6, blue at 0%.
func TestBreakGlassRollbackIsTold(t *testing.T) {
	parallel(t, 40*time.Second)
	u, doc := breakGlassUser(t)
	u.hold("azure-native:apimanagement:Backend")
	cmd, out := u.start("slotless shift --stack dev --slot blue --to 50 --force")
	u.waitHeld()
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	u.waitHolderGone()
	u.release()
	if len(u.locks()) == 0 {
		t.Fatalf("the killed update left no lock:\n%s", out.String())
	}
	rb, err := u.trySh("slotless rollback --stack dev --slot blue")
	t.Log(rb)
	if code := exitCode(err); code != 6 || u.weights().Blue != 0 {
		t.Fatalf("exit %d, %s; want 6 and blue at 0", code, u.weights())
	}
	if got := doc.events(t); len(got) != 1 || got[0] != string(notify.BreakGlass) {
		t.Fatalf("the webhook was told %v, want one rollback.breakGlass", got)
	}
	var msg struct{ Slot, By, Reason, Headline string }
	if err := json.Unmarshal([]byte(doc.message(t, string(notify.BreakGlass))), &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Slot != "blue" || msg.By != pool.BreakGlassBy || msg.Reason == "" || !strings.Contains(msg.Headline, "Pulumi state lags Azure until the next pulumi up") {
		t.Errorf("the webhook got %+v", msg)
	}
	if !strings.Contains(rb, "notify[0] (json) told of the break-glass write") || strings.Contains(rb, "SECRET-") {
		t.Errorf("the rollback does not say the webhook was told, or shows its URL")
	}
}

// TestBreakGlassWithTheBackendDownSaysNobodyWasTold: with the Pulumi backend unreachable the
// webhook URLs, the stack's secrets, cannot be decrypted: the rollback is written (exit 6, blue
// at 0%) and says nobody was told.
func TestBreakGlassWithTheBackendDownSaysNobodyWasTold(t *testing.T) {
	parallel(t, 15*time.Second)
	u, doc := breakGlassUser(t)
	blocker := filepath.Join(t.TempDir(), "not-a-directory")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rb, err := u.trySh("PULUMI_BACKEND_URL=file://" + blocker + "/backend slotless rollback --stack dev --slot blue")
	t.Log(rb)
	if code := exitCode(err); code != 6 || u.weights().Blue != 0 {
		t.Fatalf("exit %d, %s; want 6 and blue at 0", code, u.weights())
	}
	if !strings.Contains(rb, "warning: nobody was told of the break-glass write: the stack's notify webhooks are its secrets, and the stack cannot be opened to decrypt them") {
		t.Errorf("the rollback does not say nobody was told")
	}
	if _, got := doc.holding(); got != 0 {
		t.Errorf("the webhook got %d messages, want none", got)
	}
}
