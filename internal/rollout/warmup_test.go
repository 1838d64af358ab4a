package rollout

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/slotless/slotless/stack"
)

// coldApp is a health endpoint behind pinning that is slow for its first `cold` requests, as a
// Flex app that scaled to zero is while instances start.
type coldApp struct {
	cold     int64
	slow     time.Duration
	served   atomic.Int64
	slot     stack.Slot // what it answers as; "" answers as the pinned slot
	status   int
	mu       sync.Mutex
	pinSlots map[string]int
	tokens   map[string]int
}

func (a *coldApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := a.served.Add(1)
	a.mu.Lock()
	a.pinSlots[r.Header.Get(headerPinSlot)]++
	a.tokens[r.Header.Get(headerPinToken)]++
	a.mu.Unlock()
	if n <= a.cold {
		time.Sleep(a.slow)
	}
	slot := a.slot
	if slot == "" {
		slot = stack.Slot(r.Header.Get(headerPinSlot))
	}
	status := a.status
	if status == 0 {
		status = http.StatusOK
	}
	w.Header().Set("X-Slot", string(slot))
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"status":"ok","slot":%q}`, slot)
}

func newColdApp(t *testing.T, cold int64, slow time.Duration) (*coldApp, string) {
	t.Helper()
	a := &coldApp{cold: cold, slow: slow, pinSlots: map[string]int{}, tokens: map[string]int{}}
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return a, srv.URL + "/slotless/health"
}

func TestWarmupUntilWarm(t *testing.T) {
	// Two rounds of 5 are slow, the third answers at once. The bound is far from both, so a
	// busy machine cannot flip the result.
	app, url := newColdApp(t, 10, 600*time.Millisecond)
	w := &HTTPWarmer{URL: url, PinToken: testToken, Headers: map[string]string{"Ocp-Apim-Subscription-Key": "sub-key"}, Timeout: 30 * time.Second}
	res, err := w.Warmup(context.Background(), stack.Blue, 5, 300*time.Millisecond)
	if err != nil {
		t.Fatalf("got %v, want a warm slot", err)
	}
	if res.Rounds != 3 || res.Requests != 15 {
		t.Errorf("got %d rounds of %d requests, want 3 rounds, 15 requests", res.Rounds, res.Requests)
	}
	if res.Cold < 600*time.Millisecond {
		t.Errorf("cold: got %s, want at least the slow answer's 600ms", res.Cold)
	}
	if res.Warm > 300*time.Millisecond {
		t.Errorf("warm: got %s, want within the 300ms bound", res.Warm)
	}
	if app.pinSlots["blue"] != 15 || app.tokens[testToken] != 15 {
		t.Errorf("pinning: got slots %v and tokens %d, want every request pinned to blue with the token", app.pinSlots, app.tokens[testToken])
	}
}

func TestWarmupFailures(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(a *coldApp)
		timeout time.Duration
		want    string
		maxTook time.Duration
	}{
		{"never warm", func(a *coldApp) { a.cold, a.slow = 1<<30, 200*time.Millisecond }, time.Second,
			"warm-up of blue: no round of 3 requests all answered within 50ms in 1s", 10 * time.Second},
		{"pinning not in effect", func(a *coldApp) { a.slot = stack.Green }, time.Minute,
			`answered by another slot: pinning is not in effect (is pinToken set in the stack and the token given?): X-Slot "green", want "blue"`, 10 * time.Second},
		{"unhealthy", func(a *coldApp) { a.status = http.StatusServiceUnavailable }, 500 * time.Millisecond,
			"the last: 0 answered 200 from blue, 0 within the bound", 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app, url := newColdApp(t, 0, 0)
			tt.setup(app)
			w := &HTTPWarmer{URL: url, PinToken: testToken, Timeout: tt.timeout, Pause: 20 * time.Millisecond}
			start := time.Now()
			_, err := w.Warmup(context.Background(), stack.Blue, 3, 50*time.Millisecond)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), testToken) {
				t.Errorf("error %q shows the pinning token", err)
			}
			if took := time.Since(start); took > tt.maxTook {
				t.Errorf("took %s, want the warm-up to give up within its timeout", took)
			}
		})
	}
}

func TestWarmupStopsWhenCancelled(t *testing.T) {
	_, url := newColdApp(t, 1<<30, 100*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(250*time.Millisecond, cancel)
	w := &HTTPWarmer{URL: url, PinToken: testToken, Timeout: time.Minute}
	_, err := w.Warmup(ctx, stack.Blue, 2, 10*time.Millisecond)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestWarmupRejectsBadInput(t *testing.T) {
	for _, tt := range []struct {
		url   string
		n     int
		bound time.Duration
		want  string
	}{
		{"not a url", 1, time.Second, "not an absolute http or https URL"},
		{"ftp://host/health", 1, time.Second, "not an absolute http or https URL"},
		{"http://host/health", 0, time.Second, "want at least 1 request"},
		{"http://host/health", 1, 0, "a positive bound"},
	} {
		_, err := (&HTTPWarmer{URL: tt.url}).Warmup(context.Background(), stack.Blue, tt.n, tt.bound)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s, %d, %s: got %v, want %q", tt.url, tt.n, tt.bound, err, tt.want)
		}
	}
}

// TestWarmupDoesNotFollowRedirects keeps the pinning token on the API's host.
func TestWarmupDoesNotFollowRedirects(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(other.Close)
	srv := httptest.NewServer(http.RedirectHandler(other.URL, http.StatusFound))
	t.Cleanup(srv.Close)
	w := &HTTPWarmer{URL: srv.URL, PinToken: testToken, Timeout: 300 * time.Millisecond, Pause: 20 * time.Millisecond}
	if _, err := w.Warmup(context.Background(), stack.Blue, 2, time.Second); err == nil || !strings.Contains(err.Error(), "HTTP 302") {
		t.Errorf("got %v, want a failure naming the redirect", err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the redirect target got %d requests, want none", n)
	}
}
