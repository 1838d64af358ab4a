package rollout

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

// This file is a second world for the controller, for what the fake clock of scene_test.go
// cannot show: concurrent requests and their deadlines. It runs inside a testing/synctest
// bubble, where time is fake for every clock the code reads (time.Now, timers, context
// deadlines) and advances only when every goroutine of the bubble is blocked, so requests
// that run at once and a deadline that cuts one short happen in the same order on every run,
// whatever the machine's load. The controller runs on SystemClock, the gates, the warm-up and
// the prober are the production ones with their production timings, and HTTP goes over an
// in-memory network (net.Pipe) to a scripted API behind pinning.

// pipeNet is an in-memory network: a listener whose connections are net.Pipe pairs dialled
// by the clients, so every wait on it is a wait the bubble can see.
type pipeNet struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeNet() *pipeNet {
	return &pipeNet{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (n *pipeNet) Accept() (net.Conn, error) {
	select {
	case c := <-n.conns:
		return c, nil
	case <-n.done:
		return nil, net.ErrClosed
	}
}

func (n *pipeNet) Close() error {
	n.once.Do(func() { close(n.done) })
	return nil
}

func (n *pipeNet) Addr() net.Addr { return pipeAddr{} }

// DialContext hands the server one end of a new pipe and returns the other.
func (n *pipeNet) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	server, client := net.Pipe()
	select {
	case n.conns <- server:
		return client, nil
	case <-n.done:
		return nil, errors.New("connection refused")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "api.bubble:443" }

// routeAnswer is how one slot answers one request of a probe route.
type routeAnswer struct {
	status int
	took   time.Duration
	// hang never answers: the request ends only when its sender gives up.
	hang bool
}

// bubbleApp is the API as APIM serves it with slot pinning, in the bubble: a request with the
// slot header and the right token reaches that slot, any other the live one. Health answers
// take healthTook; a route answers as route says, 200 in routeTook by default.
type bubbleApp struct {
	mu         sync.Mutex
	token      string
	version    map[stack.Slot]string
	healthTook time.Duration
	routeTook  time.Duration
	route      func(slot stack.Slot, path string, now time.Time) (routeAnswer, bool)
	// intercept, when set, sees each request first, with the slot pinning sends it to, and
	// answers it in the gateway's or the slot's stead when it returns true.
	intercept func(w http.ResponseWriter, r *http.Request, slot stack.Slot, now time.Time) bool
	// rotated is when the gateway's pinning token became newToken; zero: never.
	rotated  time.Time
	newToken string
	// healthAt is when each slot's health endpoint was asked, per slot.
	healthAt map[stack.Slot][]time.Time
	// routeSent counts the route requests each slot received.
	routeSent map[stack.Slot]int
}

func (a *bubbleApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	a.mu.Lock()
	token := a.token
	if !a.rotated.IsZero() && !now.Before(a.rotated) {
		token = a.newToken
	}
	a.mu.Unlock()
	slot := stack.Green
	if s, err := stack.ParseSlot(r.Header.Get(headerPinSlot)); err == nil && r.Header.Get(headerPinToken) == token {
		slot = s
	}
	a.mu.Lock()
	version, route, intercept := a.version[slot], a.route, a.intercept
	if r.URL.Path == "/api/health" {
		a.healthAt[slot] = append(a.healthAt[slot], now)
	} else {
		a.routeSent[slot]++
	}
	a.mu.Unlock()
	if intercept != nil && intercept(w, r, slot, now) {
		return
	}
	if r.URL.Path == "/api/health" {
		time.Sleep(a.healthTook)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-Slot", string(slot))
		w.Header().Set("X-Version", version)
		fmt.Fprintf(w, `{"status":"ok","slot":%q,"version":%q}`, slot, version)
		return
	}
	ans := routeAnswer{status: http.StatusOK, took: a.routeTook}
	if route != nil {
		if got, ok := route(slot, r.URL.Path, now); ok {
			ans = got
		}
	}
	if ans.hang {
		<-r.Context().Done()
		return
	}
	time.Sleep(ans.took)
	w.WriteHeader(ans.status)
	fmt.Fprintf(w, `{"slot":%q}`, slot)
}

func (a *bubbleApp) healthChecks(slot stack.Slot) []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.healthAt[slot]...)
}

// bubbleTraffic is the deployed stack's traffic: each shift and rollback is an up of upTook.
type bubbleTraffic struct {
	mu        sync.Mutex
	w         stack.Weights
	name      string
	upTook    time.Duration
	shifted   []time.Time // when each shift had applied
	rollbacks []time.Time // when each rollback had applied
	onShift   func(at time.Time, to int)
}

func (f *bubbleTraffic) Status(context.Context) (Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Status{Weights: f.w, CurrentSlotName: f.name}, nil
}

func (f *bubbleTraffic) apply(w stack.Weights) {
	f.w = w
	if !w.SlotNameFrozen() {
		f.name = w.CurrentSlotName()
	}
}

