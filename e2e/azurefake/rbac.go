package azurefake

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// Azure RBAC as the ARM facade enforces it for callers other than the deploying identity: a
// call is allowed when a role assignment of the caller's principal, at the resource's scope or
// any scope above it, names a role whose actions match the call's action and whose notActions
// do not. What it mirrors (MicrosoftDocs azure-docs, role-based-access-control/overview.md,
// role-definitions.md and troubleshooting.md):
//   - a denied call is 403 AuthorizationFailed, naming the client, the action and the scope;
//   - actions are matched case-insensitively, and '*' in an action matches any characters;
//   - an assignment at a scope applies to every resource below it;
//   - custom roles are the cloud's RoleDefinition resources, found by their GUID, the last
//     segment of the role definition id an assignment names;
//   - a built-in role is found by its well-known GUID (built-in-roles.md); only those below.
//
// Data actions (reading or writing a blob, a queue message, a table entity) are decided the same
// way from the roles' dataActions and notDataActions (AuthorizeData); role-definitions.md: "Owner
// ... doesn't have any data actions", so Owner, Contributor and Reader grant no data access.
//
// What it does not: the minutes a new assignment can take to apply (Azure caches them), deny
// assignments and conditions. The deploying identity (the facade's Token) is taken as Owner, as
// the stack's deployment expects (docs/security.md).

// builtinRoles are the built-in roles the engine suite meets, by their role definition GUID.
var builtinRoles = map[string]permission{
	// Owner
	"8e3af657-a8ff-443c-a75c-2fe8c4bcb635": {Actions: []string{"*"}},
	// Contributor
	"b24988ac-6180-42a0-ab88-20f7382dd24c": {Actions: []string{"*"}, NotActions: []string{
		"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action",
		"Microsoft.Blueprint/blueprintAssignments/write", "Microsoft.Blueprint/blueprintAssignments/delete",
		"Microsoft.Compute/galleries/share/action", "Microsoft.Purview/consents/write", "Microsoft.Purview/consents/delete",
	}},
	// Reader
	"acdd72a7-3385-48ef-bd42-f606fba81ae7": {Actions: []string{"*/read"}},
	// User Access Administrator
	"18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": {Actions: []string{"*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"}},
	// Role Based Access Control Administrator: assignments only, no role definitions.
	"f58310d9-a9f6-439a-9e8d-f62e7b41a168": {Actions: []string{"Microsoft.Authorization/roleAssignments/write", "Microsoft.Authorization/roleAssignments/delete", "*/read", "Microsoft.Support/*"}},
	// Network Contributor (built-in-roles/networking.md): the network team's role, whose
	// Microsoft.Network/* covers joining a subnet.
	"4d97b98b-1d4f-4787-a291-c67834d212e7": {Actions: []string{"Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*", "Microsoft.Network/*",
		"Microsoft.ResourceHealth/availabilityStatuses/read", "Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read", "Microsoft.Support/*"}},
	// Storage Blob Data Owner
	"b7e6dc6d-f1e8-4753-8033-0f276bb0955b": {
		Actions:     []string{"Microsoft.Storage/storageAccounts/blobServices/containers/*", "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"},
		DataActions: []string{"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"},
	},
	// Storage Blob Data Contributor
	"ba92f5b4-2d11-453d-a403-e96b0029c9fe": {
		Actions: []string{"Microsoft.Storage/storageAccounts/blobServices/containers/delete", "Microsoft.Storage/storageAccounts/blobServices/containers/read",
			"Microsoft.Storage/storageAccounts/blobServices/containers/write", "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action"},
		DataActions: []string{"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
			"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write", "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
			"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action"},
	},
	// Storage Queue Data Contributor
	"974c5e8b-45b9-4653-ba55-5f855dd0fb88": {
		Actions:     []string{"Microsoft.Storage/storageAccounts/queueServices/queues/delete", "Microsoft.Storage/storageAccounts/queueServices/queues/read", "Microsoft.Storage/storageAccounts/queueServices/queues/write"},
		DataActions: []string{"Microsoft.Storage/storageAccounts/queueServices/queues/messages/*"},
	},
	// Storage Table Data Contributor
	"0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": {
		Actions:     []string{"Microsoft.Storage/storageAccounts/tableServices/tables/read", "Microsoft.Storage/storageAccounts/tableServices/tables/write", "Microsoft.Storage/storageAccounts/tableServices/tables/delete"},
		DataActions: []string{"Microsoft.Storage/storageAccounts/tableServices/tables/entities/*"},
	},
	// Monitoring Metrics Publisher
	"3913510d-42f4-4e42-8a64-420c390055eb": {
		Actions:     []string{"Microsoft.Insights/Register/Action", "Microsoft.Support/*", "Microsoft.Resources/subscriptions/resourceGroups/read"},
		DataActions: []string{"Microsoft.Insights/Metrics/Write", "Microsoft.Insights/Telemetry/Write"},
	},
}

