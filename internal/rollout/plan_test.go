package rollout

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

func TestNewPlan(t *testing.T) {
	c, err := stack.Parse(func(k string) (string, bool) {
		v, ok := map[string]string{
			"azure-native:location": "westeurope", "publisherEmail": "ops@example.com",
			"releaseSteps": "[5, 25, 50, 100]", "bakeMinutes": "15", "analysisIntervalSeconds": "90",
			"metricsMaxFailureRateDelta": "0.01", "metricsMaxP95Ratio": "2", "metricsMinRequests": "100", "metricsInconclusive": "fail",
			"metricsConfidence": "0.995", "metricsFailureLimit": "3", "metricsMaxFailureRateRatio": "2", "metricsClientErrorCheck": "false",
			"metricsP95FloorMs": "250", "metricsSampleRatioTolerance": "0.5", "analysisInitialDelaySeconds": "45", "healthPath": "/status/live",
			"warmupRequests": "20", "warmupLatencyMs": "500", "alwaysReadyInstances": "2",
			"metricsLagSeconds": "120", "metricsFailureStatus": "4xx", "releaseProbes": `[{"path":"/orders"}]`, "probeMaxFailureRateDelta": "0.5",
		}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := NewPlan(c)
	if err != nil {
		t.Fatal(err)
	}
	want := Plan{
		Steps: []int{5, 25, 50, 100}, MaxStep: 50, Bake: 15 * time.Minute, Interval: 90 * time.Second,
		Thresholds: Thresholds{Thresholds: gate.Thresholds{MinRequests: 100, Confidence: 0.995, FailureLimit: 3, MaxFailureRateDelta: 0.01, MaxFailureRateRatio: 2,
			FailClientErrors: true, MaxP95Ratio: 2, P95FloorMs: 250, SampleRatioTolerance: 0.5}, InconclusiveFails: true},
		WarmupRequests: 20, WarmupLatency: 500 * time.Millisecond, AlwaysReady: 2,
		Lag: 2 * time.Minute, InitialDelay: 45 * time.Second, HealthPath: "/status/live", Probes: []stack.Probe{{Method: "GET", Path: "/orders", ExpectStatus: 200}},
		ProbeThresholds: stack.ProbeThresholds{MaxFailureRateDelta: 0.5, FailureLimit: 3, MaxLatencyRatio: 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}

	c.MaxStep = 20
	if _, err := NewPlan(c); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "releaseSteps: the step from 25 to 50 is 25 points, more than maxStep 20") {
		t.Errorf("maxStep 20: got %v, want a refusal naming the step and maxStep", err)
	}
}

func TestSchedule(t *testing.T) {
	p := testPlan() // [10, 50, 100], 10 minutes, every minute
	type step struct {
		from, to int
		resumed  bool
	}
	tests := []struct {
		blue  int
		until int
		want  []step
	}{
		{0, 0, []step{{0, 10, false}, {10, 50, false}, {50, 100, false}}},
		{0, 10, []step{{0, 10, false}}},
		{0, 50, []step{{0, 10, false}, {10, 50, false}}},
		{10, 0, []step{{10, 10, true}, {10, 50, false}, {50, 100, false}}},
		{10, 10, []step{{10, 10, true}}},
		{50, 0, []step{{50, 50, true}, {50, 100, false}}},
		{50, 10, nil},
		// Between two steps (a shift by hand, or a plan changed mid-release): bake where it
		// stands, then the next step above.
		{30, 0, []step{{30, 30, true}, {30, 50, false}, {50, 100, false}}},
		{30, 50, []step{{30, 30, true}, {30, 50, false}}},
		{100, 0, []step{{100, 100, true}}},
		{100, 50, nil},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("blue %d until %d", tt.blue, tt.until), func(t *testing.T) {
			got := Schedule(p, stack.Blue, share(stack.Blue, tt.blue), tt.until)
			var steps []step
			for _, s := range got {
				steps = append(steps, step{s.From, s.To, s.Resumed})
				if s.Bake != p.Bake || s.Analyses != 10 {
					t.Errorf("step %d%%: got bake %s with %d analyses, want %s with 10", s.To, s.Bake, s.Analyses, p.Bake)
				}
			}
			if !reflect.DeepEqual(steps, tt.want) {
				t.Errorf("got %v, want %v", steps, tt.want)
			}
		})
	}
}

func TestChanges(t *testing.T) {
	w := func(blue int) stack.Weights { return share(stack.Blue, blue) }
	tests := []struct {
		from, to    int
		origin      stack.Slot
		alwaysReady int
		want        string
	}{
		{0, 10, stack.Green, 0, "pool weights only"},
		{10, 50, stack.Green, 0, "pool weights only"},
		{50, 100, stack.Green, 0, "pool weights + current-slot-name green-backend → blue-backend"},
		{0, 10, stack.Green, 3, "pool weights + blue app alwaysReady 0 → 3"},
		{10, 50, stack.Green, 3, "pool weights only"},
		{50, 100, stack.Green, 3, "pool weights + current-slot-name green-backend → blue-backend + green app alwaysReady 3 → 0"},
		// The way back: from inside a release only the pool (and alwaysReady) change, since
		// the name was frozen at the origin; from 100 the name goes back too.
		{50, 0, stack.Green, 0, "pool weights only"},
		{50, 0, stack.Green, 3, "pool weights + blue app alwaysReady 3 → 0"},
		{100, 0, stack.Green, 0, "pool weights + current-slot-name blue-backend → green-backend"},
		// A release of green from blue.
		{100, 90, stack.Blue, 2, "pool weights + green app alwaysReady 0 → 2"},
		{10, 10, stack.Green, 2, "nothing"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d→%d from %s n=%d", tt.from, tt.to, tt.origin, tt.alwaysReady), func(t *testing.T) {
			if got := describeChanges(Changes(w(tt.from), w(tt.to), tt.origin, tt.alwaysReady)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAnalysisOffsets(t *testing.T) {
	tests := []struct {
		bake, interval time.Duration
		want           []time.Duration
	}{
		{0, time.Minute, nil},
		{3 * time.Minute, time.Minute, []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute}},
		// The bake always ends with an analysis.
		{10 * time.Minute, 7 * time.Minute, []time.Duration{7 * time.Minute, 10 * time.Minute}},
		{time.Minute, time.Minute, []time.Duration{time.Minute}},
	}
	for _, tt := range tests {
		got := Plan{Interval: tt.interval}.analysisOffsets(tt.bake)
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("bake %s every %s: got %v, want %v", tt.bake, tt.interval, got, tt.want)
		}
	}
}

func TestNoBakePassesAfterTheShift(t *testing.T) {
	s := newScene(t)
	p := testPlan()
	p.Bake = 0
	rec, err := s.run(context.Background(), p, Options{})
	if err != nil || rec.Outcome != OutcomeComplete || len(s.logs.log()) != 0 {
		t.Errorf("got %v, %s, %d metrics queries; want complete with no analyses", err, rec.Outcome, len(s.logs.log()))
	}
}

func TestStatusOrigin(t *testing.T) {
	// In a shared API Management service the backend ids carry a per-stack prefix.
	for name, want := range map[string]stack.Slot{"green-backend": stack.Green, "blue-backend": stack.Blue, "dev-a1b2c3-green-backend": stack.Green, "dev-a1b2c3-blue-backend": stack.Blue} {
		if got, err := (Status{CurrentSlotName: name}).Origin(); err != nil || got != want {
			t.Errorf("%s: got %v %v, want %s", name, got, err, want)
		}
	}
	if _, err := (Status{CurrentSlotName: "green"}).Origin(); err == nil {
		t.Error("a bare slot name: got no error, want one")
	}
}

func TestSystemClockSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := (SystemClock{}).Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if time.Since(start) > time.Second {
		t.Error("a cancelled sleep waited")
	}
	if err := (SystemClock{}).Sleep(context.Background(), time.Millisecond); err != nil {
		t.Errorf("got %v, want none", err)
	}
}

// TestGateHealthPinsEachCall checks that the adapter pins every poll to the slot asked for, so
// one GateHealth serves both colours, and that the analysis gate gives up quickly.
func TestGateHealthPinsEachCall(t *testing.T) {
	s := newScene(t)
	g := s.health
	g.Start.ExpectVersion, g.Analysis.ExpectVersion = "", ""
	for slot, want := range map[stack.Slot]string{stack.Green: "1.0.0", stack.Blue: "1.1.0"} {
		res, err := g.Check(context.Background(), slot)
		if err != nil || res.Slot != string(slot) || res.Version != want {
			t.Errorf("%s: got %+v %v, want slot %s version %s", slot, res, err, slot, want)
		}
	}
	s.app.down(stack.Blue, epoch)
	start := time.Now()
	_, err := g.Check(context.Background(), stack.Blue)
	var ge *gate.GateError
	if !errors.As(err, &ge) || ge.Reason != gate.ReasonUnhealthy {
		t.Errorf("down slot: got %v, want an unhealthy gate error", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the analysis gate took %s on a down slot, want its short timeout", took)
	}
	if d := NewGateHealth("https://apim.example.com/slotless/health", nil, testToken, "1.1.0", nil); d.Analysis.Timeout != AnalysisHealthTimeout || d.Analysis.Successes != 1 || d.Start.Timeout != 0 {
		t.Errorf("got analysis %+v and start %+v, want a quick analysis gate and the gate's defaults at the start", d.Analysis, d.Start)
	}
}

// mixedPlan is a plan whose steps bake differently: 5% two minutes of its own, 25% the default
// ten (a plain integer), 50% not at all, 100% half an hour, with an analysis every minute.
func mixedPlan(t *testing.T) Plan {
	t.Helper()
	c, err := stack.Parse(func(k string) (string, bool) {
		v, ok := map[string]string{
			"azure-native:location": "westeurope", "publisherEmail": "ops@example.com", "maxStep": "50",
			"releaseSteps": `[{"weight":5,"bake":"2m"},25,{"weight":50,"bake":"0s"},{"weight":100,"bake":"30m"}]`,
		}[k]
		return v, ok
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(c)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScheduleWithMixedBakes(t *testing.T) {
	p := mixedPlan(t)
	type step struct {
		to       int
		resumed  bool
		bake     time.Duration
		from     string
		analyses int
	}
	tests := []struct {
		name        string
		blue, until int
		want        []step
	}{
		{"fresh", 0, 0, []step{
			{5, false, 2 * time.Minute, BakeFromStep, 2},
			{25, false, 10 * time.Minute, BakeFromDefault, 10},
			{50, false, 0, BakeFromStep, 0},
			{100, false, 30 * time.Minute, BakeFromStep, 30},
		}},
		{"until a step of its own", 0, 5, []step{{5, false, 2 * time.Minute, BakeFromStep, 2}}},
		// A resumed step bakes as the step it stands on.
		{"resumed on a step of its own", 5, 25, []step{{5, true, 2 * time.Minute, BakeFromStep, 2}, {25, false, 10 * time.Minute, BakeFromDefault, 10}}},
		{"resumed on a default step", 25, 25, []step{{25, true, 10 * time.Minute, BakeFromDefault, 10}}},
		// Between two steps it bakes as the next step above would.
		{"between a step of its own and a default one", 10, 25, []step{{10, true, 10 * time.Minute, BakeFromDefault, 10}, {25, false, 10 * time.Minute, BakeFromDefault, 10}}},
		{"between a default step and one without a bake", 30, 50, []step{{30, true, 0, BakeFromStep, 0}, {50, false, 0, BakeFromStep, 0}}},
		{"between the last two", 70, 0, []step{{70, true, 30 * time.Minute, BakeFromStep, 30}, {100, false, 30 * time.Minute, BakeFromStep, 30}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []step
			for _, s := range Schedule(p, stack.Blue, share(stack.Blue, tt.blue), tt.until) {
				got = append(got, step{s.To, s.Resumed, s.Bake, s.BakeFrom, s.Analyses})
				if s.BakeSeconds != int64(s.Bake/time.Second) {
					t.Errorf("step %d%%: bakeSeconds %d, want %d", s.To, s.BakeSeconds, int64(s.Bake/time.Second))
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPlanValidateBakes(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(p *Plan)
		wants []string
	}{
		{"mixed bakes", func(*Plan) {}, nil},
		{"no default bake in use", func(p *Plan) {
			p.Steps, p.StepBakes, p.Bake = []int{50, 100}, map[int]time.Duration{50: time.Minute, 100: time.Minute}, 0
		}, nil},
		{"interval longer than a step's own bake", func(p *Plan) { p.StepBakes[5] = 30 * time.Second }, []string{"analysis interval 1m0s: want above 0 and at most the bake 30s of the step to 5%"}},
		{"interval longer than the default a step uses", func(p *Plan) { p.Bake = 30 * time.Second }, []string{"analysis interval 1m0s: want above 0 and at most the bake 30s"}},
		{"a negative bake of its own", func(p *Plan) { p.StepBakes[100] = -time.Minute }, []string{"bake -1m0s of the step to 100%: want 0 or more"}},
		{"a bake for a share that is no step", func(p *Plan) { p.StepBakes[30] = time.Minute }, []string{"a bake of its own for 30%, which is not one of the steps [5 25 50 100]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mixedPlan(t)
			tt.edit(&p)
			err := p.validate()
			if len(tt.wants) == 0 {
				if err != nil {
					t.Fatalf("got %v, want none", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got no error, want %q", tt.wants)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("got %q, want it to contain %q", err, w)
				}
			}
		})
	}
}
