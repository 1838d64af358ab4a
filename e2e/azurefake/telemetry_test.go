package azurefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"

	"github.com/slotless/slotless/internal/gate"
)

// ask sends one query at now over the request's timespan [start, end) and returns the status
// and the answer's rows keyed by their first columns (all but the last n).
func ask(t *testing.T, tel *Telemetry, now time.Time, query string, start, end time.Time) (int, string, []map[string]any) {
	t.Helper()
	tel.Now = func() time.Time { return now }
	body, _ := json.Marshal(map[string]string{"query": query, "timespan": string(azquery.NewTimeInterval(start, end))})
	req := httptest.NewRequest(http.MethodPost, "/v1/workspaces/ws/query", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer tok")
	rec := httptest.NewRecorder()
	tel.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		return rec.Code, rec.Body.String(), nil
	}
	var res struct {
		Tables []struct {
			Columns []struct{ Name string } `json:"columns"`
			Rows    [][]any                 `json:"rows"`
		} `json:"tables"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, r := range res.Tables[0].Rows {
		m := map[string]any{}
		for i, c := range res.Tables[0].Columns {
			m[c.Name] = r[i]
		}
		out = append(out, m)
	}
	return rec.Code, "", out
}

// figures folds an answer of the gate's query into "app/kind: requests failed clientErrors late
// p95 settled" lines, sorted, for comparison.
func figures(rows []map[string]any) string {
	var lines []string
	for _, r := range rows {
		lines = append(lines, fmt.Sprintf("%s/%s: rows %v requests %v failed %v 4xx %v late %v p95 %v settled %v", r["AppRoleName"], r["Kind"], r["Rows"], r["Requests"], r["Failed"], r["ClientErrors"], r["Late"], r["P95DurationMs"], r["Settled"]))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// TestTelemetryAnswersTheGatesQuery: the gate's own query (gate.BuildQuery), evaluated over rows
// as Application Insights writes them: only what has arrived in the arrival window, failures by
// status, the release's own requests and a queue trigger's set apart, sampled records weighted,
// a shift left out, late rows counted.
func TestTelemetryAnswersTheGatesQuery(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	const blue, green = "app-blue", "app-green"
	url := func(app, path string) string { return "https://" + app + ".azurewebsites.net" + path }
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	row := func(app, path string, served, arrived, code int, success bool, ms float64, n, items int) Row {
		u := ""
		if path != "" {
			u = url(app, path)
		}
		return Row{App: app, Operation: "orders", Url: u, Generated: at(served), Ingested: at(arrived), ResultCode: code, Success: success, DurationMs: ms, Count: n, ItemCount: items}
	}
	tel := &Telemetry{Token: "tok"}
	tel.Add(
		row(blue, "/api/orders", 10, 30, 200, true, 100, 10, 1),  // users, arrived in 20 s
		row(blue, "/api/orders", 20, 140, 500, true, 900, 5, 1),  // a function's 500s (Success true), 2 min late
		row(blue, "/api/orders", 25, 35, 404, true, 50, 3, 1),    // a changed route's 404s
		row(green, "/api/orders", 10, 11, 500, false, 100, 1, 1), // a thrown failure
		row(green, "/api/orders", 12, 13, 200, true, 100, 2, 10), // sampled: 2 records of 10 requests each
		row(blue, "/api/HEALTH", 11, 12, 200, true, 1, 100, 1),   // the health path, in another case
		row(blue, "/api/orders?slotless-probe=1", 12, 13, 200, true, 2, 50, 1),
		row(blue, "", 13, 14, 0, true, 5000, 7, 1),             // a queue trigger's invocations
		row(blue, "/api/orders", 45, 50, 500, true, 100, 4, 1), // served during a shift: left out
		row(blue, "/api/orders", 5, 40, 200, true, 100, 6, 1),  // served before the step: earlier
		row(blue, "/api/orders", 70, 75, 200, true, 100, 8, 1), // served after the window
		row("app-other", "/api/orders", 10, 11, 500, true, 100, 9, 1),
	)
	q := gate.Query{CanaryApp: blue, StableApp: green, ArrivedFrom: at(0), ArrivedTo: at(60), ServedFrom: at(0), Current: at(8),
		Exclude: []gate.Span{{From: at(40), To: at(50)}}, HealthPath: "/health", Late: time.Minute, SettledTo: at(30)}
	query := gate.BuildQuery(q)
	// The 404s count as client errors, the 500s served at 20 s arrive after the window, the
	// sampled records count ten requests each, the queue's invocations and the other app not
	// at all; the users' requests served from 8 s to 30 s that have arrived are the settled
	// share.
	inWindow := strings.Join([]string{
		"app-blue/earlier: rows 6 requests 6 failed 0 4xx 0 late 0 p95 100 settled 0",
		"app-blue/health: rows 100 requests 100 failed 0 4xx 0 late 0 p95 1 settled 0",
		"app-blue/probe: rows 50 requests 50 failed 0 4xx 0 late 0 p95 2 settled 0",
		"app-blue/user: rows 13 requests 13 failed 0 4xx 3 late 0 p95 100 settled 13",
		"app-green/user: rows 3 requests 21 failed 1 4xx 0 late 0 p95 100 settled 21",
	}, "\n")
	ts := q.Timespan()
	start, end, _ := ts.Values()
	for _, tt := range []struct {
		name string
		now  time.Time
		want string
	}{
		{"at the window's end: what arrived in it", at(60), inWindow},
		{"later: the same, what arrived after is the next window's", at(200), inWindow},
		{"before anything arrived: no rows", at(5), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, msg, rows := ask(t, tel, tt.now, query, start, end)
			if code != http.StatusOK {
				t.Fatalf("got %d %s", code, msg)
			}
			if got := figures(rows); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}

	// The late 500s arrived after the window closed: the next window, by arrival, has them;
	// what arrived before it is read only for the settled share, now including the late 500s.
	next := q
	next.ArrivedFrom, next.ArrivedTo = at(60), at(200)
	nstart, nend, _ := next.Timespan().Values()
	_, _, rows := ask(t, tel, at(200), gate.BuildQuery(next), nstart, nend)
	want := strings.Join([]string{
		"app-blue/outside: rows 169 requests 169 failed 0 4xx 3 late 0 p95 100 settled 13",
		"app-blue/user: rows 13 requests 13 failed 5 4xx 0 late 5 p95 900 settled 5",
		"app-green/outside: rows 3 requests 21 failed 1 4xx 0 late 0 p95 100 settled 21",
	}, "\n")
	if got := figures(rows); got != want {
		t.Errorf("the next window: got\n%s\nwant\n%s", got, want)
	}
}

// TestKQLSemantics: each construct the stand-in evaluates, as the KQL reference defines it,
// and the queries it refuses as a semantic error.
func TestKQLSemantics(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	tel := &Telemetry{Token: "tok"}
	tel.Add(
		Row{App: "a", Url: "https://a/api/x?k=v&slotless-probe=1", Generated: t0, Ingested: t0, ResultCode: 0, Success: true, DurationMs: 10, Count: 1, ItemCount: 3},
		Row{App: "A", Url: "https://a/API/Health", Generated: t0, Ingested: t0, ResultCode: 503, Success: false, DurationMs: 20, Count: 2, ItemCount: 1},
		Row{App: "b", Url: "", Generated: t0.Add(time.Second), Ingested: t0.Add(90 * time.Second), ResultCode: 200, Success: true, DurationMs: 30, Count: 1, ItemCount: 1},
	)
	now := t0.Add(time.Hour)
	for _, tt := range []struct {
		name, query, want string
	}{
		{"in~ ignores case, count() counts records", `AppRequests | where AppRoleName in~ ("a") | summarize N = count() by AppRoleName`, "A:2 a:1"},
		{"sum(ItemCount) counts requests", `AppRequests | summarize N = sum(ItemCount) by Kind = AppRoleName`, ""},
		{"toint of a status, null for an empty one", `AppRequests | extend S = toint(ResultCode) | summarize N = countif(S >= 500) by AppRoleName`, "A:2 a:0 b:0"},
		{"endswith ignores case", `AppRequests | where tostring(parse_url(Url).Path) endswith "/health" | summarize N = count() by AppRoleName`, "A:2"},
		{"a query parameter through parse_url", `AppRequests | where tostring(parse_url(Url)["Query Parameters"]["slotless-probe"]) == "1" | summarize N = count() by AppRoleName`, "a:1"},
		{"isnotempty", `AppRequests | where isnotempty(Url) | summarize N = count() by AppRoleName`, "A:2 a:1"},
		{"case takes the first true predicate", `AppRequests | extend K = case(Success == false, "failed", ItemCount > 1, "sampled", "plain") | summarize N = count() by K`, "failed:2 plain:1 sampled:1"},
		{"ingestion_time() - TimeGenerated is a timespan", `AppRequests | extend D = ingestion_time() - TimeGenerated | summarize N = countif(D > 60s) by AppRoleName`, "A:0 a:0 b:1"},
		{"not() of a datetime range", `AppRequests | where not(TimeGenerated >= datetime(2026-12-04T03:00:00Z) and TimeGenerated < datetime(2026-12-04T03:00:01Z)) | summarize N = count() by AppRoleName`, "b:1"},
		{"percentilew weights each value", `AppRequests | summarize P = percentilew(DurationMs, ItemCount, 50) by X = "all"`, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, msg, rows := ask(t, tel, now, tt.query, t0.Add(-time.Hour), now)
			if tt.want == "" {
				// by X = expr is not in the subset: refused rather than misread.
				if code != http.StatusBadRequest {
					t.Errorf("got %d, want 400 for a construct outside the subset", code)
				}
				return
			}
			if code != http.StatusOK {
				t.Fatalf("got %d %s", code, msg)
			}
			var got []string
			for _, r := range rows {
				var key any
				for k, v := range r {
					if k != "N" {
						key = v
					}
				}
				got = append(got, fmt.Sprintf("%v:%v", key, r["N"]))
			}
			slices.Sort(got)
			if strings.Join(got, " ") != tt.want {
				t.Errorf("got %s, want %s", strings.Join(got, " "), tt.want)
			}
		})
	}

	_, _, rows := ask(t, tel, now, `AppRequests | summarize P = percentilew(DurationMs, ItemCount, 50), Q = percentile(DurationMs, 50) by AppRoleName`, t0.Add(-time.Hour), now)
	for _, r := range rows {
		// a's one record stands for 3 requests; A's two records for one each.
		if r["AppRoleName"] == "a" && r["P"] != 10.0 || r["AppRoleName"] == "A" && r["Q"] != 20.0 {
			t.Errorf("percentiles of %v: got %v", r["AppRoleName"], r)
		}
	}

	for _, bad := range []string{
		`AppRequests | summarize N = countif(ResultCode == 500) by AppRoleName`, // a string against a long
		`AppRequests | where Timestamp > ago(1h) | summarize N = count() by AppRoleName`,
		`AppRequests | extend S = tolong(ResultCode) | summarize N = count() by AppRoleName`,
		`AppRequests | summarize N = dcount(Url) by AppRoleName`,
		`AppRequests | project Url`,
		`requests | summarize N = count() by AppRoleName`,
	} {
		if code, _, _ := ask(t, tel, now, bad, t0.Add(-time.Hour), now); code != http.StatusBadRequest {
			t.Errorf("%s: got %d, want 400", bad, code)
		}
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

// TestUsersLoseFailAndDraw: a slot's lost requests are never recorded; its failing ones answer
// the status given, and arrive FailureDelay after the rest of their second; with Rand the
// counts are Poisson and binomial draws, the same for the same seed, close to the rates over
// many seconds.
func TestUsersLoseFailAndDraw(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	users := func(r *rand.Rand) *Users {
		return &Users{
			PerSecond: 100, BaseFailures: 0.01, Rand: r,
			Apps:    map[string]string{"green": "app-green", "blue": "app-blue"},
			Weights: func(time.Time) map[string]int { return map[string]int{"green": 90, "blue": 10} },
			Failing: func(slot string, _ time.Time) float64 {
				if slot == "blue" {
					return 0.2
				}
				return 0
			},
			Status: func(string, time.Time) int { return 404 },
			Lost: func(slot string, _ time.Time) float64 {
				if slot == "blue" {
					return 0.5
				}
				return 0
			},
			Delay:        func(time.Time) time.Duration { return 30 * time.Second },
			FailureDelay: 2 * time.Minute,
		}
	}
	count := func(u *Users) map[string]int {
		tel := &Telemetry{}
		u.Until(tel, t0, t0.Add(1000*time.Second))
		out := map[string]int{}
		for _, r := range tel.rows {
			key := fmt.Sprintf("%s %d", r.App, r.ResultCode)
			out[key] += r.Count
			if r.ResultCode == 404 && r.Ingested.Sub(r.Generated) != 150*time.Second {
				t.Errorf("a failing row arrived %s after it was served, want 2m30s", r.Ingested.Sub(r.Generated))
			}
		}
		return out
	}
	exact := count(users(nil))
	// 1000 s at 10 a second on blue, half lost: 5000 recorded, a fifth of them 404, 1% of the
	// rest thrown.
	if exact["app-blue 200"]+exact["app-blue 404"]+exact["app-blue 500"] != 5000 || exact["app-blue 404"] != 1000 || exact["app-blue 500"] != 40 {
		t.Errorf("exact: got %v", exact)
	}
	a, b := count(users(rand.New(rand.NewPCG(1, 2)))), count(users(rand.New(rand.NewPCG(1, 2))))
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Errorf("the same seed drew %v and %v", a, b)
	}
	blue := a["app-blue 200"] + a["app-blue 404"] + a["app-blue 500"]
	if blue < 4700 || blue > 5300 || a["app-blue 404"] < 880 || a["app-blue 404"] > 1120 || a["app-green 500"] < 800 || a["app-green 500"] > 1000 {
		t.Errorf("drawn: got %v (blue %d), want about 5000 blue with 1000 404s, and 900 green 500s", a, blue)
	}
}
