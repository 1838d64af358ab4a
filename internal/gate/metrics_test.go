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
	}
}

func (q *queryAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body struct{ Query, Timespan string }
	_ = json.NewDecoder(r.Body).Decode(&body)
	q.mu.Lock()
	q.got.method, q.got.path, q.got.auth = r.Method, r.URL.Path, r.Header.Get("Authorization")
	q.got.query, q.got.timespan = body.Query, body.Timespan
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

// table renders a query answer in the API's documented JSON shape.
func table(rows ...[]any) string {
	b, err := json.Marshal(map[string]any{"tables": []any{map[string]any{
		"name": "PrimaryResult",
		"columns": []map[string]string{
			{"name": "AppRoleName", "type": "string"},
			{"name": "Requests", "type": "long"},
			{"name": "Failed", "type": "long"},
			{"name": "FailureRate", "type": "real"},
			{"name": "P95DurationMs", "type": "real"},
		},
		"rows": rows,
	}}})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func row(app string, requests, failed int, p95 float64) []any {
	rate := 0.0
	if requests > 0 {
		rate = float64(failed) / float64(requests)
	}
	return []any{app, requests, failed, rate, p95}
}

func TestMetrics(t *testing.T) {
	const canary, stable = "func-slotless-blue", "func-slotless-green"
	base := MetricsConfig{
		WorkspaceID: "ws-1", CanaryApp: canary, StableApp: stable, Window: 10 * time.Minute,
		MinRequests: 50, MaxFailureRateDelta: 0.02, MaxP95Ratio: 1.5,
	}
	tests := []struct {
		name        string
		body        string
		blocks      bool
		wantVerdict Verdict
		wantReason  Reason // "" means no error
		wantText    []string
	}{
		{name: "good canary", body: table(row(canary, 200, 2, 120), row(stable, 1800, 9, 110)), wantVerdict: VerdictPass,
			wantText: []string{"canary failure rate 1.00% vs stable 0.50%: +0.50 points, allowed +2.00", "ratio 1.09, allowed 1.50"}},
		{name: "at the thresholds", body: table(row(canary, 100, 3, 150), row(stable, 100, 1, 100)), wantVerdict: VerdictPass},
		{name: "failure rate too high", body: table(row(canary, 200, 20, 120), row(stable, 1800, 9, 110)), wantVerdict: VerdictFail, wantReason: ReasonFailureRate,
			wantText: []string{"canary failure rate 10.00% vs stable 0.50%: +9.50 points, allowed +2.00"}},
		{name: "p95 too high", body: table(row(canary, 200, 0, 400), row(stable, 1800, 0, 100)), wantVerdict: VerdictFail, wantReason: ReasonLatency,
			wantText: []string{"canary p95 400.0 ms vs stable 100.0 ms: ratio 4.00, allowed 1.50"}},
		{name: "both too high", body: table(row(stable, 1800, 0, 100), row(canary, 200, 50, 400)), wantVerdict: VerdictFail, wantReason: ReasonFailureRate,
			wantText: []string{"+25.00 points", "ratio 4.00"}},
		{name: "role names in another case", body: table(row(strings.ToUpper(canary), 200, 20, 120), row(stable, 1800, 9, 110)), wantVerdict: VerdictFail, wantReason: ReasonFailureRate},
		{name: "too little canary traffic", body: table(row(canary, 10, 5, 900), row(stable, 1800, 9, 110)), wantVerdict: VerdictInconclusive,
			wantText: []string{"canary func-slotless-blue had 10 requests, want at least 50"}},
		{name: "too little canary traffic, blocking", body: table(row(canary, 10, 5, 900), row(stable, 1800, 9, 110)), blocks: true, wantVerdict: VerdictInconclusive, wantReason: ReasonInconclusive,
			wantText: []string{"canary func-slotless-blue had 10 requests, want at least 50"}},
		{name: "no canary row at all, blocking", body: table(row(stable, 1800, 9, 110)), blocks: true, wantVerdict: VerdictInconclusive, wantReason: ReasonInconclusive,
			wantText: []string{"had 0 requests"}},
		{name: "thin baseline", body: table(row(canary, 500, 0, 100), row(stable, 3, 0, 100)), wantVerdict: VerdictInconclusive,
			wantText: []string{"stable func-slotless-green had 3 requests"}},
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
				text = err.Error()
			}
			for _, w := range tt.wantText {
				if !strings.Contains(text, w) {
					t.Errorf("reasons: got %q, want %q in them", text, w)
				}
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
			for _, w := range []string{"AppRequests", `in~ ("func-slotless-blue", "func-slotless-green")`, "countif(Success == false or Status >= 500 or Status == 429)", "percentile(DurationMs, 95)", "by AppRoleName", "TimeGenerated >= datetime("} {
				if !strings.Contains(got.query, w) {
					t.Errorf("query sent: got %q, want %q in it", got.query, w)
				}
			}
			start, end, err := azquery.TimeInterval(got.timespan).Values()
			if err != nil {
				t.Fatalf("timespan %q: %v", got.timespan, err)
			}
			if d := end.Sub(start); d != cfg.Window {
				t.Errorf("timespan length: got %v, want %v", d, cfg.Window)
			}
		})
	}
}

