package azurefake

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"
)

// Telemetry is the AppRequests table of a workspace-based Application Insights resource, served
// through the Log Analytics query API (POST /v1/workspaces/{id}/query), with the behaviours
// that make a canary hard to judge on Azure, the inconvenient ones first:
//
//   - Ingestion lag. A row is visible to queries only from its Ingested time on; "Log data
//     ingestion time in Azure Monitor" documents a typical latency of 20 s to 3 min, and
//     Users spreads it over a range a test chooses. A query over a window that has not finished
//     ingesting answers with what has arrived, and no error.
//   - Error statuses recorded as successes. The Functions host records an HTTP invocation whose
//     function returned 4xx/5xx as Success == true unless it threw
//     (Azure/azure-functions-host#6511); ResultCode carries the status. Users writes a failing
//     canary's 500s that way.
//   - Sparse windows. KQL's summarize emits no row for an app without requests in the window.
//
// Queries are evaluated, not pattern-matched to an answer: the time filter (absolute datetime()
// bounds, or ago()), the AppRoleName list, the OperationName exclusion and the countif()
// predicate of failures are read from the KQL and applied to the rows. A predicate term it does
// not know answers 400 BadArgumentError, as a KQL semantic error does, so a gate that changes
// its query cannot pass by accident.
type Telemetry struct {
	// Now is the clock visibility is judged by.
	Now func() time.Time
	// Token is the bearer token the API accepts.
	Token string

	mu      sync.Mutex
	rows    []Row
	queries []Query
	// errors is how many of the next queries answer 500.
	errors int
	after  func(n int)
}

// Row is a bucket of identical AppRequests records.
type Row struct {
	App, Operation      string
	Generated, Ingested time.Time
	ResultCode          int
	Success             bool
	DurationMs          float64
	Count               int
}

// Query is one query the API answered.
type Query struct {
	At         time.Time
	Workspace  string
	Start, End time.Time
	KQL        string
}

// Add writes rows.
func (t *Telemetry) Add(rows ...Row) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rows = append(t.rows, rows...)
}

// FailNext makes the next n queries answer 500, as a Log Analytics outage does.
func (t *Telemetry) FailNext(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.errors = n
}

// OnQuery runs fn after each query has been answered, with the query's number from 1; nil stops
// it. The count restarts.
func (t *Telemetry) OnQuery(fn func(n int)) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.queries, t.after = nil, fn
}

// Queries returns the queries answered so far.
func (t *Telemetry) Queries() []Query {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.queries)
}

var (
	kqlBetween   = regexp.MustCompile(`TimeGenerated >= datetime\(([^)]+)\) and TimeGenerated < datetime\(([^)]+)\)`)
	kqlAgo       = regexp.MustCompile(`TimeGenerated > ago\((\d+)s\)`)
	kqlApps      = regexp.MustCompile(`AppRoleName in~ \("([^"]+)", "([^"]+)"\)`)
	kqlNotOp     = regexp.MustCompile(`OperationName != "([^"]+)"`)
	kqlCountif   = regexp.MustCompile(`Failed = countif\(([^)]*)\)`)
	kqlStatusCmp = regexp.MustCompile(`^Status (>=|==) (\d{3})$`)
)

// failurePredicate compiles the countif() of failures: terms joined by "or", each one of
// Success == false, Status >= N or Status == N (Status being toint(ResultCode)).
func failurePredicate(kql string) (func(Row) bool, error) {
	m := kqlCountif.FindStringSubmatch(kql)
	if m == nil {
		return nil, fmt.Errorf("no Failed = countif(...) in the query")
	}
	var terms []func(Row) bool
	for _, term := range strings.Split(m[1], " or ") {
		term = strings.TrimSpace(term)
		if term == "Success == false" {
			terms = append(terms, func(r Row) bool { return !r.Success })
			continue
		}
		c := kqlStatusCmp.FindStringSubmatch(term)
		if c == nil || !strings.Contains(kql, "extend Status = toint(ResultCode)") {
			return nil, fmt.Errorf("unknown term %q in countif()", term)
		}
		n, _ := strconv.Atoi(c[2])
		if c[1] == ">=" {
			terms = append(terms, func(r Row) bool { return r.ResultCode >= n })
		} else {
			terms = append(terms, func(r Row) bool { return r.ResultCode == n })
		}
	}
	return func(r Row) bool {
		for _, f := range terms {
			if f(r) {
				return true
			}
		}
		return false
	}, nil
}