func (f *bubbleTraffic) Shift(_ context.Context, slot stack.Slot, to int) error {
	time.Sleep(f.upTook)
	f.mu.Lock()
	f.apply(share(slot, to))
	f.shifted = append(f.shifted, time.Now())
	onShift := f.onShift
	f.mu.Unlock()
	if onShift != nil {
		onShift(time.Now(), to)
	}
	return nil
}

func (f *bubbleTraffic) Rollback(_ context.Context, slot stack.Slot) error {
	time.Sleep(f.upTook)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.apply(share(slot, 0))
	f.rollbacks = append(f.rollbacks, time.Now())
	return nil
}

// bubbleMetrics is the metrics gate of a canary as healthy as its stable slot, each query
// taking queryTook. The scenarios of this world are about the health gate and the probes,
// which the metrics gate's windows do not change; scene_test.go runs the real metrics gate.
type bubbleMetrics struct{ queryTook time.Duration }

func (m bubbleMetrics) Figures(ctx context.Context, canary, stable stack.Slot, _ Window) (gate.SlotFigures, gate.SlotFigures, error) {
	if err := (SystemClock{}).Sleep(ctx, m.queryTook); err != nil {
		return gate.SlotFigures{}, gate.SlotFigures{}, err
	}
	figures := func(slot stack.Slot) gate.SlotFigures {
		return gate.SlotFigures{App: apps[slot], Requests: 1000, Failed: 1, FailureRate: 0.001, P95Ms: 120, Rows: 1000, Current: 1000}
	}
	return figures(canary), figures(stable), nil
}

// bubble is one release's world. Build it with newBubble inside synctest.Test, and close it
// before the test function returns, so the bubble's goroutines end.
type bubble struct {
	t       *testing.T
	app     *bubbleApp
	traffic *bubbleTraffic
	client  *http.Client
	net     *pipeNet
	srv     *http.Server
	served  chan struct{}
	health  GateHealth
	warmer  *HTTPWarmer
	metrics bubbleMetrics
	out     bytes.Buffer
}

// The bubble's costs, as Azure-like as the scene's: a traffic-only up 40 s, a health answer
// 50 ms, a route 80 ms, a Log Analytics query 3 s.
const (
	bubbleUp        = 40 * time.Second
	bubbleHealth    = 50 * time.Millisecond
	bubbleRoute     = 80 * time.Millisecond
	bubbleQueryTook = 3 * time.Second
	bubbleAPI       = "https://api.bubble/api"
)

func newBubble(t *testing.T) *bubble {
	t.Helper()
	b := &bubble{t: t, net: newPipeNet(), served: make(chan struct{}), metrics: bubbleMetrics{queryTook: bubbleQueryTook}}
	b.app = &bubbleApp{token: testToken, healthTook: bubbleHealth, routeTook: bubbleRoute,
		version:  map[stack.Slot]string{stack.Green: "1.0.0", stack.Blue: "1.1.0"},
		healthAt: map[stack.Slot][]time.Time{}, routeSent: map[stack.Slot]int{}}
	b.traffic = &bubbleTraffic{w: stack.Weights{Green: 100}, name: "green-backend", upTook: bubbleUp}
	b.srv = &http.Server{Handler: b.app}
	go func() {
		defer close(b.served)
		_ = b.srv.Serve(b.net)
	}()
	// TLS is not the point here: the scheme is https for the URLs' sake, the pipe is plain.
	b.client = &http.Client{Transport: &http.Transport{
		DialContext:    b.net.DialContext,
		DialTLSContext: b.net.DialContext,
	}}
	b.health = NewGateHealth(bubbleAPI+"/health", nil, testToken, "1.1.0", nil)
	b.health.Start.Client, b.health.Analysis.Client, b.health.Stable.Client = b.client, b.client, b.client
	b.warmer = &HTTPWarmer{URL: bubbleAPI + "/health", PinToken: testToken, Client: b.client}
	return b
}

// controller is the release controller of this world, sending p's probes.
func (b *bubble) controller(p Plan) *Controller {
	c := New(SystemClock{}, b.traffic, b.health, b.metrics, b.warmer, &b.out)
	return c.WithProber(HTTPProber{APIURL: bubbleAPI, PinToken: testToken, Probes: p.Probes, Client: b.client})
}

// run releases blue 1.1.0 with plan p.
func (b *bubble) run(p Plan, o Options) (Record, error) {
	if o.Slot == "" {
		o.Slot = stack.Blue
	}
	if o.Version == "" {
		o.Version = "1.1.0"
	}
	rec, err := b.controller(p).Run(context.Background(), p, o)
	b.t.Logf("progress:\n%s", b.out.String())
	b.out.Reset()
	return rec, err
}

// close ends the server and the clients' connections, so the bubble's goroutines end.
func (b *bubble) close() {
	_ = b.net.Close()
	_ = b.srv.Close()
	<-b.served
	b.client.CloseIdleConnections()
}
