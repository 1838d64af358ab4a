package stack_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

const (
	teamSub       = "11111111-2222-3333-4444-555555555555"
	teamSubnet    = "/subscriptions/" + teamSub + "/resourceGroups/network-rg/providers/Microsoft.Network/virtualNetworks/orders-vnet/subnets/functions"
	teamComponent = "/subscriptions/" + teamSub + "/resourceGroups/observability-rg/providers/Microsoft.Insights/components/orders-ai"
	teamWorkspace = "/subscriptions/" + teamSub + "/resourceGroups/observability-rg/providers/Microsoft.OperationalInsights/workspaces/orders-logs"
)

// The ids the mock engine answers for the team's resources: in the subscription the stack deploys
// to, which is where azure-native looks them up.
var (
	mockTeamComponent = "/subscriptions/" + plan.MockSubscription + "/resourceGroups/observability-rg/providers/Microsoft.Insights/components/orders-ai"
	mockTeamWorkspace = "/subscriptions/" + plan.MockSubscription + "/resourceGroups/observability-rg/providers/Microsoft.OperationalInsights/workspaces/" + plan.MockWorkspaceName("orders-ai")
)

// runWith runs the whole program under the mock engine with a config and a last update's
// outputs, returning what the engine saw.
func runWith(t *testing.T, m *plan.Mocks, overrides map[string]string) error {
	t.Helper()
	cfg := config(t, overrides)
	return pulumi.RunErr(stack.ProgramBy(stack.Mover{By: stack.ByPulumiUp}), pulumi.WithMocks("slotless", "test", m), func(info *pulumi.RunInfo) {
		info.Config = cfg.Values
		info.ConfigSecretKeys = cfg.Secrets
	})
}

func recorded(m *plan.Mocks, typ, name string) *plan.Recorded {
	for i := range m.Recorded {
		if r := &m.Recorded[i]; r.Type == typ && r.Name == name {
			return r
		}
	}
	return nil
}

func countOf(m *plan.Mocks, typ string) int {
	n := 0
	for _, r := range m.Recorded {
		if r.Type == typ {
			n++
		}
	}
	return n
}

func flatOf(r *plan.Recorded) map[string]string {
	return plan.Flatten(planInputs(r.Inputs))
}

// planInputs are a recording's inputs as the plan renders them.
func planInputs(pm resource.PropertyMap) map[string]any {
	return resource.NewObjectProperty(pm).Mappable().(map[string]any)
}

// TestSubnetOnBothApps: virtualNetworkSubnetId names the team's subnet on both apps; without it
// neither app names one.
func TestSubnetOnBothApps(t *testing.T) {
	for _, tt := range []struct {
		name, subnet string
	}{{"a subnet", teamSubnet}, {"none", ""}} {
		t.Run(tt.name, func(t *testing.T) {
			overrides := map[string]string{}
			if tt.subnet != "" {
				overrides["virtualNetworkSubnetId"] = tt.subnet
			}
			p := runPlan(t, overrides)
			for _, slot := range stack.Slots {
				flat := plan.Flatten(find(t, p, "azure-native:web:WebApp", string(slot)+"-app").Inputs)
				got, ok := flat["virtualNetworkSubnetId"]
				if tt.subnet == "" {
					if ok {
						t.Errorf("%s names subnet %s, want none", slot, got)
					}
					continue
				}
				if got != q(tt.subnet) {
					t.Errorf("%s: virtualNetworkSubnetId %s, want %s", slot, got, q(tt.subnet))
				}
			}
		})
	}
}

