package azurefake

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// checkParent refuses a resource whose resource group or parent resource does not exist.
func checkParent(c *Cloud, id string) error {
	parent := parentID(id)
	if parent == "" {
		return nil
	}
	if _, ok := c.Get(parent); ok {
		return nil
	}
	if parentID(parent) == "" {
		return azErr(404, "ResourceGroupNotFound", "Resource group '%s' could not be found.", lastSegment(parent))
	}
	return azErr(404, "ParentResourceNotFound", "Can not perform requested operation on nested resource. Parent resource '%s' not found.", parent)
}

// checkGlobalName refuses a name that any resource of the same type holds, in any
// subscription: storage account names, *.azurewebsites.net host names and API Management
// service names are unique across Azure, role assignment names across the tenant.
func checkGlobalName(c *Cloud, token string, spec armSpec, name string) error {
	for _, r := range c.ByType(token) {
		if !strings.EqualFold(r.Name(), name) {
			continue
		}
		switch token {
		case "azure-native:storage:StorageAccount":
			return azErr(409, "StorageAccountAlreadyTaken", "The storage account named %s is already taken.", name)
		case "azure-native:web:WebApp":
			return azErr(409, "Conflict", "Website with given name %s already exists.", name)
		case "azure-native:authorization:RoleAssignment":
			// The same name at another scope reads to ARM as an update of that assignment.
			return azErr(409, "RoleAssignmentUpdateNotPermitted", "Tenant ID, application ID, principal ID, and scope are not allowed to be updated.")
		default:
			return azErr(409, "ServiceAlreadyExists", "Api service already exists: %s. The %s name is already in use.", name, spec.global)
		}
	}
	return nil
}

