// Package gatewayauth checks what the gateway-only path (stack config gatewayAudience) promises,
// against the deployed apps rather than the config: that an app's own host refuses a caller
// that goes around API Management (directcall.go), and that each slot sees the gateway's
// principal on the requests API Management forwards (principal.go). The config alone proves
// neither: Azure accepts built-in authentication settings on a Flex Consumption app whether or
// not it enforces them (its preview documented that it did not), and whether Entra issues the
// gateway a token the apps accept depends on the tenant (a service principal for the audience,
// the issuer), not on anything the stack declares.
package gatewayauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/apimanagement/armapimanagement/v3"

	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/stack"
)

// headerFunctionKey is the header the Functions host reads a function key from.
const headerFunctionKey = "x-functions-key"

// Defaults of DirectCall: an app that a deployment or an authentication change just restarted
// may not answer for a while, which says nothing about its authentication, so a missing
// answer or a 502, 503 or 504 is asked again every DefaultDirectInterval until
// DefaultDirectTimeout; any other answer decides at once.
const (
	DefaultDirectTimeout  = 2 * time.Minute
	DefaultDirectInterval = 5 * time.Second
	directRequestTimeout  = 10 * time.Second
)

// ErrAnswersDirectCalls is an app that answers, at its own host, a request that carries its
// function key but no token, while the stack requires the gateway's token.
var ErrAnswersDirectCalls = errors.New("the app answers callers that go around API Management")

// DirectCall is the worst case of a caller that goes around the gateway: a request to the app's
// own host, https://<app>.azurewebsites.net, with its function key (which sits in API
// Management and the stack's state, so it is the credential most likely to leak) and no
// Authorization header. An app whose built-in authentication requires the gateway's token
// answers it 401 before the Functions host sees it; anything else means it is open.
type DirectCall struct {
	// App is the app's name and ResourceGroup its group, for messages; Host its default host
	// name (stack output <slot>Hostname).
	App, ResourceGroup, Host string
	// HealthPath is the health operation's path under the API (stack output healthPath); the
	// app serves it at /api<HealthPath>, a route every slotless app has.
	HealthPath string
	// FunctionKey is the app's default function key, as API Management sends it.
	FunctionKey string
	// Client sends the request; nil means a plain client. Redirects are never followed: a
	// redirect to a sign-in page is not a refusal, and the key must not travel on.
	Client *http.Client
	// Timeout and Interval bound how long an app that does not answer yet is asked again;
	// zero means the defaults.
	Timeout, Interval time.Duration
}

// URL is the address the call goes to, without the key.
func (d DirectCall) URL() string {
	return "https://" + strings.TrimSuffix(d.Host, "/") + "/api" + d.HealthPath
}

// Check sends the call, again while the app does not answer yet, and returns nil once it
// answers 401, or an error wrapping ErrAnswersDirectCalls that names the app, the status it
// answered and what to do.
func (d DirectCall) Check(ctx context.Context, progress io.Writer) error {
	if d.Host == "" || d.FunctionKey == "" {
		return fmt.Errorf("direct call to %s: no host name or function key to call it with", d.App)
	}
	client := noRedirects(d.Client)
	timeout, interval := d.Timeout, d.Interval
	if timeout <= 0 {
		timeout = DefaultDirectTimeout
	}
	if interval <= 0 {
		interval = DefaultDirectInterval
	}
	deadline := time.Now().Add(timeout)
	for attempt := 1; ; attempt++ {
		status, err := d.send(ctx, client)
		switch {
		case err == nil && status == http.StatusUnauthorized:
			fmt.Fprintf(progress, "%s refuses a direct call with its function key and no token (401 at %s)\n", d.App, d.URL())
			return nil
		case err == nil && status != http.StatusBadGateway && status != http.StatusServiceUnavailable && status != http.StatusGatewayTimeout:
			return fmt.Errorf("%w: %s answered %d, want 401, to a request at its own host (%s) with its function key and no token: its built-in authentication lets through callers that go around API Management, though the stack requires the gateway's token (gatewayAuthPhase require). Check the app's authentication settings (az webapp auth show --name %s --resource-group %s: requireAuthentication true, unauthenticatedClientAction Return401), and treat the app as reachable by anyone holding its function key until this check passes; Flex Consumption's preview accepted these settings without enforcing them (docs/security.md#only-the-gateway-reaches-the-apps)", ErrAnswersDirectCalls, d.App, status, d.URL(), d.App, d.ResourceGroup)
		case ctx.Err() != nil:
			return ctx.Err()
		}
		what := fmt.Sprintf("answered %d", status)
		if err != nil {
			what = "did not answer: " + err.Error()
		}
		if !time.Now().Add(interval).Before(deadline) {
			return fmt.Errorf("direct call to %s (%s): %s after %d attempts in %s; it must answer 401 before the deployment counts as done", d.App, d.URL(), what, attempt, timeout)
		}
		fmt.Fprintf(progress, "%s %s at its own host; asking again in %s\n", d.App, what, interval)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

func (d DirectCall) send(ctx context.Context, client *http.Client) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, directRequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL(), nil)
	if err != nil {
		return 0, fmt.Errorf("direct call to %s: %w", d.App, err)
	}
	req.Header.Set(headerFunctionKey, d.FunctionKey)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

// noRedirects is a copy of client (or a plain one) that never follows a redirect.
func noRedirects(client *http.Client) *http.Client {
	var c http.Client
	if client != nil {
		c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// FunctionKey reads a slot's function key from API Management: the secret named value its
// backend sends (stack.FunctionKeyNamedValue), through ARM's listValue, which the release role
// grants (Microsoft.ApiManagement/service/namedValues/listValue/action). poolID is the stack
// output poolId, which names the service and the ids' scope.
func FunctionKey(ctx context.Context, cred azcore.TokenCredential, opts *arm.ClientOptions, poolID string, slot stack.Slot) (string, error) {
	t, err := pool.TargetFromPoolID(poolID)
	if err != nil {
		return "", fmt.Errorf("function key of %s: %w", slot, err)
	}
	client, err := armapimanagement.NewNamedValueClient(t.Subscription, cred, opts)
	if err != nil {
		return "", fmt.Errorf("function key of %s: api management client: %w", slot, err)
	}
	id := stack.FunctionKeyNamedValue(t.PoolID, slot)
	resp, err := client.ListValue(ctx, t.ResourceGroup, t.Service, id, nil)
	if err != nil {
		return "", fmt.Errorf("function key of %s: read named value %s of %s: %w", slot, id, t.Service, err)
	}
	if resp.Value == nil || *resp.Value == "" {
		return "", fmt.Errorf("function key of %s: named value %s of %s is empty", slot, id, t.Service)
	}
	return *resp.Value, nil
}
