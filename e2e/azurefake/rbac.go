package azurefake

import (
	"fmt"
	"net/http"
	"regexp"
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
// What it does not: the minutes a new assignment can take to apply (Azure caches them), deny
// assignments, conditions and data actions. The deploying identity (the facade's Token) is taken
// as Owner, as the stack's deployment expects (docs/security.md).

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
}

// permission is one permission block of a role.
type permission struct {
	Actions, NotActions []string
}

// authorize reports whether principal may perform action on the resource id, as RBAC would
// decide from c's role assignments and definitions; the error is ARM's 403.
func authorize(c *Cloud, principal, action, id string) error {
	for _, ra := range c.ByType("azure-native:authorization:RoleAssignment") {
		if !strings.EqualFold(str(ra.Inputs, "principalId"), principal) || !covers(str(ra.Inputs, "scope"), id) {
			continue
		}
		for _, p := range roleOf(c, str(ra.Inputs, "roleDefinitionId")) {
			if matchesAny(p.Actions, action) && !matchesAny(p.NotActions, action) {
				return nil
			}
		}
	}
	return azErr(http.StatusForbidden, "AuthorizationFailed",
		"The client '%s' with object id '%s' does not have authorization to perform action '%s' over scope '%s' or the scope is invalid. If access was recently granted, please refresh your credentials.",
		principal, principal, action, id)
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
			out = append(out, permission{Actions: strs(m["actions"]), NotActions: strs(m["notActions"])})
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
	principal, ok = a.Principals[token]
	return principal, ok
}
