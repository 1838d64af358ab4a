package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"
)

// fakeCredential hands out a fixed token, standing in for
// DefaultAzureCredential.
type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "fake-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// queryAPI is a stand-in for the Log Analytics query API: it records the
// request and answers with a fixed body.
type queryAPI struct {
	mu     sync.Mutex
	status int
	body   string
	got    struct {
		method, path, auth string
		query, timespan    string
		prefer             string
	}
}

func (q *queryAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ Query, Timespan string }
	_ = json.NewDecoder(r.Body).Decode(&body)
	q.mu.Lock()
	q.got.method, q.got.path, q.got.auth = r.Method, r.URL.Path, r.Header.Get("Authorization")
	q.got.query, q.got.timespan = body.Query, body.Timespan
	q.got.prefer = r.Header.Get("Prefer")
	status, resp := q.status, q.body
	q.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprint(w, resp)
}

// logsClient points the real azquery client at srv, so the test covers the
// SDK's request and response handling too.
func logsClient(t *testing.T, srv *httptest.Server) *azquery.LogsClient {
	t.Helper()
	c, err := azquery.NewLogsClient(fakeCredential{}, &azquery.LogsClientOptions{ClientOptions: azcore.ClientOptions{
		Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			azquery.ServiceNameLogs: {Endpoint: srv.URL + "/v1", Audience: "https://api.loganalytics.io"},
		}},
		Transport: srv.Client(),
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}})
	if err != nil {
		t.Fatalf("new logs client: %v", err)
	}
	return c
}