// TestASubnetReachesTheIdleSlotOnly: a subnet set on a deployed stack whose green slot carries
// the traffic is a new configuration: blue's app names it, green's holds its
// virtualNetworkSubnetId as deployed.
func TestASubnetReachesTheIdleSlotOnly(t *testing.T) {
	m := &plan.Mocks{LastOutputs: map[string]any{
		stack.OutBlueWeight:          0.0,
		stack.OutSettingsGenerations: map[string]any{"desired": 1.0, "green": 1.0, "blue": 1.0},
		stack.OutSettingsHashes:      map[string]any{"desired": "before", "green": "before", "blue": "before"},
	}, LastSecrets: []string{stack.OutSettingsHashes}}
	if err := runWith(t, m, map[string]string{"virtualNetworkSubnetId": teamSubnet}); err != nil {
		t.Fatal(err)
	}
	green, blue := recorded(m, "azure-native:web:WebApp", "green-app"), recorded(m, "azure-native:web:WebApp", "blue-app")
	if !slices.Contains(green.Ignore, "virtualNetworkSubnetId") {
		t.Errorf("green, which carries the traffic, ignores %v; want its subnet held", green.Ignore)
	}
	if len(blue.Ignore) > 0 || flatOf(blue)["virtualNetworkSubnetId"] != q(teamSubnet) {
		t.Errorf("blue ignores %v and names %s; want the subnet applied", blue.Ignore, flatOf(blue)["virtualNetworkSubnetId"])
	}
}

// TestReusedApplicationInsights: with appInsightsResourceId the stack creates no workspace and
// no component; both apps get the team component's connection string and Entra-only ingestion,
// and each slot's identity publishes metrics to that component.
func TestReusedApplicationInsights(t *testing.T) {
	m := &plan.Mocks{}
	if err := runWith(t, m, map[string]string{"appInsightsResourceId": teamComponent}); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"azure-native:operationalinsights:Workspace", "azure-native:applicationinsights:Component"} {
		if n := countOf(m, typ); n != 0 {
			t.Errorf("%d %s registered, want none", n, typ)
		}
	}
	var looked []string
	for _, c := range m.Calls {
		looked = append(looked, c.Token)
	}
	for _, want := range []string{"azure-native:applicationinsights:getComponent", "azure-native:operationalinsights:getWorkspace"} {
		if !slices.Contains(looked, want) {
			t.Errorf("the program never invoked %s (invoked %v)", want, looked)
		}
	}
	for _, slot := range stack.Slots {
		app := flatOf(recorded(m, "azure-native:web:WebApp", string(slot)+"-app"))
		settings := map[string]string{}
		for i := 0; ; i++ {
			n, ok := app["siteConfig.appSettings["+itoa(i)+"].name"]
			if !ok {
				break
			}
			settings[strings.Trim(n, `"`)] = strings.Trim(app["siteConfig.appSettings["+itoa(i)+"].value"], `"`)
		}
		if got := settings["APPLICATIONINSIGHTS_CONNECTION_STRING"]; !strings.Contains(got, "orders-ai.in.applicationinsights") {
			t.Errorf("%s reports to %q, want the team's component", slot, got)
		}
		if got := settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]; !strings.HasSuffix(got, ";Authorization=AAD") {
			t.Errorf("%s authenticates with %q, want Entra ID", slot, got)
		}
		grant := recorded(m, "azure-native:authorization:RoleAssignment", string(slot)+"-team-metrics-publisher")
		if grant == nil {
			t.Fatalf("%s's identity has no Monitoring Metrics Publisher on the team's component", slot)
		}
		g := flatOf(grant)
		if g["scope"] != q(mockTeamComponent) || !strings.HasSuffix(g["roleDefinitionId"], `/3913510d-42f4-4e42-8a64-420c390055eb"`) {
			t.Errorf("%s's publisher grant: scope %s role %s, want Monitoring Metrics Publisher at %s", slot, g["scope"], g["roleDefinitionId"], mockTeamComponent)
		}
		if recorded(m, "azure-native:authorization:RoleAssignment", string(slot)+"-metrics-publisher") != nil {
			t.Errorf("%s still publishes to a component of the stack's own", slot)
		}
	}
}