// permission is one permission block of a role.
type permission struct {
	Actions, NotActions, DataActions, NotDataActions []string
}

// authorize reports whether principal may perform action on the resource id, as RBAC would
// decide from c's role assignments and definitions; the error is ARM's 403.
func authorize(c *Cloud, principal, action, id string) error {
	if granted(c, principal, id, func(p permission) bool {
		return matchesAny(p.Actions, action) && !matchesAny(p.NotActions, action)
	}) {
		return nil
	}
	return azErr(http.StatusForbidden, "AuthorizationFailed",
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		principal, principal, action, id)
}

// AuthorizeData reports whether principal may perform a data action (a blob's read or write,
// say) on the data at id (a storage account, one of its containers, or a blob), as RBAC would
// decide from c's role assignments; the error is the storage service's 403
// AuthorizationPermissionMismatch.
func AuthorizeData(c *Cloud, principal, dataAction, id string) error {
	if granted(c, principal, id, func(p permission) bool {
		return matchesAny(p.DataActions, dataAction) && !matchesAny(p.NotDataActions, dataAction)
	}) {
		return nil
	}
	return azErr(http.StatusForbidden, "AuthorizationPermissionMismatch",
		"This request is not authorized to perform this operation using this permission. (principal %s, data action %s, %s)", principal, dataAction, id)
}

// granted reports whether a role assignment of principal at id's scope or above names a role
// with a permission block that allows.
func granted(c *Cloud, principal, id string, allows func(permission) bool) bool {
	for _, ra := range c.ByType("azure-native:authorization:RoleAssignment") {
		if !strings.EqualFold(str(ra.Inputs, "principalId"), principal) || !covers(str(ra.Inputs, "scope"), id) {
			continue
		}
		if slices.ContainsFunc(roleOf(c, str(ra.Inputs, "roleDefinitionId")), allows) {
			return true
		}
	}
	return false
}

// covers reports whether an assignment at scope applies to the resource id.
func covers(scope, id string) bool {
	scope, id = strings.ToLower(strings.TrimSuffix(scope, "/")), strings.ToLower(id)
	return scope != "" && (id == scope || strings.HasPrefix(id, scope+"/"))
}