// table renders a query answer in the API's documented JSON shape, with the gate's columns.
func table(rows ...[]any) string {
	b, err := json.Marshal(map[string]any{"tables": []any{map[string]any{
		"name": "PrimaryResult",
		"columns": []map[string]string{
			{"name": "AppRoleName", "type": "string"},
			{"name": "Kind", "type": "string"},
			{"name": "Rows", "type": "long"},
			{"name": "Requests", "type": "long"},
			{"name": "Failed", "type": "long"},
			{"name": "ClientErrors", "type": "long"},
			{"name": "Late", "type": "long"},
			{"name": "P95DurationMs", "type": "real"},
			{"name": "SettledRows", "type": "long"},
			{"name": "Settled", "type": "long"},
		},
		"rows": rows,
	}}})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// row is one app's users' requests of the current step, unsampled, all of them settled.
func row(app string, requests, failed int, p95 float64) []any {
	return []any{app, "user", requests, requests, failed, 0, 0, p95, requests, requests}
}

// kind is one app's rows of another kind, none of them settled.
func kind(app, kind string, requests, failed, clientErrors, late int, p95 float64) []any {
	return []any{app, kind, requests, requests, failed, clientErrors, late, p95, 0, 0}
}

// fig is an unsampled window's figures.
func fig(app string, requests, failed, clientErrors int64, p95 float64) SlotFigures {
	f := SlotFigures{App: app, Requests: requests, Failed: failed, ClientErrors: clientErrors, P95Ms: p95, Rows: requests, Current: requests, Settled: requests, SettledRows: requests}
	f.rates()
	return f
}

// TestJudge: one window's verdict, check by check, at the defaults unless a case says.
func TestJudge(t *testing.T) {
	const c, s = "app-blue", "app-green"
	def := DefaultThresholds()
	for _, tt := range []struct {
		name           string
		canary, stable SlotFigures
		share          float64
		change         func(*Thresholds)
		verdict        Verdict
		reason         Reason
		decisive       bool
		text           string
	}{
		{name: "healthy", canary: fig(c, 600, 1, 0, 120), stable: fig(s, 5400, 6, 0, 110), share: 0.1, verdict: VerdictPass,
			text: "canary failure rate 0.17% (1 of 600) vs stable 0.11% (6 of 5400)"},
		{name: "two of 55 at a 1% base: noise, not a regression", canary: fig(c, 55, 2, 0, 100), stable: fig(s, 495, 5, 0, 100), share: 0.1, verdict: VerdictPass,
			text: "one-sided Fisher p 0.1"},
		{name: "a fifth failing", canary: fig(c, 600, 120, 0, 100), stable: fig(s, 5400, 6, 0, 100), share: 0.1, verdict: VerdictFail, reason: ReasonFailureRate, decisive: true,
			text: "+19.89 points"},
		{name: "sure, but not decisive alone", canary: fig(c, 60, 4, 0, 100), stable: fig(s, 540, 5, 0, 100), share: 0.1, verdict: VerdictFail, reason: ReasonFailureRate},
		{name: "sure, but smaller than the effect that matters", canary: fig(c, 60000, 1320, 0, 100), stable: fig(s, 540000, 10800, 0, 100), share: 0.1, verdict: VerdictPass,
			text: "fails below 0.01 with at least +0.20 points and ×1.50"},
		{name: "a 404 regression", canary: fig(c, 600, 0, 120, 100), stable: fig(s, 5400, 0, 54, 100), share: 0.1, verdict: VerdictFail, reason: ReasonClientErrors, decisive: true,
			text: "canary 4xx rate 20.00%"},
		{name: "404s, with the 4xx check off", canary: fig(c, 600, 0, 120, 100), stable: fig(s, 5400, 0, 54, 100), share: 0.1,
			change: func(t *Thresholds) { t.CheckClientErrors = false }, verdict: VerdictPass},
		{name: "thin canary", canary: fig(c, 10, 5, 0, 900), stable: fig(s, 90, 0, 0, 100), share: 0.1, verdict: VerdictInconclusive,
			text: "canary app-blue had 10 users' requests, want at least 50"},
		{name: "thin baseline", canary: fig(c, 500, 0, 0, 100), stable: fig(s, 3, 0, 0, 100), verdict: VerdictInconclusive,
			text: "stable app-green had 3 users' requests"},
		{name: "a missing share, though the canary is thin", canary: fig(c, 20, 0, 0, 100), stable: fig(s, 980, 0, 0, 100), share: 0.1, verdict: VerdictFail, reason: ReasonSampleRatio, decisive: true,
			text: "canary share 2.00% of the step's 1000 settled users' requests, pool weight 10%, allowed down to 7.00%"},
		{name: "a share within APIM's imprecision", canary: fig(c, 80, 0, 0, 100), stable: fig(s, 920, 0, 0, 100), share: 0.1, verdict: VerdictPass},
		{name: "no share check at 100%", canary: fig(c, 100, 0, 0, 100), stable: fig(s, 900, 0, 0, 100), share: 0, verdict: VerdictPass},
		{name: "slower, but under the floor", canary: fig(c, 600, 0, 0, 90), stable: fig(s, 5400, 0, 0, 30), share: 0.1, verdict: VerdictPass,
			text: "ratio 3.00, allowed 1.50 or up to 100 ms more"},
		{name: "slower, over ratio and floor: never decisive alone", canary: fig(c, 600, 0, 0, 900), stable: fig(s, 5400, 0, 0, 300), share: 0.1, verdict: VerdictFail, reason: ReasonLatency},
		{name: "with a failure limit of 1 every failure is decisive", canary: fig(c, 600, 0, 0, 900), stable: fig(s, 5400, 0, 0, 300), share: 0.1,
			change: func(t *Thresholds) { t.FailureLimit = 1 }, verdict: VerdictFail, reason: ReasonLatency, decisive: true},
		{name: "sampled: the test counts records, not requests", canary: SlotFigures{App: c, Requests: 600, Failed: 6, Rows: 60, Current: 600, Settled: 600, SettledRows: 60, P95Ms: 100},
			stable: SlotFigures{App: s, Requests: 5400, Failed: 5, Rows: 540, Current: 5400, Settled: 5400, SettledRows: 540, P95Ms: 100}, share: 0.1, verdict: VerdictPass},
		{name: "unsampled, the same rates are sure", canary: fig(c, 600, 6, 0, 100), stable: fig(s, 5400, 5, 0, 100), share: 0.1, verdict: VerdictFail, reason: ReasonFailureRate},
	} {
		t.Run(tt.name, func(t *testing.T) {
			th := def
			if tt.change != nil {
				tt.change(&th)
			}
			if tt.canary.Requests > 0 && tt.canary.FailureRate == 0 {
				tt.canary.rates()
				tt.stable.rates()
			}
			j := Judge(tt.canary, tt.stable, th, tt.share)
			if j.Verdict != tt.verdict || j.Reason != tt.reason || j.Decisive != tt.decisive {
				t.Errorf("got %s %q decisive %v, want %s %q decisive %v: %s", j.Verdict, j.Reason, j.Decisive, tt.verdict, tt.reason, tt.decisive, strings.Join(j.Reasons, "; "))
			}
			if text := strings.Join(j.Reasons, "; "); !strings.Contains(text, tt.text) {
				t.Errorf("reasons: got %q, want %q in them", text, tt.text)
			}
			if (j.Verdict == VerdictFail) != (len(j.Failing) > 0) {
				t.Errorf("failing reasons %q with verdict %s", j.Failing, j.Verdict)
			}
		})
	}
}

// TestMetrics: one window through the real azquery client, judged as a release judges it.
func TestMetrics(t *testing.T) {
	const canary, stable = "func-slotless-blue", "func-slotless-green"
	now := time.Date(2026, 12, 4, 3, 10, 0, 0, time.UTC)
	base := MetricsConfig{WorkspaceID: "ws-1", CanaryApp: canary, StableApp: stable, Window: 10 * time.Minute, Lag: 3 * time.Minute,
		HealthPath: "/health", Share: 0.1, Thresholds: DefaultThresholds(), Now: func() time.Time { return now }}
	tests := []struct {
		name        string
		body        string
		blocks      bool
		wantVerdict Verdict
		wantReason  Reason // "" means no error
		wantText    []string
		wantWarning bool
	}{
		{name: "good canary", body: table(row(canary, 200, 0, 120), row(stable, 1800, 2, 110), kind(canary, "health", 30, 0, 0, 0, 1)), wantVerdict: VerdictPass,
			wantText: []string{"canary failure rate 0.00% (0 of 200) vs stable 0.11% (2 of 1800)", "ratio 1.09, allowed 1.50"}},
		{name: "failure rate too high", body: table(row(canary, 200, 20, 120), row(stable, 1800, 9, 110), kind(canary, "health", 30, 0, 0, 0, 1)), wantVerdict: VerdictFail, wantReason: ReasonFailureRate,
			wantText: []string{"canary failure rate 10.00% (20 of 200) vs stable 0.50% (9 of 1800): +9.50 points"}},
		{name: "late rows from before the step count for failures", body: table(row(canary, 200, 0, 100), kind(canary, "earlier", 100, 20, 0, 100, 5000), row(stable, 1800, 9, 110), kind(canary, "health", 30, 0, 0, 0, 1)),
			wantVerdict: VerdictFail, wantReason: ReasonFailureRate, wantText: []string{"(20 of 300)"}},
		{name: "role names in another case", body: table(row(strings.ToUpper(canary), 200, 20, 120), row(stable, 1800, 9, 110)), wantVerdict: VerdictFail, wantReason: ReasonFailureRate, wantWarning: true},
		{name: "probes do not count as users", body: table(row(canary, 20, 2, 120), kind(canary, "probe", 600, 0, 0, 0, 3), row(stable, 980, 1, 110)), wantVerdict: VerdictFail, wantReason: ReasonSampleRatio, wantWarning: true},
		{name: "too little canary traffic", body: table(row(canary, 10, 5, 900), row(stable, 90, 0, 110)), wantVerdict: VerdictInconclusive, wantWarning: true,
			wantText: []string{"canary func-slotless-blue had 10 users' requests, want at least 50"}},
		{name: "too little canary traffic, blocking", body: table(row(canary, 10, 5, 900), row(stable, 90, 0, 110)), blocks: true, wantVerdict: VerdictInconclusive, wantReason: ReasonInconclusive, wantWarning: true,
			wantText: []string{"canary func-slotless-blue had 10 users' requests, want at least 50"}},
		{name: "no canary row at all, blocking", body: table(row(stable, 1800, 9, 110)), blocks: true, wantVerdict: VerdictFail, wantReason: ReasonSampleRatio, wantWarning: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &queryAPI{status: http.StatusOK, body: tt.body}
			srv := httptest.NewTLSServer(api)
			t.Cleanup(srv.Close)
			cfg := base
			cfg.InconclusiveBlocks = tt.blocks
			var progress bytes.Buffer
			res, err := Metrics(context.Background(), logsClient(t, srv), cfg, &progress)

			if got := gateReason(err); got != tt.wantReason {
				t.Fatalf("reason: got %q, want %q (err %v)\n%s", got, tt.wantReason, err, progress.String())
			}
			if tt.wantReason == "" && err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if res.Verdict != tt.wantVerdict {
				t.Errorf("verdict: got %v, want %v", res.Verdict, tt.wantVerdict)
			}
			text := strings.Join(res.Reasons, "; ")
			if err != nil {
				text += err.Error()
			}
			for _, w := range tt.wantText {
				if !strings.Contains(text, w) {
					t.Errorf("reasons: got %q, want %q in them", text, w)
				}
			}
			if got := len(res.Warnings) > 0; got != tt.wantWarning {
				t.Errorf("warnings: got %q, want some: %v", res.Warnings, tt.wantWarning)
			}
			out := progress.String()
			for _, w := range []string{"canary  func-slotless-blue", "stable  func-slotless-green", "verdict: " + string(tt.wantVerdict)} {
				if !strings.Contains(out, w) {
					t.Errorf("progress: got\n%s\nwant %q in it", out, w)
				}
			}

			api.mu.Lock()
			got := api.got
			api.mu.Unlock()
			if got.method != http.MethodPost || got.path != "/v1/workspaces/ws-1/query" {
				t.Errorf("request: got %s %s, want POST /v1/workspaces/ws-1/query", got.method, got.path)
			}
			if got.auth != "Bearer fake-token" {
				t.Errorf("authorization: got %q, want the credential's token", got.auth)
			}
			if got.query != res.Query {
				t.Errorf("query sent: got %q, want %q", got.query, res.Query)
			}
			// The rows that arrived in the window before the query, less the settle, served at
			// most the lag before it.
			for _, w := range []string{"InWindow = ingestion_time() >= datetime(2026-12-04T02:59:30Z)", "ingestion_time() < datetime(2026-12-04T03:09:30Z)", "TimeGenerated >= datetime(2026-12-04T02:56:30Z)"} {
				if !strings.Contains(got.query, w) {
					t.Errorf("query sent: got %q, want %q in it", got.query, w)
				}
			}
			if got.prefer != "wait=50" {
				t.Errorf("Prefer header: got %q, want the service told to give up before the client (wait=50)", got.prefer)
			}
		})
	}
}