// TestReusedWorkspace: with logAnalyticsWorkspaceResourceId the slots' own components send to
// the team's workspace, and no workspace is created.
func TestReusedWorkspace(t *testing.T) {
	m := &plan.Mocks{}
	if err := runWith(t, m, map[string]string{"logAnalyticsWorkspaceResourceId": teamWorkspace}); err != nil {
		t.Fatal(err)
	}
	if n := countOf(m, "azure-native:operationalinsights:Workspace"); n != 0 {
		t.Errorf("%d workspaces registered, want none", n)
	}
	for _, slot := range stack.Slots {
		ai := recorded(m, "azure-native:applicationinsights:Component", "appinsights-"+string(slot))
		if ai == nil {
			t.Fatalf("no component of %s's own", slot)
		}
		want := "/subscriptions/" + plan.MockSubscription + "/resourceGroups/observability-rg/providers/Microsoft.OperationalInsights/workspaces/orders-logs"
		if got := flatOf(ai)["workspaceResourceId"]; got != q(want) {
			t.Errorf("%s's component sends to %s, want the team's workspace %s", slot, got, want)
		}
	}
	if recorded(m, "azure-native:applicationinsights:Component", "appinsights") != nil {
		t.Error("a shared component in a new stack")
	}
}

// TestTeamTelemetryThatCannotServe: a component that is not workspace-based, or one that cannot
// be read, fails the update before anything is registered, naming the key.
func TestTeamTelemetryThatCannotServe(t *testing.T) {
	for _, tt := range []struct {
		name  string
		mocks *plan.Mocks
		want  []string
	}{
		{"a classic component", &plan.Mocks{Components: map[string]map[string]any{"orders-ai": {"id": mockTeamComponent, "name": "orders-ai", "connectionString": "InstrumentationKey=k"}}},
			[]string{"appInsightsResourceId: Application Insights orders-ai is not workspace-based", "the metrics gate queries"}},
		{"a workspace without its id", &plan.Mocks{Workspaces: map[string]map[string]any{plan.MockWorkspaceName("orders-ai"): {"id": mockTeamWorkspace, "name": "w"}}},
			[]string{"appInsightsResourceId: Log Analytics workspace orders-ai-logs has no customer id"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := runWith(t, tt.mocks, map[string]string{"appInsightsResourceId": teamComponent})
			for _, want := range tt.want {
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Errorf("got %v, want it to contain %q", err, want)
				}
			}
			if n := len(tt.mocks.Recorded); n > 0 {
				t.Errorf("%d resources registered before the refusal, want none", n)
			}
		})
	}
}

// TestSwitchingToTheTeamsTelemetry: a deployed stack whose green slot carries the traffic and
// keeps its configuration still reports to the stack's own component there, so that component
// and its workspace stay, green's identity keeps publishing to it, and blue's publishes to the
// team's.
func TestSwitchingToTheTeamsTelemetry(t *testing.T) {
	m := &plan.Mocks{LastOutputs: map[string]any{
		stack.OutBlueWeight:          0.0,
		stack.OutSettingsGenerations: map[string]any{"desired": 1.0, "green": 1.0, "blue": 1.0},
		stack.OutSettingsHashes:      map[string]any{"desired": "before", "green": "before", "blue": "before"},
	}, LastSecrets: []string{stack.OutSettingsHashes}}
	if err := runWith(t, m, map[string]string{"appInsightsResourceId": teamComponent}); err != nil {
		t.Fatal(err)
	}
	if countOf(m, "azure-native:applicationinsights:Component") != 1 || countOf(m, "azure-native:operationalinsights:Workspace") != 1 {
		t.Fatalf("the stack's own component and workspace are gone while green still reports there")
	}
	for slot, want := range map[stack.Slot]string{stack.Green: "green-metrics-publisher", stack.Blue: "blue-team-metrics-publisher"} {
		if recorded(m, "azure-native:authorization:RoleAssignment", want) == nil {
			t.Errorf("%s: no grant %s", slot, want)
		}
	}
	if recorded(m, "azure-native:authorization:RoleAssignment", "green-team-metrics-publisher") != nil || recorded(m, "azure-native:authorization:RoleAssignment", "blue-metrics-publisher") != nil {
		t.Error("a slot publishes to a component it does not report to")
	}
}

