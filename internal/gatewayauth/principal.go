package gatewayauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/slotless/slotless/stack"
)

// The pinned probe that says whether require is safe (gatewayAuthPhase). In observe the apps
// validate the gateway's token but let requests without one through, so users see nothing
// wrong either way; what tells the two apart is what the app's code sees. App Service passes
// the caller's principal to the code as the X-MS-CLIENT-PRINCIPAL-ID request header only when
// it validated the caller's token ("External requests aren't allowed to set these headers, so
// they're present only if set by App Service", MicrosoftDocs azure-docs,
// app-service/configure-authentication-user-identities.md), and for the gateway's
// user-assigned identity that id is its principal (object) id. The health function returns
// the header it got as clientPrincipalId (the health contract, docs/bring-your-own-app.md), so
// a slot whose health answer, through API Management, names the gateway's principal has
// received a token Entra issued and the app accepted: requiring it refuses no request the
// gateway forwards. A slot that names none got no token, or one the app rejected (no service
// principal for the audience, AADSTS500011, or the wrong issuer or audience).

// The pinning headers the API policy reads (stack/policy.xml), with the stack's pinToken, and
// the query parameter that marks slotless's own probes, so readers of the telemetry can leave
// them out of the users' figures.
const (
	headerPinSlot  = "X-Slotless-Slot"
	headerPinToken = "X-Slotless-Token"
	probeParam     = "slotless-probe"
)

// PrincipalField is the health answer's field holding the X-MS-CLIENT-PRINCIPAL-ID request
// header the app got, empty without one.
const PrincipalField = "clientPrincipalId"

// probeTimeout bounds one probe.
const probeTimeout = 10 * time.Second

// ErrNotSeen is a slot whose app did not see the gateway's principal.
var ErrNotSeen = errors.New("the slot does not see the gateway's principal")

// Probe asks a slot, through API Management and pinned to it, which principal its app saw.
type Probe struct {
	// HealthURL is the health operation through the gateway: stack output apiUrl + healthPath.
	HealthURL string
	// Headers carry what else the gateway needs (the subscription key), never a function key.
	Headers map[string]string
	// PinToken is the stack's pinToken.
	PinToken string
	// Client sends the probe; nil means a plain client. Redirects are never followed, as the
	// pinning token must not travel on.
	Client *http.Client
}

// Seen is what one slot's health answer said about the request.
type Seen struct {
	Slot stack.Slot
	// Status is the answer's status; AnsweredBy the slot its body named.
	Status     int
	AnsweredBy string
	// Reported says whether the answer carries clientPrincipalId at all: a health function
	// written before it was in the contract does not.
	Reported bool
	// Principal is clientPrincipalId: the principal the app saw, empty when it saw none.
	Principal string
}

// Ask sends the slot's health operation, pinned to it, with slotless-probe=1.
func (p Probe) Ask(ctx context.Context, slot stack.Slot) (Seen, error) {
	u, err := url.Parse(p.HealthURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return Seen{}, fmt.Errorf("probe %s: %q is not an absolute URL", slot, p.HealthURL)
	}
	q := u.Query()
	q.Set(probeParam, "1")
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Seen{}, fmt.Errorf("probe %s: %w", slot, err)
	}
	for k, v := range p.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set(headerPinSlot, string(slot))
	req.Header.Set(headerPinToken, p.PinToken)
	req.Header.Set("Accept", "application/json")
	resp, err := noRedirects(p.Client).Do(req)
	if err != nil {
		return Seen{}, fmt.Errorf("probe %s through API Management (%s): %w", slot, strings.SplitN(p.HealthURL, "?", 2)[0], err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	seen := Seen{Slot: slot, Status: resp.StatusCode}
	var body map[string]any
	if json.Unmarshal(raw, &body) == nil {
		seen.AnsweredBy, _ = body["slot"].(string)
		var principal any
		principal, seen.Reported = body[PrincipalField]
		seen.Principal, _ = principal.(string)
	}
	return seen, nil
}

// Judge says whether the slot saw the gateway's principal: nil when it did, else an error
// wrapping ErrNotSeen that says what it saw instead and where to look. audience is the stack's
// gatewayAudience.
func (s Seen) Judge(gatewayPrincipal, audience string) error {
	var why string
	switch {
	case s.Status != http.StatusOK:
		why = fmt.Sprintf("its health operation answered %d through API Management, want 200", s.Status)
		if s.Status == http.StatusInternalServerError {
			why += "; in require the gateway fails a request it cannot get a token for, with Entra's reason in its trace (is there a service principal for the audience? az ad sp show --id " + audience + ")"
		}
	case s.AnsweredBy != string(s.Slot):
		why = fmt.Sprintf("the answer came from %q, not %s: the request was not pinned to it (is SLOTLESS_PIN_TOKEN the stack's pinToken?)", s.AnsweredBy, s.Slot)
	case !s.Reported:
		why = fmt.Sprintf("its health answer has no %s: its health function predates it; have it return the X-MS-CLIENT-PRINCIPAL-ID request header it gets as %s (docs/bring-your-own-app.md#3-the-health-contract)", PrincipalField, PrincipalField)
	case s.Principal == "":
		why = fmt.Sprintf("its app saw no principal: API Management sent no token the app validated. Check that the audience has a service principal (az ad sp show --id %s; create it with az ad sp create --id %s: without one Entra refuses the gateway's token with AADSTS500011), and the app's authentication settings (issuer, allowed audiences)", audience, audience)
	case !strings.EqualFold(s.Principal, gatewayPrincipal):
		why = fmt.Sprintf("its app saw principal %s, not the gateway identity's %s", s.Principal, gatewayPrincipal)
	default:
		return nil
	}
	return fmt.Errorf("%w: %s: %s", ErrNotSeen, s.Slot, why)
}
