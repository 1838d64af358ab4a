package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

// How each route of releaseProbes is judged. Every route keeps its own window per slot, so no
// route is ever drowned by the others, however many there are:
//
//   - ProbeWindow is how many of a route's newest answers from each slot are kept and judged.
//   - A route that failed probeFailureLimit times in a row on the canary while the same route's
//     newest answer from the stable slot passed fails the canary at once: a route that answers
//     500 to every probe needs no statistics, and the stable slot's answer shows the gateway
//     and the route's own dependencies work.
//   - ProbeMinAnswers is how many answers of a route each slot needs before its failure rate
//     and latency are compared: a window of 10 tells a route failing 40% of the time from one
//     blip, where 3 answers do not (one failure in 3 is 33%, above the default delta of 30
//     points).
//
// A probe round is every route sent to both slots at once, bounded by ProbeRoundDeadline: a
// hung canary costs the health loop one deadline per round, not one per route. A probe without
// an answer by the deadline is a failed answer of its route, never a dropped one.
const (
	ProbeWindow        = 10
	ProbeMinAnswers    = ProbeWindow
	ProbeRoundDeadline = 5 * time.Second
	// probeLatencyFloor is the median latency below which the probes never fail on latency:
	// a ratio of two fast answers is noise.
	probeLatencyFloor = 100 * time.Millisecond
	// maxProbeBody bounds what one answer's body costs; only its status is judged.
	maxProbeBody = 1 << 20
)

// probeWindow holds each route's newest answers from each slot during one step (or one watch).
type probeWindow struct {
	rounds int
	// routes are keyed by the probe's name ("GET /orders"), in releaseProbes order.
	names  []string
	routes map[string]map[stack.Slot][]ProbeResult
}

func newProbeWindow() *probeWindow {
	return &probeWindow{routes: map[string]map[stack.Slot][]ProbeResult{}}
}

// add keeps rs, one slot's answers of one round, each in its route's window.
func (w *probeWindow) add(slot stack.Slot, rs []ProbeResult) {
	for _, r := range rs {
		route, ok := w.routes[r.Probe]
		if !ok {
			route = map[stack.Slot][]ProbeResult{}
			w.routes[r.Probe] = route
			w.names = append(w.names, r.Probe)
		}
		// The window is shifted in place: nothing else holds it (a check keeps a copy of the
		// failure it names), and a simulation adds thousands of rounds a release.
		all := route[slot]
		if len(all) < ProbeWindow {
			all = append(all, r)
		} else {
			copy(all, all[1:])
			all[len(all)-1] = r
		}
		route[slot] = all
	}
}

