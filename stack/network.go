package stack

import (
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Outbound virtual network integration (virtualNetworkSubnetId): both apps send their outbound
// traffic through one subnet of the team's virtual network, to reach databases and services
// that only answer there. The stack names the subnet on each app (the site's
// virtualNetworkSubnetId); it never creates, delegates or changes the subnet.
//
// Flex Consumption's rules for the subnet (MicrosoftDocs azure-docs,
// articles/azure-functions/functions-networking-options.md, "Regional virtual network
// integration", Considerations for the Flex Consumption plan, and "Subnets", Flex Consumption
// Plan; articles/azure-functions/flex-consumption-how-to.md, "Enable virtual network
// integration"; articles/azure-functions/flex-consumption-plan.md, Considerations):
//   - the subnet is delegated to Microsoft.App/environments ("The subnet delegation required
//     when running in a Flex Consumption plan is Microsoft.App/environments"), not
//     Microsoft.Web/serverFarms as for Premium and Dedicated plans;
//   - the Microsoft.App resource provider is registered for the subscription ("This is needed
//     for subnet delegation");
//   - the app and the virtual network are in the same region;
//   - the subnet is used for nothing else: no private or service endpoints, no delegation to
//     another hosting plan or service, and not a Container Apps environment's;
//   - Flex Consumption apps may share one subnet ("While you can share the same subnet with
//     multiple Flex Consumption apps, the networking resources are shared across these function
//     apps"), so one subnet serves both slots; "Regardless of how many apps are integrated with a
//     single subnet, at most 27 shared gateways (27 IP addresses) will be used";
//   - its size: a /27 is recommended for one app up to 1,000 instances; "integrating multiple
//     apps with a /27 size subnet reduces the available outbound network capacity", which for
//     green and blue matters only while both carry traffic (a release); a /26 leaves room;
//   - its name has no underscore ("The Flex Consumption plan currently doesn't support subnets
//     with names that contain underscore (_) characters"), which Parse refuses.
//
// Setting virtualNetworkSubnetId also takes Microsoft.Network/virtualNetworks/subnets/join/action
// on the subnet from whoever runs `pulumi up`: ARM checks it as a linked access check of the
// site write (MicrosoftDocs azure-docs, articles/app-service/overview-vnet-integration.md,
// "Permissions"; docs/security.md).
//
// A change of the subnet is a site update, which restarts the app: it is released, not applied
// (settings.go), and the subnet is among the app's held inputs and in its fingerprint.

// subnetAllowed is what virtualNetworkSubnetId allows, for its messages.
const subnetAllowed = "a subnet resource id such as " + "/subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<network>/subnets/<subnet>"

// subnet reads virtualNetworkSubnetId.
func (p *parser) subnet(key string) ResourceID {
	id := p.resourceID(key, subnetIDShape, subnetAllowed)
	if id.Raw != "" && strings.Contains(id.Name, "_") {
		p.failf("%s: subnet %q has an underscore in its name, which Flex Consumption does not support (\"Enable virtual network integration\", flex-consumption-how-to.md); want a subnet whose name has none", key, id.Name)
		return ResourceID{}
	}
	return id
}

// subnetInput is the app's virtualNetworkSubnetId: the configured subnet, or nil for none.
func subnetInput(cfg *Config) pulumi.StringPtrInput {
	if cfg.SubnetID.Raw == "" {
		return nil
	}
	return pulumi.StringPtr(cfg.SubnetID.Raw)
}
