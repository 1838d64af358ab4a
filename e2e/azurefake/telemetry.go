package azurefake

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
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
//   - Sparse windows. KQL's summarize emits no row for a group without records.
//   - Late rows. ingestion_time() is when a row arrived, which for a slow request is long after
//     its TimeGenerated (the request's start): Users' FailureDelay holds a failing request's row
//     back that much longer.
//   - Sampling. A record stands for ItemCount requests; Users writes 1, a test may write more.
//   - Not every request is a user's, nor an HTTP request: the gates' probes and health checks
//     are recorded like any request, and a queue or timer trigger's invocations are recorded
//     as requests without a URL (azure-functions-host#7023).
//
// Queries are evaluated, not pattern-matched to an answer: kql.go compiles the subset of KQL the
// gate writes (where, extend, summarize; the functions and operators it uses, each with the KQL
// reference's semantics) and runs it over the rows. Anything outside the subset answers 400
// BadArgumentError, as a KQL semantic error does, so a gate that changes its query cannot pass
// by being misread.
type Telemetry struct {
	// Now is the clock visibility is judged by.
	Now func() time.Time
	// Token is the bearer token of the deploying identity, which the API takes as the
	// workspace's owner.
	Token string
	// Access, when set, accepts its principals' tokens too and authorizes their queries by the
	// cloud's role assignments (queryaccess.go).
	Access *QueryAccess

	mu      sync.Mutex
	rows    []Row
	queries []Query
	// errors is how many of the next queries answer 500.
	errors int
	after  func(n int)
}

// Row is a bucket of identical AppRequests records.
type Row struct {
	App, Operation string
	// Component is the ARM id of the Application Insights component the app sent the row to:
	// the one its connection string names. Log Analytics gives it as _ResourceId, lower case,
	// whatever the app's telemetry says ("Standard columns in Azure Monitor Logs": _ResourceId
	// "contains a unique identifier for the resource that the record is associated with").
	Component string
	// Url is the request's URL as the app saw it; empty for an invocation that is not an HTTP
	// request (a queue or timer trigger), which the Functions host records as a request too.
	Url                 string
	Generated, Ingested time.Time
	ResultCode          int
	Success             bool
	DurationMs          float64
	// Count is how many identical records the row stands for; ItemCount is each record's
	// ItemCount, how many requests a sampled record represents (0 is taken as 1).
	Count     int
	ItemCount int
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

// ServeHTTP answers the query API: the query is compiled (kql.go) and run over the rows that
// have been ingested by now and whose TimeGenerated lies in the request's timespan, which the
// service applies on top of the query's own filters ("Query API: timespan").
func (t *Telemetry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	principal, ok := t.caller(r)
	if !ok {
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
	start, end, err := azquery.TimeInterval(body.Timespan).Values()
	if err != nil {
		badArgument(w, "the timespan is required here: "+err.Error())
		return
	}
	if principal != "" {
		tables, err := queryTables(body.Query)
		if err != nil {
			badArgument(w, err.Error())
			return
		}
		if status, err := t.Access.authorize(principal, parts[3], tables); err != nil {
			queryError(w, status, err)
			return
		}
	}
	stages, err := compile(body.Query, now)
	if err != nil {
		badArgument(w, err.Error())
		return
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
	var visible []Row
	for _, row := range t.rows {
		if !row.Ingested.After(now) && !row.Generated.Before(start) && row.Generated.Before(end) {
			visible = append(visible, row)
		}
	}
	t.mu.Unlock()

	res, err := run(stages, visible)
	if err != nil {
		badArgument(w, err.Error())
		return
	}
	columns := make([]map[string]string, len(res.columns))
	for i, c := range res.columns {
		columns[i] = map[string]string{"name": c[0], "type": c[1]}
	}
	rows := res.rows
	if rows == nil {
		rows = [][]any{}
	}
	out, _ := json.Marshal(map[string]any{"tables": []any{map[string]any{"name": "PrimaryResult", "columns": columns, "rows": rows}}})
	_, _ = w.Write(out)
	if after != nil {
		after(n)
	}
}

// caller is the principal a request's bearer token names: "" for the deploying identity's
// Token, else the principal Access maps it to; ok is false for a token the API does not know.
func (t *Telemetry) caller(r *http.Request) (principal string, ok bool) {
	token, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !found:
		return "", false
	case token == t.Token:
		return "", true
	case t.Access != nil:
		if principal, ok = t.Access.Principals[token]; ok {
			return principal, ok
		}
		// A token Entra issued for the query API, a managed identity's included
		// (IdentityEndpoint), is its principal's, authorized by its roles.
		return tenantPrincipal(token, logsAudiences...)
	}
	return "", false
}

func badArgument(w http.ResponseWriter, msg string) {
	w.WriteHeader(http.StatusBadRequest)
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "BadArgumentError", "message": msg}})
	_, _ = w.Write(b)
}