// roleOf is the permissions of the role a role definition id names.
func roleOf(c *Cloud, roleDefinitionID string) []permission {
	guid := strings.ToLower(lastSegment(roleDefinitionID))
	if p, ok := builtinRoles[guid]; ok {
		return []permission{p}
	}
	var out []permission
	for _, rd := range c.ByType("azure-native:authorization:RoleDefinition") {
		if !strings.EqualFold(rd.Name(), guid) {
			continue
		}
		perms, _ := rd.Inputs["permissions"].([]any)
		for _, raw := range perms {
			m, _ := raw.(map[string]any)
			out = append(out, permission{Actions: strs(m["actions"]), NotActions: strs(m["notActions"]), DataActions: strs(m["dataActions"]), NotDataActions: strs(m["notDataActions"])})
		}
	}
	return out
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// matchesAny reports whether action matches one of the patterns, '*' matching any characters.
func matchesAny(patterns []string, action string) bool {
	for _, p := range patterns {
		re := "(?i)^" + strings.ReplaceAll(regexp.QuoteMeta(p), `\*`, ".*") + "$"
		if ok, _ := regexp.MatchString(re, action); ok {
			return true
		}
	}
	return false
}

// allowed answers 403 and reports false unless the caller may perform action on id. The
// deploying identity (principal "") may do anything.
func (a *ARM) allowed(w http.ResponseWriter, principal, action, id string) bool {
	if principal == "" {
		return true
	}
	c, err := a.Fake.Store.Load()
	if err != nil {
		armError(w, http.StatusInternalServerError, "InternalServerError", "%v", err)
		return false
	}
	if err := authorize(c, principal, action, id); err != nil {
		e := err.(*AzureError)
		armError(w, e.Status, e.Code, "%s", e.Message)
		a.note(Call{Op: "arm denied", Target: id, Error: fmt.Sprintf("%s: %s", principal, action)})
		return false
	}
	return true
}

// note records a call in the cloud for tests to read.
func (a *ARM) note(call Call) {
	_ = a.Fake.Store.Update(func(c *Cloud) error {
		c.Calls = append(c.Calls, call)
		return nil
	})
}

// caller is the principal a request's token names: "" for the deploying identity's Token,
// else the principal Principals maps it to; ok is false for a token the facade does not know.
func (a *ARM) caller(r *http.Request) (principal string, ok bool) {
	token, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found {
		return "", false
	}
	if token == a.Token {
		return "", true
	}
	if principal, ok = a.Principals[token]; ok {
		return principal, ok
	}
	// A token Entra issued for Resource Manager, a managed identity's included
	// (IdentityEndpoint), signs in as its principal.
	return tenantPrincipal(token, armAudiences...)
}

// subnetJoinAction is what the linked access check asks of an app's subnet.
const subnetJoinAction = "Microsoft.Network/virtualNetworks/subnets/join/action"

// A link is a resource a write names in its body, and the action ARM requires of the caller on
// it besides the write itself.
type link struct{ action, scope string }

// linksOf are the linked scopes of a write of token with these inputs. ARM refuses a write
// whose body names a resource the caller may not link with 403 LinkedAuthorizationFailed
// (MicrosoftDocs azure-docs, azure-resource-manager/troubleshooting/
// common-deployment-errors.md). The stand-in checks every write that names a link, changed or
// not, since ARM sees the request and not a difference; that is the inconvenient reading, and
// whether Azure skips an unchanged link only Azure can confirm:
//   - a user-assigned identity named in identity.userAssignedIdentities needs
//     Microsoft.ManagedIdentity/userAssignedIdentities/assign/action on it (MicrosoftDocs
//     entra-docs, managed-identities-azure-resources/managed-identities-faq.md, "What Azure RBAC
//     permissions are required to work with managed identities?": "You'll also need
//     Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action action over the
//     user-assigned identity"; resource-provider-operations.md names the action
//     userAssignedIdentities/assign/action);
//   - an app's plan (serverFarmId) needs Microsoft.Web/serverFarms/join/action on the plan
//     (built-in-roles.md, Website Contributor: "Can manage websites but not the web plans to
//     which they are connected", holding serverFarms/join/action for that);
//   - an app's virtual network integration (virtualNetworkSubnetId) needs
//     Microsoft.Network/virtualNetworks/subnets/join/action on the subnet (app-service/
//     overview-vnet-integration.md, "Permissions").
func linksOf(token string, in map[string]any) []link {
	var out []link
	if identity, ok := in["identity"].(map[string]any); ok {
		var ids []string
		switch users := identity["userAssignedIdentities"].(type) {
		case map[string]any:
			for id := range users {
				ids = append(ids, id)
			}
		case []any:
			ids = strs(users)
		}
		slices.Sort(ids)
		for _, id := range ids {
			out = append(out, link{"Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", id})
		}
	}
	if token == "azure-native:web:WebApp" {
		if plan := str(in, "serverFarmId"); plan != "" {
			out = append(out, link{"Microsoft.Web/serverFarms/join/action", plan})
		}
		if subnet := str(in, "virtualNetworkSubnetId"); subnet != "" {
			out = append(out, link{subnetJoinAction, subnet})
		}
	}
	return out
}

// authorizeLinked is ARM's linked access check of a write the caller may perform: every linked
// scope the body names must allow its action, or the write is refused with 403
// LinkedAuthorizationFailed, naming the write, the missing actions and the scopes, in ARM's
// wording as microsoft/planetary-computer-hub#25 quotes it.
func authorizeLinked(c *Cloud, principal, writeAction, id string, links []link) error {
	var actions, scopes []string
	for _, l := range links {
		if authorize(c, principal, l.action, l.scope) != nil {
			actions, scopes = append(actions, l.action), append(scopes, l.scope)
		}
	}
	if len(actions) == 0 {
		return nil
	}
	return azErr(http.StatusForbidden, "LinkedAuthorizationFailed",
		"The client '%s' with object id '%s' has permission to perform action '%s' on scope '%s'; however, it does not have permission to perform action '%s' on the linked scope(s) '%s' or the linked scope(s) are invalid.",
		principal, principal, writeAction, id, strings.Join(actions, ","), strings.Join(scopes, ","))
}
