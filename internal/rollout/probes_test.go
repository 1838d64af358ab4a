package rollout

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

// The tests in this file are the probes: each route of releaseProbes judged on its own, the
// rounds sent at once within a deadline, no redirect followed, every request marked.

// answers builds a route's answers from a pattern, oldest first: '.' a pass, 'x' a failure.
func answers(route, pattern string) []ProbeResult {
	out := make([]ProbeResult, 0, len(pattern))
	for _, c := range pattern {
		r := ProbeResult{Probe: route, Status: 200, OK: true, Ms: 40}
		if c == 'x' {
			r = ProbeResult{Probe: route, Status: 500, Ms: 40, Error: "answered 500, want 200"}
		}
		out = append(out, r)
	}
	return out
}

func TestJudgeRoute(t *testing.T) {
	th := stack.ProbeThresholds{MaxFailureRateDelta: 0.3, FailureLimit: 3, MaxLatencyRatio: 3}
	slow := func(rs []ProbeResult, ms int64) []ProbeResult {
		for i := range rs {
			rs[i].Ms = ms
		}
		return rs
	}
	tests := []struct {
		name           string
		canary, stable []ProbeResult
		t              stack.ProbeThresholds
		want           string
		detail         string
	}{
		{"one failure in the first three answers: a blip, not a verdict", answers("GET /a", ".x."), answers("GET /a", "..."), th, VerdictPass, "judged from 10 each"},
		{"one failure in ten", answers("GET /a", "...x......"), answers("GET /a", ".........."), th, VerdictPass, "canary 1/10 failed"},
		{"three in a row while stable passes: at once", answers("GET /a", "xxx"), answers("GET /a", "..."), th, VerdictFail, "failed 3 times in a row on the canary"},
		{"three in a row, the window not yet full", answers("GET /a", "..xxx"), answers("GET /a", "....."), th, VerdictFail, "failed 3 times in a row"},
		{"two in a row is not yet three", answers("GET /a", "..xx"), answers("GET /a", "...."), th, VerdictPass, ""},
		{"both slots fail: the gateway's or a shared dependency's", answers("GET /a", "xxxxx"), answers("GET /a", "....x"), th, VerdictPass, ""},
		{"both failed, the stable slot answers again, the canary does not", answers("GET /a", "xxxxxxxxxx"), answers("GET /a", "xxxxxxxxx."), th, VerdictFail, "failed 10 times in a row"},
		{"both fail alike over the window", answers("GET /a", "xxxxxxxxxx"), answers("GET /a", "xxxxxxxxxx"), th, VerdictPass, ""},
		{"a route failing 4 in 10, never 3 in a row", answers("GET /a", "x.xx.x...."), answers("GET /a", ".........."), th, VerdictFail, "failure rate on the canary 40% vs stable 0%"},
		{"a route failing one answer in three, for good", answers("GET /a", "..x..x..x."), answers("GET /a", ".........."), th, VerdictPass, "canary 3/10 failed"},
		{"…and one more", answers("GET /a", ".x..x..x.x"), answers("GET /a", ".........."), th, VerdictFail, "40% vs stable 0%"},
		{"the stable slot fails as often", answers("GET /a", "x.xx.x...."), answers("GET /a", ".x.x.x.x.."), th, VerdictPass, ""},
		{"only the newest ten count", answers("GET /a", "xxxx.x.........."), answers("GET /a", "................"), th, VerdictPass, "canary 0/10 failed"},
		{"slow on the canary", slow(answers("GET /a", ".........."), 900), slow(answers("GET /a", ".........."), 200), th, VerdictFail, "median latency on the canary 900 ms vs stable 200 ms"},
		{"slow on both", slow(answers("GET /a", ".........."), 900), slow(answers("GET /a", ".........."), 600), th, VerdictPass, ""},
		{"fast answers are never slow", slow(answers("GET /a", ".........."), 90), slow(answers("GET /a", ".........."), 10), th, VerdictPass, ""},
		{"a limit of 5", answers("GET /a", "xxxx"), answers("GET /a", "...."), stack.ProbeThresholds{MaxFailureRateDelta: 0.3, FailureLimit: 5, MaxLatencyRatio: 3}, VerdictPass, ""},
		{"no stable answer yet", answers("GET /a", "xxx"), nil, th, VerdictPass, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := JudgeRoute(tt.canary, tt.stable, tt.t)
			if got.Verdict != tt.want || !strings.Contains(got.Detail, tt.detail) {
				t.Errorf("got %s: %s; want %s with %q", got.Verdict, got.Detail, tt.want, tt.detail)
			}
			if got.Probe != "GET /a" {
				t.Errorf("probe: got %q, want GET /a", got.Probe)
			}
		})
	}
}

