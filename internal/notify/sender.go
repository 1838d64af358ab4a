package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/slotless/slotless/internal/rollout"
	"github.com/slotless/slotless/stack"
)

// Clock is the time a sender reads and waits on between attempts: SystemClock in the CLI, a
// fake in tests, so that no test sleeps through a Retry-After.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

// SystemClock is the real time.
type SystemClock struct{}

// Now is time.Now.
func (SystemClock) Now() time.Time { return time.Now() }

// After is time.After.
func (SystemClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Limits bound what one message may cost. Together they bound Close: every message is over
// within MessageTimeout of being sent.
type Limits struct {
	// MessageTimeout bounds a message, all its attempts and the waits between them.
	MessageTimeout time.Duration
	// AttemptTimeout bounds one request.
	AttemptTimeout time.Duration
	// Attempts is how many requests a message may take.
	Attempts int
	// Backoff is the wait before the second attempt when the answer names none; it doubles
	// for each attempt after.
	Backoff time.Duration
	// MaxRetryAfter is the longest Retry-After honoured; an answer asking for longer ends the
	// message, since waiting would outlast the run it reports on.
	MaxRetryAfter time.Duration
}

// DefaultLimits are a message's bounds in the CLI: like an Azure Monitor action group's webhook
// (three attempts, the first given 10 s), within half a minute in all, so that a run whose
// receivers are down ends at most that long after its last message.
var DefaultLimits = Limits{MessageTimeout: 30 * time.Second, AttemptTimeout: 10 * time.Second, Attempts: 3, Backoff: time.Second, MaxRetryAfter: 20 * time.Second}

// Outcomes of a message, as the record keeps them (rollout.Notification.Outcome).
const (
	OutcomeSent = "sent"
	// OutcomeFailed is an answer retrying cannot change: a 4xx other than 408 and 429, a
	// redirect, or a message that could not be rendered.
	OutcomeFailed = "failed"
	// OutcomeGaveUp is a message whose attempts, or whose time, ran out on answers worth
	// retrying: no answer, a 408, a 429 or a 5xx.
	OutcomeGaveUp = "gave-up"
)

// message is one event to one target.
type message struct {
	seq    int
	target int
	kind   stack.NotifyKind
	event  EventKind
	url    stack.SecretURL
	body   []byte
}

// Sender delivers messages in the background: Send returns at once, every message goes on its
// own goroutine, and Close waits for them. A receiver that never answers holds only its own
// message, never the caller nor another message.
type Sender struct {
	client *http.Client
	clock  Clock
	limits Limits
	warn   io.Writer

	wg       sync.WaitGroup
	mu       sync.Mutex
	seq      int
	outcomes []outcome
}

type outcome struct {
	seq int
	rollout.Notification
}

// NewSender returns a sender posting through client, waiting on clock, within limits, and
// writing a warning line to warn for each message that was not delivered.
func NewSender(client *http.Client, clock Clock, limits Limits, warn io.Writer) *Sender {
	if warn == nil {
		warn = io.Discard
	}
	return &Sender{client: client, clock: clock, limits: limits, warn: warn}
}

// NewHTTPClient is the client webhooks are posted with: it follows no redirect, since a
// redirect would carry the message (and a Teams URL's signature in its query) to a host the
// team never named, and it has no overall timeout of its own, each attempt having one.
func NewHTTPClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Send queues e for every target and returns at once.
func (s *Sender) Send(targets []stack.NotifyTarget, e Event) {
	s.mu.Lock()
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	for i, t := range targets {
		m := message{seq: seq, target: i, kind: t.Kind, event: e.Kind, url: t.URL}
		body, err := Payload(t.Kind, e)
		if err != nil {
			s.record(m, OutcomeFailed, 0, err.Error())
			continue
		}
		m.body = body
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			out, attempts, detail := s.deliver(m)
			s.record(m, out, attempts, detail)
		}()
	}
}

// Close waits for every message sent so far and returns their outcomes, in the order the
// events were sent and by target. It waits at most MessageTimeout after the last Send.
func (s *Sender) Close() []rollout.Notification {
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	sort.SliceStable(s.outcomes, func(i, j int) bool {
		a, b := s.outcomes[i], s.outcomes[j]
		if a.seq != b.seq {
			return a.seq < b.seq
		}
		return a.Target < b.Target
	})
	out := make([]rollout.Notification, len(s.outcomes))
	for i, o := range s.outcomes {
		out[i] = o.Notification
	}
	return out
}