// ServeHTTP answers the query API.
func (t *Telemetry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+t.Token {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":{"code":"InvalidAuthenticationToken","message":"the access token is missing or invalid"}}`)
		return
	}
	var body struct{ Query, Timespan string }
	parts := strings.Split(r.URL.Path, "/")
	if r.Method != http.MethodPost || len(parts) != 5 || parts[1] != "v1" || parts[2] != "workspaces" || parts[4] != "query" || json.NewDecoder(r.Body).Decode(&body) != nil {
		badArgument(w, "not a query request")
		return
	}
	now := t.Now()
	var start, end time.Time
	if m := kqlBetween.FindStringSubmatch(body.Query); m != nil {
		var err1, err2 error
		start, err1 = time.Parse(time.RFC3339Nano, m[1])
		end, err2 = time.Parse(time.RFC3339Nano, m[2])
		if err1 != nil || err2 != nil {
			badArgument(w, "bad datetime()")
			return
		}
	} else if m := kqlAgo.FindStringSubmatch(body.Query); m != nil {
		secs, _ := strconv.Atoi(m[1])
		start, end = now.Add(-time.Duration(secs)*time.Second), now
	} else {
		badArgument(w, "no time filter on TimeGenerated")
		return
	}
	// The request's timespan bounds TimeGenerated as well (the query API applies both).
	if ts, te, err := azquery.TimeInterval(body.Timespan).Values(); err == nil {
		start, end = later(start, ts), earlier(end, te)
	}
	apps := kqlApps.FindStringSubmatch(body.Query)
	failed, err := failurePredicate(body.Query)
	if apps == nil || err != nil {
		msg := "no AppRoleName filter"
		if err != nil {
			msg = err.Error()
		}
		badArgument(w, msg)
		return
	}
	exclude := ""
	if m := kqlNotOp.FindStringSubmatch(body.Query); m != nil {
		exclude = m[1]
	}

	t.mu.Lock()
	t.queries = append(t.queries, Query{At: now, Workspace: parts[3], Start: start, End: end, KQL: body.Query})
	n, after := len(t.queries), t.after
	if t.errors > 0 {
		t.errors--
		t.mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `{"error":{"code":"InternalServerError","message":"scripted outage"}}`)
		if after != nil {
			after(n)
		}
		return
	}
	type agg struct {
		requests, failed int64
		durations        []Row
	}
	per := map[string]*agg{}
	for _, row := range t.rows {
		if row.Ingested.After(now) || row.Generated.Before(start) || !row.Generated.Before(end) || row.Operation == exclude {
			continue
		}
		app := ""
		for _, a := range apps[1:] {
			if strings.EqualFold(a, row.App) {
				app = a
			}
		}
		if app == "" {
			continue
		}
		a := per[app]
		if a == nil {
			a = &agg{}
			per[app] = a
		}
		a.requests += int64(row.Count)
		if failed(row) {
			a.failed += int64(row.Count)
		}
		a.durations = append(a.durations, row)
	}
	t.mu.Unlock()

	var rows [][]any
	for _, app := range apps[1:] {
		a := per[app]
		if a == nil || a.requests == 0 {
			continue
		}
		rows = append(rows, []any{app, a.requests, a.failed, float64(a.failed) / float64(a.requests), percentile95(a.durations)})
	}
	out, _ := json.Marshal(map[string]any{"tables": []any{map[string]any{
		"name": "PrimaryResult",
		"columns": []map[string]string{
			{"name": "AppRoleName", "type": "string"}, {"name": "Requests", "type": "long"}, {"name": "Failed", "type": "long"},
			{"name": "FailureRate", "type": "real"}, {"name": "P95DurationMs", "type": "real"},
		},
		"rows": rows,
	}}})
	_, _ = w.Write(out)
	if after != nil {
		after(n)
	}
}

func badArgument(w http.ResponseWriter, msg string) {
	w.WriteHeader(http.StatusBadRequest)
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "BadArgumentError", "message": msg}})
	_, _ = w.Write(b)
}

