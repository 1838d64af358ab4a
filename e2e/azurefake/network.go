package azurefake

import (
	"net/http"
	"slices"
	"strings"
)

// A team's virtual networks and subnets, and what ARM refuses when a Flex Consumption app joins
// one (a site's virtualNetworkSubnetId). The stack never creates a network: a test seeds it, as
// a network team would have, with PutVirtualNetwork and PutSubnet.
//
// The rules, each with its source:
//   - the caller needs Microsoft.Network/virtualNetworks/subnets/join/action on the subnet, a
//     linked access check of every site write that names it, joining or keeping it: 403
//     LinkedAuthorizationFailed (MicrosoftDocs azure-docs, app-service/
//     overview-vnet-integration.md, "Permissions": the action is needed "when setting the
//     virtualNetworkSubnetId site property directly"; the message as ARM words it,
//     microsoft/planetary-computer-hub#25); checked with the other links of a write (linksOf,
//     rbac.go);
//   - the subnet exists;
//   - the app's subscription has the Microsoft.App resource provider registered:
//     MissingSubscriptionRegistration (azure-functions/functions-networking-options.md,
//     Considerations for the Flex Consumption plan: "Ensure that the Microsoft.App Azure
//     resource provider is enabled for your subscription"; the code ARM answers for an
//     unregistered namespace);
//   - the app and the virtual network are in the same region (same section: "The app and the
//     virtual network must be in the same region");
//   - the subnet's name has no underscore (flex-consumption-how-to.md, "Enable virtual network
//     integration");
//   - the subnet is delegated to Microsoft.App/environments: SubnetMissingRequiredDelegation
//     (functions-networking-options.md: "The subnet delegation required when running in a Flex
//     Consumption plan is Microsoft.App/environments"; the code as Azure/ai-document-processor#75
//     reports it for a Flex app, the wording App Service's for its own delegation,
//     Azure/azure-quickstart-templates#8813);
//   - no other service holds the subnet: a Flex app adds the service association link
//     legionservicelink, and a subnet that already has another's (an App Service plan's
//     AppServiceLink) refuses it with OnlyOneServiceAssociationLinkAllowedPerSubnet
//     (Azure/Azure-Functions#2605); Flex apps share theirs ("While you can share the same subnet
//     with multiple Flex Consumption apps", functions-networking-options.md), so green and blue
//     join one subnet.
//
// They apply when an app joins a subnet: a create naming one, or an update naming another than
// before.

// Type tokens the cloud records a team's network under. The subset schema has neither: the
// program never creates one.
const (
	VirtualNetworkToken = "azure-native:network:VirtualNetwork"
	SubnetToken         = "azure-native:network:Subnet"
)

const (
	// FlexDelegation is the delegation a Flex Consumption app's subnet needs.
	FlexDelegation = "Microsoft.App/environments"
	// flexLink is the service association link a Flex Consumption app puts on its subnet.
	flexLink = "legionservicelink"
)

// PutVirtualNetwork adds a team's virtual network, with this id, in a region.
func (c *Cloud) PutVirtualNetwork(id, location string) {
	c.Put(&Resource{ID: id, Token: VirtualNetworkToken, Subscription: subscriptionOf(id),
		Inputs:     map[string]any{"location": location},
		Properties: map[string]any{"name": lastSegment(id), "type": "Microsoft.Network/virtualNetworks", "location": location}})
}

// PutSubnet adds a subnet to a virtual network, delegated to the services named, and returns its
// id.
func (c *Cloud) PutSubnet(vnetID, name, prefix string, delegations ...string) string {
	id := vnetID + "/subnets/" + name
	var dels []any
	for _, d := range delegations {
		dels = append(dels, map[string]any{"name": d, "properties": map[string]any{"serviceName": d}})
	}
	c.Put(&Resource{ID: id, Token: SubnetToken, Subscription: subscriptionOf(id),
		Inputs: map[string]any{"addressPrefix": prefix},
		Properties: map[string]any{"name": name, "type": "Microsoft.Network/virtualNetworks/subnets", "addressPrefix": prefix,
			"delegations": dels, "serviceAssociationLinks": []any{}}})
	return id
}