func TestMetricsQueryErrors(t *testing.T) {
	cfg := MetricsConfig{WorkspaceID: "ws-1", CanaryApp: "a-blue", StableApp: "a-green", Window: time.Minute, MinRequests: 1, MaxFailureRateDelta: 0.02, MaxP95Ratio: 1.5}
	tests := []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"forbidden", http.StatusForbidden, `{"error":{"code":"InsufficientAccessError","message":"no access"}}`, "query workspace ws-1"},
		{"partial result", http.StatusOK, `{"tables":[],"error":{"code":"PartialError","message":"some shards failed"}}`, "partial result"},
		{"no table", http.StatusOK, `{"tables":[]}`, "no table in the answer"},
		{"missing column", http.StatusOK, `{"tables":[{"name":"PrimaryResult","columns":[{"name":"AppRoleName","type":"string"}],"rows":[]}]}`, "column Requests missing"},
		{"not a count", http.StatusOK, table([]any{"a-blue", "many", 0, 0.0, 1.0}), "row 0 Requests"},
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

func TestMetricsConfigErrors(t *testing.T) {
	good := MetricsConfig{WorkspaceID: "ws", CanaryApp: "a-blue", StableApp: "a-green", Window: time.Minute, MinRequests: 1, MaxFailureRateDelta: 0, MaxP95Ratio: 1}
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
		{"zero min requests", func(c *MetricsConfig) { c.MinRequests = 0 }, "min requests: 0"},
		{"negative delta", func(c *MetricsConfig) { c.MaxFailureRateDelta = -0.1 }, "max failure rate delta: -0.1"},
		{"zero ratio", func(c *MetricsConfig) { c.MaxP95Ratio = 0 }, "max p95 ratio: 0"},
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

// TestQueryLeavesOutHealthProbes: the query drops the requests of the function the health gate
// probes, and that function is the app's: a renamed function would bring the probes back into
// the canary's figures.
func TestQueryLeavesOutHealthProbes(t *testing.T) {
	q := BuildQuery("app-blue", "app-green", time.Now().Add(-time.Minute), time.Now(), false)
	if want := fmt.Sprintf("| where OperationName != %q", HealthOperation); !strings.Contains(q, want) {
		t.Errorf("query:\n%s\nwant a line %q", q, want)
	}
	raw, err := os.ReadFile(filepath.Join("..", "..", "functionapp", HealthOperation, "function.json"))
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
	if len(fn.Bindings) == 0 || fn.Bindings[0].Type != "httpTrigger" || fn.Bindings[0].Route != "health" {
		t.Errorf("functionapp/%s/function.json: got bindings %+v, want the httpTrigger of route health", HealthOperation, fn.Bindings)
	}
}

// TestQueryCountsFailuresByStatus: a failure is Success == false or an error status, because the
// Functions host records a function's 500 as a success (Azure/azure-functions-host#6511); a
// 4xx other than 429 is the caller's error unless failClientErrors says otherwise. The window is
// absolute, so contiguous windows never judge a request twice.
func TestQueryCountsFailuresByStatus(t *testing.T) {
	start := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	end := start.Add(time.Minute)
	for _, tt := range []struct {
		clientErrors bool
		want         string
	}{
		{false, "Failed = countif(Success == false or Status >= 500 or Status == 429)"},
		{true, "Failed = countif(Success == false or Status >= 400)"},
	} {
		q := BuildQuery("app-blue", "app-green", start, end, tt.clientErrors)
		for _, want := range []string{tt.want, "| extend Status = toint(ResultCode)", "| where TimeGenerated >= datetime(2026-12-04T03:00:00Z) and TimeGenerated < datetime(2026-12-04T03:01:00Z)"} {
			if !strings.Contains(q, want) {
				t.Errorf("query (failClientErrors %v):\n%s\nwant %q", tt.clientErrors, q, want)
			}
		}
		if strings.Contains(q, "ago(") {
			t.Errorf("query:\n%s\nwant an absolute window, not ago()", q)
		}
	}
}

// TestMetricsWindowEndsTheLagAgo: without an End the window ends Lag before the query, so Azure
// Monitor has ingested it; with one, it ends exactly there, in whole seconds as the timespan is.
func TestMetricsWindowEndsTheLagAgo(t *testing.T) {
	api := &queryAPI{status: http.StatusOK, body: table(row("a-blue", 100, 0, 10), row("a-green", 100, 0, 10))}
	srv := httptest.NewTLSServer(api)
	t.Cleanup(srv.Close)
	cfg := MetricsConfig{WorkspaceID: "ws-1", CanaryApp: "a-blue", StableApp: "a-green", Window: time.Minute, Lag: 3 * time.Minute, MinRequests: 1, MaxFailureRateDelta: 0.02, MaxP95Ratio: 1.5}

	before := time.Now()
	res, err := Metrics(context.Background(), logsClient(t, srv), cfg, nil)
	after := time.Now()
	if err != nil {
		t.Fatal(err)
	}
	_, end, err := res.Timespan.Values()
	if err != nil {
		t.Fatal(err)
	}
	if end.Before(before.Add(-cfg.Lag).Add(-time.Second)) || end.After(after.Add(-cfg.Lag)) {
		t.Errorf("window end: got %s, want %s ago (between %s and %s)", end, cfg.Lag, before.Add(-cfg.Lag), after.Add(-cfg.Lag))
	}

	cfg.End = time.Date(2026, 12, 4, 3, 1, 0, 0, time.UTC)
	res, err = Metrics(context.Background(), logsClient(t, srv), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "2026-12-04T03:00:00Z/2026-12-04T03:01:00Z"; string(res.Timespan) != want {
		t.Errorf("timespan: got %s, want %s", res.Timespan, want)
	}
}
