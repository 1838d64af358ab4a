package stack

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/web/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// With gatewayAudience, only API Management reaches the apps. IP access restrictions cannot
// do it on every tier the stack supports: the Consumption tier has no static outbound
// address, and the ApiManagement service tag covers the management plane, not the gateway's
// calls. So API Management authenticates instead: its user-assigned identity gets a token for
// the audience (the authentication-managed-identity policy, NewPolicyInput), and each app's
// built-in authentication (authsettingsV2) accepts only a token for that audience issued to
// that identity, answering 401 to anything else, a direct call with the function key included
// (MicrosoftDocs azure-docs, app-service/configure-authentication-provider-aad.md: "Use a
// built-in authorization policy", the client application requirement; overview-
// authentication-authorization.md, "HTTP 401 Unauthorized" for unauthenticated requests).
//
// The audience is an app registration the user creates: azure-native manages Azure resources,
// not Entra applications. Entra issues a token for it only once it has a service principal in
// the tenant (AADSTS500011 otherwise), which `az ad app create` does not make.
//
// It rolls out in two phases (gatewayAuthPhase), because nothing in one `pulumi up` can order
// what matters: DependsOn orders ARM writes, not Entra issuing the gateway its first token nor
// the apps accepting it.
//   - observe: the policy sends the token when it can get one and lets the request through
//     when it cannot; each app validates a token it is given, passing the caller's principal
//     to the code (X-MS-CLIENT-PRINCIPAL-ID), but lets requests without one through
//     (AllowAnonymous: "defers authorization of unauthenticated traffic to your application
//     code. For authenticated requests, App Service also passes along authentication
//     information in the HTTP headers", overview-authentication-authorization.md). Nothing is
//     refused yet, and `slotless gateway-auth` shows whether each slot sees the gateway's
//     principal, which it does only when the token was issued and validated.
//   - require: each app answers 401 to a request without a valid token, the idle slot's app
//     changed first; the policy fails a request it cannot get a token for at the gateway
//     (ignore-error="false"), so the cause shows as a gateway error with Entra's message in its
//     records, not as 401s from the apps that read like the caller's fault.
//
// Turning it off runs in reverse: stop requiring (observe), then remove gatewayAudience, which
// takes the token out of the policy before the apps' authentication is deleted. The program
// refuses the steps that skip a phase, from the outputs of the last update (AuthPhaseGuard).

// AuthPhase is how far the apps' built-in authentication is rolled out.
type AuthPhase string

// The phases: off without gatewayAudience, then observe and require (gatewayAuthPhase).
const (
	AuthOff     AuthPhase = "off"
	AuthObserve AuthPhase = "observe"
	AuthRequire AuthPhase = "require"
)

// AuthPhases are the values gatewayAuthPhase allows.
var AuthPhases = []string{string(AuthObserve), string(AuthRequire)}

// Outputs of the gateway's authentication: the phase the update left (off without
// gatewayAudience), which the next update reads back (AuthPhaseGuard) and `slotless deploy` and
// `slotless gateway-auth` read; and, with gatewayAudience, the audience and the principal
// (object) id of the gateway's identity, the X-MS-CLIENT-PRINCIPAL-ID an app sees on a request
// whose token it validated.
const (
	OutGatewayAuthPhase   = "gatewayAuthPhase"
	OutGatewayAudience    = "gatewayAudience"
	OutGatewayPrincipalID = "gatewayPrincipalId"
)

// gatewayAuthPhase reads gatewayAuthPhase: observe when unset; off without gatewayAudience,
// where require is refused (there is nothing to require). set reports whether the stack file
// sets it.
func (p *parser) gatewayAuthPhase(audience string) (phase AuthPhase, set bool) {
	_, set = p.src("gatewayAuthPhase")
	phase = AuthPhase(p.oneOf("gatewayAuthPhase", string(AuthObserve), AuthPhases))
	if audience != "" {
		return phase, set
	}
	if phase == AuthRequire && !p.failed("gatewayAudience") {
		p.failf("gatewayAuthPhase: require needs gatewayAudience, the audience the apps would require a token for; set gatewayAudience, or unset gatewayAuthPhase")
	}
	return AuthOff, set
}

// AuthPhaseGuard refuses an update that skips a phase of the gateway's authentication, from
// the phase the last update recorded (OutGatewayAuthPhase in last, the outputs of a stack that
// has been deployed; a stack never deployed, or whose outputs could not be read, has none, and
// then nothing is refused: no app carries traffic yet, or nothing is known):
//   - require straight from off, before any update let the apps observe the gateway's tokens;
//   - gatewayAudience removed while the apps require its token: the policy would stop sending
//     it while the apps still refuse requests without one;
//   - gatewayAuthPhase left unset on a stack whose last update predates the phase, with
//     gatewayAudience set: that update made the apps require the token, and the default,
//     observe, would quietly stop requiring it.
func AuthPhaseGuard(cfg *Config, last map[string]any) error {
	if len(last) == 0 {
		return nil
	}
	recorded, ok := last[OutGatewayAuthPhase].(string)
	switch {
	case !ok && cfg.GatewayAudience != "" && !cfg.GatewayAuthPhaseSet:
		return fmt.Errorf("gatewayAuthPhase: unset, and the stack's last update predates it (its outputs have no %s), so whether its apps require the gateway's token is not known, and the default, observe, would stop requiring it; set gatewayAuthPhase require to keep requiring it, or observe to stop (docs/security.md#only-the-gateway-reaches-the-apps)", OutGatewayAuthPhase)
	case !ok:
		return nil
	case cfg.GatewayAuthPhase == AuthRequire && AuthPhase(recorded) == AuthOff:
		return fmt.Errorf("gatewayAuthPhase: require, but the last update left the apps without the gateway's authentication (off); requiring it in the same update that turns it on would answer 401 to every request the gateway cannot get a valid token for. Set gatewayAuthPhase observe (or leave it unset) and pulumi up, check with `slotless gateway-auth` that each slot sees the gateway's principal, then set require (docs/security.md#only-the-gateway-reaches-the-apps)")
	case cfg.GatewayAuthPhase == AuthOff && AuthPhase(recorded) == AuthRequire:
		return fmt.Errorf("gatewayAudience: unset, but the apps require the gateway's token since the last update (gatewayAuthPhase require); the policy would stop sending it while they still require it, and every request would get 401 until the update ends. Turn it off in reverse: pulumi config set gatewayAuthPhase observe && pulumi up, then pulumi config rm gatewayAuthPhase && pulumi config rm gatewayAudience && pulumi up")
	}
	return nil
}