// record keeps a message's outcome, and warns of one that was not delivered.
func (s *Sender) record(m message, result string, attempts int, detail string) {
	detail = redact(detail, m.url)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcomes = append(s.outcomes, outcome{seq: m.seq, Notification: rollout.Notification{
		Target: m.target, Kind: string(m.kind), Event: string(m.event), Outcome: result, Attempts: attempts, Detail: detail}})
	if result != OutcomeSent {
		fmt.Fprintf(s.warn, "warning: notify[%d] (%s) was not told of %s: %s: %s\n", m.target, m.kind, m.event, result, detail)
	}
}

// deliver posts m until it is delivered, fails for good, or runs out of attempts or time.
// Retried: no answer, 408, 429 and 5xx, after the answer's Retry-After (at most MaxRetryAfter)
// or else Backoff, doubling.
func (s *Sender) deliver(m message) (result string, attempts int, detail string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.limits.MessageTimeout)
	defer cancel()
	backoff := s.limits.Backoff
	for attempts = 1; ; attempts++ {
		status, retryAfter, why := s.attempt(ctx, m)
		if status >= 200 && status < 300 {
			return OutcomeSent, attempts, ""
		}
		if !retriable(status) {
			return OutcomeFailed, attempts, why
		}
		if attempts >= s.limits.Attempts {
			return OutcomeGaveUp, attempts, fmt.Sprintf("%s, after %s", why, plural(attempts, "attempt", "attempts"))
		}
		wait := backoff
		if retryAfter > 0 {
			if retryAfter > s.limits.MaxRetryAfter {
				return OutcomeGaveUp, attempts, fmt.Sprintf("%s, asking to retry after %s, over the %s this waits", why, retryAfter, s.limits.MaxRetryAfter)
			}
			wait = retryAfter
		}
		select {
		case <-s.clock.After(wait):
		case <-ctx.Done():
			return OutcomeGaveUp, attempts, fmt.Sprintf("%s; the message's %s ran out before attempt %d", why, s.limits.MessageTimeout, attempts+1)
		}
		backoff *= 2
	}
}

// attempt posts m once. status is 0 when no answer came; retryAfter is the answer's Retry-After.
func (s *Sender) attempt(ctx context.Context, m message) (status int, retryAfter time.Duration, why string) {
	ctx, cancel := context.WithTimeout(ctx, s.limits.AttemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.url.Reveal(), bytes.NewReader(m.body))
	if err != nil {
		// The URL was checked when the config was read; say nothing of it here.
		return 0, 0, "the request could not be made"
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "slotless")
	resp, err := s.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return 0, 0, fmt.Sprintf("no answer within %s", s.limits.AttemptTimeout)
		}
		return 0, 0, "no answer: " + err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	why = "HTTP " + resp.Status
	if text := strings.TrimSpace(string(body)); text != "" && resp.StatusCode >= 300 {
		why += ": " + truncate(oneLineOf(text), 120)
	}
	return resp.StatusCode, s.retryAfter(resp.Header.Get("Retry-After")), why
}

// retriable reports whether an answer is worth another attempt: none at all (status 0), a
// timeout (408), a rate limit (429), or the receiver's own failure (5xx).
func retriable(status int) bool {
	return status == 0 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date (RFC 9110, section 10.2.3).
func (s *Sender) retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(s.clock.Now()); d > 0 {
			return d
		}
	}
	return 0
}

// redact takes a URL out of a detail, whole or in part, however an error came to quote it.
func redact(detail string, u stack.SecretURL) string {
	raw := u.Reveal()
	if raw == "" {
		return detail
	}
	detail = strings.ReplaceAll(detail, raw, "[secret]")
	if p, err := url.Parse(raw); err == nil {
		for _, part := range []string{p.RawQuery, p.EscapedPath(), p.Path} {
			if len(part) > 1 {
				detail = strings.ReplaceAll(detail, part, "[secret]")
			}
		}
	}
	return detail
}

func oneLineOf(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}
