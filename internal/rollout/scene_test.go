package rollout

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/monitor/azquery"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

// This file is the scripted world the controller is tested in: one fake clock; a fake deployed
// stack (the only fake of production code, standing in for the traffic-only shift path); a
// scripted health endpoint that answers as APIM with slot pinning would; and a scripted Log
// Analytics query API behind the real azquery client. The real gates, adapters and warmer run
// against them.

// epoch is when every scene starts.
var epoch = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

// fakeClock jumps instead of sleeping. Hooks fire when time passes their instant, which is how
// a scene crashes a run at a chosen moment.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	hooks []hook
}

type hook struct {
	at time.Time
	fn func()
}

func newFakeClock() *fakeClock { return &fakeClock{now: epoch} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// at registers fn to run once time reaches t.
func (c *fakeClock) at(t time.Time, fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hooks = append(c.hooks, hook{t, fn})
}

// advance moves time forward by d, firing due hooks on the way, and stops at the first hook
// that leaves ctx done, as a crash would. Operations that complete whatever happens (an up
// under way, an HTTP answer) pass context.Background().
func (c *fakeClock) advance(ctx context.Context, d time.Duration) {
	c.mu.Lock()
	target := c.now.Add(d)
	for {
		next := -1
		for i, h := range c.hooks {
			if !h.at.After(target) && (next < 0 || h.at.Before(c.hooks[next].at)) {
				next = i
			}
		}
		if next < 0 {
			break
		}
		h := c.hooks[next]
		c.hooks = append(c.hooks[:next], c.hooks[next+1:]...)
		if h.at.After(c.now) {
			c.now = h.at
		}
		c.mu.Unlock()
		h.fn()
		c.mu.Lock()
		if ctx.Err() != nil {
			c.mu.Unlock()
			return
		}
	}
	c.now = target
	c.mu.Unlock()
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		c.advance(ctx, d)
	}
	return ctx.Err()
}

// fakeTraffic is a deployed stack that follows the program's rules for current-slot-name: it
// follows the live slot at 0 and 100 and stays frozen while both slots carry traffic.
type fakeTraffic struct {
	mu          sync.Mutex
	clock       *fakeClock
	w           stack.Weights
	history     []weightsSince // every change of w, oldest first
	name        string
	upTook      time.Duration // one traffic-only up, a shift's or a rollback's
	shifts      []int
	rollbacks   []time.Time // when each rollback had applied
	shiftErr    error
	rollbackErr error
	// onShiftStart runs as a shift begins, onShift once it has applied.
	onShiftStart    func(at time.Time, to int)
	onShift         func(at time.Time)
	onRollbackStart func(at time.Time)
}

func (f *fakeTraffic) Status(context.Context) (Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Status{Weights: f.w, CurrentSlotName: f.name}, nil
}

// weightsSince is the weights in force from an instant on.
type weightsSince struct {
	from time.Time
	w    stack.Weights
}

// weightsAt is what the gateway routed by at an instant.
func (f *fakeTraffic) weightsAt(at time.Time) stack.Weights {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := stack.Weights{Green: 100}
	if len(f.history) == 0 {
		return f.w
	}
	for _, h := range f.history {
		if h.from.After(at) {
			break
		}
		w = h.w
	}
	return w
}

func (f *fakeTraffic) apply(w stack.Weights) {
	if len(f.history) == 0 {
		f.history = append(f.history, weightsSince{epoch, f.w})
	}
	f.history = append(f.history, weightsSince{f.clock.Now(), w})
	f.w = w
	if !w.SlotNameFrozen() {
		f.name = w.CurrentSlotName()
	}
}

func (f *fakeTraffic) Shift(_ context.Context, slot stack.Slot, to int) error {
	if f.onShiftStart != nil {
		f.onShiftStart(f.clock.Now(), to)
	}
	f.clock.advance(context.Background(), f.upTook)
	f.mu.Lock()
	if f.shiftErr != nil {
		f.mu.Unlock()
		return f.shiftErr
	}
	f.shifts = append(f.shifts, to)
	f.apply(share(slot, to))
	f.mu.Unlock()
	if f.onShift != nil {
		f.onShift(f.clock.Now())
	}
	return nil
}

func (f *fakeTraffic) Rollback(ctx context.Context, slot stack.Slot) error {
	if f.onRollbackStart != nil {
		f.onRollbackStart(f.clock.Now())
	}
	// As a real up does, a rollback whose context ends before it applied does not apply.
	f.clock.advance(ctx, f.upTook)
	if err := ctx.Err(); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rollbackErr != nil {
		return f.rollbackErr
	}
	f.apply(share(slot, 0))
	f.rollbacks = append(f.rollbacks, f.clock.Now())
	return nil
}

