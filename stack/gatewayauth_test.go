package stack_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

const testAudience = "5f0c2b1a-8e7d-4c6b-9a5f-4e3d2c1b0a9f"

// TestGatewayAuthPhaseConfig: gatewayAuthPhase is observe unless set; off without
// gatewayAudience, where require is refused naming both keys; any other value is refused with
// the allowed ones.
func TestGatewayAuthPhaseConfig(t *testing.T) {
	for _, tt := range []struct {
		name      string
		set       map[string]string
		want      stack.AuthPhase
		wantSet   bool
		wantError string
	}{
		{"off without an audience", nil, stack.AuthOff, false, ""},
		{"observe by default", map[string]string{"gatewayAudience": testAudience}, stack.AuthObserve, false, ""},
		{"observe set", map[string]string{"gatewayAudience": testAudience, "gatewayAuthPhase": "observe"}, stack.AuthObserve, true, ""},
		{"require", map[string]string{"gatewayAudience": testAudience, "gatewayAuthPhase": "require"}, stack.AuthRequire, true, ""},
		{"observe without an audience is off", map[string]string{"gatewayAuthPhase": "observe"}, stack.AuthOff, true, ""},
		{"require without an audience", map[string]string{"gatewayAuthPhase": "require"}, "", false, "gatewayAuthPhase: require needs gatewayAudience"},
		{"another value", map[string]string{"gatewayAudience": testAudience, "gatewayAuthPhase": "enforce"}, "", false, `gatewayAuthPhase: "enforce" is not valid, want one of observe, require`},
		{"capitalised", map[string]string{"gatewayAudience": testAudience, "gatewayAuthPhase": "Require"}, "", false, `gatewayAuthPhase: "Require" is not valid, want one of observe, require`},
		{"an audience that is not a GUID is the only error", map[string]string{"gatewayAudience": "orders", "gatewayAuthPhase": "require"}, "", false, `gatewayAudience: "orders" is not valid`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config(t, tt.set)
			c, err := stack.Parse(cfg.Source())
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("got %v, want an error with %q", err, tt.wantError)
				}
				if strings.Count(err.Error(), "\n") > 0 {
					t.Errorf("got several errors, want one:\n%v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.GatewayAuthPhase != tt.want || c.GatewayAuthPhaseSet != tt.wantSet {
				t.Errorf("got phase %q (set %v), want %q (set %v)", c.GatewayAuthPhase, c.GatewayAuthPhaseSet, tt.want, tt.wantSet)
			}
		})
	}
}

// TestAuthPhaseGuard: from the phase the last update recorded, the program refuses to require
// the gateway's token in the update that turns it on, to remove the audience while the apps
// require its token, and to take the default on a stack deployed before the phase existed
// with the audience set; every step of the documented order goes through, and so does any
// update of a stack never deployed (the offline plan's case) or of one whose phase is unchanged.
func TestAuthPhaseGuard(t *testing.T) {
	deployedBefore := map[string]any{stack.OutSlotlessVersion: "v1.0.0", stack.OutBlueWeight: 0.0}
	deployedIn := func(phase stack.AuthPhase) map[string]any {
		return map[string]any{stack.OutSlotlessVersion: "v1.2.0", stack.OutBlueWeight: 0.0, stack.OutGatewayAuthPhase: string(phase)}
	}
	audience := map[string]string{"gatewayAudience": testAudience}
	phase := func(p string) map[string]string {
		return map[string]string{"gatewayAudience": testAudience, "gatewayAuthPhase": p}
	}
	for _, tt := range []struct {
		name      string
		set       map[string]string
		last      map[string]any
		wantError string
	}{
		{"turn on: observe from off", audience, deployedIn(stack.AuthOff), ""},
		{"then require", phase("require"), deployedIn(stack.AuthObserve), ""},
		{"require stays", phase("require"), deployedIn(stack.AuthRequire), ""},
		{"turn off: observe from require", phase("observe"), deployedIn(stack.AuthRequire), ""},
		{"then off", nil, deployedIn(stack.AuthObserve), ""},
		{"off stays", nil, deployedIn(stack.AuthOff), ""},
		{"require from off", phase("require"), deployedIn(stack.AuthOff), "gatewayAuthPhase: require, but the last update left the apps without the gateway's authentication (off)"},
		{"off from require", nil, deployedIn(stack.AuthRequire), "gatewayAudience: unset, but the apps require the gateway's token since the last update (gatewayAuthPhase require)"},
		{"off from require with observe left set", map[string]string{"gatewayAuthPhase": "observe"}, deployedIn(stack.AuthRequire), "Turn it off in reverse: pulumi config set gatewayAuthPhase observe && pulumi up"},
		{"the default on a stack from before the phase", audience, deployedBefore, "gatewayAuthPhase: unset, and the stack's last update predates it"},
		{"require on a stack from before the phase", phase("require"), deployedBefore, ""},
		{"observe on a stack from before the phase", phase("observe"), deployedBefore, ""},
		{"no audience on a stack from before the phase", nil, deployedBefore, ""},
		{"require on a stack never deployed", phase("require"), nil, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := stack.Parse(config(t, tt.set).Source())
			if err != nil {
				t.Fatal(err)
			}
			err = stack.AuthPhaseGuard(c, tt.last)
			switch {
			case tt.wantError == "" && err != nil:
				t.Errorf("got %v, want the update to go through", err)
			case tt.wantError != "" && (err == nil || !strings.Contains(err.Error(), tt.wantError)):
				t.Errorf("got %v, want an error with %q", err, tt.wantError)
			}
		})
	}
}

