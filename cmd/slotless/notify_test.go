package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/notify"
	"github.com/slotless/slotless/internal/report"
	"github.com/slotless/slotless/internal/rollout"
)

// notifyingStack is a deployed stack whose config holds notify, decrypted as the stack's secrets
// provider would give it.
type notifyingStack struct {
	*fakeDeployed
	notify string
}

func (s notifyingStack) DecryptedConfig(_ context.Context, key string) (string, bool, bool, error) {
	if key != notify.ConfigKey {
		return "", false, false, nil
	}
	return s.notify, true, true, nil
}

// receiver keeps what a webhook was sent and answers status.
type receiver struct {
	mu     sync.Mutex
	status int
	bodies [][]byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, body)
	r.mu.Unlock()
	w.WriteHeader(r.status)
	if r.status != http.StatusOK {
		_, _ = io.WriteString(w, "no_service")
	}
}

// TestReleaseTellsTheStacksWebhooks: a release of a stack with notify tells each webhook of its
// start, every shift and passed bake and its GA, with the CI run to link to; a webhook that
// refuses every message costs warnings and the record's word on each, never the exit code; and
// no URL shows anywhere.
func TestReleaseTellsTheStacksWebhooks(t *testing.T) {
	const token = "pin-0123456789abcdef"
	health := slotHealth(t, token, map[string]string{"green": "1.0.0", "blue": "1.1.0"})
	for k, v := range map[string]string{envPinToken: token, envAPIURL: "", envSubscriptionKey: "", "TF_BUILD": "",
		"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "contoso/orders", "GITHUB_RUN_ID": "42", "GITHUB_ACTOR": "octocat"} {
		t.Setenv(k, v)
	}
	good, gone := &receiver{status: http.StatusOK}, &receiver{status: http.StatusNotFound}
	goodSrv, goneSrv := httptest.NewServer(good), httptest.NewServer(gone)
	defer goodSrv.Close()
	defer goneSrv.Close()
	goodURL, goneURL := goodSrv.URL+"/hook/SECRET-json", goneSrv.URL+"/services/SECRET-slack"

	dir := project(t, stackYAML("slotless:blueWeight: 0", "slotless:bakeMinutes: 0",
		"slotless:notify:\n    - kind: json\n      url:\n        secure: v1:aaaa\n    - kind: slack\n      url:\n        secure: v1:bbbb"))
	fake := notifyingStack{
		fakeDeployed: &fakeDeployed{config: map[string]string{}, env: map[string]string{}},
		notify:       fmt.Sprintf(`[{"kind":"json","url":%q},{"kind":"slack","url":%q}]`, goodURL, goneURL),
	}
	d := realDeps()
	d.openReleaseStack = func(context.Context, string, string) (releaseStack, error) { return fake, nil }
	d.logsQuerier = func(string, func(string) string) (gate.LogsQuerier, string, error) { return &fakeLogs{}, "fake", nil }

	var out, errb bytes.Buffer
	args := []string{"release", "--dir", dir, "--stack", "ci", "--slot", "blue", "--version", "1.1.0", "--api-url", health.URL + "/orders", "--json"}
	if code := runWith(d, args, &out, &errb); code != 0 {
		t.Fatalf("exit %d, want 0 whatever the webhooks answered\n%s", code, errb.String())
	}
	var rec rollout.Record
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("stdout is not the record: %v\n%s", err, out.String())
	}
	wantEvents := []string{"release.started", "release.step", "release.step", "release.step", "release.step", "release.step", "release.step", "release.completed"}
	if len(rec.Notifications) != 2*len(wantEvents) {
		t.Fatalf("record: %d notifications, want %d: %+v", len(rec.Notifications), 2*len(wantEvents), rec.Notifications)
	}
	for i, n := range rec.Notifications {
		want := rollout.Notification{Target: i % 2, Kind: "json", Event: wantEvents[i/2], Outcome: notify.OutcomeSent, Attempts: 1}
		if i%2 == 1 {
			want.Kind, want.Outcome, want.Detail = "slack", notify.OutcomeFailed, "HTTP 404 Not Found: no_service"
		}
		if n != want {
			t.Errorf("notification %d: got %+v, want %+v", i, n, want)
		}
	}
	told := map[string]int{}
	for _, b := range good.bodies {
		var doc struct {
			Kind, Event, Stack, Slot, Version, By, Actor string
			Link                                         notify.Link
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("the json webhook got %s: %v", b, err)
		}
		if doc.Kind != notify.JSONKind || doc.Stack != "ci" || doc.Slot != "blue" || doc.Version != "1.1.0" || doc.By != "slotless release" || doc.Actor != "octocat" ||
			doc.Link.URL != "https://github.com/contoso/orders/actions/runs/42" {
			t.Errorf("the json webhook got %s", b)
		}
		told[doc.Event]++
	}
	if told["release.started"] != 1 || told["release.step"] != 6 || told["release.completed"] != 1 {
		t.Errorf("the json webhook was told %v, want the start, 3 shifts and 3 passed bakes, and GA", told)
	}
	if len(gone.bodies) != len(wantEvents) {
		t.Errorf("the refusing webhook got %d requests, want one per event (a 404 is not retried)", len(gone.bodies))
	}
	if !strings.Contains(errb.String(), "warning: notify[1] (slack) was not told of release.completed: failed: HTTP 404 Not Found: no_service") ||
		!strings.Contains(errb.String(), "notify: 2 webhooks (json, slack), told in the background, linking to GitHub Actions run 42") {
		t.Errorf("stderr: got\n%s\nwant the webhooks named and a warning per refused message", errb.String())
	}
	if all := out.String() + errb.String(); strings.Contains(all, "SECRET") {
		t.Errorf("a webhook URL shows in the output:\n%s", all)
	}
}