func (f *fakeTraffic) weights() stack.Weights {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.w
}

// scriptedApp is the API's health endpoint as APIM serves it with slot pinning: a request with
// the slot header and the right token reaches that slot; each answer takes probeTook.
type scriptedApp struct {
	mu       sync.Mutex
	clock    *fakeClock
	token    string
	version  map[stack.Slot]string
	redeploy map[stack.Slot]redeploy // a version that lands on a slot at a given time
	downFrom map[stack.Slot]time.Time
	// routesFailFrom makes a slot's routes other than health answer 500 from an instant on,
	// while its health endpoint stays green: a canary whose own function is broken.
	routesFailFrom map[stack.Slot]time.Time
	probeTook      time.Duration
	requests       int
	// unmarked counts requests without the gate.ProbeMarker query parameter.
	unmarked int
	// rotated is when the gateway's pinning token became newToken (a pulumi up that changed
	// pinToken while the release holds the old one); zero: never.
	rotated  time.Time
	newToken string
	// intercept, when set, sees each request first, with the slot pinning sends it to, and
	// answers it in the gateway's or the slot's stead when it returns true.
	intercept func(w http.ResponseWriter, r *http.Request, slot stack.Slot, now time.Time) bool
}

type redeploy struct {
	at      time.Time
	version string
}

