package azurefake

import (
	"slices"
	"strings"
	"testing"
)

const (
	networkRG = "/subscriptions/" + sub1 + "/resourceGroups/network-rg"
	vnetID    = networkRG + "/providers/Microsoft.Network/virtualNetworks/orders-vnet"
	deployer  = "0d3c2b1a-9f8e-4d7c-8b6a-5f4e3d2c1b0a"
)

// networkWorld is a resource group rg for the apps and a team's virtual network in westeurope,
// in network-rg, with subnets: functions (delegated to Microsoft.App/environments), plain (no
// delegation), web (delegated to Microsoft.Web/serverFarms), taken (delegated for Flex, but
// holding an App Service plan's link) and func_out (delegated, with an underscore); and a
// network in northeurope with a delegated subnet.
func networkWorld(t *testing.T) *Fake {
	t.Helper()
	f := newFake(t, sub1)
	mustCreate(t, f, "azure-native:resources:ResourceGroup", map[string]any{"resourceGroupName": "rg", "location": "westeurope"})
	if err := f.Store.Update(func(c *Cloud) error {
		c.PutVirtualNetwork(vnetID, "West Europe")
		c.PutSubnet(vnetID, "functions", "10.20.1.0/26", FlexDelegation)
		c.PutSubnet(vnetID, "plain", "10.20.2.0/26")
		c.PutSubnet(vnetID, "web", "10.20.3.0/26", "Microsoft.Web/serverFarms")
		c.LinkSubnet(c.PutSubnet(vnetID, "taken", "10.20.4.0/26", FlexDelegation), "AppServiceLink")
		c.PutSubnet(vnetID, "func_out", "10.20.5.0/26", FlexDelegation)
		far := networkRG + "/providers/Microsoft.Network/virtualNetworks/far-vnet"
		c.PutVirtualNetwork(far, "northeurope")
		c.PutSubnet(far, "functions", "10.30.1.0/26", FlexDelegation)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return f
}

func flexApp(name, subnet string) map[string]any {
	in := map[string]any{"resourceGroupName": "rg", "name": name, "kind": "functionapp,linux", "location": "westeurope"}
	if subnet != "" {
		in["virtualNetworkSubnetId"] = subnet
	}
	return in
}

// TestSubnetRules: a Flex Consumption app joins a subnet only as Azure lets it: one that exists,
// in its region, delegated to Microsoft.App/environments, named without '_', held by no other
// service, in a subscription with Microsoft.App registered, by a caller who may join it. Two Flex
// apps share one subnet.
func TestSubnetRules(t *testing.T) {
	for _, tt := range []struct {
		name   string
		subnet string
		setup  func(c *Cloud)
		want   string
	}{
		{"a delegated subnet in the app's region", vnetID + "/subnets/functions", nil, ""},
		{"in ARM's other spelling", strings.ToLower(vnetID) + "/subnets/functions", nil, ""},
		{"a subnet that does not exist", vnetID + "/subnets/missing", nil, "NotFound"},
		{"a virtual network that does not exist", networkRG + "/providers/Microsoft.Network/virtualNetworks/none/subnets/functions", nil, "NotFound"},
		{"without a delegation", vnetID + "/subnets/plain", nil, `Code="SubnetMissingRequiredDelegation" Message="Subnet plain in VNET orders-vnet is missing a delegation to Microsoft.App/environments`},
		{"delegated to App Service plans", vnetID + "/subnets/web", nil, "SubnetMissingRequiredDelegation"},
		{"in another region", networkRG + "/providers/Microsoft.Network/virtualNetworks/far-vnet/subnets/functions", nil, "is in northeurope and the app in westeurope: the app and the virtual network must be in the same region"},
		{"another service's subnet", vnetID + "/subnets/taken", nil, `Code="OnlyOneServiceAssociationLinkAllowedPerSubnet"`},
		{"an underscore in its name", vnetID + "/subnets/func_out", nil, "has an underscore in its name"},
		{"Microsoft.App not registered", vnetID + "/subnets/functions", func(c *Cloud) { c.Unregistered = map[string][]string{sub1: {"Microsoft.App"}} },
			`Code="MissingSubscriptionRegistration" Message="The subscription is not registered to use namespace 'Microsoft.App'`},
		{"Microsoft.App registered, another namespace not", vnetID + "/subnets/functions", func(c *Cloud) { c.Unregistered = map[string][]string{sub1: {"Microsoft.Sql"}} }, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := networkWorld(t)
			if tt.setup != nil {
				if err := f.Store.Update(func(c *Cloud) error { tt.setup(c); return nil }); err != nil {
					t.Fatal(err)
				}
			}
			_, _, err := f.Create("azure-native:web:WebApp", pm(flexApp("green", tt.subnet)), false)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want the app created", err)
				}
				c, _ := f.Store.Load()
				if links := c.SubnetLinks(tt.subnet); !slices.Equal(links, []string{flexLink}) {
					t.Errorf("the subnet's links: got %v, want Flex's %s", links, flexLink)
				}
				return
			}
			if !errMatches(err, tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			c, _ := f.Store.Load()
			if _, ok := c.Get("/subscriptions/" + sub1 + "/resourceGroups/rg/providers/Microsoft.Web/sites/green"); ok {
				t.Error("the refused app exists")
			}
			if last := c.Calls[len(c.Calls)-1]; last.Error == "" {
				t.Errorf("the refusal was not recorded: %+v", last)
			}
		})
	}
}