// TestPlanRefusesAWebhookURLInPlainText: the offline plan, which runs the program as pulumi up
// does, accepts notify URLs encrypted in the stack file and refuses one in plain text, naming it
// by its index, and a list whose every URL is plain; it never shows a URL.
func TestPlanRefusesAWebhookURLInPlainText(t *testing.T) {
	const plain = "https://hooks.slack.com/services/T0/B0/SECRETSECRET"
	for _, tt := range []struct {
		name    string
		notify  string
		code    int
		wantErr string
	}{
		{"every URL encrypted", "- kind: slack\n      url:\n        secure: v1:aaaa\n    - kind: teams\n      url:\n        secure: v1:bbbb", 0, ""},
		{"one in plain text beside an encrypted one", "- kind: slack\n      url:\n        secure: v1:aaaa\n    - kind: teams\n      url: " + plain, 1,
			"notify[1].url: is in plain text in the stack file; a webhook URL is a credential: encrypt it with pulumi config set --secret --path 'notify[1].url'"},
		{"every URL in plain text", "- kind: slack\n      url: " + plain, 1, "notify: the webhook URLs are in plain text in the stack file"},
		{"an unknown kind", "- kind: discord\n      url:\n        secure: v1:aaaa", 1, `notify[0].kind: "discord" is not valid, want one of slack, teams, json`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, stackYAML("slotless:notify:\n    "+tt.notify))
			var out, errb bytes.Buffer
			code := runWith(realDeps(), []string{"plan", "--dir", dir, "--stack", "ci"}, &out, &errb)
			if code != tt.code || !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit %d saying %q", code, errb.String(), tt.code, tt.wantErr)
			}
			if strings.Contains(out.String()+errb.String(), "SECRET") {
				t.Errorf("the plan shows a webhook URL:\n%s%s", out.String(), errb.String())
			}
		})
	}
}

// TestWatchTellsItsRollback: a watch that finds the standing canary failing rolls it back and then
// tells the stack's webhooks, with the report's headline; the exit code is the rollback's.
func TestWatchTellsItsRollback(t *testing.T) {
	const token = "pin-0123456789abcdef"
	// blue does not answer its health checks; green does.
	health := slotHealth(t, token, map[string]string{"green": "1.0.0"})
	for k, v := range map[string]string{envPinToken: token, envAPIURL: "", envSubscriptionKey: "", "GITHUB_ACTIONS": "", "TF_BUILD": ""} {
		t.Setenv(k, v)
	}
	doc := &receiver{status: http.StatusOK}
	srv := httptest.NewServer(doc)
	defer srv.Close()
	dir := project(t, stackYAML("slotless:blueWeight: 10", "slotless:notify:\n    - kind: json\n      url:\n        secure: v1:aaaa"))
	fake := notifyingStack{
		fakeDeployed: &fakeDeployed{blue: 10, config: map[string]string{"blueWeight": "10"}, env: map[string]string{}},
		notify:       fmt.Sprintf(`[{"kind":"json","url":%q}]`, srv.URL+"/hook/SECRET"),
	}
	d := realDeps()
	d.openReleaseStack = func(context.Context, string, string) (releaseStack, error) { return fake, nil }
	d.logsQuerier = func(string, func(string) string) (gate.LogsQuerier, string, error) { return &fakeLogs{}, "fake", nil }
	var out, errb bytes.Buffer
	args := []string{"watch", "--dir", dir, "--stack", "ci", "--for", "1s", "--api-url", health.URL + "/orders", "--json"}
	if code := runWith(d, args, &out, &errb); code != exitAborted {
		t.Fatalf("exit %d, want %d (rolled back)\n%s", code, exitAborted, errb.String())
	}
	var rec rollout.Record
	if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
		t.Fatalf("stdout is not the record: %v\n%s", err, out.String())
	}
	if rec.Outcome != rollout.OutcomeRolledBack || len(rec.Notifications) != 1 || rec.Notifications[0].Event != string(notify.WatchRolledBack) || rec.Notifications[0].Outcome != notify.OutcomeSent {
		t.Fatalf("record: got %s with notifications %+v, want rolled back and the webhook told", rec.Outcome, rec.Notifications)
	}
	var msg struct{ Event, Headline, Slot, By, Reason string }
	if len(doc.bodies) != 1 || json.Unmarshal(doc.bodies[0], &msg) != nil {
		t.Fatalf("the webhook got %q, want one json message", doc.bodies)
	}
	headline, _ := report.Headline(rec)
	if msg.Event != string(notify.WatchRolledBack) || msg.Headline != headline || msg.Slot != "blue" || msg.By != "slotless watch" || !strings.Contains(msg.Reason, "watch at 10%: health gate") {
		t.Errorf("the webhook got %+v, want the watch's rollback with the report's headline %q", msg, headline)
	}
}