// TestReleaseAccessFollowsTheTelemetry: the release role is assigned on the team's component and
// workspace when they are outside the stack's group, and they are among its assignable scopes;
// in the stack's own group, the group's assignment covers them.
func TestReleaseAccessFollowsTheTelemetry(t *testing.T) {
	const principal = "6f1f2a8e-3c1b-4b8e-9a51-2d7c4e0b9f10"
	group := "/subscriptions/" + plan.MockSubscription + "/resourceGroups/slotless-test-rg"
	for _, tt := range []struct {
		name      string
		component string
		scopes    []string
	}{
		{"elsewhere", teamComponent, []string{group, mockTeamComponent, mockTeamWorkspace}},
		{"in the stack's group", strings.Replace(teamComponent, "observability-rg", "slotless-test-rg", 1), []string{group}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := runPlan(t, map[string]string{"releasePrincipalId": principal, "appInsightsResourceId": tt.component})
			var scopes []string
			for _, r := range p.Resources {
				// The main role's assignments: the traffic and key roles are on API Management's
				// children (TestReleaseAccess).
				if r.Type == "azure-native:authorization:RoleAssignment" && strings.HasPrefix(r.Name, "release-") &&
					!strings.HasPrefix(r.Name, "release-traffic-") && !strings.HasPrefix(r.Name, "release-keys-") {
					scopes = append(scopes, strings.Trim(plan.Flatten(r.Inputs)["scope"], `"`))
				}
			}
			if !slices.Equal(scopes, tt.scopes) {
				t.Errorf("release assignments at %v, want %v", scopes, tt.scopes)
			}
			var role map[string]string
			for _, r := range p.Resources {
				if r.Type == "azure-native:authorization:RoleDefinition" && r.Name == "release-role" {
					role = plan.Flatten(r.Inputs)
				}
			}
			for i, want := range tt.scopes {
				if got := role["assignableScopes["+itoa(i)+"]"]; got != q(want) {
					t.Errorf("assignable scope %d: got %s, want %s", i, got, q(want))
				}
			}
		})
	}
}

// componentOf is the ARM id the mock engine gives a component of the stack's group.
func componentOf(name string) string {
	return "/subscriptions/" + plan.MockSubscription + "/resourceGroups/slotless-test-rg/providers/Microsoft.Insights/components/" + name
}

// publisherGrants are the Monitoring Metrics Publisher assignments of a slot's identity: their
// names and scopes.
func publisherGrants(m *plan.Mocks, slot stack.Slot) map[string]string {
	out := map[string]string{}
	for _, r := range m.Recorded {
		if r.Type != "azure-native:authorization:RoleAssignment" || !strings.HasPrefix(r.Name, string(slot)+"-") {
			continue
		}
		f := flatOf(&r)
		if strings.HasSuffix(f["roleDefinitionId"], `/3913510d-42f4-4e42-8a64-420c390055eb"`) {
			out[r.Name] = strings.Trim(f["scope"], `"`)
		}
	}
	return out
}

// connectionString is the APPLICATIONINSIGHTS_CONNECTION_STRING a slot's app is given.
func connectionString(m *plan.Mocks, slot stack.Slot) string {
	app := flatOf(recorded(m, "azure-native:web:WebApp", string(slot)+"-app"))
	for i := 0; ; i++ {
		n, ok := app["siteConfig.appSettings["+itoa(i)+"].name"]
		if !ok {
			return ""
		}
		if n == q("APPLICATIONINSIGHTS_CONNECTION_STRING") {
			return strings.Trim(app["siteConfig.appSettings["+itoa(i)+"].value"], `"`)
		}
	}
}

// TestEachSlotReportsToItsOwnComponent: a stack of its own telemetry creates a component per
// slot in its workspace, each Entra-only; each app sends to its own, and its identity may
// publish to its own and to no other, so the canary cannot write into the stable slot's
// component, whose rows the metrics gate takes as the stable slot's (_ResourceId).
func TestEachSlotReportsToItsOwnComponent(t *testing.T) {
	m := &plan.Mocks{}
	if err := runWith(t, m, nil); err != nil {
		t.Fatal(err)
	}
	if recorded(m, "azure-native:applicationinsights:Component", "appinsights") != nil {
		t.Error("a shared component in a new stack")
	}
	for _, slot := range stack.Slots {
		name := "slotless-" + hash + "-" + string(slot) + "-appi"
		ai := recorded(m, "azure-native:applicationinsights:Component", "appinsights-"+string(slot))
		if ai == nil {
			t.Fatalf("no component of %s's own", slot)
		}
		f := flatOf(ai)
		if f["resourceName"] != q(name) || f["disableLocalAuth"] != "true" || f["ingestionMode"] != q("LogAnalytics") || f["workspaceResourceId"] == "" {
			t.Errorf("%s's component: %v, want %s, workspace-based, Entra-only", slot, f, name)
		}
		if got := connectionString(m, slot); !strings.Contains(got, name+".in.applicationinsights") {
			t.Errorf("%s sends to %q, want its own component %s", slot, got, name)
		}
		want := map[string]string{string(slot) + "-own-metrics-publisher": componentOf(name)}
		if got := publisherGrants(m, slot); !maps.Equal(got, want) {
			t.Errorf("%s's publisher grants: %v, want only %v", slot, got, want)
		}
	}
}