// nameRules are the shapes ARM accepts for the names that become host names.
var nameRules = map[string]struct {
	re   *regexp.Regexp
	code string
	want string
}{
	"azure-native:storage:StorageAccount": {regexp.MustCompile(`^[a-z0-9]{3,24}$`), "AccountNameInvalid",
		"is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."},
	"azure-native:web:WebApp": {regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9-]{0,58}[a-zA-Z0-9]$`), "InvalidSiteName",
		"is not a valid site name: 2 to 60 letters, digits and hyphens, starting and ending with a letter or digit."},
	"azure-native:apimanagement:ApiManagementService": {regexp.MustCompile(`^[a-zA-Z]([a-zA-Z0-9-]{0,48}[a-zA-Z0-9])?$`), "InvalidServiceName",
		"is not a valid API Management service name: 1 to 50 letters, digits and hyphens, starting with a letter and ending with a letter or digit."},
}

// checkName refuses a name ARM would not accept for a resource type whose name becomes a host
// name, so a generated name (logical name plus suffix) that cannot be one fails as on Azure.
func checkName(token, name string) error {
	rule, ok := nameRules[token]
	if !ok || rule.re.MatchString(name) {
		return nil
	}
	return azErr(400, rule.code, "'%s' %s", name, rule.want)
}

// refuse applies the service-side rules of the resource types this program uses.
func (f *Fake) refuse(c *Cloud, token, id string, in map[string]any) error {
	switch token {
	case "azure-native:apimanagement:Backend":
		return refuseBackend(c, id, in)
	case "azure-native:apimanagement:ApiPolicy":
		return refusePolicy(c, id, in)
	case "azure-native:apimanagement:NamedValue":
		if strings.TrimSpace(str(in, "value")) == "" {
			return azErr(400, "ValidationError", "Value of the named value may not be empty or consist only of whitespace.")
		}
	case "azure-native:apimanagement:Api":
		return refuseAPIPath(c, id, in)
	case "azure-native:apimanagement:ProductApi":
		return refuseProductAPI(c, id)
	case "azure-native:authorization:RoleDefinition":
		return refuseRoleDefinition(c, id, in)
	case "azure-native:storage:BlobServiceProperties":
		return refuseBlobService(id, in)
	}
	return nil
}

// refuseBlobService applies the blob service's rules: it is named default, and a soft delete
// policy keeps deleted items 1 to 365 days (azure-rest-api-specs, storage blob.json: the
// BlobServicesName path parameter's only value is "default", DeleteRetentionPolicy.days has
// minimum 1 and maximum 365; azure-native's descriptions of both say the same).
func refuseBlobService(id string, in map[string]any) error {
	if name := lastSegment(id); name != "default" {
		return azErr(400, "InvalidResourceName", "The blob service name '%s' is not valid: it must be 'default'.", name)
	}
	for _, key := range []string{"deleteRetentionPolicy", "containerDeleteRetentionPolicy"} {
		p, _ := in[key].(map[string]any)
		days, set := p["days"].(float64)
		if set && (days < 1 || days > 365) {
			return azErr(400, "InvalidRequestPropertyValue", "%s.days: %v is out of range; the retention is 1 to 365 days.", key, days)
		}
	}
	return nil
}

// refuseRoleDefinition applies Azure's rules for custom roles (MicrosoftDocs azure-docs,
// role-based-access-control/custom-roles.md and troubleshooting.md): a role's name is unique
// in the tenant (RoleDefinitionWithSameNameExists), it needs at least one assignable scope,
// and it must be created at one of them.
func refuseRoleDefinition(c *Cloud, id string, in map[string]any) error {
	scopes := strs(in["assignableScopes"])
	if len(scopes) == 0 {
		return azErr(400, "InvalidRoleDefinition", "The role definition must have at least one assignable scope.")
	}
	if !slices.ContainsFunc(scopes, func(s string) bool { return covers(s, str(in, "scope")) }) {
		return azErr(400, "InvalidCreateRoleDefinitionRequest", "The request to create role definition '%s' is not valid: its scope '%s' is not among its assignable scopes.", lastSegment(id), str(in, "scope"))
	}
	for _, rd := range c.ByType("azure-native:authorization:RoleDefinition") {
		if !strings.EqualFold(rd.ID, id) && strings.EqualFold(str(rd.Inputs, "roleName"), str(in, "roleName")) {
			return azErr(409, "RoleDefinitionWithSameNameExists", "A custom role with the same name already exists in this directory. Use a different name.")
		}
	}
	return nil
}

func serviceID(id string) string {
	i := strings.Index(strings.ToLower(id), "/providers/microsoft.apimanagement/service/")
	if i < 0 {
		return ""
	}
	rest := id[i+len("/providers/microsoft.apimanagement/service/"):]
	if j := strings.Index(rest, "/"); j >= 0 {
		rest = rest[:j]
	}
	return id[:i] + "/providers/Microsoft.ApiManagement/service/" + rest
}

func refuseBackend(c *Cloud, id string, in map[string]any) error {
	svc := serviceID(id)
	if err := checkNamedValueRefs(c, svc, in["credentials"]); err != nil {
		return err
	}
	if str(in, "type") != "Pool" {
		if str(in, "url") == "" || str(in, "protocol") == "" {
			return azErr(400, "ValidationError", "Url and Protocol are required for a Single backend.")
		}
		if in["circuitBreaker"] != nil {
			if s, ok := c.Get(svc); ok && skuName(s) == "Consumption" {
				return azErr(400, "ValidationError", "Circuit breaker is not supported in the Consumption tier.")
			}
		}
		return nil
	}
	// A pool: the service rejects what the REST spec still marks as required
	// (Azure/azure-rest-api-specs#35713, Azure/bicep#14097).
	if str(in, "url") != "" {
		return azErr(400, "ValidationError", "Url is not supported for backend pool")
	}
	if str(in, "protocol") != "" {
		return azErr(400, "ValidationError", "Protocol is not supported for backend pool")
	}
	if in["circuitBreaker"] != nil {
		return azErr(400, "ValidationError", "Circuit breaker is not supported for backend pool; configure it on the pool's single backends.")
	}
	pool, _ := in["pool"].(map[string]any)
	services, _ := pool["services"].([]any)
	if len(services) == 0 || len(services) > 30 {
		return azErr(400, "ValidationError", "A backend pool must have between 1 and 30 services, got %d.", len(services))
	}
	for i, s := range services {
		m, _ := s.(map[string]any)
		for _, k := range []string{"weight", "priority"} {
			if v, ok := m[k].(float64); ok && (v < 0 || v > 100) {
				return azErr(400, "ValidationError", "pool.services[%d].%s: %v must be between 0 and 100.", i, k, v)
			}
		}
		member, _ := m["id"].(string)
		r, ok := c.Get(member)
		if !ok || r.Token != "azure-native:apimanagement:Backend" || !strings.EqualFold(serviceID(member), svc) {
			return azErr(400, "ValidationError", "pool.services[%d].id: backend '%s' does not exist in this service.", i, member)
		}
		// azure-native's `type` output is the ARM resource type, so a pool is told by what was
		// sent for it, or by its pool.
		_, hasPool := r.Properties["pool"]
		if t, _ := r.Inputs["type"].(string); t == "Pool" || hasPool {
			return azErr(400, "ValidationError", "pool.services[%d].id: a pool can only contain single backends.", i)
		}
	}
	return nil
}

func skuName(svc *Resource) string {
	sku, _ := svc.Inputs["sku"].(map[string]any)
	if sku == nil {
		sku, _ = svc.Properties["sku"].(map[string]any)
	}
	name, _ := sku["name"].(string)
	return name
}

var (
	namedValueRef = regexp.MustCompile(`\{\{([^{}]+)\}\}`)
	backendIDAttr = regexp.MustCompile(`backend-id\s*=\s*"([^"]*)"`)
	encodedEntity = regexp.MustCompile(`&(quot|lt|gt|amp|apos);`)
)

