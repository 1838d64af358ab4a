package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Defaults for the zero fields of HealthConfig. A deployment to Flex
// Consumption can take minutes to reach every instance, hence the long
// overall timeout; the request timeout stays under APIM's default backend
// timeout so a hung app shows up as ours, not as a gateway error. No HTTP
// answer at all (refused, unknown host, TLS failure) is a different matter:
// through APIM the gateway always answers, and a direct URL that nothing
// listens on for half a minute is a wrong URL, not a slot still starting, so
// the gate gives up on it long before its overall timeout.
const (
	DefaultSuccesses        = 3
	DefaultInterval         = 5 * time.Second
	DefaultTimeout          = 5 * time.Minute
	DefaultRequestTimeout   = 10 * time.Second
	DefaultUnreachableAfter = 30 * time.Second
)

// maxHealthBody bounds what a poll reads, so a misrouted URL serving a large
// page cannot make the gate buffer it.
const maxHealthBody = 64 << 10

// healthStatusOK is the functionapp's "status" when every check passes.
const healthStatusOK = "ok"

// HealthConfig says which health endpoint to poll and what counts as healthy.
type HealthConfig struct {
	// URL is the full health URL: the app's /api/health, or APIM's <api>/health.
	URL string
	// Headers are sent with every poll (pinning token, subscription key,
	// function key). Their values are never written anywhere.
	Headers map[string]string
	// Slot is the colour that must answer, in the body and in X-Slot.
	Slot string
	// ExpectVersion, when set, is the version that must answer.
	ExpectVersion string
	// Successes is how many healthy answers in a row pass the gate; one good
	// answer can come from an instance that is about to be replaced.
	Successes int
	// Interval is the pause between polls.
	Interval time.Duration
	// Timeout bounds the whole gate.
	Timeout time.Duration
	// RequestTimeout bounds each poll. It never exceeds Timeout: a longer
	// value is cut down to it.
	RequestTimeout time.Duration
	// UnreachableAfter is how long polls may go without any HTTP answer
	// before the gate fails as unreachable, without waiting out Timeout.
	UnreachableAfter time.Duration
	// Client sends the polls; nil means a plain client. Redirects are never
	// followed, whichever client is given, because net/http would forward the
	// custom headers, and with them the token, to wherever a redirect points.
	Client *http.Client
}

// HealthResult describes what the gate saw, pass or fail.
type HealthResult struct {
	// Target is URL without query or user info, safe to print.
	Target string
	// Attempts is how many polls were sent.
	Attempts int
	// Consecutive is the healthy streak at the end.
	Consecutive int
	// Slot, Version and Checks are from the last healthy answer.
	Slot, Version string
	Checks        map[string]string
	// Elapsed is the time the gate ran.
	Elapsed time.Duration
}

// healthBody is the functionapp's /api/health payload, as far as the gate
// reads it.
type healthBody struct {
	Status  string `json:"status"`
	Slot    string `json:"slot"`
	Version string `json:"version"`
	Checks  map[string]struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	} `json:"checks"`
}

// observation is the verdict on one poll.
type observation struct {
	ok         bool
	reason     Reason
	detail     string
	summary    string // status line for progress, without header values
	httpStatus int
	status     string
	slot       string
	version    string
	checks     map[string]string
	// from is the slot the answer proves it came from (X-Slot, else the body's "slot").
	from string
}

// Answer is what one health request saw: the verdict of a single poll of the gate.
type Answer struct {
	// Healthy is true when the answer passes the gate's checks.
	Healthy bool `json:"healthy"`
	// Reason and Detail say why not; empty when healthy.
	Reason Reason `json:"reason,omitempty"`
	Detail string `json:"detail,omitempty"`
	// HTTPStatus is 0 when no HTTP answer came.
	HTTPStatus int `json:"httpStatus"`
	// Status, Slot and Version are from the body, or the X-Slot and
	// X-Version headers when the body is not health JSON.
	Status  string `json:"status,omitempty"`
	Slot    string `json:"slot,omitempty"`
	Version string `json:"version,omitempty"`
	// From is the slot the answer proves it came from: its X-Slot header, else the body's
	// "slot"; empty for no answer or an answer of the gateway's own.
	From string `json:"from,omitempty"`
	// Checks maps each check of the app to its status.
	Checks map[string]string `json:"checks,omitempty"`
}