func (a *scriptedApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := a.clock.Now()
	a.clock.advance(context.Background(), a.probeTook)
	a.mu.Lock()
	a.requests++
	if !gate.IsProbe(r.URL.String()) {
		a.unmarked++
	}
	token := a.token
	if !a.rotated.IsZero() && !now.Before(a.rotated) {
		token = a.newToken
	}
	slot := stack.Green
	if s, err := stack.ParseSlot(r.Header.Get(headerPinSlot)); err == nil && r.Header.Get(headerPinToken) == token {
		slot = s
	}
	intercept := a.intercept
	version := a.version[slot]
	if rd, ok := a.redeploy[slot]; ok && !now.Before(rd.at) {
		version = rd.version
	}
	down := !a.downFrom[slot].IsZero() && !now.Before(a.downFrom[slot])
	routesFail := !a.routesFailFrom[slot].IsZero() && !now.Before(a.routesFailFrom[slot])
	a.mu.Unlock()
	if intercept != nil && intercept(w, r, slot, now) {
		return
	}
	if r.URL.Path != "/slotless/health" {
		w.Header().Set("Content-Type", "application/json")
		if routesFail || down {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `{"error":"the order store is unreachable"}`)
			return
		}
		fmt.Fprintf(w, `{"slot":%q,"version":%q,"message":"hello"}`, slot, version)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Slot", string(slot))
	w.Header().Set("X-Version", version)
	status, word := http.StatusOK, "ok"
	if down {
		status, word = http.StatusServiceUnavailable, "unhealthy"
	}
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"status":%q,"slot":%q,"version":%q,"checks":{"config":{"status":%q}}}`, word, slot, version, word)
}

// down makes slot's health endpoint fail from at on.
func (a *scriptedApp) down(slot stack.Slot, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.downFrom[slot] = at
}

// failRoutes makes slot's routes (not its health endpoint) answer 500 from at on.
func (a *scriptedApp) failRoutes(slot stack.Slot, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.routesFailFrom[slot] = at
}

// deploy lands version on slot at at, as a deployment over a slot carrying traffic would.
func (a *scriptedApp) deploy(slot stack.Slot, at time.Time, version string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.redeploy[slot] = redeploy{at, version}
}

func (a *scriptedApp) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests
}

// scriptedLogs is the Log Analytics query API of azurefake.Telemetry (which evaluates the gate's
// KQL over request rows), fed by azurefake.Users: totalPerSecond requests split by the weights
// in force at each second, 0.1% of them thrown, and from failFrom on the canary's failRate of its
// requests answering 500 recorded as Success == true, as the Functions host records them
// (azure-functions-host#6511). Each second's rows are ingested between lagMin and lagMax after
// it (Azure Monitor's 20 s to 3 min). Each query takes queryTook.
type scriptedLogs struct {
	mu             sync.Mutex
	clock          *fakeClock
	traffic        *fakeTraffic
	table          *azurefake.Telemetry
	users          *azurefake.Users
	totalPerSecond float64
	failFrom       time.Time
	failRate       float64
	lagMin, lagMax time.Duration
	errorsToGive   int // the next queries answer 500
	queryTook      time.Duration
	queries        []loggedQuery
	// extra, when set, gives rows beside the users' for each whole second: the gates' own
	// requests, a queue trigger's invocations.
	extra     func(at time.Time) []azurefake.Row
	extraNext time.Time
}

type loggedQuery struct {
	at time.Time
	// start and end are the request's timespan, by the time served; arrivedFrom and arrivedTo
	// the query's ingestion_time() bounds (arrivedFrom zero for a baseline, which has none).
	start, end             time.Time
	arrivedFrom, arrivedTo time.Time
	window                 time.Duration
}

// kqlArrival reads a query's ingestion_time() bounds.
var (
	kqlArrivedFrom = regexp.MustCompile(`InWindow = ingestion_time\(\) >= datetime\(([^)]+)\)`)
	kqlArrivedTo   = regexp.MustCompile(`\| where ingestion_time\(\) < datetime\(([^)]+)\)`)
)

func newScriptedLogs(clock *fakeClock, traffic *fakeTraffic) *scriptedLogs {
	l := &scriptedLogs{clock: clock, traffic: traffic, totalPerSecond: 100, failRate: 0.2, queryTook: queryTook,
		lagMin: 20 * time.Second, lagMax: 3 * time.Minute}
	l.table = &azurefake.Telemetry{Now: clock.Now, Token: "fake-token"}
	l.users = &azurefake.Users{
		BaseFailures: 0.001,
		Apps:         map[string]string{string(stack.Green): apps[stack.Green], string(stack.Blue): apps[stack.Blue]},
		Weights: func(at time.Time) map[string]int {
			w := traffic.weightsAt(at)
			return map[string]int{string(stack.Green): w.Green, string(stack.Blue): w.Blue}
		},
	}
	l.users.Failing = func(slot string, at time.Time) float64 {
		l.mu.Lock()
		defer l.mu.Unlock()
		if slot == string(stack.Blue) && !l.failFrom.IsZero() && !at.Before(l.failFrom) {
			return l.failRate
		}
		return 0
	}
	l.users.Delay = func(at time.Time) time.Duration {
		l.mu.Lock()
		lo, hi := l.lagMin, l.lagMax
		l.mu.Unlock()
		return azurefake.SpreadDelay(lo, hi)(at)
	}
	return l
}

func (l *scriptedLogs) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := l.clock.Now()
	l.mu.Lock()
	l.users.PerSecond = l.totalPerSecond
	outage := l.errorsToGive > 0
	if outage {
		l.errorsToGive--
	}
	var extra []azurefake.Row
	if l.extra != nil {
		if l.extraNext.IsZero() {
			l.extraNext = epoch
		}
		for ; !l.extraNext.Add(time.Second).After(now); l.extraNext = l.extraNext.Add(time.Second) {
			extra = append(extra, l.extra(l.extraNext)...)
		}
	}
	l.mu.Unlock()
	l.table.Add(extra...)
	l.users.Until(l.table, epoch, now)
	if outage {
		l.table.FailNext(1)
	}
	before := len(l.table.Queries())
	l.table.ServeHTTP(w, r)
	if qs := l.table.Queries(); len(qs) > before {
		q := qs[len(qs)-1]
		lq := loggedQuery{at: now, start: q.Start, end: q.End}
		if m := kqlArrivedFrom.FindStringSubmatch(q.KQL); m != nil {
			lq.arrivedFrom, _ = time.Parse(time.RFC3339, m[1])
		}
		if m := kqlArrivedTo.FindStringSubmatch(q.KQL); m != nil {
			lq.arrivedTo, _ = time.Parse(time.RFC3339, m[1])
		}
		if !lq.arrivedFrom.IsZero() {
			lq.window = lq.arrivedTo.Sub(lq.arrivedFrom)
		}
		l.mu.Lock()
		l.queries = append(l.queries, lq)
		l.mu.Unlock()
	}
	l.clock.advance(context.Background(), l.queryTook)
}

// failCanaryFrom makes the canary fail from at on.
func (l *scriptedLogs) failCanaryFrom(at time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failFrom = at
}

func (l *scriptedLogs) log() []loggedQuery {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loggedQuery(nil), l.queries...)
}

// App names as the stack outputs give them.
var apps = map[stack.Slot]string{stack.Green: "slotless-3e4d7f-green", stack.Blue: "slotless-3e4d7f-blue"}

// fakeCredential hands out a fixed token, standing in for DefaultAzureCredential.
type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "fake-token", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// scene wires it all together. Durations are fake time: a traffic-only up takes 40 s, a health
// probe 200 ms and a Log Analytics query 3 s.
type scene struct {
	t       *testing.T
	clock   *fakeClock
	traffic *fakeTraffic
	app     *scriptedApp
	logs    *scriptedLogs
	health  GateHealth
	// analysisHealth, when set, replaces health as the controller's gate.
	analysisHealth HealthGate
	metrics        GateMetrics
	warmer         Warmer
	// apiURL is the scripted API's URL, for probes.
	apiURL string
	out    bytes.Buffer
}

const (
	upTook    = 40 * time.Second
	probeTook = 200 * time.Millisecond
	queryTook = 3 * time.Second
	testToken = "pin-token-0123456789abcdef"
)

// newScene starts with green live on 1.0.0 and blue idle, deployed with 1.1.0.
func newScene(t *testing.T) *scene {
	t.Helper()
	clock := newFakeClock()
	s := &scene{t: t, clock: clock}
	s.traffic = &fakeTraffic{clock: clock, w: stack.Weights{Green: 100}, name: "green-backend", upTook: upTook}
	s.app = &scriptedApp{clock: clock, token: testToken, probeTook: probeTook,
		version:  map[stack.Slot]string{stack.Green: "1.0.0", stack.Blue: "1.1.0"},
		redeploy: map[stack.Slot]redeploy{}, downFrom: map[stack.Slot]time.Time{}, routesFailFrom: map[stack.Slot]time.Time{}}
	appSrv := httptest.NewServer(s.app)
	t.Cleanup(appSrv.Close)
	s.apiURL = appSrv.URL + "/slotless"
	s.logs = newScriptedLogs(clock, s.traffic)
	logsSrv := httptest.NewTLSServer(s.logs)
	t.Cleanup(logsSrv.Close)

	s.health = NewGateHealth(appSrv.URL+"/slotless/health", nil, testToken, "1.1.0", nil)
	// Real-time knobs of the real gate, short so a failing slot does not hold the test up, and
	// long enough that a healthy answer on a loaded machine is never taken for a failing one.
	s.health.Start.Interval, s.health.Start.Timeout = 10*time.Millisecond, 500*time.Millisecond
	s.health.Analysis.Interval, s.health.Analysis.Timeout = 10*time.Millisecond, 400*time.Millisecond
	s.health.Stable.Interval, s.health.Stable.Timeout = 10*time.Millisecond, 400*time.Millisecond
	client, err := azquery.NewLogsClient(fakeCredential{}, &azquery.LogsClientOptions{ClientOptions: azcore.ClientOptions{
		Cloud: cloud.Configuration{Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			azquery.ServiceNameLogs: {Endpoint: logsSrv.URL + "/v1", Audience: "https://api.loganalytics.io"},
		}},
		Transport: logsSrv.Client(),
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	s.metrics = NewGateMetrics(client, "00000000-0000-0000-0000-000000000001", apps, testPlan())
	s.warmer = &HTTPWarmer{URL: appSrv.URL + "/slotless/health", PinToken: testToken, Timeout: 2 * time.Second, Pause: 10 * time.Millisecond}
	return s
}

// testPlan is the stack's default plan.
func testPlan() Plan {
	c, err := stack.Parse(func(k string) (string, bool) {
		v, ok := map[string]string{"azure-native:location": "westeurope", "publisherEmail": "ops@example.com"}[k]
		return v, ok
	})
	if err != nil {
		panic(err)
	}
	p, err := NewPlan(c)
	if err != nil {
		panic(err)
	}
	return p
}

func (s *scene) controller() *Controller {
	var health HealthGate = s.health
	if s.analysisHealth != nil {
		health = s.analysisHealth
	}
	c := New(s.clock, s.traffic, health, s.metrics, s.warmer, &s.out)
	return c.WithProber(HTTPProber{APIURL: s.apiURL, PinToken: testToken, Probes: samplePlanProbes})
}

// samplePlanProbes are the probes a plan gets with withProbes.
var samplePlanProbes = []stack.Probe{{Method: "GET", Path: "/orders", ExpectStatus: 200}}

// withProbes is p sending samplePlanProbes.
func withProbes(p Plan) Plan {
	p.Probes = samplePlanProbes
	return p
}

// run releases blue 1.1.0 with plan p.
func (s *scene) run(ctx context.Context, p Plan, o Options) (Record, error) {
	if o.Slot == "" {
		o.Slot = stack.Blue
	}
	if o.Version == "" {
		o.Version = "1.1.0"
	}
	s.metrics = NewGateMetrics(s.metrics.Client, s.metrics.WorkspaceID, apps, p)
	rec, err := s.controller().Run(ctx, p, o)
	s.t.Logf("progress:\n%s", s.out.String())
	s.out.Reset()
	return rec, err
}

// countingWarmer stands in for the warmer where a test needs it to fail.
type countingWarmer struct {
	calls int
	err   error
}

func (w *countingWarmer) Warmup(context.Context, stack.Slot, int, time.Duration) (WarmupResult, error) {
	w.calls++
	return WarmupResult{Cold: 3 * time.Second, Rounds: 1, Requests: 10}, w.err
}