func refusePolicy(c *Cloud, id string, in map[string]any) error {
	svc := serviceID(id)
	value := str(in, "value")
	switch format := str(in, "format"); format {
	case "", "xml":
		// "xml": an XML document; expressions inside attributes are XML-encoded.
		if err := wellFormed(value); err != nil {
			return azErr(400, "ValidationError", "The policy is not a valid XML document: %v", err)
		}
	case "rawxml":
		// "rawxml": "a non XML-encoded policy document". APIM hands expressions to the compiler
		// as written, so an entity inside an expression is compiled literally and fails
		// (terraform-provider-azurerm#5426, azure-api-management-devops-resource-kit#825).
		for _, expr := range expressions(value) {
			if m := encodedEntity.FindString(expr); m != "" {
				return azErr(400, "ValidationError", "Error in element 'policies': expression %q contains the XML entity %s; a rawxml policy must not be XML-encoded (send it as format xml, or write the expression raw).", clip(expr, 80), m)
			}
		}
	default:
		return azErr(400, "ValidationError", "Policy format '%s' is not supported here.", format)
	}
	if err := checkNamedValueRefs(c, svc, value); err != nil {
		return err
	}
	for _, m := range backendIDAttr.FindAllStringSubmatch(value, -1) {
		if _, ok := c.Get(svc + "/backends/" + m[1]); !ok {
			return azErr(400, "ValidationError", "Error in element 'set-backend-service': Backend with id '%s' could not be found.", m[1])
		}
	}
	return nil
}

// checkNamedValueRefs refuses {{name}} references to named values the service does not have.
// Policies and backend credentials refer to a named value by its display name.
func checkNamedValueRefs(c *Cloud, svc string, v any) error {
	var text []string
	collectStrings(v, &text)
	var missing []string
	for _, s := range text {
		for _, m := range namedValueRef.FindAllStringSubmatch(s, -1) {
			if !hasNamedValue(c, svc, m[1]) {
				missing = append(missing, m[1])
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	return azErr(400, "ValidationError", "One or more named values ['%s'] specified are missing.", strings.Join(missing, "', '"))
}

func hasNamedValue(c *Cloud, svc, name string) bool {
	for _, r := range c.ByType("azure-native:apimanagement:NamedValue") {
		if strings.EqualFold(serviceID(r.ID), svc) && r.Inputs["displayName"] == name {
			return true
		}
	}
	return false
}

func collectStrings(v any, out *[]string) {
	switch v := v.(type) {
	case string:
		*out = append(*out, v)
	case []any:
		for _, e := range v {
			collectStrings(e, out)
		}
	case map[string]any:
		for _, e := range v {
			collectStrings(e, out)
		}
	}
}

func refuseAPIPath(c *Cloud, id string, in map[string]any) error {
	svc := serviceID(id)
	for _, r := range c.ByType("azure-native:apimanagement:Api") {
		if strings.EqualFold(r.ID, id) || !strings.EqualFold(serviceID(r.ID), svc) {
			continue
		}
		if strings.EqualFold(fmt.Sprint(r.Inputs["path"]), str(in, "path")) {
			return azErr(400, "ValidationError", "Cannot create API '%s' with the same Path '%s' as API '%s' unless it's a part of the same version set.", lastSegment(id), str(in, "path"), r.Name())
		}
	}
	return nil
}

func wellFormed(doc string) error {
	d := xml.NewDecoder(strings.NewReader(doc))
	for {
		_, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// expressions returns the policy expressions in a document: from each @( or @{ to the end of
// its line, which covers attribute values and element text alike in a canonical document.
func expressions(doc string) []string {
	var out []string
	for _, line := range strings.Split(doc, "\n") {
		for _, open := range []string{"@(", "@{"} {
			if i := strings.Index(line, open); i >= 0 {
				out = append(out, line[i:])
			}
		}
	}
	return out
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