// Probe sends one request to cfg.URL, bounded by cfg.RequestTimeout, and judges the answer
// as one poll of Health would. It is for reports, such as where a release stands; a gate
// needs Health's run of consecutive answers. Only URL, Headers, Slot, ExpectVersion,
// RequestTimeout and Client are read.
func Probe(ctx context.Context, cfg HealthConfig) (Answer, error) {
	if cfg.Timeout == 0 {
		// Only the request timeout bounds a probe.
		cfg.Timeout = max(cfg.RequestTimeout, DefaultRequestTimeout)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Answer{}, fmt.Errorf("health probe config: %w", err)
	}
	obs := probe(ctx, noRedirects(cfg.Client), cfg)
	if err := ctx.Err(); err != nil {
		return Answer{}, fmt.Errorf("health probe of %s: %w", redactURL(cfg.URL), err)
	}
	return Answer{
		Healthy: obs.ok, Reason: obs.reason, Detail: obs.detail, HTTPStatus: obs.httpStatus,
		Status: obs.status, Slot: obs.slot, Version: obs.version, From: obs.from, Checks: obs.checks,
	}, nil
}

// errGateDeadline marks the gate's own timeout, so it can be told apart from
// the caller cancelling and from one poll's timeout.
var errGateDeadline = errors.New("health gate timeout")

// Health polls cfg.URL until it has seen cfg.Successes healthy answers in a row
// or cfg.Timeout has passed, writing one line per poll to progress. It keeps
// polling through failures because a slot that was just deployed is expected
// to fail for a while; when time runs out, the last failure seen decides the
// reason, since that is the state the slot was left in.
func Health(ctx context.Context, cfg HealthConfig, progress io.Writer) (HealthResult, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return HealthResult{}, fmt.Errorf("health gate config: %w", err)
	}
	if progress == nil {
		progress = io.Discard
	}
	client := noRedirects(cfg.Client)
	res := HealthResult{Target: redactURL(cfg.URL)}

	fmt.Fprintf(progress, "health gate: GET %s as slot %s", res.Target, cfg.Slot)
	if cfg.ExpectVersion != "" {
		fmt.Fprintf(progress, ", version %s", cfg.ExpectVersion)
	}
	fmt.Fprintf(progress, "; %d healthy in a row, polling every %s for up to %s (each request up to %s; no connection for %s fails the gate)",
		cfg.Successes, cfg.Interval, cfg.Timeout, cfg.RequestTimeout, cfg.UnreachableAfter)
	if names := headerNames(cfg.Headers); len(names) > 0 {
		fmt.Fprintf(progress, "; headers %s", strings.Join(names, ", "))
	}
	fmt.Fprintln(progress)

	start := time.Now()
	gctx, cancel := context.WithTimeoutCause(ctx, cfg.Timeout, errGateDeadline)
	defer cancel()

	var last *observation
	lastAttempt := 0
	// unreachableSince is when the current run of polls without any HTTP
	// answer began; zero while answers come.
	var unreachableSince time.Time
polling:
	for attempt := 1; ; attempt++ {
		sent := time.Now()
		obs := probe(gctx, client, cfg)
		res.Attempts = attempt
		res.Elapsed = time.Since(start)
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("health gate stopped after %d attempts: %w", attempt, err)
		}
		if gctx.Err() != nil && !obs.ok {
			// The gate's deadline cut this poll short; that says nothing about
			// the slot unless it is all we have.
			fmt.Fprintf(progress, "attempt %d: cut short by the gate timeout\n", attempt)
			if last == nil {
				last = &observation{reason: ReasonTimeout, detail: fmt.Sprintf("no answer within the gate timeout of %s", cfg.Timeout)}
				lastAttempt = attempt
			}
			break
		}
		if obs.ok {
			res.Consecutive++
			res.Slot, res.Version, res.Checks = obs.slot, obs.version, obs.checks
			fmt.Fprintf(progress, "attempt %d: %s: healthy (%d/%d in a row)\n", attempt, obs.summary, res.Consecutive, cfg.Successes)
			if res.Consecutive >= cfg.Successes {
				fmt.Fprintf(progress, "health gate passed after %d attempts in %s\n", attempt, res.Elapsed.Round(time.Millisecond))
				return res, nil
			}
		} else {
			res.Consecutive = 0
			last, lastAttempt = &obs, attempt
			fmt.Fprintf(progress, "attempt %d: %s: %s: %s (0/%d in a row)\n", attempt, obs.summary, obs.reason, obs.detail, cfg.Successes)
		}
		if obs.reason != ReasonUnreachable {
			unreachableSince = time.Time{}
		} else if unreachableSince.IsZero() {
			unreachableSince = sent
		} else if down := time.Since(unreachableSince); down >= cfg.UnreachableAfter {
			res.Elapsed = time.Since(start)
			fmt.Fprintf(progress, "health gate failed: no HTTP answer for %s, beyond the unreachable window of %s\n", down.Round(time.Millisecond), cfg.UnreachableAfter)
			return res, &GateError{Reason: ReasonUnreachable, Detail: fmt.Sprintf(
				"no HTTP answer from %s for %s (%d attempts), longer than the unreachable window of %s; last: %s",
				res.Target, down.Round(time.Millisecond), res.Attempts, cfg.UnreachableAfter, obs.detail)}
		}
		select {
		case <-gctx.Done():
			break polling
		case <-time.After(cfg.Interval):
		}
	}
	res.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("health gate stopped after %d attempts: %w", res.Attempts, err)
	}

	detail := fmt.Sprintf("no %d healthy answers in a row from slot %s within %s (%d attempts)", cfg.Successes, cfg.Slot, cfg.Timeout, res.Attempts)
	if last == nil {
		return res, &GateError{Reason: ReasonTimeout, Detail: detail}
	}
	detail += fmt.Sprintf("; last failure, attempt %d: %s", lastAttempt, last.detail)
	if res.Consecutive > 0 {
		detail += fmt.Sprintf("; then %d healthy", res.Consecutive)
	}
	return res, &GateError{Reason: last.reason, Detail: detail, HTTPStatus: last.httpStatus, From: last.from}
}

