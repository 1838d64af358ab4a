package azurefake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The request path from API Management to a function app, and a function app's own host:
//
//   - Entra ID issues a managed identity an app-only access token for a resource: its aud is the
//     resource, its appid the identity's client id, its oid the identity's principal (object)
//     id, signed by the tenant (IssueToken). Only an identity that exists gets one, and only for
//     a resource that has a service principal in the tenant: an app registration made with
//     `az ad app create` has none until `az ad sp create --id <appId>` ("If you register/create
//     an application using the Microsoft Graph APIs, creating the service principal object is a
//     separate step", MicrosoftDocs entra-docs, identity-platform/app-objects-and-service-
//     principals.md), and the request fails with AADSTS500011, InvalidResourceServicePrincipal
//     NotFound, "The resource principal named {name} was not found in the tenant named
//     {tenant}" (identity-platform/reference-error-codes.md; a managed identity's request
//     answers it as invalid_resource, as Azure Data Factory's "Acquire MI token from AAD
//     failed" reports it).
//   - API Management's authentication-managed-identity policy gets such a token with the
//     user-assigned identity whose client id it names, for the resource it names, and sets it as
//     the Authorization header of the backend request; the identity must be attached to the
//     service. With ignore-error="true" a request for which no token can be had goes on without
//     one (MicrosoftDocs azure-docs, api-management/authentication-managed-identity-policy.md).
//     A single backend sends its credentials headers, a named value reference replaced by its
//     value (Forward).
//   - A function app with built-in authentication (authsettingsV2) validates a token it is
//     given: one for one of its audiences (the registration's client id is always one),
//     signed by the tenant and not expired, passes the caller's principal to the code as
//     X-MS-CLIENT-PRINCIPAL-ID ("External requests aren't allowed to set these headers, so
//     they're present only if set by App Service", app-service/configure-authentication-
//     user-identities.md); one from an application its policy does not allow is answered 403
//     (app-service/configure-authentication-provider-aad.md, "Use a built-in authorization
//     policy"). Requiring authentication, it answers a request without a valid token with its
//     unauthenticated action (Return401: 401) before the Functions host sees it, so the
//     request is never the host's and never in Application Insights' requests; with
//     AllowAnonymous ("defers authorization of unauthenticated traffic to your application
//     code. For authenticated requests, App Service also passes along authentication
//     information in the HTTP headers", overview-authentication-authorization.md) the request
//     goes on without a principal. Then the Functions host checks the function key (401 without
//     the right one, functions-bindings-http-webhook-trigger.md, "Authorization level"), and an
//     app restarted by a site update does not answer yet (AppAnswer).
//   - Cloud.BuiltInAuthNotEnforced models Flex Consumption as its preview documented it:
//     "EasyAuth isn't currently supported. Unauthenticated callers currently aren't blocked
//     when EasyAuth is enabled in a Flex Consumption plan app" (MicrosoftDocs azure-docs,
//     azure-functions/flex-consumption-plan.md, Considerations, ms.date 05/24/2024): the
//     settings are accepted and nothing is checked, nor any principal passed on. Without it,
//     the apps enforce it, as later pages show it working on Flex ("Tutorial: Host an MCP
//     server on Azure Functions", azure-functions/functions-mcp-tutorial.md, creates a Flex
//     Consumption app and enables built-in authentication on it).
//
// Not modelled: token lifetimes and caching (API Management caches tokens until they expire),
// v1/v2 issuer differences, how long Entra takes to replicate a new identity or service
// principal (replication.go holds them back until the test lets go, with no duration), and
// what AllowAnonymous does with a token that fails validation (taken here as no token), nor
// how excludedPaths matches beyond an exact path (wildcards, prefixes), nor whether an excluded
// path still applies the authorization policy to a valid token (taken here as it does).

// tenantKey signs the stand-in tenant's tokens; a token signed otherwise is not the tenant's.
var tenantKey = []byte("azurefake tenant signing key")

// Claims are the claims of an app-only access token that the apps' authentication reads.
type Claims struct {
	Aud   string `json:"aud"`
	AppID string `json:"appid"`
	// Oid is the caller's principal (object) id, what the app sees as X-MS-CLIENT-PRINCIPAL-ID.
	Oid string `json:"oid,omitempty"`
	Exp int64  `json:"exp"`
}

