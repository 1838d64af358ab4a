package stack

import (
	"strings"
	"testing"
)

const (
	testSub       = "11111111-2222-3333-4444-555555555555"
	testSubnet    = "/subscriptions/" + testSub + "/resourceGroups/network-rg/providers/Microsoft.Network/virtualNetworks/orders-vnet/subnets/functions"
	testComponent = "/subscriptions/" + testSub + "/resourceGroups/observability-rg/providers/Microsoft.Insights/components/orders-ai"
	testWorkspace = "/subscriptions/" + testSub + "/resourceGroups/observability-rg/providers/Microsoft.OperationalInsights/workspaces/orders-logs"
)

// TestParseTeamResources: the keys that name a team's subnet or telemetry take a resource id of
// their own kind, in ARM's case-insensitive spelling, and say where it is.
func TestParseTeamResources(t *testing.T) {
	for _, tt := range []struct {
		name  string
		set   map[string]string
		check func(c *Config) bool
	}{
		{"none", nil, func(c *Config) bool {
			return c.SubnetID.Raw == "" && !c.Telemetry.ReusesComponent() && c.Telemetry.Workspace.Raw == ""
		}},
		{"subnet", map[string]string{"virtualNetworkSubnetId": testSubnet}, func(c *Config) bool {
			id := c.SubnetID
			return id.Raw == testSubnet && id.Subscription == testSub && id.ResourceGroup == "network-rg" && id.Parent == "orders-vnet" && id.Name == "functions"
		}},
		{"subnet in ARM's lower case", map[string]string{"virtualNetworkSubnetId": strings.ToLower(testSubnet)}, func(c *Config) bool {
			return c.SubnetID.Name == "functions" && c.SubnetID.Parent == "orders-vnet"
		}},
		{"subnet names with dots and hyphens", map[string]string{"virtualNetworkSubnetId": strings.Replace(testSubnet, "subnets/functions", "subnets/fn.out-1", 1)}, func(c *Config) bool {
			return c.SubnetID.Name == "fn.out-1"
		}},
		{"team component", map[string]string{"appInsightsResourceId": testComponent}, func(c *Config) bool {
			a := c.Telemetry.AppInsights
			return c.Telemetry.ReusesComponent() && a.ResourceGroup == "observability-rg" && a.Name == "orders-ai" && a.InGroup("OBSERVABILITY-RG")
		}},
		{"team workspace", map[string]string{"logAnalyticsWorkspaceResourceId": testWorkspace}, func(c *Config) bool {
			return !c.Telemetry.ReusesComponent() && c.Telemetry.Workspace.Name == "orders-logs"
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(source(tt.set))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if !tt.check(c) {
				t.Fatalf("got subnet %+v, telemetry %+v, which fail the check", c.SubnetID, c.Telemetry)
			}
		})
	}
}

// TestParseRejectsTeamResources: one error per bad key, naming it, the value and the shape it
// takes; Flex Consumption's refusal of subnet names with '_' is the program's too.
func TestParseRejectsTeamResources(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  map[string]string
		want string
	}{
		{"a virtual network, not a subnet", map[string]string{"virtualNetworkSubnetId": strings.TrimSuffix(testSubnet, "/subnets/functions")},
			`virtualNetworkSubnetId: "/subscriptions/` + testSub + `/resourceGroups/network-rg/providers/Microsoft.Network/virtualNetworks/orders-vnet" is not valid, want a subnet resource id such as /subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<network>/subnets/<subnet>`},
		{"a subnet name alone", map[string]string{"virtualNetworkSubnetId": "functions"}, `virtualNetworkSubnetId: "functions" is not valid, want a subnet resource id`},
		{"a subscription that is no GUID", map[string]string{"virtualNetworkSubnetId": strings.Replace(testSubnet, testSub, "prod", 1)}, `virtualNetworkSubnetId: "/subscriptions/prod/`},
		{"another provider's child", map[string]string{"virtualNetworkSubnetId": strings.Replace(testSubnet, "Microsoft.Network", "Microsoft.Web", 1)}, `virtualNetworkSubnetId: "`},
		{"an empty value", map[string]string{"virtualNetworkSubnetId": ""}, "virtualNetworkSubnetId: the value is empty, want a subnet resource id"},
		{"an underscore in the subnet's name", map[string]string{"virtualNetworkSubnetId": strings.Replace(testSubnet, "subnets/functions", "subnets/func_out", 1)},
			`virtualNetworkSubnetId: subnet "func_out" has an underscore in its name, which Flex Consumption does not support`},
		{"a workspace for the component", map[string]string{"appInsightsResourceId": testWorkspace},
			`appInsightsResourceId: "` + testWorkspace + `" is not valid, want an Application Insights component's resource id such as /subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.Insights/components/<name>`},
		{"a component for the workspace", map[string]string{"logAnalyticsWorkspaceResourceId": testComponent},
			`logAnalyticsWorkspaceResourceId: "` + testComponent + `" is not valid, want a Log Analytics workspace's resource id`},
		{"a workspace name too short", map[string]string{"logAnalyticsWorkspaceResourceId": strings.Replace(testWorkspace, "orders-logs", "ws", 1)}, `logAnalyticsWorkspaceResourceId: "`},
		{"both telemetry keys", map[string]string{"appInsightsResourceId": testComponent, "logAnalyticsWorkspaceResourceId": testWorkspace},
			"logAnalyticsWorkspaceResourceId: not with appInsightsResourceId, whose component already names its workspace"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(source(tt.set))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want it to contain %q", err, tt.want)
			}
			if n := len(strings.Split(err.Error(), "\n")); n != 1 {
				t.Errorf("got %d errors, want one: %v", n, err)
			}
		})
	}
}
