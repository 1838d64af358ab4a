package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// checkTimeout bounds each health check so a hung dependency turns into a
// failed check rather than a hung release gate.
const checkTimeout = 2 * time.Second

// Check is one named health probe. Run returns nil when the probe passes; the
// error text is shown to whoever reads /api/health, so it must not carry
// secrets.
type Check struct {
	Name string
	Run  func(ctx context.Context) error
}

// healthResponse is the /api/health payload.
type healthResponse struct {
	Status        string                 `json:"status"`
	Slot          string                 `json:"slot"`
	Version       string                 `json:"version"`
	UptimeSeconds float64                `json:"uptimeSeconds"`
	Checks        map[string]checkResult `json:"checks"`
	// ClientPrincipalID is the X-MS-CLIENT-PRINCIPAL-ID header App Service authentication set
	// on the request, empty without: slotless gateway-auth reads it to tell whether the slot
	// accepts the gateway's token (the health contract, docs/bring-your-own-app.md).
	ClientPrincipalID string `json:"clientPrincipalId"`
}

// checkResult is one entry of healthResponse.Checks.
type checkResult struct {
	Status     string  `json:"status"`
	Error      string  `json:"error,omitempty"`
	DurationMs float64 `json:"durationMs"`
}

const (
	statusOK   = "ok"
	statusFail = "fail"
)

// handleHealth runs every check concurrently, so the endpoint costs as much as
// its slowest check rather than their sum.
func (a *app) handleHealth(w http.ResponseWriter, r *http.Request) {
	results := make([]checkResult, len(a.checks))
	var wg sync.WaitGroup
	for i, c := range a.checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runCheck(r.Context(), c)
		}()
	}
	wg.Wait()

	resp := healthResponse{
		Status:        statusOK,
		Slot:          a.cfg.Slot,
		Version:       a.cfg.Version,
		UptimeSeconds: a.now().Sub(a.started).Seconds(),
		Checks:        make(map[string]checkResult, len(a.checks)),

		ClientPrincipalID: r.Header.Get("X-MS-CLIENT-PRINCIPAL-ID"),
	}
	for i, c := range a.checks {
		resp.Checks[c.Name] = results[i]
		if results[i].Status != statusOK {
			resp.Status = statusFail
		}
	}

	status := http.StatusOK
	if resp.Status != statusOK {
		status = http.StatusServiceUnavailable
		// A failing health check is what stops a rollout, so say why at warn
		// level even though per-request lines are otherwise debug.
		a.logger.WarnContext(r.Context(), "health check failed", "checks", resp.Checks)
	}
	writeJSON(w, status, resp)
}

// runCheck turns a panic into a failed check so one broken probe cannot take
// the whole endpoint down.
func runCheck(ctx context.Context, c Check) (res checkResult) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			res = checkResult{Status: statusFail, Error: fmt.Sprintf("check panicked: %v", p)}
		}
		res.DurationMs = float64(time.Since(start).Microseconds()) / 1000
	}()
	if err := c.Run(ctx); err != nil {
		return checkResult{Status: statusFail, Error: err.Error()}
	}
	return checkResult{Status: statusOK}
}

// defaultChecks returns the checks the deployed app runs. The dependency check
// only exists when HEALTH_DEPENDENCY_URL is set, so no check is ever a
// placeholder that always passes.
func defaultChecks(cfg Config, client *http.Client) []Check {
	checks := []Check{configCheck(cfg)}
	if cfg.DependencyURL != "" {
		checks = append(checks, httpCheck("dependency", cfg.DependencyURL, client))
	}
	return checks
}

// configCheck fails when the identity this app advertises is wrong: a release
// gate that cannot trust X-Slot and X-Version cannot tell the colours apart.
func configCheck(cfg Config) Check {
	return Check{Name: "config", Run: func(context.Context) error {
		var errs []error
		if cfg.Slot != "green" && cfg.Slot != "blue" {
			errs = append(errs, fmt.Errorf("%s=%q, want green or blue", envSlot, cfg.Slot))
		}
		if !validVersion(cfg.Version) {
			errs = append(errs, fmt.Errorf("version %q must be 1-64 characters of A-Z, a-z, 0-9, '.', '-', '+' or '_'", cfg.Version))
		}
		return errors.Join(errs...)
	}}
}

// validVersion keeps the version safe to put in a header and a log field.
func validVersion(v string) bool {
	if len(v) == 0 || len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '+', c == '_':
		default:
			return false
		}
	}
	return true
}

// httpCheck passes when url answers GET with a 2xx or 3xx status.
func httpCheck(name, url string, client *http.Client) Check {
	return Check{Name: name, Run: func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("build request: %w", err)
		}
		resp, err := client.Do(req)
		if err != nil {
			// The URL may hold a token in its query; report only the failure
			// kind, not the client's error text, which echoes the URL.
			return fmt.Errorf("GET dependency: %w", unwrapURLError(err))
		}
		defer resp.Body.Close()
		// Drain a little so the connection can be reused by the next probe.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		if resp.StatusCode >= 400 {
			return fmt.Errorf("GET dependency: status %d", resp.StatusCode)
		}
		return nil
	}}
}

// unwrapURLError strips the *url.Error wrapper, whose message includes the
// full URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