func TestMetricsQueryErrors(t *testing.T) {
	cfg := MetricsConfig{WorkspaceID: "ws-1", CanaryApp: "a-blue", StableApp: "a-green", Window: time.Minute, HealthPath: "/health", Thresholds: DefaultThresholds()}
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"forbidden", http.StatusForbidden, `{"error":{"code":"InsufficientAccessError","message":"no access"}}`, "query workspace ws-1"},
		{"partial result", http.StatusOK, `{"tables":[],"error":{"code":"PartialError","message":"some shards failed"}}`, "partial result"},
		{"no table", http.StatusOK, `{"tables":[]}`, "no table in the answer"},
		{"missing column", http.StatusOK, `{"tables":[{"name":"PrimaryResult","columns":[{"name":"AppRoleName","type":"string"}],"rows":[]}]}`, "column Kind missing"},
		{"not a count", http.StatusOK, table([]any{"a-blue", "user", 1, "many", 0, 0, 0, 1.0, 0, 0}), "row 0 Requests"},
		{"a kind the query does not make", http.StatusOK, table(kind("a-blue", "bots", 1, 0, 0, 0, 1)), `kind "bots"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(&queryAPI{status: tt.status, body: tt.body})
			t.Cleanup(srv.Close)
			_, err := Metrics(context.Background(), logsClient(t, srv), cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
			var ge *GateError
			if errors.As(err, &ge) {
				t.Errorf("got gate error %v, want an error saying the gate could not run", err)
			}
		})
	}
}

// deadlineQuerier records the deadline and the options of the query it is asked.
type deadlineQuerier struct {
	deadline time.Time
	has      bool
	wait     int
}

func (d *deadlineQuerier) QueryWorkspace(ctx context.Context, _ string, _ azquery.Body, o *azquery.LogsClientQueryWorkspaceOptions) (azquery.LogsClientQueryWorkspaceResponse, error) {
	d.deadline, d.has = ctx.Deadline()
	if o != nil && o.Options != nil && o.Options.Wait != nil {
		d.wait = *o.Options.Wait
	}
	return azquery.LogsClientQueryWorkspaceResponse{}, context.DeadlineExceeded
}

// TestEveryQueryHasATimeout: a query that never answers cannot hold a release: its context
// ends QueryTimeout after it starts, and the service is told to give up sooner.
func TestEveryQueryHasATimeout(t *testing.T) {
	d := &deadlineQuerier{}
	before := time.Now()
	_, _, _, err := QueryFigures(context.Background(), d, "ws", Query{CanaryApp: "a-blue", StableApp: "a-green", ArrivedTo: before, ServedFrom: before.Add(-time.Hour), HealthPath: "/health"})
	if !d.has || d.deadline.Before(before.Add(QueryTimeout)) || d.deadline.After(time.Now().Add(QueryTimeout)) {
		t.Errorf("deadline: got %v (set %v), want %s after the query started", d.deadline, d.has, QueryTimeout)
	}
	if d.wait <= 0 || time.Duration(d.wait)*time.Second >= QueryTimeout {
		t.Errorf("server wait: got %ds, want above 0 and below %s", d.wait, QueryTimeout)
	}
	if err == nil || !strings.Contains(err.Error(), "query workspace ws") {
		t.Errorf("got %v, want the query's error", err)
	}
}

func TestMetricsConfigErrors(t *testing.T) {
	good := MetricsConfig{WorkspaceID: "ws", CanaryApp: "a-blue", StableApp: "a-green", Window: time.Minute, HealthPath: "/health", Thresholds: DefaultThresholds()}
	tests := []struct {
		name   string
		change func(*MetricsConfig)
		want   string
	}{
		{"no workspace", func(c *MetricsConfig) { c.WorkspaceID = " " }, "workspace ID: empty"},
		{"quote in app name", func(c *MetricsConfig) { c.CanaryApp = `a") or true //` }, "canary app"},
		{"empty stable app", func(c *MetricsConfig) { c.StableApp = "" }, `stable app ""`},
		{"same app twice", func(c *MetricsConfig) { c.StableApp = "A-BLUE" }, "both"},
		{"zero window", func(c *MetricsConfig) { c.Window = 0 }, "window: 0s"},
		{"quote in health path", func(c *MetricsConfig) { c.HealthPath = `/h" or true` }, "health path"},
		{"zero min requests", func(c *MetricsConfig) { c.Thresholds.MinRequests = 0 }, "min requests: 0"},
		{"certainty", func(c *MetricsConfig) { c.Thresholds.Confidence = 1 }, "confidence: 1"},
		{"no failure limit", func(c *MetricsConfig) { c.Thresholds.FailureLimit = 0 }, "failure limit: 0"},
		{"negative delta", func(c *MetricsConfig) { c.Thresholds.MaxFailureRateDelta = -0.1 }, "max failure rate delta: -0.1"},
		{"ratio below 1", func(c *MetricsConfig) { c.Thresholds.MaxFailureRateRatio = 0.5 }, "max failure rate ratio: 0.5"},
		{"zero p95 ratio", func(c *MetricsConfig) { c.Thresholds.MaxP95Ratio = 0 }, "max p95 ratio: 0"},
		{"tolerance above 1", func(c *MetricsConfig) { c.Thresholds.SampleRatioTolerance = 2 }, "sample ratio tolerance: 2"},
		{"share of 1", func(c *MetricsConfig) { c.Share = 1 }, "share: 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.change(&cfg)
			_, err := Metrics(context.Background(), nil, cfg, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if err := good.validate(); err != nil {
		t.Errorf("good config: got %v, want no error", err)
	}
}

// TestQuerySetsTheReleasesOwnRequestsApart: requests to the health path, whatever the function
// behind it is called, and requests marked as probes are kinds of their own, never users'; the
// sample app's health function answers the default health path under the host's /api prefix.
func TestQuerySetsTheReleasesOwnRequestsApart(t *testing.T) {
	q := BuildQuery(Query{CanaryApp: "app-blue", StableApp: "app-green", ArrivedTo: time.Now(), ServedFrom: time.Now().Add(-time.Minute), HealthPath: "/health"})
	for _, want := range []string{`Own = tostring(parse_url(Url).Path) endswith "/health" or tostring(parse_url(Url)["Query Parameters"]["slotless-probe"]) == "1"`,
		`Own and tostring(parse_url(Url).Path) endswith "/health", "health", Own, "probe"`, "Settled = not(Own) and", "| where isnotempty(Url)"} {
		if !strings.Contains(q, want) {
			t.Errorf("query:\n%s\nwant %q", q, want)
		}
	}
	if strings.Contains(q, "OperationName") {
		t.Errorf("query:\n%s\nwant no match on the function's name", q)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "functionapp", "health", "function.json"))
	if err != nil {
		t.Fatalf("the health gate's function: %v", err)
	}
	var fn struct {
		Bindings []struct {
			Type  string `json:"type"`
			Route string `json:"route"`
		} `json:"bindings"`
	}
	if err := json.Unmarshal(raw, &fn); err != nil {
		t.Fatal(err)
	}
	if len(fn.Bindings) == 0 || fn.Bindings[0].Type != "httpTrigger" || "/api/"+fn.Bindings[0].Route != "/api/health" {
		t.Errorf("functionapp/health/function.json: got bindings %+v, want the httpTrigger of route health", fn.Bindings)
	}
}

// TestQueryCountsRequestsAndFailures: a failure is Success == false or an error status, because
// the Functions host records a function's 500 as a success (Azure/azure-functions-host#6511); a
// 4xx other than 429 is counted apart unless failClientErrors makes it a failure; every count is
// of requests (sum of ItemCount), the p95 weighted by it; rows are chosen by arrival, the
// shifts left out.
func TestQueryCountsRequestsAndFailures(t *testing.T) {
	start := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		clientErrors bool
		want         string
	}{
		{false, "Failed = sumif(ItemCount, Success == false or Status >= 500 or Status == 429)"},
		{true, "Failed = sumif(ItemCount, Success == false or Status >= 400)"},
	} {
		q := BuildQuery(Query{CanaryApp: "app-blue", StableApp: "app-green", ArrivedFrom: start.Add(time.Minute), ArrivedTo: start.Add(2 * time.Minute), ServedFrom: start,
			Exclude: []Span{{start.Add(10 * time.Second), start.Add(40 * time.Second)}}, HealthPath: "/health", Late: 3 * time.Minute, FailClientErrors: tt.clientErrors})
		for _, want := range []string{tt.want, "Status = toint(ResultCode)", "Requests = sum(ItemCount)", "Rows = count()", "percentilew(DurationMs, ItemCount, 95)",
			"ClientErrors = sumif(ItemCount, Status >= 400 and Status < 500 and Status != 429)", "Late = sumif(ItemCount, Delay > 180s)",
			"| where ingestion_time() < datetime(2026-12-04T03:02:00Z)", "InWindow = ingestion_time() >= datetime(2026-12-04T03:01:00Z)", `not(InWindow), "outside"`,
			"Settled = not(Own) and TimeGenerated >= datetime(2026-12-04T03:00:00Z) and TimeGenerated < datetime(2026-12-04T02:59:00Z)", "Settled = sumif(ItemCount, Settled)",
			"| where TimeGenerated >= datetime(2026-12-04T03:00:00Z) and TimeGenerated < datetime(2026-12-04T03:02:00Z)",
			"| where not(TimeGenerated >= datetime(2026-12-04T03:00:10Z) and TimeGenerated < datetime(2026-12-04T03:00:40Z))",
			"by AppRoleName, Kind"} {
			if !strings.Contains(q, want) {
				t.Errorf("query (failClientErrors %v):\n%s\nwant %q", tt.clientErrors, q, want)
			}
		}
		if strings.Contains(q, "ago(") {
			t.Errorf("query:\n%s\nwant absolute bounds, not ago()", q)
		}
	}
}

// TestWarnings: no request to the health path at all means the path is not what the app
// records, and the release's own health checks may be counted as users'.
func TestWarnings(t *testing.T) {
	users := SlotFigures{App: "a", Requests: 100}
	if w := Warnings(users, users, "/health"); len(w) != 1 || !strings.Contains(w[0], "no request to the health path /health") {
		t.Errorf("no health requests: got %q, want a warning naming the path", w)
	}
	users.Health = 3
	if w := Warnings(users, SlotFigures{}, "/health"); w != nil {
		t.Errorf("health requests seen: got %q, want none", w)
	}
	if w := Warnings(SlotFigures{}, SlotFigures{}, "/health"); w != nil {
		t.Errorf("nothing at all: got %q, want none (nothing to say about an empty window)", w)
	}
}

// TestSlotFiguresAdd: windows add up, rates recomputed.
func TestSlotFiguresAdd(t *testing.T) {
	got := fig("a", 100, 10, 5, 200).Add(fig("a", 300, 10, 15, 100))
	if got.Requests != 400 || got.Failed != 20 || got.FailureRate != 0.05 || got.ClientErrorRate != 0.05 || got.P95Ms != 200 || got.Current != 400 {
		t.Errorf("got %+v", got)
	}
}