// withDefaults fills zero fields and rejects values that cannot work.
func (cfg HealthConfig) withDefaults() (HealthConfig, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		// url.Parse echoes the URL, which may carry ?code=; say only what is wrong.
		return cfg, errors.New("url: not a valid URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("url %s: want an absolute http or https URL", redactURL(cfg.URL))
	}
	if cfg.Slot == "" {
		return cfg, errors.New("slot: empty")
	}
	if cfg.Successes == 0 {
		cfg.Successes = DefaultSuccesses
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	if cfg.UnreachableAfter == 0 {
		cfg.UnreachableAfter = DefaultUnreachableAfter
	}
	switch {
	case cfg.Successes < 0:
		return cfg, fmt.Errorf("successes: %d, want at least 1", cfg.Successes)
	case cfg.Interval < 0:
		return cfg, fmt.Errorf("interval: %s, want a positive duration", cfg.Interval)
	case cfg.Timeout < 0:
		return cfg, fmt.Errorf("timeout: %s, want a positive duration", cfg.Timeout)
	case cfg.RequestTimeout < 0:
		return cfg, fmt.Errorf("request timeout: %s, want a positive duration", cfg.RequestTimeout)
	case cfg.UnreachableAfter < 0:
		return cfg, fmt.Errorf("unreachable after: %s, want a positive duration", cfg.UnreachableAfter)
	}
	// The gate's deadline cuts every request short anyway; saying so keeps
	// the banner honest.
	cfg.RequestTimeout = min(cfg.RequestTimeout, cfg.Timeout)
	return cfg, nil
}

// probe sends one poll and judges the answer.
func probe(ctx context.Context, client *http.Client, cfg HealthConfig) observation {
	rctx, cancel := context.WithTimeout(ctx, cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, cfg.URL, nil)
	if err != nil {
		return observation{reason: ReasonUnreachable, summary: "no request", detail: "build request failed"}
	}
	for k, v := range cfg.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return transportFailure(err, rctx, cfg.RequestTimeout)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxHealthBody))
	if err != nil {
		obs := transportFailure(err, rctx, cfg.RequestTimeout)
		obs.summary = fmt.Sprintf("HTTP %d, body cut off", resp.StatusCode)
		return obs
	}
	return judge(resp.StatusCode, resp.Header, body, cfg)
}

// transportFailure classifies a poll that got no complete answer. The
// *url.Error wrapper is dropped because its text repeats the URL, query
// string (and possibly a function key) included.
func transportFailure(err error, rctx context.Context, limit time.Duration) observation {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		err = ue.Err
	}
	var ne net.Error
	if errors.Is(rctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return observation{reason: ReasonTimeout, summary: "no answer", detail: fmt.Sprintf("no answer within the request timeout of %s", limit)}
	}
	return observation{reason: ReasonUnreachable, summary: "no answer", detail: err.Error()}
}