// TestUpgradeFromTheSharedComponent: a stack deployed when both slots shared its one component,
// green live. Green keeps its settings, so it keeps reporting to the shared component, which
// stays, and its identity keeps publishing there; blue, idle, moves to its own component and
// publishes there only. The next update after a release that makes green idle moves green too,
// and the shared component goes.
func TestUpgradeFromTheSharedComponent(t *testing.T) {
	shared := componentOf("slotless-" + hash + "-appi")
	blueOwn := componentOf("slotless-" + hash + "-blue-appi")
	greenOwn := componentOf("slotless-" + hash + "-green-appi")
	for _, tt := range []struct {
		name       string
		last       map[string]any
		components []string
		grants     map[stack.Slot]map[string]string
		sends      map[stack.Slot]string
	}{
		{"green live, recorded as shared",
			map[string]any{
				stack.OutBlueWeight:          0.0,
				stack.OutSettingsGenerations: map[string]any{"desired": 1.0, "green": 1.0, "blue": 1.0},
				stack.OutSettingsHashes:      map[string]any{"desired": "before", "green": "before", "blue": "before"},
				stack.OutTelemetryComponents: map[string]any{"desired": "own", "green": "own", "blue": "own"},
			},
			[]string{"appinsights", "appinsights-blue"},
			map[stack.Slot]map[string]string{stack.Green: {"green-metrics-publisher": shared}, stack.Blue: {"blue-own-metrics-publisher": blueOwn}},
			map[stack.Slot]string{stack.Blue: "slotless-" + hash + "-blue-appi"}},
		{"green live, deployed before the record",
			map[string]any{
				stack.OutBlueWeight:          0.0,
				stack.OutSettingsGenerations: map[string]any{"desired": 1.0, "green": 1.0, "blue": 1.0},
				stack.OutSettingsHashes:      map[string]any{"desired": "before", "green": "before", "blue": "before"},
			},
			[]string{"appinsights", "appinsights-blue"},
			map[stack.Slot]map[string]string{stack.Green: {"green-metrics-publisher": shared}, stack.Blue: {"blue-own-metrics-publisher": blueOwn}},
			map[stack.Slot]string{stack.Blue: "slotless-" + hash + "-blue-appi"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := &plan.Mocks{LastOutputs: tt.last, LastSecrets: []string{stack.OutSettingsHashes}}
			if err := runWith(t, m, nil); err != nil {
				t.Fatal(err)
			}
			var components []string
			for _, r := range m.Recorded {
				if r.Type == "azure-native:applicationinsights:Component" {
					components = append(components, r.Name)
				}
			}
			slices.Sort(components)
			if !slices.Equal(components, tt.components) {
				t.Errorf("components %v, want %v", components, tt.components)
			}
			for slot, want := range tt.grants {
				if got := publisherGrants(m, slot); !maps.Equal(got, want) {
					t.Errorf("%s's publisher grants: %v, want only %v", slot, got, want)
				}
			}
			for slot, name := range tt.sends {
				if got := connectionString(m, slot); !strings.Contains(got, name+".in.applicationinsights") {
					t.Errorf("%s sends to %q, want %s", slot, got, name)
				}
			}
			if slices.Contains(components, "appinsights-green") {
				t.Errorf("green has a component of its own (%s) before it reports there", greenOwn)
			}
		})
	}
}
