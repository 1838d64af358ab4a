package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/rollout"
)

// historyStack is a deployed stack whose last update ended at ended (zero: still running).
type historyStack struct {
	*fakeDeployed
	ended time.Time
}

func (s historyStack) LastUpdateEnded(context.Context) (time.Time, bool, error) {
	return s.ended, !s.ended.IsZero(), nil
}

// pausedUsers is Log Analytics over a paused release's users: 100 requests a second, each
// arriving as it is served, the canary (blue) serving none before moved and share percent of
// them from then on. It reads the query's bounds (BuildQuery's), so the canary's share in the
// answer is the share of the requests the query counts as the current step's.
type pausedUsers struct {
	mu    sync.Mutex
	moved time.Time
	share int64
}

var (
	servedRE  = regexp.MustCompile(`TimeGenerated >= datetime\((\S+?)\) and TimeGenerated < datetime\((\S+?)\)\n`)
	arrivedRE = regexp.MustCompile(`ingestion_time\(\) < datetime\((\S+?)\)`)
	fromRE    = regexp.MustCompile(`ingestion_time\(\) >= datetime\((\S+?)\)`)
	currentRE = regexp.MustCompile(`TimeGenerated < datetime\((\S+?)\), "earlier"`)
)

func (u *pausedUsers) QueryWorkspace(_ context.Context, _ string, body azquery.Body, _ *azquery.LogsClientQueryWorkspaceOptions) (azquery.LogsClientQueryWorkspaceResponse, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	q := *body.Query
	at := func(re *regexp.Regexp, i int) time.Time {
		m := re.FindStringSubmatch(q)
		if m == nil {
			return time.Time{}
		}
		t, _ := time.Parse(time.RFC3339, m[i])
		return t
	}
	servedFrom, servedTo, arrivedTo, arrivedFrom, current := at(servedRE, 1), at(servedRE, 2), at(arrivedRE, 1), at(fromRE, 1), at(currentRE, 1)
	type key struct{ app, kind string }
	n := map[key]float64{}
	for s := servedFrom; s.Before(servedTo) && s.Before(arrivedTo); s = s.Add(time.Second) {
		if s.Before(arrivedFrom) {
			continue
		}
		kind := "user"
		if s.Before(current) {
			kind = "earlier"
		}
		blue := int64(0)
		if !s.Before(u.moved) {
			blue = u.share
		}
		n[key{"func-blue", kind}] += float64(blue)
		n[key{"func-green", kind}] += float64(100 - blue)
	}
	col := func(n string) *azquery.Column { return &azquery.Column{Name: &n} }
	var rows []azquery.Row
	for k, v := range n {
		settled := 0.0
		if k.kind == "user" {
			settled = v
		}
		rows = append(rows, azquery.Row{k.app, k.kind, v, v, 0.0, 0.0, 0.0, 50.0, settled, settled})
	}
	name := "PrimaryResult"
	return azquery.LogsClientQueryWorkspaceResponse{Results: azquery.Results{Tables: []*azquery.Table{{
		Name:    &name,
		Columns: []*azquery.Column{col("AppRoleName"), col("Kind"), col("Rows"), col("Requests"), col("Failed"), col("ClientErrors"), col("Late"), col("P95DurationMs"), col("Settled"), col("SettledRows")},
		Rows:    rows,
	}}}}, nil
}

// TestWatchCountsTheShareFromTheLastUpdate: a CI watch run minutes after a release paused at
// 10% judges a window served mostly at 0%. It counts the canary's share from the end of the
// stack's last Pulumi update (and the initial delay), so a healthy canary is left alone; a
// canary that lost its share after that is still rolled back; and with the update's end
// unknown the share counts from the watch itself.
func TestWatchCountsTheShareFromTheLastUpdate(t *testing.T) {
	const token = "pin-0123456789abcdef"
	health := slotHealth(t, token, map[string]string{"green": "1.0.0", "blue": "1.1.0"})
	for k, v := range map[string]string{envPinToken: token, envAPIURL: "", envSubscriptionKey: "", envHistoryURL: "", "GITHUB_ACTIONS": "", "TF_BUILD": ""} {
		t.Setenv(k, v)
	}
	for _, tt := range []struct {
		name string
		// paused is how long before the watch the release's last update ended; share the
		// canary's share of the users' requests from then on.
		paused time.Duration
		share  int64
		known  bool
		code   int
		want   rollout.Outcome
	}{
		{name: "a healthy canary paused 3 minutes ago", paused: 3 * time.Minute, share: 10, known: true, code: 0, want: rollout.OutcomeWatched},
		{name: "a canary that lost its share since", paused: 3 * time.Minute, share: 1, known: true, code: exitAborted, want: rollout.OutcomeRolledBack},
		{name: "a healthy canary, the update's end unknown", paused: 3 * time.Minute, share: 10, code: 0, want: rollout.OutcomeWatched},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := project(t, stackYAML("slotless:blueWeight: 10", "slotless:metricsLagSeconds: 30"))
			ended := time.Now().Add(-tt.paused).Truncate(time.Second)
			fake := historyStack{fakeDeployed: &fakeDeployed{blue: 10, config: map[string]string{"blueWeight": "10"}, env: map[string]string{}}}
			if tt.known {
				fake.ended = ended
			}
			users := &pausedUsers{moved: ended, share: tt.share}
			d := realDeps()
			d.openReleaseStack = func(context.Context, string, string) (releaseStack, error) { return fake, nil }
			d.logsQuerier = func(string, func(string) string) (gate.LogsQuerier, string, error) { return users, "fake", nil }
			var out, errb bytes.Buffer
			args := []string{"watch", "--dir", dir, "--stack", "ci", "--for", "1s", "--api-url", health.URL + "/orders", "--json"}
			code := runWith(d, args, &out, &errb)
			t.Logf("%s", errb.String())
			var rec rollout.Record
			if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
				t.Fatalf("stdout is not the record: %v\n%s", err, out.String())
			}
			if code != tt.code || rec.Outcome != tt.want {
				t.Fatalf("exit %d, %s; want exit %d, %s", code, rec.Outcome, tt.code, tt.want)
			}
		})
	}
}