// TestSubnetJoinedOnUpdateAndShared: an update that names a subnet is refused as a create is,
// one that keeps the subnet it has is not checked again, and green and blue share one subnet.
func TestSubnetJoinedOnUpdateAndShared(t *testing.T) {
	f := networkWorld(t)
	green := mustCreate(t, f, "azure-native:web:WebApp", flexApp("green", ""))
	update := func(subnet string) error {
		c, _ := f.Store.Load()
		r, _ := c.Get(green)
		_, err := f.Update("azure-native:web:WebApp", green, pm(r.Inputs), pm(flexApp("green", subnet)), false)
		return err
	}
	if err := update(vnetID + "/subnets/plain"); !errMatches(err, "SubnetMissingRequiredDelegation") {
		t.Fatalf("an update joining a subnet without the delegation: got %v", err)
	}
	if err := update(vnetID + "/subnets/functions"); err != nil {
		t.Fatalf("an update joining the delegated subnet: %v", err)
	}
	// The network team drops the delegation later: the app keeps its integration, and an update
	// that leaves the subnet as it is goes through.
	if err := f.Store.Update(func(c *Cloud) error {
		s, _ := c.Get(vnetID + "/subnets/functions")
		s.Properties["delegations"] = []any{}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := update(vnetID + "/subnets/functions"); err != nil {
		t.Errorf("an update keeping its subnet: %v", err)
	}
	if err := f.Store.Update(func(c *Cloud) error {
		s, _ := c.Get(vnetID + "/subnets/functions")
		s.Properties["delegations"] = []any{map[string]any{"name": "flex", "properties": map[string]any{"serviceName": FlexDelegation}}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, f, "azure-native:web:WebApp", flexApp("blue", vnetID+"/subnets/functions"))
	c, _ := f.Store.Load()
	if links := c.SubnetLinks(vnetID + "/subnets/functions"); !slices.Equal(links, []string{flexLink}) {
		t.Errorf("two Flex apps on one subnet: links %v, want one %s", links, flexLink)
	}
}

// TestJoiningASubnetIsALinkedAccessCheck: a provider signed in as a service principal with
// Contributor on the apps' group writes the app, but naming a subnet of the network team's group
// also takes subnets/join/action there: LinkedAuthorizationFailed until it has it.
func TestJoiningASubnetIsALinkedAccessCheck(t *testing.T) {
	f := networkWorld(t)
	grant := func(name, scope, role string) {
		mustCreate(t, f, "azure-native:authorization:RoleAssignment", map[string]any{"roleAssignmentName": name, "scope": scope, "principalId": deployer,
			"roleDefinitionId": "/subscriptions/" + sub1 + "/providers/Microsoft.Authorization/roleDefinitions/" + role})
	}
	grant("7e6d5c4b-3a29-4f18-8e07-d6c5b4a39281", "/subscriptions/"+sub1+"/resourceGroups/rg", "b24988ac-6180-42a0-ab88-20f7382dd24c")
	if err := f.Store.Update(func(c *Cloud) error { c.ServicePrincipals = map[string]string{"deploy-client": deployer}; return nil }); err != nil {
		t.Fatal(err)
	}
	as := *f
	as.ClientID = "deploy-client"
	subnet := vnetID + "/subnets/functions"
	_, _, err := as.Create("azure-native:web:WebApp", pm(flexApp("green", subnet)), false)
	want := "LinkedAuthorizationFailed\" Message=\"The client '" + deployer + "' with object id '" + deployer + "' has permission to perform action 'Microsoft.Web/sites/write' on scope '/subscriptions/" + sub1 +
		"/resourceGroups/rg/providers/Microsoft.Web/sites/green'; however, it does not have permission to perform action 'Microsoft.Network/virtualNetworks/subnets/join/action' on the linked scope(s) '" + subnet + "'"
	if !errMatches(err, want) {
		t.Fatalf("without join on the subnet: got %v, want %s", err, want)
	}
	if _, _, err := as.Create("azure-native:web:WebApp", pm(flexApp("blue", "")), false); err != nil {
		t.Errorf("an app without a subnet: %v", err)
	}
	grant("8f7e6d5c-4b3a-4029-9f18-e7d6c5b4a392", subnet, "4d97b98b-1d4f-4787-a291-c67834d212e7")
	if _, _, err := as.Create("azure-native:web:WebApp", pm(flexApp("green", subnet)), false); err != nil {
		t.Errorf("with Network Contributor on the subnet: %v", err)
	}
}

// TestRoleAssignmentOnATeamsComponent: a role assignment scoped to a team's Application Insights
// in another group (and another subscription) is ARM's: it needs the component to exist, lives
// under it, and writing it needs Microsoft.Authorization/roleAssignments/write there, which
// Contributor on the component lacks and Owner has; it goes with the component.
func TestRoleAssignmentOnATeamsComponent(t *testing.T) {
	f := newFake(t, sub1)
	mustCreate(t, f, "azure-native:resources:ResourceGroup", map[string]any{"resourceGroupName": "rg", "location": "westeurope"})
	obs := "/subscriptions/" + sub2 + "/resourceGroups/observability-rg"
	ws, comp := obs+"/providers/Microsoft.OperationalInsights/workspaces/orders-logs", obs+"/providers/Microsoft.Insights/components/orders-ai"
	if err := f.Store.Update(func(c *Cloud) error {
		c.Put(&Resource{ID: obs, Token: "azure-native:resources:ResourceGroup", Subscription: sub2, Properties: map[string]any{"name": "observability-rg"}})
		c.PutWorkspace(ws, "westeurope")
		c.PutComponent(comp, "westeurope", ws)
		c.ServicePrincipals = map[string]string{"deploy-client": deployer}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	role := func(guid string) string {
		return "/subscriptions/" + sub2 + "/providers/Microsoft.Authorization/roleDefinitions/" + guid
	}
	publisher := func(name string) map[string]any {
		return map[string]any{"roleAssignmentName": name, "scope": comp, "principalId": "slot-principal", "principalType": "ServicePrincipal", "roleDefinitionId": role("3913510d-42f4-4e42-8a64-420c390055eb")}
	}
	as := *f
	as.ClientID = "deploy-client"
	for _, tt := range []struct {
		name, deployerRole, grant, assignment, want string
	}{
		{"no role on the component", "", "", "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4d3c2b1a", "AuthorizationFailed"},
		{"Contributor on the component", "b24988ac-6180-42a0-ab88-20f7382dd24c", "9a8b7c6d-5e4f-4a3b-9c2d-1e0f2a3b4c5d", "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4d3c2b1b",
			"does not have authorization to perform action 'Microsoft.Authorization/roleAssignments/write' over scope '" + comp + "/providers/Microsoft.Authorization/roleAssignments/"},
		{"Owner on the component", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "9a8b7c6d-5e4f-4a3b-9c2d-1e0f2a3b4c5e", "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4d3c2b1c", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.deployerRole != "" {
				mustCreate(t, f, "azure-native:authorization:RoleAssignment", map[string]any{"roleAssignmentName": tt.grant, "scope": comp, "principalId": deployer, "roleDefinitionId": role(tt.deployerRole)})
			}
			id, _, err := as.Create("azure-native:authorization:RoleAssignment", pm(publisher(tt.assignment)), false)
			if tt.want != "" {
				if !errMatches(err, tt.want) {
					t.Fatalf("got %v, want %q", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want the assignment", err)
			}
			if !strings.HasPrefix(id, comp+"/providers/Microsoft.Authorization/roleAssignments/") {
				t.Errorf("assignment id %s, want it under the component", id)
			}
			c, _ := f.Store.Load()
			if err := AuthorizeData(c, "slot-principal", "Microsoft.Insights/Telemetry/Write", comp); err != nil {
				t.Errorf("the slot's identity cannot publish to the component: %v", err)
			}
		})
	}
	if _, _, err := f.Create("azure-native:authorization:RoleAssignment", pm(map[string]any{"roleAssignmentName": "6c5b4a3d-2e1f-4b0a-9d8c-7f6e5d4c3b2a", "scope": obs + "/providers/Microsoft.Insights/components/none",
		"principalId": "slot-principal", "roleDefinitionId": role("3913510d-42f4-4e42-8a64-420c390055eb")}), false); !errMatches(err, "ParentResourceNotFound") {
		t.Errorf("an assignment on a component that does not exist: got %v, want it refused", err)
	}
	if err := f.Store.Update(func(c *Cloud) error { c.Delete(comp); return nil }); err != nil {
		t.Fatal(err)
	}
	c, _ := f.Store.Load()
	for _, ra := range c.ByType("azure-native:authorization:RoleAssignment") {
		if strings.HasPrefix(strings.ToLower(ra.ID), strings.ToLower(comp)) {
			t.Errorf("assignment %s outlived its component", ra.ID)
		}
	}
}
