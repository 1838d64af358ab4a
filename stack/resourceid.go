package stack

import (
	"fmt"
	"regexp"
	"strings"
)

// ResourceID is an ARM resource id a config key names: a resource that exists outside the stack
// (a team's subnet, Application Insights or Log Analytics workspace), which the stack uses but
// never creates or changes.
type ResourceID struct {
	// Raw is the id as configured.
	Raw          string
	Subscription string
	// ResourceGroup is the group the resource is in.
	ResourceGroup string
	// Parent is the top-level resource's name for a child resource (a subnet's virtual network),
	// else "".
	Parent string
	// Name is the resource's own name.
	Name string
}

func (r ResourceID) String() string { return r.Raw }

// InGroup reports whether the resource is in the resource group named group, compared as ARM
// compares names, without case.
func (r ResourceID) InGroup(group string) bool { return strings.EqualFold(r.ResourceGroup, group) }

// resourceIDShape is one kind of resource id a key takes: the provider path between the group
// and the name, and the rule for the names.
type resourceIDShape struct {
	// re captures subscription, group, [parent,] name; ARM ids are case-insensitive.
	re *regexp.Regexp
	// example is the shape in words, for messages.
	example string
	child   bool
}

const (
	guidPattern  = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`
	groupPattern = `[-\w._()]{1,90}`
)

// The names follow ARM's naming rules (MicrosoftDocs azure-docs, azure-resource-manager/
// management/resource-name-rules.md): a virtual network 2..64 and a subnet 1..80 alphanumerics,
// underscores, periods and hyphens, starting with an alphanumeric and ending with an alphanumeric
// or underscore; an Application Insights component 1..260 characters without '/'; a Log
// Analytics workspace 4..63 alphanumerics and hyphens, starting and ending with an alphanumeric.
var (
	subnetIDShape = resourceIDShape{
		re: regexp.MustCompile(`(?i)^/subscriptions/(` + guidPattern + `)/resourceGroups/(` + groupPattern + `)/providers/Microsoft\.Network/virtualNetworks/` +
			`([A-Za-z0-9][A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])/subnets/([A-Za-z0-9](?:[A-Za-z0-9_.-]{0,78}[A-Za-z0-9_])?)$`),
		example: "/subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.Network/virtualNetworks/<network>/subnets/<subnet>",
		child:   true,
	}
	componentIDShape = resourceIDShape{
		re:      regexp.MustCompile(`(?i)^/subscriptions/(` + guidPattern + `)/resourceGroups/(` + groupPattern + `)/providers/Microsoft\.Insights/components/([^/\s][^/]{0,259})$`),
		example: "/subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.Insights/components/<name>",
	}
	workspaceIDShape = resourceIDShape{
		re:      regexp.MustCompile(`(?i)^/subscriptions/(` + guidPattern + `)/resourceGroups/(` + groupPattern + `)/providers/Microsoft\.OperationalInsights/workspaces/([A-Za-z0-9][A-Za-z0-9-]{2,61}[A-Za-z0-9])$`),
		example: "/subscriptions/<subscription id>/resourceGroups/<group>/providers/Microsoft.OperationalInsights/workspaces/<name>",
	}
)

// parse reads an id of this shape; ok is false when it is not one.
func (s resourceIDShape) parse(raw string) (ResourceID, bool) {
	m := s.re.FindStringSubmatch(strings.TrimSpace(raw))
	if m == nil {
		return ResourceID{}, false
	}
	id := ResourceID{Raw: strings.TrimSpace(raw), Subscription: strings.ToLower(m[1]), ResourceGroup: m[2], Name: m[len(m)-1]}
	if s.child {
		id.Parent = m[3]
	}
	return id, true
}

// parseComponentID and parseWorkspaceID read the ids ARM answers with (a component's
// WorkspaceResourceId, a looked-up resource's id).
func parseComponentID(raw string) (ResourceID, error) { return componentIDShape.must(raw) }
func parseWorkspaceID(raw string) (ResourceID, error) { return workspaceIDShape.must(raw) }

func (s resourceIDShape) must(raw string) (ResourceID, error) {
	id, ok := s.parse(raw)
	if !ok {
		return ResourceID{}, fmt.Errorf("%q is not a resource id of the shape %s", raw, s.example)
	}
	return id, nil
}

// resourceID reads a key holding a resource id of a shape.
func (p *parser) resourceID(key string, shape resourceIDShape, allowed string) ResourceID {
	raw, ok := p.src(key)
	if !ok {
		return ResourceID{}
	}
	id, ok := shape.parse(raw)
	if !ok {
		p.fail(key, raw, allowed)
		return ResourceID{}
	}
	return id
}