// failRoute makes slot's path answer 500 from at on; every other route keeps answering.
func (a *scriptedApp) failRoute(slot stack.Slot, path string, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	prev := a.intercept
	a.intercept = func(w http.ResponseWriter, r *http.Request, s stack.Slot, now time.Time) bool {
		if s == slot && r.URL.Path == path && !now.Before(at) {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error":"the order store is unreachable"}`)
			return true
		}
		return prev != nil && prev(w, r, s, now)
	}
}

// runProbing releases blue 1.1.0 with plan p, the prober sending p's own probes.
func (s *scene) runProbing(ctx context.Context, p Plan, o Options) (Record, error) {
	if o.Slot == "" {
		o.Slot = stack.Blue
	}
	if o.Version == "" {
		o.Version = "1.1.0"
	}
	s.metrics = NewGateMetrics(s.metrics.Client, s.metrics.WorkspaceID, apps, p)
	var health HealthGate = s.health
	if s.analysisHealth != nil {
		health = s.analysisHealth
	}
	c := New(s.clock, s.traffic, health, s.metrics, s.warmer, &s.out).WithProber(HTTPProber{APIURL: s.apiURL, PinToken: testToken, Probes: p.Probes})
	rec, err := c.Run(ctx, p, o)
	s.t.Logf("progress:\n%s", s.out.String())
	s.out.Reset()
	return rec, err
}

// TestEveryProbeRouteIsJudged: twelve probes, and the canary's GET /orders/12 answers 500
// from the first shift on while the eleven others, and its health, stay green. Pooled into
// the last 10 answers, one failing route of twelve was at most one answer in ten, 10%, under
// the 30-point delta: never judged. Each route is judged on its own, so it is caught by its
// third failure in a row, and every analysis shows all twelve routes.
func TestEveryProbeRouteIsJudged(t *testing.T) {
	s := newScene(t)
	p := testPlan()
	for i := range 12 {
		p.Probes = append(p.Probes, stack.Probe{Method: "GET", Path: fmt.Sprintf("/orders/%d", i+1), ExpectStatus: 200})
	}
	var shifted time.Time
	s.traffic.onShift = func(at time.Time) {
		if shifted.IsZero() {
			shifted = at
			s.app.failRoute(stack.Blue, "/slotless/orders/12", at)
		}
	}
	rec, err := s.runProbing(context.Background(), p, Options{Until: 10})
	if !errors.Is(err, ErrAborted) || rec.Outcome != OutcomeRolledBack {
		t.Fatalf("got %v (%s), want rolled back", err, rec.Outcome)
	}
	if want := "GET /orders/12 failed 3 times in a row on the canary (last: answered 500, want 200)"; !strings.Contains(rec.Rollback.Reason, want) {
		t.Errorf("rollback reason: got %q, want %q in it", rec.Rollback.Reason, want)
	}
	failing := rec.StepsTaken[0].Analyses[len(rec.StepsTaken[0].Analyses)-1]
	if failing.Probes == nil || len(failing.Probes.Routes) != 12 {
		t.Fatalf("probes of the failing analysis: got %+v, want all 12 routes", failing.Probes)
	}
	for _, rc := range failing.Probes.Routes {
		want := VerdictPass
		if rc.Probe == "GET /orders/12" {
			want = VerdictFail
		}
		if rc.Verdict != want || rc.Canary.Probes != failing.Probes.Rounds {
			t.Errorf("route %s: got %s over %d answers, want %s over every round (%d)", rc.Probe, rc.Verdict, rc.Canary.Probes, want, failing.Probes.Rounds)
		}
	}
	if failing.Probes.Rounds != 3 || failing.Probes.Canary.Failed != 3 {
		t.Errorf("failing analysis: %d rounds, the failing route %d failed; want it caught at the third round", failing.Probes.Rounds, failing.Probes.Canary.Failed)
	}
}

