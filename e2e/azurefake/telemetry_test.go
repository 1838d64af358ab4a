package azurefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"
)

// kql is a query as the metrics gate writes it, over [start, end), with failed as its countif.
func kql(start, end time.Time, failed string) string {
	return fmt.Sprintf(`AppRequests
| where TimeGenerated >= datetime(%s) and TimeGenerated < datetime(%s)
| where AppRoleName in~ ("app-blue", "app-green")
| where OperationName != "health"
| extend Status = toint(ResultCode)
| summarize Requests = count(), Failed = countif(%s), P95DurationMs = percentile(DurationMs, 95) by AppRoleName`,
		start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano), failed)
}

// ask sends one query at now and returns the status and each app's [requests, failed].
func ask(t *testing.T, tel *Telemetry, now time.Time, query string, start, end time.Time) (int, map[string][2]int64) {
	t.Helper()
	tel.Now = func() time.Time { return now }
	body, _ := json.Marshal(map[string]string{"query": query, "timespan": string(azquery.NewTimeInterval(start, end))})
	req := httptest.NewRequest(http.MethodPost, "/v1/workspaces/ws/query", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	rec := httptest.NewRecorder()
	tel.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return rec.Code, nil
	}
	var res struct {
		Tables []struct {
			Rows [][]any `json:"rows"`
		} `json:"tables"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	out := map[string][2]int64{}
	for _, r := range res.Tables[0].Rows {
		out[r[0].(string)] = [2]int64{int64(r[1].(float64)), int64(r[2].(float64))}
	}
	return rec.Code, out
}

// TestTelemetryAsAzureWritesIt: each behaviour of the stand-in, with what a query sees.
func TestTelemetryAsAzureWritesIt(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	tel := &Telemetry{Token: "tok"}
	tel.Add(
		// 10 good blue requests ingested 20 s late; 5 blue 500s its function returned (a
		// success to the host), ingested 2 min late; 1 thrown green failure; a health probe.
		Row{App: "app-blue", Operation: "orders", Generated: t0.Add(10 * time.Second), Ingested: t0.Add(30 * time.Second), ResultCode: 200, Success: true, DurationMs: 100, Count: 10},
		Row{App: "app-blue", Operation: "orders", Generated: t0.Add(20 * time.Second), Ingested: t0.Add(140 * time.Second), ResultCode: 500, Success: true, DurationMs: 100, Count: 5},
		Row{App: "app-green", Operation: "orders", Generated: t0.Add(10 * time.Second), Ingested: t0.Add(11 * time.Second), ResultCode: 500, Success: false, DurationMs: 100, Count: 1},
		Row{App: "app-blue", Operation: "health", Generated: t0.Add(10 * time.Second), Ingested: t0.Add(11 * time.Second), ResultCode: 200, Success: true, DurationMs: 1, Count: 100},
		// A request of the next window.
		Row{App: "app-blue", Operation: "orders", Generated: t0.Add(60 * time.Second), Ingested: t0.Add(61 * time.Second), ResultCode: 200, Success: true, DurationMs: 100, Count: 7},
	)
	end := t0.Add(time.Minute)
	byStatus := "Success == false or Status >= 500 or Status == 429"
	for _, tt := range []struct {
		name   string
		now    time.Time
		failed string
		want   map[string][2]int64
	}{
		{"right after the window: only what has arrived", end, byStatus, map[string][2]int64{"app-blue": {10, 0}, "app-green": {1, 1}}},
		{"after the lag: the late 500s too, counted by status", t0.Add(3 * time.Minute), byStatus, map[string][2]int64{"app-blue": {15, 5}, "app-green": {1, 1}}},
		{"Success alone misses a function's 500s", t0.Add(3 * time.Minute), "Success == false", map[string][2]int64{"app-blue": {15, 0}, "app-green": {1, 1}}},
		{"before most arrived: what has", t0.Add(15 * time.Second), byStatus, map[string][2]int64{"app-green": {1, 1}}},
		{"before anything arrived: no rows", t0.Add(5 * time.Second), byStatus, map[string][2]int64{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, got := ask(t, tel, tt.now, kql(t0, end, tt.failed), t0, end)
			if code != http.StatusOK || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %d %v, want 200 %v", code, got, tt.want)
			}
		})
	}

	for _, bad := range []string{"Success == false or ResultCode == 500", "Status > 499"} {
		if code, _ := ask(t, tel, end, kql(t0, end, bad), t0, end); code != http.StatusBadRequest {
			t.Errorf("countif(%s): got %d, want 400 for a term it cannot evaluate", bad, code)
		}
	}
	if code, _ := ask(t, tel, end, strings.Replace(kql(t0, end, byStatus), "TimeGenerated >= ", "Timestamp >= ", 1), t0, end); code != http.StatusBadRequest {
		t.Errorf("no time filter: got %d, want 400", code)
	}
}

// TestUsersFollowTheWeights: the users' requests split by the weights at each second, a failing
// slot's 500s recorded as successes, each second ingested after its delay, fractions carried
// over so a sparse slot still gets its requests.
func TestUsersFollowTheWeights(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	shift := t0.Add(10 * time.Second)
	u := &Users{
		PerSecond: 10,
		Apps:      map[string]string{"green": "app-green", "blue": "app-blue"},
		Weights: func(at time.Time) map[string]int {
			if at.Before(shift) {
				return map[string]int{"green": 100}
			}
			return map[string]int{"green": 95, "blue": 5}
		},
		Failing: func(slot string, _ time.Time) float64 {
			if slot == "blue" {
				return 0.5
			}
			return 0
		},
		Delay: SpreadDelay(20*time.Second, 3*time.Minute),
	}
	tel := &Telemetry{Token: "tok"}
	u.Until(tel, t0, t0.Add(30*time.Second))
	var green, blue, blue500, lateMax int
	for _, r := range tel.rows {
		d := r.Ingested.Sub(r.Generated)
		if d < 20*time.Second || d >= 3*time.Minute {
			t.Errorf("delay %s: want 20s..3m", d)
		}
		lateMax = max(lateMax, int(d/time.Second))
		switch {
		case r.App == "app-green":
			green += r.Count
		case r.ResultCode == 500:
			if !r.Success {
				t.Errorf("a function's 500: got Success false, want true (azure-functions-host#6511)")
			}
			blue500 += r.Count
			blue += r.Count
		default:
			blue += r.Count
		}
		if r.App == "app-blue" && r.Generated.Before(shift) {
			t.Errorf("blue request at %s, before the shift gave it traffic", r.Generated)
		}
	}
	// 10 s at 100% and 20 s at 95% for green; 20 s at 0.5 a second for blue.
	if green != 100+190 || blue != 10 || blue500 != 5 {
		t.Errorf("got green %d, blue %d (%d failing), want 290, 10 (5)", green, blue, blue500)
	}
	if lateMax < 60 {
		t.Errorf("the delays reach %ds at most, want them spread up to minutes", lateMax)
	}
}