// newGatewayIdentity declares the identity API Management calls the apps with, or nothing
// without gatewayAudience.
func newGatewayIdentity(ctx *pulumi.Context, n Names, cfg *Config, rg pulumi.StringInput, tags pulumi.StringMap) (*managedidentity.UserAssignedIdentity, error) {
	if cfg.GatewayAudience == "" {
		return nil, nil
	}
	id, err := managedidentity.NewUserAssignedIdentity(ctx, "gateway-identity", &managedidentity.UserAssignedIdentityArgs{
		ResourceName:      pulumi.String(n.GatewayIdentity()),
		ResourceGroupName: rg,
		Location:          pulumi.String(cfg.Location),
		Tags:              tags,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway identity: %w", err)
	}
	return id, nil
}

// GatewayAudiences are the audiences an app accepts: the registration's client id, as a token
// requested for it carries, and its default application id URI.
func GatewayAudiences(audience string) []string {
	return []string{audience, "api://" + audience}
}

// globalValidation is what an app does with a request in each phase: let it through without a
// valid token (observe), or answer 401 (require).
func globalValidation(phase AuthPhase) *web.GlobalValidationArgs {
	if phase == AuthRequire {
		return &web.GlobalValidationArgs{
			RequireAuthentication:       pulumi.Bool(true),
			UnauthenticatedClientAction: web.UnauthenticatedClientActionV2Return401,
		}
	}
	return &web.GlobalValidationArgs{
		RequireAuthentication:       pulumi.Bool(false),
		UnauthenticatedClientAction: web.UnauthenticatedClientActionV2AllowAnonymous,
	}
}

// requireGateway turns on each app's built-in authentication, validating the gateway
// identity's tokens for the audience, and requiring them in the require phase. It waits for
// the API policy, so API Management sends the token before any app validates it; the app of
// the slot that carries no traffic (the smaller share during a release) is changed first, and
// the live slot's only after it, so a change that fails stops before it reaches the users.
func requireGateway(ctx *pulumi.Context, cfg *Config, colours map[Slot]*Colour, rg pulumi.StringInput, identity *managedidentity.UserAssignedIdentity, policy pulumi.Resource) error {
	if cfg.GatewayAudience == "" {
		return nil
	}
	live := cfg.Weights.Live()
	after := []pulumi.Resource{policy}
	for _, slot := range []Slot{live.Other(), live} {
		c := colours[slot]
		auth, err := web.NewWebAppAuthSettingsV2(ctx, string(slot)+"-auth", &web.WebAppAuthSettingsV2Args{
			Name:              c.App.Name,
			ResourceGroupName: rg,
			Platform:          &web.AuthPlatformArgs{Enabled: pulumi.Bool(true)},
			GlobalValidation:  globalValidation(cfg.GatewayAuthPhase),
			IdentityProviders: &web.IdentityProvidersArgs{AzureActiveDirectory: &web.AzureActiveDirectoryArgs{
				Enabled: pulumi.Bool(true),
				Registration: &web.AzureActiveDirectoryRegistrationArgs{
					ClientId:     pulumi.String(cfg.GatewayAudience),
					OpenIdIssuer: pulumi.Sprintf("https://sts.windows.net/%s/v2.0", identity.TenantId),
				},
				Validation: &web.AzureActiveDirectoryValidationArgs{
					AllowedAudiences: pulumi.ToStringArray(GatewayAudiences(cfg.GatewayAudience)),
					DefaultAuthorizationPolicy: &web.DefaultAuthorizationPolicyArgs{
						AllowedApplications: pulumi.StringArray{identity.ClientId},
					},
				},
			}},
		}, pulumi.Parent(c), pulumi.DependsOn(after))
		if err != nil {
			return fmt.Errorf("colour %s authentication: %w", slot, err)
		}
		after = append(after, auth)
	}
	return nil
}

// exportGatewayAuth records the phase this update leaves, and with gatewayAudience the
// audience and the gateway identity's principal id.
func exportGatewayAuth(ctx *pulumi.Context, cfg *Config, identity *managedidentity.UserAssignedIdentity) {
	ctx.Export(OutGatewayAuthPhase, pulumi.String(string(cfg.GatewayAuthPhase)))
	if identity == nil {
		return
	}
	ctx.Export(OutGatewayAudience, pulumi.String(cfg.GatewayAudience))
	ctx.Export(OutGatewayPrincipalID, identity.PrincipalId)
}

// FunctionKeyNamedValue is the id of the secret named value holding a slot's function key in
// a service the stack creates; a reused service's ids carry the scope of its pool's id
// (APIMIDs), which `slotless deploy` reads from the poolId output.
func FunctionKeyNamedValue(poolID string, s Slot) string {
	return strings.TrimSuffix(poolID, PoolID) + functionKeyName(s)
}