// TestOneFailedProbeInThreeDoesNotRollBack: a healthy canary whose GET /orders drops one
// answer among its first three (an instance being replaced) once was rolled back on the spot
// (1 failure in 3 answers is 33%, above the 30-point delta). A route is judged on its last 10
// answers, so one blip is 10%, and the release goes on.
func TestOneFailedProbeInThreeDoesNotRollBack(t *testing.T) {
	s := newScene(t)
	p := withProbes(testPlan())
	var mu sync.Mutex
	sent := 0
	s.app.intercept = func(w http.ResponseWriter, r *http.Request, slot stack.Slot, now time.Time) bool {
		if slot != stack.Blue || r.URL.Path != "/slotless/orders" {
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		if sent++; sent == 2 {
			w.WriteHeader(http.StatusBadGateway)
			return true
		}
		return false
	}
	rec, err := s.runProbing(context.Background(), p, Options{Until: 10})
	if err != nil || rec.Outcome != OutcomePaused || len(s.traffic.rollbacks) != 0 {
		t.Fatalf("got %v (%s, %d rollbacks), want paused at 10%% with none", err, rec.Outcome, len(s.traffic.rollbacks))
	}
	if mu.Lock(); sent < 3 {
		t.Errorf("the canary's GET /orders was sent %d times, want the blip and more", sent)
	}
	mu.Unlock()
}

// TestAHungRouteDoesNotHoldUpTheHealthLoop: the canary's GET /orders/3, one of five routes,
// never answers from the shift on. A round sends every route to both slots at once and ends at
// ProbeRoundDeadline, so the health checks keep their cadence (a check, at most one deadline,
// HealthWatchEvery), where probes sent one after another would hold each round up by the
// client's timeout of every hung route; the hung answers are failed answers of their route,
// not dropped ones, and three in a row roll the canary back. It runs in a synctest bubble:
// the deadline is a real context deadline of the production code, on the bubble's clock.
func TestAHungRouteDoesNotHoldUpTheHealthLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newBubble(t)
		defer b.close()
		p := testPlan()
		for i := range 5 {
			p.Probes = append(p.Probes, stack.Probe{Method: "GET", Path: fmt.Sprintf("/orders/%d", i+1), ExpectStatus: 200})
		}
		var shifted time.Time
		b.traffic.onShift = func(at time.Time, _ int) { shifted = at }
		b.app.route = func(slot stack.Slot, path string, now time.Time) (routeAnswer, bool) {
			hung := slot == stack.Blue && path == "/api/orders/3" && !shifted.IsZero() && !now.Before(shifted)
			return routeAnswer{hang: true}, hung
		}
		rec, err := b.run(p, Options{Until: 10})
		if !errors.Is(err, ErrAborted) || rec.Outcome != OutcomeRolledBack {
			t.Fatalf("got %v (%s), want rolled back", err, rec.Outcome)
		}
		if want := "GET /orders/3 failed 3 times in a row on the canary (last: no answer within the probe round's deadline (5s))"; !strings.Contains(rec.Rollback.Reason, want) {
			t.Errorf("rollback reason: got %q, want %q in it", rec.Rollback.Reason, want)
		}
		checks := b.app.healthChecks(stack.Blue)
		var during []time.Time
		for _, at := range checks {
			if !at.Before(shifted) {
				during = append(during, at)
			}
		}
		if len(during) != 3 {
			t.Errorf("health checks of the canary during the bake: got %d, want one per round, 3", len(during))
		}
		limit := bubbleHealth + ProbeRoundDeadline + HealthWatchEvery
		for i := 1; i < len(during); i++ {
			if gap := during[i].Sub(during[i-1]); gap > limit {
				t.Errorf("health checks %d and %d are %s apart, want at most %s: a check, one round's deadline, the loop's pause", i, i+1, gap, limit)
			}
		}
		a := rec.StepsTaken[0].Analyses[0]
		for _, rc := range a.Probes.Routes {
			if rc.Canary.Probes != a.Probes.Rounds || rc.Stable.Probes != a.Probes.Rounds {
				t.Errorf("route %s: %d canary and %d stable answers, want one per round (%d): none dropped", rc.Probe, rc.Canary.Probes, rc.Stable.Probes, a.Probes.Rounds)
			}
		}
		if took := b.traffic.rollbacks[0].Sub(shifted); took > 3*limit+bubbleUp {
			t.Errorf("shift to 0%%: %s, want at most three rounds and one up (%s)", took, 3*limit+bubbleUp)
		}
	})
}