func percentile95(rows []Row) float64 {
	slices.SortFunc(rows, func(a, b Row) int {
		switch {
		case a.DurationMs < b.DurationMs:
			return -1
		case a.DurationMs > b.DurationMs:
			return 1
		}
		return 0
	})
	total := 0
	for _, r := range rows {
		total += r.Count
	}
	rank := int(math.Ceil(0.95 * float64(total)))
	seen := 0
	for _, r := range rows {
		seen += r.Count
		if seen >= rank {
			return r.DurationMs
		}
	}
	return 0
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// Users is the API's users, as Application Insights records them: PerSecond requests a second
// through the gateway, split between the slots' apps by the pool's weights at that second, one
// bucket of rows per second and slot. A slot's Failing share of its requests answer 500 from
// the function without throwing, so they are recorded with Success == true
// (azure-functions-host#6511); BaseFailures of every app's requests throw (Success == false).
// Each second's rows are ingested Delay(second) after it.
type Users struct {
	PerSecond    float64
	BaseFailures float64
	// Apps maps a slot to its app name (AppRoleName).
	Apps map[string]string
	// Weights gives each slot's share in percent at an instant.
	Weights func(at time.Time) map[string]int
	// Failing gives the share of a slot's requests that fail at an instant.
	Failing func(slot string, at time.Time) float64
	// Delay is each second's ingestion delay.
	Delay func(at time.Time) time.Duration
	// DurationMs is every request's duration; 100 when zero.
	DurationMs float64

	mu   sync.Mutex
	next time.Time
	// owed carries the fractions of requests, failures and thrown failures over to the next
	// second, per slot, so sparse traffic keeps its shares.
	owed, owedFail, owedThrown map[string]float64
}

// Until writes the requests of every whole second since the last call (or since from, the
// first time) up to now into t.
func (u *Users) Until(t *Telemetry, from, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.next.IsZero() {
		u.next = from.Truncate(time.Second)
		u.owed, u.owedFail, u.owedThrown = map[string]float64{}, map[string]float64{}, map[string]float64{}
	}
	dur := u.DurationMs
	if dur == 0 {
		dur = 100
	}
	var rows []Row
	for ; !u.next.Add(time.Second).After(now); u.next = u.next.Add(time.Second) {
		at := u.next
		weights := u.Weights(at)
		ingested := at.Add(u.Delay(at))
		for slot, app := range u.Apps {
			// Fractions of a request carry over, so a sparse slot still gets its requests.
			u.owed[slot] += u.PerSecond * float64(weights[slot]) / 100
			n := int(u.owed[slot])
			if n == 0 {
				continue
			}
			u.owed[slot] -= float64(n)
			failing := 0.0
			if u.Failing != nil {
				failing = u.Failing(slot, at)
			}
			u.owedFail[slot] += float64(n) * failing
			fail := min(int(u.owedFail[slot]), n)
			u.owedFail[slot] -= float64(fail)
			u.owedThrown[slot] += float64(n-fail) * u.BaseFailures
			thrown := min(int(u.owedThrown[slot]), n-fail)
			u.owedThrown[slot] -= float64(thrown)
			ok := n - fail - thrown
			base := Row{App: app, Operation: "orders", Generated: at, Ingested: ingested, DurationMs: dur}
			for _, b := range []struct {
				code    int
				success bool
				count   int
			}{{200, true, ok}, {500, true, fail}, {500, false, thrown}} {
				if b.count > 0 {
					r := base
					r.ResultCode, r.Success, r.Count = b.code, b.success, b.count
					rows = append(rows, r)
				}
			}
		}
	}
	t.Add(rows...)
}

// SpreadDelay is an ingestion delay that varies second by second between lo and hi, the same
// for the same second in every run.
func SpreadDelay(lo, hi time.Duration) func(time.Time) time.Duration {
	return func(at time.Time) time.Duration {
		if hi <= lo {
			return lo
		}
		// A multiplicative hash of the second spreads the delays over the range.
		h := uint64(at.Unix()) * 0x9E3779B97F4A7C15
		return lo + time.Duration(h%uint64(hi-lo))
	}
}
