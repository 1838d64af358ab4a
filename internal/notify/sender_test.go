package notify

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slotless/slotless/stack"
)

// fakeClock fires every wait at once and remembers it, so a test sees the Retry-After and
// backoff a sender honoured without sleeping through them.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *fakeClock) waited() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.waits)
}

// answer is one scripted reply of a receiver.
type answer struct {
	status     int
	retryAfter string
	body       string
	location   string
}

// scripted is a receiver answering its script in order, then 200.
type scripted struct {
	mu     sync.Mutex
	script []answer
	bodies [][]byte
	types  []string
	// seen, when set, is told of each request once it is answered.
	seen chan struct{}
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, body)
	s.types = append(s.types, r.Header.Get("Content-Type"))
	a := answer{status: http.StatusOK, body: "ok"}
	if len(s.script) > 0 {
		a, s.script = s.script[0], s.script[1:]
	}
	s.mu.Unlock()
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	if a.location != "" {
		w.Header().Set("Location", a.location)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, a.body)
	if s.seen != nil {
		s.seen <- struct{}{}
	}
}

func (s *scripted) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

// testLimits are DefaultLimits: the waits they call for are the fake clock's, so nothing sleeps.
var testLimits = DefaultLimits

func TestSenderRetries(t *testing.T) {
	elsewhere := &scripted{}
	other := httptest.NewServer(elsewhere)
	defer other.Close()
	epoch := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name     string
		script   []answer
		outcome  string
		attempts int
		waits    []time.Duration
		detail   string
	}{
		{"delivered at once", nil, OutcomeSent, 1, nil, ""},
		{"a 5xx is retried after the backoff, doubling", []answer{{status: 500}, {status: 502}}, OutcomeSent, 3, []time.Duration{time.Second, 2 * time.Second}, ""},
		{"a 429 waits its Retry-After in seconds", []answer{{status: 429, retryAfter: "7"}}, OutcomeSent, 2, []time.Duration{7 * time.Second}, ""},
		{"a 503 waits its Retry-After as a date", []answer{{status: 503, retryAfter: epoch.Add(5 * time.Second).Format(http.TimeFormat)}}, OutcomeSent, 2, []time.Duration{5 * time.Second}, ""},
		{"a 408 is retried", []answer{{status: 408}}, OutcomeSent, 2, []time.Duration{time.Second}, ""},
		{"a Retry-After over the cap gives up without waiting", []answer{{status: 429, retryAfter: "120", body: "slow down"}}, OutcomeGaveUp, 1, nil,
			"HTTP 429 Too Many Requests: slow down, asking to retry after 2m0s, over the 20s this waits"},
		{"three 5xx give up", []answer{{status: 500, body: "boom"}, {status: 500, body: "boom"}, {status: 500, body: "boom"}}, OutcomeGaveUp, 3,
			[]time.Duration{time.Second, 2 * time.Second}, "HTTP 500 Internal Server Error: boom, after 3 attempts"},
		{"a 4xx is not retried", []answer{{status: 404, body: "no_service"}}, OutcomeFailed, 1, nil, "HTTP 404 Not Found: no_service"},
		{"a redirect is not followed", []answer{{status: 302, location: other.URL + "/elsewhere"}}, OutcomeFailed, 1, nil, "HTTP 302 Found"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rcv := &scripted{script: tt.script}
			srv := httptest.NewServer(rcv)
			defer srv.Close()
			clock := &fakeClock{now: epoch}
			var warn bytes.Buffer
			s := NewSender(NewHTTPClient(), clock, testLimits, &warn)
			s.Send([]stack.NotifyTarget{{Kind: stack.NotifyJSON, URL: stack.SecretURL(srv.URL + "/hook")}}, Event{Kind: ReleaseRolledBack, Stack: "dev", At: epoch})
			got := s.Close()
			if len(got) != 1 {
				t.Fatalf("got %d outcomes, want 1", len(got))
			}
			o := got[0]
			if o.Outcome != tt.outcome || o.Attempts != tt.attempts || !strings.HasPrefix(o.Detail, tt.detail) {
				t.Errorf("got %s after %d attempts (%q), want %s after %d (%q)", o.Outcome, o.Attempts, o.Detail, tt.outcome, tt.attempts, tt.detail)
			}
			if o.Target != 0 || o.Kind != "json" || o.Event != string(ReleaseRolledBack) {
				t.Errorf("got %+v, want target 0, json, release.rolledBack", o)
			}
			if w := clock.waited(); !slices.Equal(w, tt.waits) {
				t.Errorf("waited %v, want %v", w, tt.waits)
			}
			if rcv.requests() != tt.attempts {
				t.Errorf("the receiver got %d requests, want %d", rcv.requests(), tt.attempts)
			}
			for i, b := range rcv.bodies {
				if !bytes.Equal(b, rcv.bodies[0]) || rcv.types[i] != "application/json; charset=utf-8" {
					t.Errorf("attempt %d: %s %s, want the first attempt's JSON body again", i+1, rcv.types[i], b)
				}
			}
			if elsewhere.requests() != 0 {
				t.Errorf("a redirect was followed: the other host got %d requests", elsewhere.requests())
			}
			if wantWarn := tt.outcome != OutcomeSent; strings.Contains(warn.String(), "warning: notify[0] (json) was not told of release.rolledBack") != wantWarn {
				t.Errorf("warnings: got %q, want one: %v", warn.String(), wantWarn)
			}
		})
	}
}

