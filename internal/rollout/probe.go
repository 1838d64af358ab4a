package rollout

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/slotless/slotless/stack"
)

// ProbeWindow is how many of each slot's newest probe answers are judged, and ProbeMinAnswers
// how many the canary and the stable slot each need before the probes can fail a step: three
// failures in a row of a probe sent every HealthWatchEvery fail a canary within seconds, while
// one dropped answer of an instance being replaced does not.
const (
	ProbeWindow     = 10
	ProbeMinAnswers = 3
	// probeLatencyFloor is the median latency below which the probes never fail on latency:
	// a ratio of two fast answers is noise.
	probeLatencyFloor = 100 * time.Millisecond
	// probeTimeout bounds one probe, so a hung canary fails its probe rather than the watch.
	probeTimeout = 10 * time.Second
)

// probeWindow holds each slot's newest probe answers during one step.
type probeWindow struct {
	rounds  int
	answers map[stack.Slot][]ProbeResult
}

func newProbeWindow() *probeWindow {
	return &probeWindow{answers: map[stack.Slot][]ProbeResult{}}
}

func (w *probeWindow) add(slot stack.Slot, rs []ProbeResult) {
	all := append(w.answers[slot], rs...)
	if len(all) > ProbeWindow {
		all = all[len(all)-ProbeWindow:]
	}
	w.answers[slot] = all
}

func figures(rs []ProbeResult) ProbeFigures {
	f := ProbeFigures{Probes: len(rs)}
	ms := make([]int64, 0, len(rs))
	for i := range rs {
		if !rs[i].OK {
			f.Failed++
			f.LastFailure = &rs[i]
		}
		ms = append(ms, rs[i].Ms)
	}
	if f.Probes > 0 {
		f.FailureRate = float64(f.Failed) / float64(f.Probes)
		slices.Sort(ms)
		f.MedianMs = ms[len(ms)/2]
	}
	return f
}

// judge compares the canary's window with the stable slot's.
func (w *probeWindow) judge(t stack.ProbeThresholds, canary stack.Slot) ProbeCheck {
	pc := ProbeCheck{Rounds: w.rounds, Canary: figures(w.answers[canary]), Stable: figures(w.answers[canary.Other()])}
	c, s := pc.Canary, pc.Stable
	summary := fmt.Sprintf("canary %d/%d failed, median %d ms; stable %d/%d failed, median %d ms", c.Failed, c.Probes, c.MedianMs, s.Failed, s.Probes, s.MedianMs)
	if c.Probes < ProbeMinAnswers || s.Probes < ProbeMinAnswers {
		pc.Verdict, pc.Detail = VerdictPass, summary+fmt.Sprintf(" (judged from %d answers each)", ProbeMinAnswers)
		return pc
	}
	var breaches []string
	if delta := c.FailureRate - s.FailureRate; delta > t.MaxFailureRateDelta+1e-9 {
		b := fmt.Sprintf("canary probe failure rate %.0f%% vs stable %.0f%%: %+.0f points, allowed %+.0f", 100*c.FailureRate, 100*s.FailureRate, 100*delta, 100*t.MaxFailureRateDelta)
		if c.LastFailure != nil {
			b += fmt.Sprintf(" (last: %s %s)", c.LastFailure.Probe, c.LastFailure.Error)
		}
		breaches = append(breaches, b)
	}
	cm, sm := time.Duration(c.MedianMs)*time.Millisecond, time.Duration(s.MedianMs)*time.Millisecond
	if cm > probeLatencyFloor && float64(cm) > t.MaxLatencyRatio*float64(max(sm, time.Millisecond)) {
		breaches = append(breaches, fmt.Sprintf("canary median probe latency %d ms vs stable %d ms: more than %.2f×", c.MedianMs, s.MedianMs, t.MaxLatencyRatio))
	}
	if len(breaches) > 0 {
		pc.Verdict, pc.Detail = VerdictFail, strings.Join(breaches, "; ")+"; "+summary
		return pc
	}
	pc.Verdict, pc.Detail = VerdictPass, summary
	return pc
}

// probe sends one round of probes: to the canary and the stable slot, in turn first, and
// judges the step's answers so far. A round that could not be sent to either slot (the gateway
// unreachable) says nothing about the canary, so it is recorded and passes.
func (c *Controller) probe(ctx context.Context, p Plan, o Options, w *probeWindow) ProbeCheck {
	if c.prober == nil {
		return ProbeCheck{Verdict: VerdictError, Detail: "releaseProbes are set but the release has no prober"}
	}
	w.rounds++
	order := []stack.Slot{o.Slot, o.Slot.Other()}
	if w.rounds%2 == 0 {
		order[0], order[1] = order[1], order[0]
	}
	var errs []string
	for _, slot := range order {
		rs, err := c.prober.Probe(ctx, slot)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", slot, err))
			continue
		}
		w.add(slot, rs)
	}
	pc := w.judge(p.ProbeThresholds, o.Slot)
	if len(errs) > 0 && pc.Verdict == VerdictPass {
		pc.Detail += "; not sent: " + strings.Join(errs, "; ")
	}
	return pc
}

// HTTPProber sends releaseProbes to the API through APIM, pinned with the stack's pinToken.
type HTTPProber struct {
	// APIURL is the stack output apiUrl; each probe's path is appended to it.
	APIURL string
	// Headers carry what else the gateway needs (the subscription key), never a function key.
	Headers  map[string]string
	PinToken string
	Probes   []stack.Probe
	Client   *http.Client
}

// Probe sends every probe once, pinned to slot.
func (h HTTPProber) Probe(ctx context.Context, slot stack.Slot) ([]ProbeResult, error) {
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: probeTimeout}
	}
	out := make([]ProbeResult, 0, len(h.Probes))
	for _, pr := range h.Probes {
		name := pr.Method + " " + pr.Path
		var body io.Reader
		if pr.Body != "" {
			body = strings.NewReader(pr.Body)
		}
		req, err := http.NewRequestWithContext(ctx, pr.Method, strings.TrimSuffix(h.APIURL, "/")+pr.Path, body)
		if err != nil {
			return nil, fmt.Errorf("probe %s: %w", name, err)
		}
		for k, v := range pr.Headers {
			req.Header.Set(k, v)
		}
		for k, v := range pinned(h.Headers, slot, h.PinToken) {
			req.Header.Set(k, v)
		}
		t0 := time.Now()
		resp, err := client.Do(req)
		r := ProbeResult{Probe: name, Ms: time.Since(t0).Milliseconds()}
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r.Error = "no answer: " + err.Error()
			out = append(out, r)
			continue
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		r.Status, r.OK = resp.StatusCode, resp.StatusCode == pr.ExpectStatus
		if !r.OK {
			r.Error = fmt.Sprintf("answered %d, want %d", resp.StatusCode, pr.ExpectStatus)
		}
		out = append(out, r)
	}
	return out, nil
}
