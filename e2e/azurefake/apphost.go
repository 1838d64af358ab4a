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
)

// The request path from API Management to a function app, and a function app's own host:
//
//   - Entra ID issues a managed identity an app-only access token for a resource: its aud is the
//     resource, its appid the identity's client id, signed by the tenant (IssueToken). Only an
//     identity that exists gets one.
//   - API Management's authentication-managed-identity policy gets such a token with the
//     user-assigned identity whose client id it names, for the resource it names, and sets it as
//     the Authorization header of the backend request; the identity must be attached to the
//     service. With ignore-error="true" a request for which no token can be had goes on without
//     one (MicrosoftDocs azure-docs, api-management/authentication-managed-identity-policy.md).
//     A single backend sends its credentials headers, a named value reference replaced by its
//     value (Forward).
//   - A function app with built-in authentication (authsettingsV2) that requires it answers a
//     request without a valid token for one of its audiences with its unauthenticated action
//     (Return401: 401), and one from an application its policy does not allow with 403
//     (app-service/configure-authentication-provider-aad.md, "Use a built-in authorization
//     policy"; overview-authentication-authorization.md); the registration's client id is
//     always an allowed audience. Then the Functions host checks the function key (401 without
//     the right one, functions-bindings-http-webhook-trigger.md, "Authorization level"), and an
//     app restarted by a site update does not answer yet (AppAnswer).
//
// Not modelled: token lifetimes and caching (API Management caches tokens until they expire),
// v1/v2 issuer differences, and the minutes an identity attached to a service takes to be
// usable.

// tenantKey signs the stand-in tenant's tokens; a token signed otherwise is not the tenant's.
var tenantKey = []byte("azurefake tenant signing key")

// Claims are the claims of an app-only access token that the apps' authentication reads.
type Claims struct {
	Aud   string `json:"aud"`
	AppID string `json:"appid"`
	Exp   int64  `json:"exp"`
}

// IssueToken is Entra ID issuing the managed identity with this client id a token for resource.
func (c *Cloud) IssueToken(clientID, resource string) (string, error) {
	if identityByClientID(c, clientID) == nil {
		return "", fmt.Errorf("AADSTS700016: application with identifier '%s' was not found in the directory", clientID)
	}
	return signToken(Claims{Aud: resource, AppID: clientID, Exp: time.Now().Add(time.Hour).Unix()}, tenantKey), nil
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
// its functions). The Functions host serves HTTP functions only under the route prefix of the
// package it runs (RoutePrefixOf): a path outside it matches no function and answers 404,
// after built-in authentication, which runs before the host, and before any function key is
// asked for.
func (c *Cloud) AppAnswerAt(app *Resource, path, authorization, functionKey string) (int, string) {
	if time.Now().UnixMilli() < app.RestartedUntilMs {
		return http.StatusServiceUnavailable, "the app is restarting after a site update"
	}
	if auth, ok := c.Get(app.ID + "/config/authsettingsV2"); ok {
		if status, reason := builtInAuthentication(auth.Inputs, authorization); status != http.StatusOK {
			return status, reason
		}
	}
	if prefix := c.RoutePrefixOf(app.Name()); path != "" && !underPrefix(path, prefix) {
		return http.StatusNotFound, fmt.Sprintf("no function of %s answers %s: its HTTP functions are under /%s (host.json extensions.http.routePrefix)", app.Name(), path, prefix)
	}
	if functionKey == "" || functionKey != app.FunctionKey {
		return http.StatusUnauthorized, "the Functions host refuses the request: no valid function key"
	}
	return http.StatusOK, ""
}

// builtInAuthentication is App Service authentication deciding on a request.
func builtInAuthentication(in map[string]any, authorization string) (int, string) {
	platform, _ := in["platform"].(map[string]any)
	global, _ := in["globalValidation"].(map[string]any)
	if platform["enabled"] != true || global["requireAuthentication"] != true {
		return http.StatusOK, ""
	}
	unauthenticated := http.StatusUnauthorized
	switch global["unauthenticatedClientAction"] {
	case "AllowAnonymous":
		return http.StatusOK, ""
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
	switch {
	case aad["enabled"] != true || !found || !valid:
		return unauthenticated, "App Service authentication: no valid token"
	case !slices.ContainsFunc(audiences, func(a string) bool { return strings.EqualFold(a, cl.Aud) }):
		return unauthenticated, fmt.Sprintf("App Service authentication: the token's audience %s is not allowed", cl.Aud)
	}
	if allowed := strs(policy["allowedApplications"]); len(allowed) > 0 && !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, cl.AppID) }) {
		return http.StatusForbidden, fmt.Sprintf("App Service authentication: application %s is not allowed", cl.AppID)
	}
	return http.StatusOK, ""
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
