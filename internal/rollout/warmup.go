package rollout

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/stack"
)

// Defaults for the zero fields of HTTPWarmer. A Flex Consumption app that scaled to zero takes
// seconds to start an instance, and a scale-out to the warm-up's concurrency more.
const (
	DefaultWarmupTimeout        = 5 * time.Minute
	DefaultWarmupRequestTimeout = 30 * time.Second
	DefaultWarmupPause          = 500 * time.Millisecond
)

// maxWarmupBody bounds what one answer's body costs; only the status and X-Slot are read.
const maxWarmupBody = 64 << 10

// HTTPWarmer warms a slot through APIM with pinned requests to its health endpoint.
type HTTPWarmer struct {
	// URL is the API's health URL: stack output apiUrl + "/health". Every request adds the
	// gate.ProbeMarker query parameter to it, so the metrics gate can leave the warm-up out of
	// the users' figures.
	URL string
	// PinToken is the stack's pinToken; every request carries it with X-Slotless-Slot.
	PinToken string
	// Headers are sent too, e.g. the subscription key. Their values are never printed.
	Headers map[string]string
	// Client sends the requests; nil means a plain client. Redirects are never followed, so
	// the token never travels to another host.
	Client *http.Client
	// Timeout bounds the whole warm-up, RequestTimeout each request, and Pause is the wait
	// after a round in which a request got no good answer, so a slot that refuses connections
	// is not hammered.
	Timeout, RequestTimeout, Pause time.Duration
}

// round is what one round of requests saw.
type round struct {
	slowest  time.Duration
	answered int // 200 from the right slot
	within   int // of those, within the bound
	problem  error
}

// Warmup sends rounds of concurrency simultaneous requests pinned to slot until every request
// of a round answers 200 from slot within bound. A slot answering as the other slot means
// pinning is not in effect, and warming would warm the wrong app, so it stops at once.
func (h *HTTPWarmer) Warmup(ctx context.Context, slot stack.Slot, concurrency int, bound time.Duration) (WarmupResult, error) {
	if u, err := url.Parse(h.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return WarmupResult{}, errors.New("warm-up: the health URL is not an absolute http or https URL")
	}
	if concurrency < 1 || bound <= 0 {
		return WarmupResult{}, fmt.Errorf("warm-up: %d requests within %s: want at least 1 request and a positive bound", concurrency, bound)
	}
	timeout, reqTimeout, pause := h.Timeout, h.RequestTimeout, h.Pause
	if timeout <= 0 {
		timeout = DefaultWarmupTimeout
	}
	if reqTimeout <= 0 {
		reqTimeout = DefaultWarmupRequestTimeout
	}
	if pause <= 0 {
		pause = DefaultWarmupPause
	}
	client := http.Client{}
	if h.Client != nil {
		client = *h.Client
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var res WarmupResult
	var last round
	for {
		r := h.round(wctx, &client, slot, concurrency, bound, reqTimeout)
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("warm-up of %s stopped: %w", slot, err)
		}
		if wctx.Err() != nil && r.answered == 0 && res.Rounds > 0 {
			// A round the warm-up's own time limit cut short says only that time ran out;
			// the round before it says what the slot answered (a redirect, say).
			break
		}
		last = r
		res.Rounds++
		res.Requests += concurrency
		if res.Rounds == 1 {
			res.Cold = last.slowest
		}
		if errors.Is(last.problem, errWrongSlot) {
			return res, fmt.Errorf("warm-up of %s: %w", slot, last.problem)
		}
		if last.within == concurrency {
			res.Warm = last.slowest
			return res, nil
		}
		if wctx.Err() != nil {
			break
		}
		if last.answered < concurrency {
			select {
			case <-wctx.Done():
			case <-time.After(pause):
			}
		}
		if wctx.Err() != nil {
			break
		}
	}
	detail := fmt.Sprintf("%d answered 200 from %s, %d within the bound, slowest %s", last.answered, slot, last.within, last.slowest.Round(time.Millisecond))
	if last.problem != nil {
		detail += "; " + last.problem.Error()
	}
	return res, fmt.Errorf("warm-up of %s: no round of %d requests all answered within %s in %s (%d rounds; the last: %s)", slot, concurrency, bound, timeout, res.Rounds, detail)
}

var errWrongSlot = errors.New("answered by another slot: pinning is not in effect (is pinToken set in the stack and the token given?)")

// round sends concurrency requests at once and waits for all of them.
func (h *HTTPWarmer) round(ctx context.Context, client *http.Client, slot stack.Slot, concurrency int, bound, reqTimeout time.Duration) round {
	var (
		mu  sync.Mutex
		out round
		wg  sync.WaitGroup
	)
	headers := pinned(h.Headers, slot, h.PinToken)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			took, err := h.one(ctx, client, slot, headers, reqTimeout)
			mu.Lock()
			defer mu.Unlock()
			out.slowest = max(out.slowest, took)
			switch {
			case err != nil:
				if out.problem == nil || errors.Is(err, errWrongSlot) {
					out.problem = err
				}
			default:
				out.answered++
				if took <= bound {
					out.within++
				}
			}
		}()
	}
	wg.Wait()
	return out
}

// one sends a single pinned request and says how long the whole answer took.
func (h *HTTPWarmer) one(ctx context.Context, client *http.Client, slot stack.Slot, headers map[string]string, reqTimeout time.Duration) (time.Duration, error) {
	rctx, cancel := context.WithTimeout(ctx, reqTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, gate.MarkProbe(h.URL), nil)
	if err != nil {
		return 0, errors.New("build request failed")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Accept", "application/json")
	t0 := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the URL, which may carry a key in its query: keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return time.Since(t0), fmt.Errorf("no answer: %w", err)
	}
	_, copyErr := io.Copy(io.Discard, io.LimitReader(resp.Body, maxWarmupBody))
	resp.Body.Close()
	took := time.Since(t0)
	switch {
	case copyErr != nil:
		return took, fmt.Errorf("HTTP %d, body cut off: %w", resp.StatusCode, copyErr)
	case resp.Header.Get("X-Slot") != "" && resp.Header.Get("X-Slot") != string(slot):
		return took, fmt.Errorf("%w: X-Slot %q, want %q", errWrongSlot, resp.Header.Get("X-Slot"), slot)
	case resp.StatusCode != http.StatusOK:
		return took, fmt.Errorf("HTTP %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	case resp.Header.Get("X-Slot") == "":
		return took, errors.New("HTTP 200 without X-Slot: not the slot's health endpoint")
	}
	return took, nil
}