// TestNothingFollowsARedirect: the API's answer to a pinned request is a redirect to another
// host. net/http follows redirects with the request's custom headers, so a prober that
// followed it would hand that host the pinning token and the subscription key. The prober
// takes the 3xx as its answer, judged against expectStatus like any other, and the health
// gate and the warm-up refuse it; the other host sees nothing at all.
func TestNothingFollowsARedirect(t *testing.T) {
	const key = "subscription-key-0123456789"
	var mu sync.Mutex
	var leaked []http.Header
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		leaked = append(leaked, r.Header.Clone())
		mu.Unlock()
		w.Header().Set("X-Slot", "blue")
		fmt.Fprint(w, `{"status":"ok","slot":"blue","version":"1.1.0"}`)
	}))
	defer other.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	defer api.Close()
	headers := map[string]string{"Ocp-Apim-Subscription-Key": key}
	ctx := context.Background()

	tests := []struct {
		name string
		send func(t *testing.T)
	}{
		{"the prober, expecting 200", func(t *testing.T) {
			rs, err := HTTPProber{APIURL: api.URL, Headers: headers, PinToken: testToken, Probes: []stack.Probe{{Method: "GET", Path: "/orders", ExpectStatus: 200}}}.Probe(ctx, stack.Blue)
			if err != nil || len(rs) != 1 || rs[0].OK || rs[0].Status != http.StatusFound || rs[0].Error != "answered 302, want 200" {
				t.Errorf("got %+v, %v; want the 302 as a failed answer", rs, err)
			}
		}},
		{"the prober, expecting the redirect", func(t *testing.T) {
			rs, err := HTTPProber{APIURL: api.URL, Headers: headers, PinToken: testToken, Probes: []stack.Probe{{Method: "GET", Path: "/login", ExpectStatus: 302}}}.Probe(ctx, stack.Blue)
			if err != nil || len(rs) != 1 || !rs[0].OK {
				t.Errorf("got %+v, %v; want the 302 as a passing answer", rs, err)
			}
		}},
		{"the health gate", func(t *testing.T) {
			g := NewGateHealth(api.URL+"/health", headers, testToken, "1.1.0", nil)
			g.Analysis.Interval, g.Analysis.Timeout = 10*time.Millisecond, 200*time.Millisecond
			_, err := g.Check(ctx, stack.Blue)
			var ge *gate.GateError
			if !errors.As(err, &ge) || ge.HTTPStatus != http.StatusFound || ge.From != "" {
				t.Errorf("got %v, want the gate to refuse the 302, which no slot's answer proves", err)
			}
		}},
		{"the warm-up", func(t *testing.T) {
			w := &HTTPWarmer{URL: api.URL + "/health", PinToken: testToken, Headers: headers, Timeout: 200 * time.Millisecond, Pause: 10 * time.Millisecond}
			if _, err := w.Warmup(ctx, stack.Blue, 2, time.Second); err == nil || !strings.Contains(err.Error(), "HTTP 302") {
				t.Errorf("got %v, want the warm-up to fail on the 302", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.send(t)
			mu.Lock()
			defer mu.Unlock()
			for _, h := range leaked {
				t.Errorf("the redirect's target got a request with token %q and key %q", h.Get(headerPinToken), h.Get("Ocp-Apim-Subscription-Key"))
			}
			leaked = nil
		})
	}
}

// TestEveryRequestOfTheReleaseIsMarked: the start gate, the warm-ups, the analysis health
// checks and the probes of a whole release all carry gate.ProbeMarker, so the metrics gate
// can leave them out of the users' figures; a probe whose own path names the marker keeps it.
func TestEveryRequestOfTheReleaseIsMarked(t *testing.T) {
	s := newScene(t)
	p := withProbes(testPlan())
	p.Probes = append(p.Probes, stack.Probe{Method: "GET", Path: "/orders?page=2&slotless-probe=own", ExpectStatus: 200})
	var mu sync.Mutex
	own := map[string]int{}
	s.app.intercept = func(_ http.ResponseWriter, r *http.Request, _ stack.Slot, _ time.Time) bool {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Query().Get("page") == "2" {
			own[r.URL.RawQuery]++
		}
		return false
	}
	if rec, err := s.runProbing(context.Background(), p, Options{Until: 10}); err != nil || rec.Outcome != OutcomePaused {
		t.Fatalf("got %v (%s), want paused at 10%%", err, rec.Outcome)
	}
	s.app.mu.Lock()
	unmarked, total := s.app.unmarked, s.app.requests
	s.app.mu.Unlock()
	if unmarked != 0 || total == 0 {
		t.Errorf("%d of %d requests without %s, want none", unmarked, total, gate.ProbeMarker)
	}
	if len(own) != 1 || own["page=2&slotless-probe=own"] == 0 {
		t.Errorf("the probe with a marker of its own was sent as %v, want its query as written", own)
	}
}

// TestAProbeCheckKeepsWhatItSaw: a route's window keeps its newest ProbeWindow answers and
// moves in place as rounds come, so a check judged earlier (an analysis's record) must not
// change when later rounds push its answers out: the failure it names stays the one it saw,
// whatever the window holds now.
func TestAProbeCheckKeepsWhatItSaw(t *testing.T) {
	th := testPlan().ProbeThresholds
	w := newProbeWindow()
	var first ProbeCheck
	for round := 1; round <= 2*ProbeWindow; round++ {
		c := answers("GET /orders", ".")[0]
		if round == 1 {
			c = ProbeResult{Probe: "GET /orders", Status: 500, Ms: 40, Error: "answered 500 in round 1"}
		}
		w.add(stack.Blue, []ProbeResult{c})
		w.add(stack.Green, answers("GET /orders", "."))
		pc := w.judge(th, stack.Blue)
		if round == ProbeWindow {
			first = pc
		}
	}
	last := first.Routes[0].Canary.LastFailure
	if last == nil || last.Error != "answered 500 in round 1" || first.Routes[0].Canary.Failed != 1 {
		t.Fatalf("the check of round %d: %d failures, the last %+v; want the one failure of round 1 it saw", ProbeWindow, first.Routes[0].Canary.Failed, last)
	}
	if now := w.judge(th, stack.Blue); now.Routes[0].Canary.Failed != 0 {
		t.Errorf("the window after %d more rounds: %d failures, want none (round 1 has left it)", ProbeWindow, now.Routes[0].Canary.Failed)
	}
}