// blocking is a receiver that holds every request until the test releases it.
type blocking struct {
	arrived chan struct{}
	release chan struct{}
	once    sync.Once
}

func newBlocking() *blocking {
	return &blocking{arrived: make(chan struct{}, 16), release: make(chan struct{})}
}

func (b *blocking) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.arrived <- struct{}{}
	<-b.release
	w.WriteHeader(http.StatusOK)
}

func (b *blocking) free() { b.once.Do(func() { close(b.release) }) }

// TestSendNeverWaitsForAReceiver proves by construction that a receiver cannot hold up the run:
// Send returns, and a second event is sent and delivered elsewhere, while the first receiver
// still holds its request, which it answers only once the test lets it. Close, and only Close,
// waits for it.
func TestSendNeverWaitsForAReceiver(t *testing.T) {
	stuck := newBlocking()
	stuckSrv := httptest.NewServer(stuck)
	defer stuckSrv.Close()
	defer stuck.free()
	fine := &scripted{seen: make(chan struct{}, 1)}
	fineSrv := httptest.NewServer(fine)
	defer fineSrv.Close()

	s := NewSender(NewHTTPClient(), &fakeClock{}, testLimits, io.Discard)
	stuckOnly := []stack.NotifyTarget{{Kind: stack.NotifySlack, URL: stack.SecretURL(stuckSrv.URL)}}
	both := append(stuckOnly, stack.NotifyTarget{Kind: stack.NotifyJSON, URL: stack.SecretURL(fineSrv.URL)})
	s.Send(stuckOnly, Event{Kind: ReleaseStarted})
	<-stuck.arrived // the receiver holds the first message, and Send has returned
	s.Send(both, Event{Kind: ReleaseRolledBack})
	<-stuck.arrived // and the second

	closed := make(chan struct{})
	go func() {
		defer close(closed)
		got := s.Close()
		want := []string{"release.started 0 sent", "release.rolledBack 0 sent", "release.rolledBack 1 sent"}
		var lines []string
		for _, o := range got {
			lines = append(lines, fmt.Sprintf("%s %d %s", o.Event, o.Target, o.Outcome))
		}
		if !slices.Equal(lines, want) {
			t.Errorf("outcomes: got %q, want %q", lines, want)
		}
	}()
	// The other target is told while the first receiver still holds both its requests.
	select {
	case <-fine.seen:
	case <-closed:
		t.Fatal("Close returned while a receiver held its request")
	}
	select {
	case <-closed:
		t.Fatal("Close returned while a receiver held its request")
	default:
	}
	stuck.free()
	<-closed
}

// TestAnAttemptWithNoAnswerIsBounded: a receiver that never answers costs each attempt its
// AttemptTimeout and the message its Attempts, then the message gives up.
func TestAnAttemptWithNoAnswerIsBounded(t *testing.T) {
	stuck := newBlocking()
	srv := httptest.NewServer(stuck)
	defer srv.Close()
	defer stuck.free()
	limits := testLimits
	limits.AttemptTimeout = time.Millisecond
	s := NewSender(NewHTTPClient(), &fakeClock{}, limits, io.Discard)
	s.Send([]stack.NotifyTarget{{Kind: stack.NotifyTeams, URL: stack.SecretURL(srv.URL)}}, Event{Kind: ReleaseStep})
	got := s.Close()
	if len(got) != 1 || got[0].Outcome != OutcomeGaveUp || got[0].Attempts != 3 || got[0].Detail != "no answer within 1ms, after 3 attempts" {
		t.Fatalf("got %+v, want gave-up after 3 attempts with no answer within 1ms", got)
	}
}

// TestOutcomesNeverShowTheURL: whatever went wrong, neither the record nor the warning quotes the
// webhook's URL, its path or its query.
func TestOutcomesNeverShowTheURL(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + ln.Addr().String() + "/workflows/SECRETPATH/invoke?sig=SECRETSIG"
	ln.Close()
	rcv := &scripted{script: []answer{{status: 400, body: "bad request to /workflows/SECRETPATH/invoke?sig=SECRETSIG"}}}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	echoed := srv.URL + "/workflows/SECRETPATH/invoke?sig=SECRETSIG"

	var warn bytes.Buffer
	limits := testLimits
	limits.Attempts = 1
	s := NewSender(NewHTTPClient(), &fakeClock{}, limits, &warn)
	s.Send([]stack.NotifyTarget{{Kind: stack.NotifyTeams, URL: stack.SecretURL(refused)}, {Kind: stack.NotifyTeams, URL: stack.SecretURL(echoed)}}, Event{Kind: BreakGlass})
	got := s.Close()
	if len(got) != 2 || got[0].Outcome != OutcomeGaveUp || got[1].Outcome != OutcomeFailed {
		t.Fatalf("got %+v, want the refused one given up and the 400 failed", got)
	}
	for _, text := range []string{got[0].Detail, got[1].Detail, warn.String()} {
		if strings.Contains(text, "SECRET") {
			t.Errorf("the URL shows in %q", text)
		}
	}
	if !strings.Contains(got[1].Detail, "[secret]") {
		t.Errorf("the echoed URL: got %q, want it shown as [secret]", got[1].Detail)
	}
}