// TestTheProgramRefusesASkippedPhase: the guard runs in the program, before anything is
// registered, with the outputs the engine answers for the last update.
func TestTheProgramRefusesASkippedPhase(t *testing.T) {
	m := &plan.Mocks{LastOutputs: map[string]any{stack.OutBlueWeight: 0.0, stack.OutGatewayAuthPhase: "off"}}
	cfg := config(t, map[string]string{"gatewayAudience": testAudience, "gatewayAuthPhase": "require"})
	err := pulumi.RunErr(stack.ProgramBy(stack.Mover{By: stack.ByPulumiUp}), pulumi.WithMocks("slotless", "test", m), func(info *pulumi.RunInfo) {
		info.Config = cfg.Values
	})
	if err == nil || !strings.Contains(err.Error(), "gatewayAuthPhase: require, but the last update left the apps without") {
		t.Fatalf("got %v, want the skipped phase refused", err)
	}
	if len(m.Recorded) > 0 {
		t.Errorf("registered %d resources before refusing, want none", len(m.Recorded))
	}
}

// TestGatewayAudience: with gatewayAudience, API Management gets a user-assigned identity, its
// policy sends a token for the audience got with that identity, and each app's built-in
// authentication validates a token for that audience from that identity: in observe it lets a
// request without one through and the policy does too; in require it answers 401 and the
// policy fails the request it cannot get a token for. The apps' authentication waits for the
// policy, and the idle slot's app goes first, the live one after it, whichever slot is live.
// Without gatewayAudience none of this is declared.
func TestGatewayAudience(t *testing.T) {
	clientID := "client-id-of-slotless-" + hash + "-gateway-id"
	for _, tt := range []struct {
		name        string
		set         map[string]string
		requireAuth string
		action      string
		ignoreError string
		first, then stack.Slot
	}{
		{"observe", map[string]string{}, "false", "AllowAnonymous", "true", stack.Blue, stack.Green},
		{"require", map[string]string{"gatewayAuthPhase": "require"}, "true", "Return401", "false", stack.Blue, stack.Green},
		{"require with blue live", map[string]string{"gatewayAuthPhase": "require", "blueWeight": "100"}, "true", "Return401", "false", stack.Green, stack.Blue},
		{"observe during a release", map[string]string{"blueWeight": "10"}, "false", "AllowAnonymous", "true", stack.Blue, stack.Green},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.set["gatewayAudience"] = strings.ToUpper(testAudience)
			mocks, err := plan.Execute("test", config(t, tt.set))
			if err != nil {
				t.Fatal(err)
			}
			tt.set["gatewayAudience"] = testAudience
			p := runPlan(t, tt.set)
			identity := find(t, p, "azure-native:managedidentity:UserAssignedIdentity", "gateway-identity")
			if got := identity.Inputs["resourceName"]; got != "slotless-"+hash+"-gateway-id" {
				t.Errorf("gateway identity name: got %v", got)
			}
			identityID := "/subscriptions/" + plan.MockSubscription + "/resourceGroups/slotless-test-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/slotless-" + hash + "-gateway-id"
			svc := plan.Flatten(find(t, p, "azure-native:apimanagement:ApiManagementService", "apim").Inputs)
			if svc["identity.type"] != q("UserAssigned") {
				t.Errorf("service identity type: got %s, want UserAssigned", svc["identity.type"])
			}
			if _, ok := svc["identity.userAssignedIdentities."+identityID]; !ok {
				t.Errorf("service identities %v lack %s", svc, identityID)
			}
			if got := find(t, p, "azure-native:apimanagement:NamedValue", stack.GatewayClientIDNamedValue).Inputs["value"]; got != clientID {
				t.Errorf("gateway-client-id: got %v, want %s", got, clientID)
			}
			policy := find(t, p, "azure-native:apimanagement:ApiPolicy", "api-policy").Inputs["value"].(string)
			if want := `<authentication-managed-identity resource="` + testAudience + `" client-id="{{gateway-client-id}}" ignore-error="` + tt.ignoreError + `" />`; !strings.Contains(policy, want) {
				t.Errorf("policy lacks %s:\n%s", want, policy)
			}
			urn := func(typ, name string) string { return "urn:pulumi:test::slotless::" + typ + "::" + name }
			var policyURN, firstURN string
			for _, r := range mocks.Recorded {
				if r.Type == "azure-native:apimanagement:ApiPolicy" {
					policyURN = urn(r.Type, r.Name)
				}
				if r.Type == "azure-native:web:WebAppAuthSettingsV2" && r.Name == string(tt.first)+"-auth" {
					firstURN = "urn:pulumi:test::slotless::" + stack.ColourType + "$azure-native:web:WebAppAuthSettingsV2::" + r.Name
				}
			}
			for _, slot := range stack.Slots {
				auth := plan.Flatten(find(t, p, "azure-native:web:WebAppAuthSettingsV2", string(slot)+"-auth").Inputs)
				for path, want := range map[string]string{
					"name":                                   q(plan.MockAutoName("azure-native:web:WebApp", string(slot)+"-app")),
					"platform.enabled":                       "true",
					"globalValidation.requireAuthentication": tt.requireAuth,
					"globalValidation.unauthenticatedClientAction":                                                        q(tt.action),
					"identityProviders.azureActiveDirectory.enabled":                                                      "true",
					"identityProviders.azureActiveDirectory.registration.clientId":                                        q(testAudience),
					"identityProviders.azureActiveDirectory.validation.allowedAudiences[0]":                               q(testAudience),
					"identityProviders.azureActiveDirectory.validation.allowedAudiences[1]":                               q("api://" + testAudience),
					"identityProviders.azureActiveDirectory.validation.defaultAuthorizationPolicy.allowedApplications[0]": q(clientID),
				} {
					if got := auth[path]; got != want {
						t.Errorf("%s-auth %s: got %s, want %s", slot, path, got, want)
					}
				}
				for _, r := range mocks.Recorded {
					if r.Type != "azure-native:web:WebAppAuthSettingsV2" || r.Name != string(slot)+"-auth" {
						continue
					}
					if !slices.Contains(r.DependsOn, policyURN) {
						t.Errorf("%s-auth depends on %v, want the API policy %s: the gateway sends tokens before an app validates them", slot, r.DependsOn, policyURN)
					}
					if waits := slices.Contains(r.DependsOn, firstURN); waits != (slot == tt.then) {
						t.Errorf("%s-auth depends on %v: waits for %s-auth %v, want %v (the idle slot's app first)", slot, r.DependsOn, tt.first, waits, slot == tt.then)
					}
					if !strings.Contains(r.Parent, stack.ColourType+"::"+string(slot)) {
						t.Errorf("%s-auth: parent %s, want its Colour", slot, r.Parent)
					}
				}
			}
		})
	}

	without := runPlan(t, nil)
	for _, r := range without.Resources {
		if r.Type == "azure-native:web:WebAppAuthSettingsV2" || r.Name == "gateway-identity" || r.Name == stack.GatewayClientIDNamedValue {
			t.Errorf("without gatewayAudience: got %s %s", r.Type, r.Name)
		}
	}
	if _, ok := plan.Flatten(find(t, without, "azure-native:apimanagement:ApiManagementService", "apim").Inputs)["identity.type"]; ok {
		t.Error("without gatewayAudience the service has an identity")
	}
	if policy := find(t, without, "azure-native:apimanagement:ApiPolicy", "api-policy").Inputs["value"].(string); strings.Contains(policy, "authentication-managed-identity") {
		t.Errorf("without gatewayAudience the policy gets a token:\n%s", policy)
	}
}

// TestFunctionKeyNamedValue: the key's named value follows the pool's scope, as APIMIDs gives
// both.
func TestFunctionKeyNamedValue(t *testing.T) {
	for _, tt := range []struct {
		cfg  *stack.Config
		slot stack.Slot
	}{
		{&stack.Config{}, stack.Green},
		{&stack.Config{APIM: stack.APIMConfig{ExistingName: "shared"}, API: stack.APIConfig{Path: "orders/v1"}}, stack.Blue},
	} {
		ids := stack.NewAPIMIDs(tt.cfg)
		if got, want := stack.FunctionKeyNamedValue(ids.Pool(), tt.slot), ids.FunctionKey(tt.slot); got != want {
			t.Errorf("%+v: got %s, want %s", tt.cfg.APIM, got, want)
		}
	}
}