func figures(rs []ProbeResult) ProbeFigures {
	f := ProbeFigures{Probes: len(rs)}
	// A window's latencies fit on the stack: a simulation judges every route every round.
	var buf [ProbeWindow]int64
	ms := buf[:0]
	for i := range rs {
		if !rs[i].OK {
			f.Failed++
			last := rs[i]
			f.LastFailure = &last
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

// failedInARow counts the failures at the newest end of rs.
func failedInARow(rs []ProbeResult) int {
	n := 0
	for i := len(rs) - 1; i >= 0 && !rs[i].OK; i-- {
		n++
	}
	return n
}

// JudgeRoute is the verdict on one route of releaseProbes from its newest answers from the
// canary and from the stable slot, oldest first (at most ProbeWindow each are read). It is a
// pure function of the answers, so a simulation drives the release's own rule.
//
// The route fails when the canary failed it t.FailureLimit times in a row while the stable
// slot's newest answer of it passed; or, once each slot has ProbeMinAnswers answers of it,
// when the canary's failure rate exceeds the stable slot's by more than t.MaxFailureRateDelta,
// or its median latency is above probeLatencyFloor and more than t.MaxLatencyRatio × the
// stable slot's. A route both slots fail is the gateway's or a shared dependency's trouble,
// not the canary's.
func JudgeRoute(canary, stable []ProbeResult, t stack.ProbeThresholds) RouteCheck {
	canary, stable = newest(canary), newest(stable)
	rc := RouteCheck{Canary: figures(canary), Stable: figures(stable), InARow: failedInARow(canary)}
	if len(canary) > 0 {
		rc.Probe = canary[0].Probe
	} else if len(stable) > 0 {
		rc.Probe = stable[0].Probe
	}
	c, s := rc.Canary, rc.Stable
	limit := max(t.FailureLimit, 1)
	if rc.InARow >= limit && len(stable) > 0 && stable[len(stable)-1].OK {
		last := canary[len(canary)-1]
		rc.Verdict = VerdictFail
		rc.Detail = fmt.Sprintf("%s failed %d times in a row on the canary (last: %s) while the stable slot's newest answer passed", rc.Probe, rc.InARow, last.Error)
		return rc
	}
	if c.Probes < ProbeMinAnswers || s.Probes < ProbeMinAnswers {
		rc.Verdict = VerdictPass
		rc.Detail = fmt.Sprintf("%s: %d and %d answers, judged from %d each", rc.Probe, c.Probes, s.Probes, ProbeMinAnswers)
		return rc
	}
	var breaches []string
	if delta := c.FailureRate - s.FailureRate; delta > t.MaxFailureRateDelta+1e-9 {
		b := fmt.Sprintf("%s failure rate on the canary %.0f%% vs stable %.0f%% over the last %d answers: %+.0f points, allowed %+.0f",
			rc.Probe, 100*c.FailureRate, 100*s.FailureRate, c.Probes, 100*delta, 100*t.MaxFailureRateDelta)
		if c.LastFailure != nil {
			b += fmt.Sprintf(" (last: %s)", c.LastFailure.Error)
		}
		breaches = append(breaches, b)
	}
	cm, sm := time.Duration(c.MedianMs)*time.Millisecond, time.Duration(s.MedianMs)*time.Millisecond
	if cm > probeLatencyFloor && float64(cm) > t.MaxLatencyRatio*float64(max(sm, time.Millisecond)) {
		breaches = append(breaches, fmt.Sprintf("%s median latency on the canary %d ms vs stable %d ms: more than %.2f×", rc.Probe, c.MedianMs, s.MedianMs, t.MaxLatencyRatio))
	}
	if len(breaches) > 0 {
		rc.Verdict, rc.Detail = VerdictFail, strings.Join(breaches, "; ")
		return rc
	}
	rc.Verdict = VerdictPass
	rc.Detail = fmt.Sprintf("%s: canary %d/%d failed, median %d ms; stable %d/%d failed, median %d ms", rc.Probe, c.Failed, c.Probes, c.MedianMs, s.Failed, s.Probes, s.MedianMs)
	return rc
}

// newest is the last ProbeWindow of rs.
func newest(rs []ProbeResult) []ProbeResult {
	if len(rs) > ProbeWindow {
		return rs[len(rs)-ProbeWindow:]
	}
	return rs
}

// judge judges every route on its own. The check's figures are those of the route its verdict
// rests on: the first failing route, else the one closest to failing (the largest excess of the
// canary's failure rate over the stable slot's), so a chart of them against the threshold shows
// the route that matters.
func (w *probeWindow) judge(t stack.ProbeThresholds, canary stack.Slot) ProbeCheck {
	pc := ProbeCheck{Rounds: w.rounds, Verdict: VerdictPass}
	var failing []string
	worst, worstDelta := -1, 0.0
	for _, name := range w.names {
		route := w.routes[name]
		rc := JudgeRoute(route[canary], route[canary.Other()], t)
		pc.Routes = append(pc.Routes, rc)
		i := len(pc.Routes) - 1
		if rc.Verdict == VerdictFail {
			failing = append(failing, rc.Detail)
			if pc.Verdict != VerdictFail {
				pc.Verdict, worst = VerdictFail, i
			}
			continue
		}
		if d := rc.Canary.FailureRate - rc.Stable.FailureRate; pc.Verdict != VerdictFail && (worst < 0 || d > worstDelta) {
			worst, worstDelta = i, d
		}
	}
	if worst >= 0 {
		pc.Canary, pc.Stable = pc.Routes[worst].Canary, pc.Routes[worst].Stable
	}
	if len(failing) > 0 {
		pc.Detail = strings.Join(failing, "; ")
		return pc
	}
	failed := 0
	for _, rc := range pc.Routes {
		failed += rc.Canary.Failed
	}
	pc.Detail = fmt.Sprintf("%d routes pass (canary %d failed answers in their windows)", len(pc.Routes), failed)
	if worst >= 0 {
		pc.Detail += "; closest: " + pc.Routes[worst].Detail
	}
	return pc
}

// probe sends one round of probes, every route to both slots at once within
// ProbeRoundDeadline, and judges each route's answers so far. A slot whose round could not be
// sent at all (a prober error) says nothing about the canary: it is noted and judged without.
// A round cut short because the run itself was cancelled is not kept.
func (c *Controller) probe(ctx context.Context, p Plan, o Options, w *probeWindow) ProbeCheck {
	if c.prober == nil {
		return ProbeCheck{Verdict: VerdictError, Detail: "releaseProbes are set but the release has no prober"}
	}
	w.rounds++
	rctx, cancel := context.WithTimeout(ctx, ProbeRoundDeadline)
	defer cancel()
	slots := []stack.Slot{o.Slot, o.Slot.Other()}
	answers := make([][]ProbeResult, len(slots))
	errs := make([]error, len(slots))
	var wg sync.WaitGroup
	for i, slot := range slots {
		wg.Go(func() { answers[i], errs[i] = c.prober.Probe(rctx, slot) })
	}
	wg.Wait()
	var notSent []string
	for i, slot := range slots {
		if ctx.Err() != nil {
			break
		}
		if errs[i] != nil {
			notSent = append(notSent, fmt.Sprintf("%s: %v", slot, errs[i]))
			continue
		}
		w.add(slot, answers[i])
	}
	pc := w.judge(p.ProbeThresholds, o.Slot)
	if len(notSent) > 0 && pc.Verdict == VerdictPass {
		pc.Detail += "; not sent: " + strings.Join(notSent, "; ")
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
	// Client sends the probes; nil means a plain client. Redirects are never followed,
	// whichever client is given: net/http would send the pinning token and the subscription key
	// on to wherever a redirect points. A 3xx is the probe's answer.
	Client *http.Client
}

// Probe sends every probe once, pinned to slot, all at once, and waits for all of them. A probe
// with no answer when ctx's deadline (the round's) passes is a failed answer; each request is
// bounded by ProbeRoundDeadline as well, should ctx have none. Every probe's URL carries the
// gate.ProbeMarker query parameter, so the metrics gate can leave probes out of the users'
// figures. It returns one result per probe, in order; an error means none could be sent.
func (h HTTPProber) Probe(ctx context.Context, slot stack.Slot) ([]ProbeResult, error) {
	client := http.Client{}
	if h.Client != nil {
		client = *h.Client
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	headers := pinned(h.Headers, slot, h.PinToken)
	reqs := make([]*http.Request, len(h.Probes))
	for i, pr := range h.Probes {
		var body io.Reader
		if pr.Body != "" {
			body = strings.NewReader(pr.Body)
		}
		req, err := http.NewRequest(pr.Method, gate.MarkProbe(strings.TrimSuffix(h.APIURL, "/")+pr.Path), body)
		if err != nil {
			return nil, fmt.Errorf("probe %s %s: %w", pr.Method, pr.Path, err)
		}
		for k, v := range pr.Headers {
			req.Header.Set(k, v)
		}
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		reqs[i] = req
	}
	out := make([]ProbeResult, len(h.Probes))
	var wg sync.WaitGroup
	for i, pr := range h.Probes {
		wg.Go(func() { out[i] = sendProbe(ctx, &client, reqs[i], pr) })
	}
	wg.Wait()
	return out, nil
}

// sendProbe sends one probe and judges its status against the probe's expectStatus.
func sendProbe(ctx context.Context, client *http.Client, req *http.Request, pr stack.Probe) ProbeResult {
	rctx, cancel := context.WithTimeout(ctx, ProbeRoundDeadline)
	defer cancel()
	r := ProbeResult{Probe: pr.Method + " " + pr.Path}
	t0 := time.Now()
	resp, err := client.Do(req.WithContext(rctx))
	if err == nil {
		_, readErr := io.Copy(io.Discard, io.LimitReader(resp.Body, maxProbeBody))
		resp.Body.Close()
		// The status came; only the deadline cutting the body short makes it no answer.
		if readErr != nil && rctx.Err() != nil {
			err = readErr
		}
	}
	r.Ms = time.Since(t0).Milliseconds()
	switch {
	case err != nil && errors.Is(rctx.Err(), context.DeadlineExceeded):
		r.Error = fmt.Sprintf("no answer within the probe round's deadline (%s)", ProbeRoundDeadline)
	case err != nil:
		r.Error = "no answer: " + probeCause(err)
	default:
		r.Status, r.OK = resp.StatusCode, resp.StatusCode == pr.ExpectStatus
		if !r.OK {
			r.Error = fmt.Sprintf("answered %d, want %d", resp.StatusCode, pr.ExpectStatus)
		}
	}
	return r
}

// probeCause drops the *url.Error wrapper, whose text repeats the URL.
func probeCause(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err.Error()
	}
	return err.Error()
}