// Users is the API's users, as Application Insights records them: PerSecond requests a second
// through the gateway (or Rate's, when set), split between the slots' apps by the pool's weights
// at that second, one bucket of rows per second and slot. A slot's Failing share of its requests
// answer Status (500 when unset) from the function without throwing, so they are recorded with
// Success == true (azure-functions-host#6511); BaseFailures of every app's requests throw
// (Success == false). A slot's Lost share never reaches its app: the gateway answers them 502 or
// 504 (a crashed host, a timeout) and the app records nothing, so they are missing from its
// rows. Each second's rows are ingested Delay(second) after it.
//
// Without Rand the counts are exact: fractions of a request carry over to the next second. With
// Rand, arrivals are Poisson and failures binomial, drawn from it, so a seeded source gives the
// same users in every run.
type Users struct {
	PerSecond float64
	// Rate, when set, is the requests a second at an instant, instead of PerSecond.
	Rate         func(at time.Time) float64
	BaseFailures float64
	// Apps maps a slot to its app name (AppRoleName).
	Apps map[string]string
	// Component, when set, is where a slot's app sends its telemetry now (Row.Component), as
	// ingestion decides it (Cloud.SendTelemetry); ok false drops the slot's rows, as ingestion
	// refuses them. Nil sends rows without a component.
	Component func(slot string) (component string, ok bool)
	// Weights gives each slot's share in percent at an instant.
	Weights func(at time.Time) map[string]int
	// Failing gives the share of a slot's requests that fail at an instant, and Status the
	// status they answer (500 when nil or 0).
	Failing func(slot string, at time.Time) float64
	Status  func(slot string, at time.Time) int
	// Lost gives the share of a slot's requests that never reach its app at an instant.
	Lost func(slot string, at time.Time) float64
	// Delay is each second's ingestion delay.
	Delay func(at time.Time) time.Duration
	// FailureDelay is how much later than its second's other rows a failing request's row
	// arrives: TimeGenerated is when a request started, so one that hung until a timeout is
	// recorded, and ingested, that much later.
	FailureDelay time.Duration
	// DurationMs is every request's duration; 100 when zero.
	DurationMs float64
	// Rand, when set, draws Poisson arrivals and binomial failures.
	Rand *rand.Rand

	mu   sync.Mutex
	next time.Time
	// owed carries the fractions of requests, failures and thrown failures over to the next
	// second, per slot, so sparse traffic keeps its shares.
	owed, owedFail, owedThrown, owedLost map[string]float64
}

// Until writes the requests of every whole second since the last call (or since from, the
// first time) up to now into t.
func (u *Users) Until(t *Telemetry, from, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.next.IsZero() {
		u.next = from.Truncate(time.Second)
		u.owed, u.owedFail, u.owedThrown, u.owedLost = map[string]float64{}, map[string]float64{}, map[string]float64{}, map[string]float64{}
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
		rate := u.PerSecond
		if u.Rate != nil {
			rate = u.Rate(at)
		}
		for _, slot := range slices.Sorted(maps.Keys(u.Apps)) {
			app := u.Apps[slot]
			mean := rate * float64(weights[slot]) / 100
			failing, lost := 0.0, 0.0
			if u.Failing != nil {
				failing = u.Failing(slot, at)
			}
			if u.Lost != nil {
				lost = u.Lost(slot, at)
			}
			status := http.StatusInternalServerError
			if u.Status != nil && u.Status(slot, at) != 0 {
				status = u.Status(slot, at)
			}
			n, fail, thrown := u.draw(slot, mean, lost, failing)
			if n == 0 {
				continue
			}
			ok := n - fail - thrown
			component, sent := "", true
			if u.Component != nil {
				component, sent = u.Component(slot)
			}
			if !sent {
				continue
			}
			base := Row{App: app, Component: component, Operation: "orders", Url: "https://" + app + ".azurewebsites.net/api/orders", Generated: at, Ingested: ingested, DurationMs: dur, ItemCount: 1}
			for _, b := range []struct {
				code    int
				success bool
				count   int
			}{{200, true, ok}, {status, true, fail}, {500, false, thrown}} {
				if b.count > 0 {
					r := base
					r.ResultCode, r.Success, r.Count = b.code, b.success, b.count
					if b.code != 200 {
						r.Ingested = r.Ingested.Add(u.FailureDelay)
					}
					rows = append(rows, r)
				}
			}
		}
	}
	t.Add(rows...)
}

// draw is one second of a slot: the requests its app records (n), of which fail answer the
// failing status and thrown threw. Lost requests are drawn first and never recorded.
func (u *Users) draw(slot string, mean, lost, failing float64) (n, fail, thrown int) {
	if u.Rand != nil {
		sent := poisson(u.Rand, mean)
		n = sent - binomial(u.Rand, sent, lost)
		fail = binomial(u.Rand, n, failing)
		thrown = binomial(u.Rand, n-fail, u.BaseFailures)
		return n, fail, thrown
	}
	// Fractions of a request carry over, so a sparse slot still gets its requests.
	u.owed[slot] += mean
	sent := int(u.owed[slot])
	u.owed[slot] -= float64(sent)
	u.owedLost[slot] += float64(sent) * lost
	gone := min(int(u.owedLost[slot]), sent)
	u.owedLost[slot] -= float64(gone)
	n = sent - gone
	if n == 0 {
		return 0, 0, 0
	}
	u.owedFail[slot] += float64(n) * failing
	fail = min(int(u.owedFail[slot]), n)
	u.owedFail[slot] -= float64(fail)
	u.owedThrown[slot] += float64(n-fail) * u.BaseFailures
	thrown = min(int(u.owedThrown[slot]), n-fail)
	u.owedThrown[slot] -= float64(thrown)
	return n, fail, thrown
}

// poisson draws a Poisson count of the given mean: Knuth's multiplication method below 30, a
// rounded normal above, where the two agree to within the draws' own noise.
func poisson(r *rand.Rand, mean float64) int {
	if mean <= 0 {
		return 0
	}
	if mean >= 30 {
		return max(0, int(math.Round(mean+math.Sqrt(mean)*r.NormFloat64())))
	}
	limit, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= limit {
			return k
		}
		k++
	}
}

// binomial draws how many of n independent trials succeed with probability p.
func binomial(r *rand.Rand, n int, p float64) int {
	if n <= 0 || p <= 0 {
		return 0
	}
	if p >= 1 {
		return n
	}
	k := 0
	for range n {
		if r.Float64() < p {
			k++
		}
	}
	return k
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
