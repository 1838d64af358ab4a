//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/slotless/slotless/e2e/azurefake"
	"github.com/slotless/slotless/stack"
)

// TestSubnetIsReleased: a team sets its subnet on the deployed dev stack. pulumi up gives it to
// the idle slot only: blue joins it, green, which carries the traffic, keeps what it has and is
// not written, as with any configuration change. A subnet Azure would refuse fails the update
// naming why (no delegation to Microsoft.App/environments, another region), and blue keeps the
// subnet it has. An identity that may write the apps but not join the network team's subnet is
// refused by the linked access check until it may.
func TestSubnetIsReleased(t *testing.T) {
	parallel(t, 20*time.Second)
	u := deployed(t)
	network := "/subscriptions/" + u.sub + "/resourceGroups/network-rg/providers/Microsoft.Network/virtualNetworks/"
	var functions, other, plain, far string
	if err := u.cloud.Update(func(c *azurefake.Cloud) error {
		c.PutVirtualNetwork(network+"orders-vnet", "westeurope")
		functions = c.PutSubnet(network+"orders-vnet", "functions", "10.20.1.0/26", azurefake.FlexDelegation)
		other = c.PutSubnet(network+"orders-vnet", "functions2", "10.20.2.0/26", azurefake.FlexDelegation)
		plain = c.PutSubnet(network+"orders-vnet", "plain", "10.20.3.0/26")
		c.PutVirtualNetwork(network+"far-vnet", "northeurope")
		far = c.PutSubnet(network+"far-vnet", "functions", "10.30.1.0/26", azurefake.FlexDelegation)
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	before := len(u.calls())
	u.run("pulumi config set virtualNetworkSubnetId " + functions + " && pulumi up")
	calls := u.calls()[before:]
	if w := u.appWrites(calls, stack.Green); len(w) > 0 {
		t.Errorf("the live slot's site was written: %+v", w)
	}
	if got := u.appProperty(stack.Blue, "virtualNetworkSubnetId"); got != functions {
		t.Errorf("blue, the idle slot, is on subnet %q, want %s", got, functions)
	}
	if got := u.appProperty(stack.Green, "virtualNetworkSubnetId"); got != "" {
		t.Errorf("green, which carries the traffic, is on subnet %q, want none until a release", got)
	}
	if gens, _ := u.outputs("dev")[stack.OutSettingsGenerations].(map[string]any); gens["green"] != 1.0 || gens["blue"] != 2.0 {
		t.Errorf("settingsGenerations: got %v, want green 1 and blue 2", gens)
	}
	c, err := u.cloud.Load()
	if err != nil {
		t.Fatal(err)
	}
	if links := c.SubnetLinks(functions); len(links) != 1 {
		t.Errorf("the subnet's service association links: got %v, want Flex's", links)
	}

	for _, tt := range []struct{ name, subnet, want string }{
		{"no delegation", plain, "SubnetMissingRequiredDelegation"},
		{"another region", far, "must be in the same region"},
	} {
		u.sh("pulumi config set virtualNetworkSubnetId " + tt.subnet)
		_, out, err := u.tryUp("dev")
		if err == nil || !strings.Contains(out+err.Error(), tt.want) {
			t.Errorf("%s: got %v, want the update refused with %q\n%s", tt.name, err, tt.want, out)
		}
		if got := u.appProperty(stack.Blue, "virtualNetworkSubnetId"); got != functions {
			t.Errorf("%s: blue is on %q after the refusal, want still %s", tt.name, got, functions)
		}
	}

	// The deploying identity as a service principal with Contributor on the stack's group: it
	// writes the apps, but joining the network team's subnet is another action on another scope.
	const deployer = "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a98"
	sub := "/subscriptions/" + u.sub
	group := sub + "/resourceGroups/" + u.outputs("dev")[stack.OutResourceGroup].(string)
	if err := u.cloud.Update(func(c *azurefake.Cloud) error {
		c.ServicePrincipals = map[string]string{"deploy-client": deployer}
		c.Put(&azurefake.Resource{ID: group + "/providers/Microsoft.Authorization/roleAssignments/4b3a2918-7f6e-4d5c-8b4a-3e2d1c0b9a87", Token: "azure-native:authorization:RoleAssignment", Subscription: u.sub,
			Inputs: map[string]any{"scope": group, "principalId": deployer, "roleDefinitionId": sub + "/providers/Microsoft.Authorization/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c"}})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	u.clientID = "deploy-client"
	u.sh("pulumi config set virtualNetworkSubnetId " + other)
	_, out, err := u.tryUp("dev")
	if err == nil || !strings.Contains(out+err.Error(), "LinkedAuthorizationFailed") || !strings.Contains(out+err.Error(), "Microsoft.Network/virtualNetworks/subnets/join/action") {
		t.Errorf("without join on the subnet: got %v, want LinkedAuthorizationFailed naming the action\n%s", err, out)
	}
	if err := u.cloud.Update(func(c *azurefake.Cloud) error {
		c.Put(&azurefake.Resource{ID: other + "/providers/Microsoft.Authorization/roleAssignments/5c4b3a29-1807-4e6d-9c5b-4a3f2e1d0c98", Token: "azure-native:authorization:RoleAssignment", Subscription: u.sub,
			Inputs: map[string]any{"scope": other, "principalId": deployer, "roleDefinitionId": sub + "/providers/Microsoft.Authorization/roleDefinitions/4d97b98b-1d4f-4787-a291-c67834d212e7"}})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	u.up("dev")
	if got := u.appProperty(stack.Blue, "virtualNetworkSubnetId"); got != other {
		t.Errorf("with Network Contributor on the subnet: blue is on %q, want %s", got, other)
	}
}