// IssueToken is Entra ID issuing the managed identity with this client id a token for
// resource, which must have a service principal in the tenant (ServicePrincipals, by its
// application id, or api://<application id>).
func (c *Cloud) IssueToken(clientID, resource string) (string, error) {
	mi := identityByClientID(c, clientID)
	if mi == nil || !c.replicated(clientID) {
		return "", fmt.Errorf("AADSTS700016: application with identifier '%s' was not found in the directory", clientID)
	}
	if !c.HasServicePrincipal(resource) || !c.replicated(resource) {
		tenant, _ := mi.Properties["tenantId"].(string)
		return "", fmt.Errorf("invalid_resource: AADSTS500011: The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant", resource, tenant)
	}
	oid, _ := mi.Properties["principalId"].(string)
	return signToken(Claims{Aud: resource, AppID: clientID, Oid: oid, Exp: time.Now().Add(time.Hour).Unix()}, tenantKey), nil
}

// HasServicePrincipal reports whether a token can be had for resource: an application (client)
// id, or its default application id URI api://<id>, that has a service principal in the
// tenant.
func (c *Cloud) HasServicePrincipal(resource string) bool {
	if isFirstParty(resource) {
		return true
	}
	id := strings.ToLower(strings.TrimPrefix(resource, "api://"))
	_, ok := c.ServicePrincipals[id]
	return ok
}

// CreateServicePrincipal is `az ad sp create --id <appId>`: the application gets a service
// principal in the tenant, with a new object id, which it returns.
func (c *Cloud) CreateServicePrincipal(appID string) string {
	if c.ServicePrincipals == nil {
		c.ServicePrincipals = map[string]string{}
	}
	id := strings.ToLower(appID)
	if oid, ok := c.ServicePrincipals[id]; ok {
		return oid
	}
	c.ServicePrincipals[id] = uuid.NewString()
	c.newPrincipal(id)
	return c.ServicePrincipals[id]
}

func signToken(cl Claims, key []byte) string {
	payload, _ := json.Marshal(cl)
	body := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(body))
	return body + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// ForgeToken signs claims with a key that is not the tenant's, for tests of a token nobody issued.
func ForgeToken(cl Claims) string { return signToken(cl, []byte("not the tenant's key")) }

// verifyToken returns the claims of a token the tenant issued and that has not expired.
func verifyToken(token string) (Claims, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, false
	}
	mac := hmac.New(sha256.New, tenantKey)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return Claims{}, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var cl Claims
	if err != nil || json.Unmarshal(raw, &cl) != nil || time.Now().Unix() > cl.Exp {
		return Claims{}, false
	}
	return cl, true
}

func identityByClientID(c *Cloud, clientID string) *Resource {
	for _, r := range c.ByType("azure-native:managedidentity:UserAssignedIdentity") {
		if id, _ := r.Properties["clientId"].(string); clientID != "" && strings.EqualFold(id, clientID) {
			return r
		}
	}
	return nil
}

// Forwarded is what API Management adds to a request it sends a function app.
type Forwarded struct {
	// URL is the single backend's URL, which API Management appends the operation's path under
	// the API to: https://<app host>[/<route prefix>].
	URL string
	// FunctionKey is the x-functions-key the app's backend sends.
	FunctionKey string
	// Authorization is the header the policy's authentication-managed-identity sets, if any.
	Authorization string
}

var (
	managedIdentityRE = regexp.MustCompile(`<authentication-managed-identity\b([^>]*)/?>`)
	attributeRE       = regexp.MustCompile(`([\w-]+)="([^"]*)"`)
)

// Forward evaluates, for a request of subscription sub's API routed to the app at hostname,
// the single backend's credentials and the API policy's authentication-managed-identity.
func (c *Cloud) Forward(sub, hostname string) (Forwarded, error) {
	var out Forwarded
	var service string
	for _, b := range c.ByType("azure-native:apimanagement:Backend") {
		u, _ := b.Inputs["url"].(string)
		if b.Subscription != sub || !strings.EqualFold(backendHost(u), hostname) {
			continue
		}
		service = parentID(b.ID)
		out.URL = u
		creds, _ := b.Inputs["credentials"].(map[string]any)
		header, _ := creds["header"].(map[string]any)
		if keys, _ := header["x-functions-key"].([]any); len(keys) > 0 {
			key, _ := keys[0].(string)
			out.FunctionKey = resolveNamedValues(c, service, key)
		}
	}
	if service == "" {
		return out, fmt.Errorf("no backend of subscription %s points at %s", sub, hostname)
	}
	for _, p := range c.ByType("azure-native:apimanagement:ApiPolicy") {
		if !strings.HasPrefix(strings.ToLower(p.ID), strings.ToLower(service)+"/") {
			continue
		}
		doc, _ := p.Inputs["value"].(string)
		m := managedIdentityRE.FindStringSubmatch(doc)
		if m == nil {
			continue
		}
		attrs := map[string]string{}
		for _, a := range attributeRE.FindAllStringSubmatch(m[1], -1) {
			attrs[a[1]] = resolveNamedValues(c, service, a[2])
		}
		token, err := serviceToken(c, service, attrs["client-id"], attrs["resource"])
		switch {
		case err == nil:
			out.Authorization = "Bearer " + token
		case attrs["ignore-error"] != "true":
			return out, fmt.Errorf("authentication-managed-identity: %w", err)
		}
	}
	return out, nil
}