// LinkSubnet puts another service's association link on a subnet, as an App Service plan's
// virtual network integration (AppServiceLink) leaves it.
func (c *Cloud) LinkSubnet(subnetID, link string) {
	if s, ok := c.Get(subnetID); ok {
		s.Properties["serviceAssociationLinks"] = append(links(s), link)
	}
}

// SubnetLinks are the service association links a subnet holds.
func (c *Cloud) SubnetLinks(subnetID string) []string {
	s, ok := c.Get(subnetID)
	if !ok {
		return nil
	}
	var out []string
	for _, l := range links(s) {
		if name, ok := l.(string); ok {
			out = append(out, name)
		}
	}
	return out
}

func links(s *Resource) []any {
	l, _ := s.Properties["serviceAssociationLinks"].([]any)
	return l
}

// joinSubnet applies the rules when a function app with these inputs joins a subnet (old are
// its inputs before, nil for a create), and adds Flex's association link to the subnet.
func (f *Fake) joinSubnet(c *Cloud, appID string, old, in map[string]any) error {
	subnetID := str(in, "virtualNetworkSubnetId")
	if subnetID == "" || strings.EqualFold(subnetID, str(old, "virtualNetworkSubnetId")) {
		return nil
	}
	subnet, ok := c.Get(subnetID)
	if !ok || subnet.Token != SubnetToken {
		return azErr(http.StatusNotFound, "NotFound", "Subnet '%s' of virtual network '%s' was not found: %s.", lastSegment(subnetID), lastSegment(parentID(subnetID)), subnetID)
	}
	vnet, _ := c.Get(parentID(subnetID))
	if slices.ContainsFunc(c.Unregistered[subscriptionOf(appID)], func(ns string) bool { return strings.EqualFold(ns, "Microsoft.App") }) {
		return azErr(http.StatusConflict, "MissingSubscriptionRegistration", "The subscription is not registered to use namespace 'Microsoft.App'. See https://aka.ms/rps-not-found for how to register subscriptions.")
	}
	if app, net := region(str(in, "location")), region(str(vnet.Properties, "location")); app != net {
		return azErr(http.StatusBadRequest, "BadRequest", "The virtual network '%s' is in %s and the app in %s: the app and the virtual network must be in the same region.", vnet.Name(), net, app)
	}
	if strings.Contains(subnet.Name(), "_") {
		return azErr(http.StatusBadRequest, "BadRequest", "Subnet '%s' has an underscore in its name, which Flex Consumption does not support.", subnet.Name())
	}
	if !delegatedTo(subnet, FlexDelegation) {
		return azErr(http.StatusBadRequest, "SubnetMissingRequiredDelegation", "Subnet %s in VNET %s is missing a delegation to %s. Please add the delegation and try again.", subnet.Name(), vnet.Name(), FlexDelegation)
	}
	for _, l := range links(subnet) {
		if name, _ := l.(string); !strings.EqualFold(name, flexLink) {
			return azErr(http.StatusBadRequest, "OnlyOneServiceAssociationLinkAllowedPerSubnet", "Subnet %s already has service association link %s/serviceAssociationLinks/%s and hence service association link %s/serviceAssociationLinks/%s cannot be added.", subnetID, subnetID, name, subnetID, flexLink)
		}
	}
	if len(links(subnet)) == 0 {
		subnet.Properties["serviceAssociationLinks"] = []any{flexLink}
	}
	return nil
}

func delegatedTo(subnet *Resource, service string) bool {
	dels, _ := subnet.Properties["delegations"].([]any)
	for _, d := range dels {
		m, _ := d.(map[string]any)
		p, _ := m["properties"].(map[string]any)
		if name, _ := p["serviceName"].(string); strings.EqualFold(name, service) {
			return true
		}
	}
	return false
}

// region is a location as ARM compares it: "West Europe" is westeurope.
func region(loc string) string { return strings.ToLower(strings.ReplaceAll(loc, " ", "")) }

// subscriptionOf is the subscription an ARM id is in.
func subscriptionOf(id string) string {
	parts := strings.Split(strings.Trim(id, "/"), "/")
	if len(parts) >= 2 && strings.EqualFold(parts[0], "subscriptions") {
		return parts[1]
	}
	return ""
}