// judge decides whether one answer is healthy. Unhealthy is checked before
// slot and version: an app whose config check fails usually also reports a
// wrong slot, and the failing check is the more useful thing to show.
func judge(status int, header http.Header, body []byte, cfg HealthConfig) observation {
	var h healthBody
	jsonErr := json.Unmarshal(body, &h)
	headerSlot, headerVersion := header.Get("X-Slot"), header.Get("X-Version")
	obs := observation{httpStatus: status, status: h.Status, slot: h.Slot, version: h.Version, from: headerSlot}
	if jsonErr != nil {
		obs.slot, obs.version = headerSlot, headerVersion
	} else if obs.from == "" {
		obs.from = h.Slot
	}
	obs.summary = fmt.Sprintf("HTTP %d slot=%s version=%s", status, orDash(obs.slot), orDash(obs.version))
	if len(h.Checks) > 0 {
		obs.checks = make(map[string]string, len(h.Checks))
		for name, c := range h.Checks {
			obs.checks[name] = c.Status
		}
	}

	switch {
	case status != http.StatusOK && jsonErr == nil && h.Status != "":
		obs.reason, obs.detail = ReasonUnhealthy, fmt.Sprintf("HTTP %d, status %q%s", status, h.Status, failingChecks(h))
	case status != http.StatusOK:
		obs.reason, obs.detail = ReasonUnhealthy, fmt.Sprintf("HTTP %d %s", status, http.StatusText(status))
	case jsonErr != nil:
		obs.reason, obs.detail = ReasonUnhealthy, fmt.Sprintf(`HTTP 200 but the body is not health JSON: want {"status": "ok", "slot": %q, "version": "..."}`, cfg.Slot)
	case h.Status == "":
		obs.reason, obs.detail = ReasonUnhealthy, `the body has no "status" field: want "status": "ok" when healthy`
	case h.Status != healthStatusOK:
		obs.reason, obs.detail = ReasonUnhealthy, fmt.Sprintf("status %q%s", h.Status, failingChecks(h))
	case h.Slot != cfg.Slot || headerSlot != cfg.Slot:
		obs.reason, obs.detail = ReasonWrongSlot, slotDetail(h.Slot, headerSlot, cfg.Slot)
	case cfg.ExpectVersion != "" && (h.Version != cfg.ExpectVersion || (headerVersion != "" && headerVersion != cfg.ExpectVersion)):
		obs.reason, obs.detail = ReasonWrongVersion, versionDetail(h.Version, headerVersion, cfg.ExpectVersion)
	default:
		obs.ok = true
	}
	return obs
}

// slotDetail says which slot answered, and what is missing when the body's "slot" field or the
// X-Slot header is, so a team writing its own health endpoint sees what to add.
func slotDetail(body, header, want string) string {
	if body != "" && header != "" {
		return fmt.Sprintf("answered by slot %q (X-Slot %q), want %q", body, header, want)
	}
	return fmt.Sprintf("slot: %s, %s; want %q in both (the app's SLOT_NAME setting)", said(`body field "slot"`, body), said("X-Slot header", header), want)
}

// versionDetail says which version answered, or that the body's "version" field is missing.
func versionDetail(body, header, want string) string {
	if body != "" {
		return fmt.Sprintf("version %q (X-Version %q), want %q", body, header, want)
	}
	return fmt.Sprintf(`version: body field "version" missing; want %q (an X-Version header, when sent, must agree)`, want)
}

func said(what, value string) string {
	if value == "" {
		return what + " missing"
	}
	return fmt.Sprintf("%s %q", what, value)
}

// failingChecks lists the checks that did not pass, with their errors, which
// the functionapp keeps free of secrets by design.
func failingChecks(h healthBody) string {
	var parts []string
	for name, c := range h.Checks {
		if c.Status == healthStatusOK {
			continue
		}
		p := name
		if c.Error != "" {
			p += " (" + clip(c.Error, 200) + ")"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return ""
	}
	sort.Strings(parts)
	return ", failing checks: " + strings.Join(parts, "; ")
}

// clip shortens s and drops control characters so an odd error text cannot
// break the one-line-per-poll progress output.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// noRedirects returns a copy of c that hands 3xx answers back instead of
// following them, so the pinning token never travels to another host.
func noRedirects(c *http.Client) *http.Client {
	var cc http.Client
	if c != nil {
		cc = *c
	}
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &cc
}

// redactURL drops user info and query, the parts that can carry credentials.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment = nil, "", false, ""
	return u.String()
}

// headerNames lists which headers are sent, so a wrong key can be diagnosed
// without ever printing one.
func headerNames(h map[string]string) []string {
	names := make([]string, 0, len(h))
	for k := range h {
		names = append(names, http.CanonicalHeaderKey(k))
	}
	sort.Strings(names)
	return names
}
