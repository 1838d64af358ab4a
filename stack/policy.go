package stack

import (
	"bytes"
	_ "embed"
	"encoding/xml"
	"fmt"
	"slices"
	"strings"
	"text/template"
)

// PoolID is the weighted pool every request goes through: its logical name, and its backend id
// in a service the stack creates (APIMIDs scopes the ids in a reused one).
const PoolID = "green-blue-pool"

//go:embed policy.xml
var policyTemplate string

var policyTmpl = template.Must(template.New("policy.xml").Funcs(template.FuncMap{
	"xml": xmlEscape,
}).Parse(policyTemplate))

func xmlEscape(s string) (string, error) {
	var b strings.Builder
	if err := xml.EscapeText(&b, []byte(s)); err != nil {
		return "", err
	}
	return b.String(), nil
}

// SubscriptionKeyHeader is the header APIM reads a subscription key from (the service default;
// the API does not rename it).
const SubscriptionKeyHeader = "Ocp-Apim-Subscription-Key"

// PolicyInput is what the API policy depends on.
//
// CORS, when origins are set, follows the APIM cors policy reference (MicrosoftDocs/azure-docs,
// articles/api-management/cors-policy.md):
//   - "Only the cors policy is evaluated on the OPTIONS request during preflight", so the
//     subscription check does not answer a preflight at API scope; but the preflight asks for
//     every header the real request carries, and a browser sends the subscription key as the
//     Ocp-Apim-Subscription-Key header, so that header must be allowed when a subscription is
//     required, or the browser never sends the request.
//   - "unexpected behavior if the cors policy is not the first policy in the inbound section",
//     and "generally, only the first cors policy is applied": it goes before <base />, so a
//     cors policy at a wider scope cannot shadow this API's.
//   - terminate-unmatched-request is set explicitly: the reference gives its default both as
//     false (attribute table) and as true (common configuration issues). With false, a request
//     from an origin not listed proceeds without CORS headers (the browser withholds the
//     answer from the page) instead of ending in an empty 200 that hides what happened.
//   - The API defines no OPTIONS operation; one would take over the preflight from the policy.
//   - allowed-methods and allowed-headers come from corsMethods and corsHeaders, in the order
//     given: "At least one method element is required if the allowed-methods section is
//     present", and allowed-headers is required with at least one header.
type PolicyInput struct {
	PoolID      string
	CORSOrigins []string
	// CORSMethods and CORSHeaders are the cors policy's allowed methods and headers; empty
	// means their defaults (DefaultCORSMethods; DefaultCORSHeaders, with SubscriptionKeyHeader
	// when a subscription is required), as Parse gives them.
	CORSMethods []string
	CORSHeaders []string
	// SubscriptionRequired mirrors the API's subscriptionRequired: browsers then send
	// SubscriptionKeyHeader, which CORS must allow.
	SubscriptionRequired bool
	// PinTokenNamedValue names the secret named value holding the pinning token; empty turns
	// slot pinning off. The token itself never appears in the policy, only {{name}}.
	PinTokenNamedValue string
	// PinnedBackends are the single backends a pinned request can go to.
	PinnedBackends []PinnedBackend
	// GatewayAudience, when set, makes API Management send every request to the apps with a
	// token for this audience, got with the user-assigned identity whose client id the named
	// value GatewayClientIDNamedValue holds (MicrosoftDocs azure-docs,
	// api-management/authentication-managed-identity-policy.md): the token goes in the
	// Authorization header, replacing the caller's.
	GatewayAudience           string
	GatewayClientIDNamedValue string
	// GatewayTokenRequired is the require phase (gatewayAuthPhase): a request the gateway cannot
	// get a token for fails at the gateway. The policy's ignore-error is then "false", its
	// default: "If set to true, the policy pipeline continues to execute even if an access
	// token isn't obtained" (the policy reference), so with false the pipeline stops and the
	// caller gets API Management's own error (500 without an on-error section, error handling
	// in API Management policies: "callers will receive 400 or 500 HTTP response messages"),
	// with Entra's reason (AADSTS500011 for an audience without a service principal) in the
	// gateway's trace and logs, and no request reaches an app without a token. With "true"
	// the request went on without one and each app answered 401, which reads as the caller's
	// fault and hides the cause in Entra. A <choose> returning a 503 of its own would need
	// the state of output-token-variable-name after a failed request, which the reference does
	// not document. In observe the apps let requests without a token through, so the policy
	// does too (ignore-error="true"), and `slotless gateway-auth` shows what the apps saw.
	GatewayTokenRequired bool
}

// GatewayClientIDNamedValue is the named value holding the client id of the identity API
// Management calls the apps with: its logical name, and its id in a service the stack creates.
const GatewayClientIDNamedValue = "gateway-client-id"

// PinnedBackend maps a slot name in X-Slotless-Slot to its backend.
type PinnedBackend struct {
	Slot      Slot
	BackendID string
}

// PinTokenNamedValue is the secret named value holding the slot pinning token: its logical name,
// and its id and display name in a service the stack creates (APIMIDs).
const PinTokenNamedValue = "slotless-pin-token"

// NewPolicyInput builds the policy input for a config: the pool, CORS, and slot pinning when a
// pinning token is configured. Backends and named values are named by the ids the stack gives
// them in its service (APIMIDs), scoped when the service is reused.
func NewPolicyInput(cfg *Config) PolicyInput {
	ids := NewAPIMIDs(cfg)
	in := PolicyInput{PoolID: ids.Pool(), CORSOrigins: cfg.API.CORSOrigins, CORSMethods: cfg.API.CORSMethods, CORSHeaders: cfg.API.CORSHeaders,
		SubscriptionRequired: cfg.API.SubscriptionRequired}
	if cfg.PinToken != "" {
		in.PinTokenNamedValue = ids.PinToken()
		for _, s := range Slots {
			in.PinnedBackends = append(in.PinnedBackends, PinnedBackend{Slot: s, BackendID: ids.Backend(s)})
		}
	}
	if cfg.GatewayAudience != "" {
		in.GatewayAudience, in.GatewayClientIDNamedValue = cfg.GatewayAudience, ids.GatewayClientID()
		in.GatewayTokenRequired = cfg.GatewayAuthPhase == AuthRequire
	}
	return in
}

// RenderPolicy renders the API policy canonically: a fixed template, tabs for indentation,
// one element a line, no trailing whitespace, and escaped values. The same config always yields
// the same bytes, so re-applying it never shows a whitespace-only diff.
func RenderPolicy(in PolicyInput) (string, error) {
	if len(in.CORSMethods) == 0 {
		in.CORSMethods = DefaultCORSMethods
	}
	if len(in.CORSHeaders) == 0 {
		in.CORSHeaders = slices.Clone(DefaultCORSHeaders)
		if in.SubscriptionRequired {
			in.CORSHeaders = append(in.CORSHeaders, SubscriptionKeyHeader)
		}
	}
	var b bytes.Buffer
	if err := policyTmpl.Execute(&b, in); err != nil {
		return "", fmt.Errorf("render api policy: %w", err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.Join(lines, "\n") + "\n", nil
}