// serviceToken gets a token with one of the service's own user-assigned identities.
func serviceToken(c *Cloud, service, clientID, resource string) (string, error) {
	svc, ok := c.Get(service)
	if !ok {
		return "", fmt.Errorf("service %s not found", service)
	}
	identity, _ := svc.Properties["identity"].(map[string]any)
	users, _ := identity["userAssignedIdentities"].(map[string]any)
	for _, u := range users {
		entry, _ := u.(map[string]any)
		if id, _ := entry["clientId"].(string); id != "" && strings.EqualFold(id, clientID) {
			return c.IssueToken(clientID, resource)
		}
	}
	return "", fmt.Errorf("managed identity with client id %q is not assigned to the service", clientID)
}

var namedValueRefRE = regexp.MustCompile(`\{\{([^{}]+)\}\}`)

// resolveNamedValues replaces {{name}} references with the named values of the service.
func resolveNamedValues(c *Cloud, service, s string) string {
	return namedValueRefRE.ReplaceAllStringFunc(s, func(ref string) string {
		name := strings.Trim(ref, "{}")
		for _, nv := range c.ByType("azure-native:apimanagement:NamedValue") {
			if strings.HasPrefix(strings.ToLower(nv.ID), strings.ToLower(service)+"/") && nv.Inputs["displayName"] == name {
				if nv.Secret != "" {
					return nv.Secret
				}
				v, _ := nv.Inputs["value"].(string)
				return v
			}
		}
		return ref
	})
}

// backendHost is the host of a backend URL, "" when it has none.
func backendHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

// AppAnswer is how the function app answers a request that reaches its host, at a route of one
// of its functions, with this Authorization header and function key: 200, or the status and
// reason of its refusal.
func (c *Cloud) AppAnswer(app *Resource, authorization, functionKey string) (int, string) {
	return c.AppAnswerAt(app, "", authorization, functionKey)
}

// AppAnswerAt is AppAnswer for a request to path on the app's host ("" for a route of one of
// its functions).
func (c *Cloud) AppAnswerAt(app *Resource, path, authorization, functionKey string) (int, string) {
	a := c.AppSeesAt(app, path, authorization, functionKey)
	return a.Status, a.Reason
}

// Answer is how a function app answers a request, and what its code saw of it.
type Answer struct {
	// Status is 200, or the status of the refusal; Reason says who refused and why.
	Status int
	Reason string
	// Principal is the X-MS-CLIENT-PRINCIPAL-ID the app's built-in authentication passed to the
	// code: the caller's object id when it validated a token, else empty.
	Principal string
}

// AppSees is AppAnswer with what the app's code saw: the caller's principal, when the app's
// built-in authentication validated a token.
func (c *Cloud) AppSees(app *Resource, authorization, functionKey string) Answer {
	return c.AppSeesAt(app, "", authorization, functionKey)
}

// AppSeesAt is AppSees for a request to path on the app's host ("" for a route of one of its
// functions). The Functions host serves HTTP functions only under the route prefix of the
// package it runs (RoutePrefixOf): a path outside it matches no function and answers 404,
// after built-in authentication, which runs before the host, and before any function key is
// asked for.
func (c *Cloud) AppSeesAt(app *Resource, path, authorization, functionKey string) Answer {
	if time.Now().UnixMilli() < app.RestartedUntilMs {
		return Answer{Status: http.StatusServiceUnavailable, Reason: "the app is restarting after a site update"}
	}
	var principal string
	if auth, ok := c.Get(app.ID + "/config/authsettingsV2"); ok && !c.BuiltInAuthNotEnforced {
		a := builtInAuthentication(auth.Inputs, path, authorization)
		if a.Status != http.StatusOK {
			return a
		}
		principal = a.Principal
	}
	if prefix := c.RoutePrefixOf(app.Name()); path != "" && !underPrefix(path, prefix) {
		return Answer{Status: http.StatusNotFound, Reason: fmt.Sprintf("no function of %s answers %s: its HTTP functions are under /%s (host.json extensions.http.routePrefix)", app.Name(), path, prefix)}
	}
	if functionKey == "" || functionKey != app.FunctionKey {
		return Answer{Status: http.StatusUnauthorized, Reason: "the Functions host refuses the request: no valid function key"}
	}
	return Answer{Status: http.StatusOK, Principal: principal}
}

