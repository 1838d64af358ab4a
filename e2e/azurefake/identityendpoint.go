package azurefake

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// IdentityAPIVersion is the version of App Service's local token endpoint that azidentity's
// ManagedIdentityCredential speaks on App Service and Functions.
const IdentityAPIVersion = "2019-08-01"

// IdentityEndpoint is App Service's local token endpoint for one app, what a process of the
// app finds in IDENTITY_ENDPOINT and IDENTITY_HEADER (MicrosoftDocs azure-docs,
// app-service/overview-managed-identity.md, "REST endpoint reference"; azidentity v1.15.0
// managed_identity_client.go picks the source "AppService" when both are set, and MSAL Go's
// apps/managedidentity createAppServiceAuthRequest sends the request), the inconvenient
// parts first:
//   - the X-IDENTITY-HEADER header must carry IDENTITY_HEADER's value ("used to help mitigate
//     server-side request forgery (SSRF) attacks"); without it the request is refused;
//   - api-version must be 2019-08-01 and resource is required;
//   - a user-assigned identity is picked by client_id, principal_id (object_id) or mi_res_id,
//     and only one assigned to this app is served: another identity, or none when the app has
//     no system-assigned identity, is refused;
//   - the token is Entra's (Cloud.IssueToken): its aud is the resource asked for, its oid the
//     identity's principal, so Resource Manager, Log Analytics and the Blob service authorize
//     the caller by that principal's role assignments, as they do any caller;
//   - the answer is {"access_token","expires_on" (seconds since the epoch, a string),
//     "resource","token_type","client_id"}.
//
// Not modelled: the system-assigned identity, token caching (each request is a fresh token),
// and the exact status and text of a refusal, which the page does not give (400 here, with
// Entra's message when it refuses the resource).
type IdentityEndpoint struct {
	Store *Store
	// App is the site whose identities are served.
	App string
	// Header is IDENTITY_HEADER, a secret the host gives the app's processes alone.
	Header string
}

func (e IdentityEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	switch {
	case r.Method != http.MethodGet:
		http.Error(w, "the identity endpoint answers GET", http.StatusMethodNotAllowed)
		return
	case e.Header == "" || subtle.ConstantTimeCompare([]byte(r.Header.Get("X-IDENTITY-HEADER")), []byte(e.Header)) != 1:
		writeJSON(w, http.StatusUnauthorized, map[string]any{"statusCode": 401, "message": "X-IDENTITY-HEADER is missing or wrong"})
		return
	case q.Get("api-version") != IdentityAPIVersion:
		writeJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "message": fmt.Sprintf("api-version %q is not supported, want %s", q.Get("api-version"), IdentityAPIVersion)})
		return
	case q.Get("resource") == "":
		writeJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "message": "resource is required"})
		return
	}
	var token, clientID string
	err := e.Store.Update(func(c *Cloud) error {
		mi, err := e.identity(c, q)
		if err != nil {
			return err
		}
		clientID, _ = mi.Properties["clientId"].(string)
		token, err = c.IssueToken(clientID, q.Get("resource"))
		return err
	})
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"statusCode": 400, "message": err.Error()})
		return
	}
	cl, _ := verifyToken(token)
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": token, "expires_on": strconv.FormatInt(cl.Exp, 10), "resource": q.Get("resource"),
		"token_type": "Bearer", "client_id": clientID,
	})
}

// identity is the user-assigned identity the request names, among those assigned to the app.
func (e IdentityEndpoint) identity(c *Cloud, q map[string][]string) (*Resource, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var site *Resource
	for _, s := range c.ByType("azure-native:web:WebApp") {
		if strings.EqualFold(s.Name(), e.App) {
			site = s
		}
	}
	if site == nil {
		return nil, fmt.Errorf("no app %s", e.App)
	}
	assigned := map[string]bool{}
	for _, id := range userAssignedOf(site) {
		assigned[strings.ToLower(id)] = true
	}
	for _, mi := range c.ByType("azure-native:managedidentity:UserAssignedIdentity") {
		if !assigned[strings.ToLower(mi.ID)] {
			continue
		}
		client, _ := mi.Properties["clientId"].(string)
		principal, _ := mi.Properties["principalId"].(string)
		switch {
		case get("client_id") != "" && strings.EqualFold(get("client_id"), client),
			get("principal_id") != "" && strings.EqualFold(get("principal_id"), principal),
			get("object_id") != "" && strings.EqualFold(get("object_id"), principal),
			get("mi_res_id") != "" && strings.EqualFold(get("mi_res_id"), mi.ID):
			return mi, nil
		}
	}
	if get("client_id")+get("principal_id")+get("object_id")+get("mi_res_id") == "" {
		return nil, fmt.Errorf("app %s has no system-assigned identity: name one of its user-assigned identities (client_id)", e.App)
	}
	return nil, fmt.Errorf("unable to load the proper managed identity: the identity named is not assigned to app %s", e.App)
}

// userAssignedOf lists the resource ids of the user-assigned identities a site has, as
// azure-native sends them (a list) or ARM answers them (a map).
func userAssignedOf(site *Resource) []string {
	var out []string
	for _, src := range []map[string]any{site.Inputs, site.Properties} {
		id, _ := src["identity"].(map[string]any)
		switch v := id["userAssignedIdentities"].(type) {
		case []any:
			for _, x := range v {
				if s, ok := x.(string); ok {
					out = append(out, s)
				}
			}
		case map[string]any:
			for k := range v {
				out = append(out, k)
			}
		}
	}
	return out
}

// firstPartyResources are Microsoft's own resource applications that slotless asks tokens
// for; they have a service principal in every tenant, so Entra issues a managed identity a
// token for them without any `az ad sp create` (MicrosoftDocs entra-docs,
// identity-platform/app-objects-and-service-principals.md: "Microsoft services ... have
// service principals in every tenant"; the audiences are azure-resource-manager's
// https://management.azure.com, Azure Storage's https://storage.azure.com and the Log
// Analytics query API's https://api.loganalytics.io).
var firstPartyResources = []string{"https://management.azure.com", "https://management.core.windows.net", "https://storage.azure.com", "https://api.loganalytics.io"}

// isFirstParty reports whether resource is one of firstPartyResources, with or without a
// trailing slash.
func isFirstParty(resource string) bool {
	r := strings.TrimSuffix(strings.ToLower(resource), "/")
	for _, f := range firstPartyResources {
		if r == f {
			return true
		}
	}
	return false
}

// tenantPrincipal is the principal of a token the tenant issued for one of audiences: how
// Resource Manager and Log Analytics take a managed identity's token (its oid), having checked
// its signature, expiry and audience ("InvalidAuthenticationTokenAudience: The access token
// has been obtained for wrong audience or resource", MicrosoftDocs azure-docs,
// azure-resource-manager/troubleshooting/error-invalid-authentication-token-audience.md).
func tenantPrincipal(token string, audiences ...string) (string, bool) {
	cl, ok := verifyToken(token)
	if !ok || cl.Oid == "" {
		return "", false
	}
	aud := strings.TrimSuffix(strings.ToLower(cl.Aud), "/")
	for _, a := range audiences {
		if aud == a {
			return cl.Oid, true
		}
	}
	return "", false
}

// Audiences of the tenant's tokens Resource Manager and the Log Analytics query API accept.
var (
	armAudiences  = []string{"https://management.azure.com", "https://management.core.windows.net"}
	logsAudiences = []string{"https://api.loganalytics.io"}
)