// builtInAuthentication is App Service authentication deciding on a request to path ("" for a
// route of one of the app's functions): the caller's principal when the request carries a valid
// token, its refusal when it requires one and the request has none. A path listed in
// globalValidation.excludedPaths ("The paths for which unauthenticated flow would not be
// redirected to the login page", azure-rest-api-specs, Microsoft.Web AuthSettingsV2.json,
// GlobalValidation) is not refused for want of a valid token, whatever the unauthenticated
// action: teams list their health endpoint there so that platform health checks reach it. The
// stand-in matches an excluded path exactly, ignoring case.
func builtInAuthentication(in map[string]any, path, authorization string) Answer {
	platform, _ := in["platform"].(map[string]any)
	global, _ := in["globalValidation"].(map[string]any)
	if platform["enabled"] != true {
		return Answer{Status: http.StatusOK}
	}
	required := global["requireAuthentication"] == true
	unauthenticated := http.StatusUnauthorized
	switch global["unauthenticatedClientAction"] {
	case "AllowAnonymous":
		required = false
	case "Return403":
		unauthenticated = http.StatusForbidden
	case "RedirectToLoginPage":
		unauthenticated = http.StatusFound
	}
	providers, _ := in["identityProviders"].(map[string]any)
	aad, _ := providers["azureActiveDirectory"].(map[string]any)
	registration, _ := aad["registration"].(map[string]any)
	validation, _ := aad["validation"].(map[string]any)
	policy, _ := validation["defaultAuthorizationPolicy"].(map[string]any)
	audiences := strs(validation["allowedAudiences"])
	if id, _ := registration["clientId"].(string); id != "" {
		audiences = append(audiences, id)
	}
	token, found := strings.CutPrefix(authorization, "Bearer ")
	cl, valid := verifyToken(token)
	var refusal string
	switch {
	case aad["enabled"] != true || !found || !valid:
		refusal = "App Service authentication: no valid token"
	case !slices.ContainsFunc(audiences, func(a string) bool { return strings.EqualFold(a, cl.Aud) }):
		refusal = fmt.Sprintf("App Service authentication: the token's audience %s is not allowed", cl.Aud)
	}
	excluded := path != "" && slices.ContainsFunc(strs(global["excludedPaths"]), func(p string) bool { return strings.EqualFold(p, path) })
	switch {
	case refusal != "" && required && !excluded:
		return Answer{Status: unauthenticated, Reason: refusal}
	case refusal != "":
		return Answer{Status: http.StatusOK}
	}
	if allowed := strs(policy["allowedApplications"]); len(allowed) > 0 && !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, cl.AppID) }) {
		return Answer{Status: http.StatusForbidden, Reason: fmt.Sprintf("App Service authentication: application %s is not allowed", cl.AppID)}
	}
	return Answer{Status: http.StatusOK, Principal: cl.Oid}
}

// RoutePrefixOf is the route prefix an app's Functions host serves its HTTP functions under:
// host.json's extensions.http.routePrefix in the package last deployed to it, or "api", the
// host's default, before any (MicrosoftDocs azure-functions, functions-host-json.md, "http").
func (c *Cloud) RoutePrefixOf(app string) string {
	if d := c.Deployments[strings.ToLower(app)]; d != nil && d.Status != 3 && d.RoutePrefix != nil {
		return *d.RoutePrefix
	}
	return "api"
}

// underPrefix reports whether a request path is under a route prefix, ignoring case as the
// Functions host's routing does; every path is under the empty prefix.
func underPrefix(path, prefix string) bool {
	if prefix == "" {
		return true
	}
	p := strings.ToLower(strings.TrimPrefix(path, "/"))
	prefix = strings.ToLower(prefix)
	return p == prefix || strings.HasPrefix(p, prefix+"/")
}

// AppHost serves the function apps' own hosts, https://<app>.azurewebsites.net, found by the
// request's Host: what a caller that goes around API Management reaches. The function key may
// come as x-functions-key or as ?code=.
type AppHost struct{ Store Store }

func (h AppHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := h.Store.Load()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	host := strings.Split(r.Host, ":")[0]
	for _, app := range c.ByType("azure-native:web:WebApp") {
		if app.Properties["defaultHostName"] != host {
			continue
		}
		key := r.Header.Get("x-functions-key")
		if key == "" {
			key = r.URL.Query().Get("code")
		}
		if status, reason := c.AppAnswerAt(app, r.URL.Path, r.Header.Get("Authorization"), key); status != http.StatusOK {
			http.Error(w, reason, status)
			return
		}
		fmt.Fprintf(w, `{"app":%q,"path":%q}`, app.Name(), r.URL.Path)
		return
	}
	http.Error(w, "no app answers at "+host, http.StatusNotFound)
}
