package azurefake

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ARMAPIVersion is the API Management REST version the facade answers: the one azure-native
// 3.28.0 uses for apimanagement, and the one armapimanagement/v3 v3.0.0 sends.
const ARMAPIVersion = "2024-05-01"

// ARM is the stand-in's Azure Resource Manager endpoint for API Management: the REST calls
// slotless makes outside Pulumi (the break-glass rollback, status and the release's live pool
// reads) against the same cloud file the provider writes, so a portal edit, a direct write and
// a Pulumi update all see one Azure.
//
// What it mirrors, the inconvenient parts first:
//   - a bearer token is required (401 InvalidAuthenticationToken), and only over TLS (see CA);
//   - api-version must be 2024-05-01 (400 InvalidApiVersionParameter);
//   - a backend or named value PATCH needs If-Match, "*" or the current ETag (412
//     PreconditionFailed), as the REST spec makes If-Match required on Backend_Update and
//     NamedValue_Update;
//   - a named value PATCH is a long-running operation: 202 with an Azure-AsyncOperation at the
//     service's tenant/operationResults, which answers InProgress until the operation
//     completes, then Succeeded, and a Location that answers 202, then 200 with the entity, as
//     the 2024-05-01 example ApiManagementUpdateNamedValue.json shows both (NamedValue_Update
//     is x-ms-long-running-operation; armapimanagement's NamedValueClient.BeginUpdate polls
//     the Azure-AsyncOperation, which needs its own action, lroPollAction), and the value
//     changes only when it completes;
//   - Throttle answers the next writes with 429 and Retry-After, which azcore retries;
//   - a pool write is refused as a Pulumi update of it is (refuseBackend: members, weights);
//   - POST .../namedValues/ID/listValue answers a secret's value (NamedValue_ListValue).
type ARM struct {
	Fake *Fake
	// Token is the deploying identity's bearer token, taken as Owner.
	Token string
	// Principals are the other tokens the facade accepts, each with the principal (object id)
	// it signs in as; their calls are authorized by the cloud's role assignments (rbac.go).
	Principals map[string]string

	mu sync.Mutex
	// pending are named value updates in flight, by operation id; finished are those done.
	pending  map[string]*pendingOp
	finished map[string]bool
	next     int
}

type pendingOp struct {
	id    string
	props map[string]any
	polls int
}

// StartARM serves the facade over TLS on a loopback port, with a certificate from a fresh
// local CA; the caller closes the server.
func StartARM(f *Fake, token string) (*httptest.Server, *CA, error) {
	return StartARMFor(f, token, nil)
}

// StartARMFor is StartARM that also accepts the tokens of principals, whose calls the cloud's
// role assignments authorize.
func StartARMFor(f *Fake, token string, principals map[string]string) (*httptest.Server, *CA, error) {
	ca, err := NewCA()
	if err != nil {
		return nil, nil, err
	}
	cfg, err := ca.ServerConfig()
	if err != nil {
		return nil, nil, err
	}
	srv := httptest.NewUnstartedServer(&ARM{Fake: f, Token: token, Principals: principals})
	srv.TLS = cfg
	srv.StartTLS()
	return srv, ca, nil
}

func armError(w http.ResponseWriter, status int, code, format string, args ...any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": fmt.Sprintf(format, args...)}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// ServeHTTP implements http.Handler.
func (a *ARM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	principal, ok := a.caller(r)
	if !ok {
		armError(w, http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
		return
	}
	if rest, ok := strings.CutPrefix(r.URL.Path, "/scm/"); ok {
		app, rest, _ := strings.Cut(rest, "/")
		// The deployment host authorizes an Entra token by the caller's rights on the app.
		if !a.allowed(w, principal, "Microsoft.Web/sites/publish/Action", a.siteID(app)) {
			return
		}
		a.serveSCM(w, r, app, rest)
		return
	}
	if site, config, ok := a.site(r); ok {
		if v := r.URL.Query().Get("api-version"); v != AppServiceAPIVersion {
			armError(w, http.StatusBadRequest, "InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions include '%s'.", v, AppServiceAPIVersion)
			return
		}
		switch {
		case config == "" && a.allowed(w, principal, "Microsoft.Web/sites/read", site):
			a.getSite(w, r, site)
		case strings.EqualFold(config, "appsettings") && r.Method == http.MethodPut && a.allowed(w, principal, "Microsoft.Web/sites/config/write", site+"/config/appsettings"):
			a.putAppSettings(w, r, site)
		case config != "" && !(strings.EqualFold(config, "appsettings") && r.Method == http.MethodPut):
			armError(w, http.StatusNotFound, "NotFound", "The facade serves only a site's appsettings config, with PUT.")
		}
		return
	}
	if a.legacyProperty(w, r, principal) {
		return
	}
	if v := r.URL.Query().Get("api-version"); v != ARMAPIVersion {
		armError(w, http.StatusBadRequest, "InvalidApiVersionParameter", "The api-version '%s' is invalid. The supported versions include '%s'.", v, ARMAPIVersion)
		return
	}
	if op := r.URL.Query().Get("asyncId"); op != "" && r.Method == http.MethodGet {
		a.poll(w, op)
		return
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	// subscriptions/S/resourceGroups/G/providers/Microsoft.ApiManagement/service[/N[/kind/id]]
	if len(parts) < 7 || !strings.EqualFold(parts[0], "subscriptions") || !strings.EqualFold(parts[2], "resourceGroups") ||
		!strings.EqualFold(parts[4], "providers") || !strings.EqualFold(parts[5], "Microsoft.ApiManagement") || !strings.EqualFold(parts[6], "service") {
		armError(w, http.StatusNotFound, "InvalidResourceType", "The resource type could not be found in the namespace for api version '%s'.", ARMAPIVersion)
		return
	}
	switch {
	case len(parts) == 7 && r.Method == http.MethodGet:
		if a.allowed(w, principal, "Microsoft.ApiManagement/service/read", "/"+strings.Join(parts[:4], "/")) {
			a.listServices(w, parts[1], parts[3])
		}
	case len(parts) == 10 && (strings.EqualFold(parts[8], "backends") || strings.EqualFold(parts[8], "namedValues")):
		token, kind := "azure-native:apimanagement:Backend", "backends"
		if strings.EqualFold(parts[8], "namedValues") {
			token, kind = "azure-native:apimanagement:NamedValue", "namedValues"
		}
		verb := "read"
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			verb = "write"
		}
		id := "/" + strings.Join(parts, "/")
		if a.allowed(w, principal, "Microsoft.ApiManagement/service/"+kind+"/"+verb, id) {
			a.entity(w, r, token, id)
		}
	case len(parts) == 11 && strings.EqualFold(parts[8], "namedValues") && strings.EqualFold(parts[10], "listValue") && r.Method == http.MethodPost:
		// NamedValue_ListValue: a secret's value, which GET never returns; its own action, at
		// the named value's scope.
		id := "/" + strings.Join(parts[:10], "/")
		if a.allowed(w, principal, "Microsoft.ApiManagement/service/namedValues/listValue/action", id) {
			c, err := a.Fake.Store.Load()
			if err == nil {
				var v map[string]any
				if v, err = listNamedValue(c, id); err == nil {
					writeJSON(w, http.StatusOK, v)
					return
				}
			}
			if e, ok := err.(*AzureError); ok {
				armError(w, e.Status, e.Code, "%s", e.Message)
				return
			}
			armError(w, http.StatusInternalServerError, "InternalServerError", "%v", err)
		}
	case len(parts) == 11 && strings.EqualFold(parts[8], "tenant") && strings.EqualFold(parts[9], "operationResults") && r.Method == http.MethodGet:
		if a.allowed(w, principal, lroPollAction, "/"+strings.Join(parts, "/")) {
			a.operationResult(w, parts[10])
		}
	default:
		armError(w, http.StatusNotFound, "InvalidResourceType", "The resource type could not be found in the namespace for api version '%s'.", ARMAPIVersion)
	}
}

// site reports whether a request names a function app (Microsoft.Web/sites/NAME), or one of
// its config resources (.../config/NAME), with the app's id.
func (a *ARM) site(r *http.Request) (id, config string, ok bool) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 8 || !strings.EqualFold(parts[4], "providers") || !strings.EqualFold(parts[5], "Microsoft.Web") || !strings.EqualFold(parts[6], "sites") {
		return "", "", false
	}
	id = "/" + strings.Join(parts[:8], "/")
	switch {
	case len(parts) == 8:
		return id, "", true
	case len(parts) == 10 && strings.EqualFold(parts[8], "config"):
		return id, parts[9], true
	}
	return "", "", false
}

// siteID is the id of the function app named app, or a path that names it when there is none.
func (a *ARM) siteID(app string) string {
	if c, err := a.Fake.Store.Load(); err == nil {
		for _, s := range c.ByType("azure-native:web:WebApp") {
			if strings.EqualFold(s.Name(), app) {
				return s.ID
			}
		}
	}
	return "/providers/Microsoft.Web/sites/" + app
}

// putAppSettings answers WebAppsClient.UpdateApplicationSettings as App Service does: the
// body's properties replace the app's settings, and the change restarts the app, like any site
// update (Cloud.SiteUpdateRestartMs), so the call notes the traffic it carried.
func (a *ARM) putAppSettings(w http.ResponseWriter, r *http.Request, id string) {
	var body struct {
		Properties map[string]string `json:"properties"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Properties == nil {
		armError(w, http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
		return
	}
	err := a.Fake.Store.Update(func(c *Cloud) error {
		site, ok := c.Get(id)
		if !ok {
			return azErr(http.StatusNotFound, "ResourceNotFound", "The Resource '%s' was not found.", id)
		}
		settings := []any{}
		for _, k := range slices.Sorted(maps.Keys(body.Properties)) {
			settings = append(settings, map[string]any{"name": k, "value": body.Properties[k]})
		}
		for _, m := range []map[string]any{site.Inputs, site.Properties} {
			sc, _ := m["siteConfig"].(map[string]any)
			if sc == nil {
				sc = map[string]any{}
				m["siteConfig"] = sc
			}
			sc["appSettings"] = settings
		}
		host, _ := site.Properties["defaultHostName"].(string)
		if c.SiteUpdateRestartMs > 0 {
			site.RestartedUntilMs = time.Now().Add(time.Duration(c.SiteUpdateRestartMs) * time.Millisecond).UnixMilli()
		}
		c.Calls = append(c.Calls, Call{Op: "arm put appsettings", Token: "azure-native:web:WebApp", Target: id,
			Note: fmt.Sprintf("site update: restarted while carrying %d%% of the traffic", c.Share(host))})
		return nil
	})
	if err != nil {
		e := err.(*AzureError)
		armError(w, e.Status, e.Code, "%s", e.Message)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id + "/config/appsettings", "name": "appsettings", "type": "Microsoft.Web/sites/config", "properties": body.Properties})
}

// load reads one resource of the cloud, answering ARM's error when it cannot.
func (a *ARM) load(w http.ResponseWriter, id string) (*Resource, bool) {
	c, err := a.Fake.Store.Load()
	if err != nil {
		armError(w, http.StatusInternalServerError, "InternalServerError", "%v", err)
		return nil, false
	}
	res, ok := c.Get(id)
	if !ok {
		armError(w, http.StatusNotFound, "ResourceNotFound", "The Resource '%s' was not found.", id)
	}
	return res, ok
}

// getSite answers WebAppsClient.Get.
func (a *ARM) getSite(w http.ResponseWriter, r *http.Request, id string) {
	if r.Method != http.MethodGet {
		armError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "The facade only reads apps.")
		return
	}
	res, ok := a.load(w, id)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, siteBody(res, r.Host))
}

// listServices answers ServiceClient.NewListByResourceGroupPager: the services of a group,
// with their tags, so a client can find the one a stack created by its tags.
func (a *ARM) listServices(w http.ResponseWriter, sub, group string) {
	c, err := a.Fake.Store.Load()
	if err != nil {
		armError(w, http.StatusInternalServerError, "InternalServerError", "%v", err)
		return
	}
	if _, ok := c.Get(fmt.Sprintf("/subscriptions/%s/resourceGroups/%s", sub, group)); !ok {
		armError(w, http.StatusNotFound, "ResourceGroupNotFound", "Resource group '%s' could not be found.", group)
		return
	}
	value := []any{}
	for _, r := range c.ByType("azure-native:apimanagement:ApiManagementService") {
		if strings.EqualFold(r.Subscription, sub) && strings.EqualFold(str(r.Inputs, "resourceGroupName"), group) {
			value = append(value, armBody(r))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": value})
}

// topLevel are the keys ARM keeps outside `properties`; azure-native flattens the rest.
var topLevel = map[string]bool{"location": true, "tags": true, "sku": true, "identity": true, "zones": true}

// armBody is a resource in ARM's shape: id, name, type, the top-level keys, and properties.
func armBody(r *Resource) map[string]any {
	body := map[string]any{"id": r.ID, "name": r.Name()}
	props := map[string]any{}
	for k, v := range r.Properties {
		switch {
		case k == "name" || k == "azureApiVersion":
		case k == "type":
			body["type"] = v
		case topLevel[k]:
			body[k] = v
		default:
			props[k] = v
		}
	}
	if r.Token == "azure-native:apimanagement:Backend" {
		// A backend's ARM type is its `type` output; Single or Pool is the `type` input.
		props["type"] = r.Inputs["type"]
	}
	body["properties"] = props
	return body
}

// etag is a resource's entity tag: it changes whenever its properties do.
func etag(r *Resource) string {
	raw, _ := json.Marshal(r.Properties)
	sum := sha256.Sum256(raw)
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}

func (a *ARM) entity(w http.ResponseWriter, r *http.Request, token, id string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		res, ok := a.load(w, id)
		if !ok {
			return
		}
		w.Header().Set("ETag", etag(res))
		writeJSON(w, http.StatusOK, armBody(res))
	case http.MethodPatch, http.MethodPut:
		a.write(w, r, token, id)
	default:
		armError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "%s is not supported here", r.Method)
	}
}

func (a *ARM) write(w http.ResponseWriter, r *http.Request, token, id string) {
	var body struct {
		Properties map[string]any `json:"properties"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Properties == nil {
		armError(w, http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
		return
	}
	var status int
	var answer map[string]any
	var opID string
	err := a.Fake.Store.Update(func(c *Cloud) error {
		res, ok := c.Get(id)
		var err error
		switch {
		case c.Throttle > 0:
			c.Throttle--
			w.Header().Set("Retry-After", "1")
			status = http.StatusTooManyRequests
			err = azErr(429, "TooManyRequests", "The request is being throttled.")
		case !ok:
			status = http.StatusNotFound
			err = azErr(404, "ResourceNotFound", "The Resource '%s' was not found.", id)
		case r.Method == http.MethodPatch && r.Header.Get("If-Match") == "":
			status = http.StatusBadRequest
			err = azErr(400, "InvalidRequest", "If-Match header is required for this operation.")
		case r.Header.Get("If-Match") != "" && r.Header.Get("If-Match") != "*" && r.Header.Get("If-Match") != etag(res):
			status = http.StatusPreconditionFailed
			err = azErr(412, "PreconditionFailed", "The entity's ETag does not match the If-Match header: it was changed since it was read.")
		}
		if err == nil {
			in := map[string]any{}
			for k, v := range res.Inputs {
				in[k] = v
			}
			for k, v := range body.Properties {
				in[k] = v
			}
			if err = a.Fake.refuse(c, token, id, in); err != nil {
				status = http.StatusBadRequest
			} else if token == "azure-native:apimanagement:NamedValue" {
				// A long-running operation: the change lands when it completes.
				a.mu.Lock()
				a.next++
				opID = strconv.Itoa(a.next)
				if a.pending == nil {
					a.pending = map[string]*pendingOp{}
				}
				a.pending[opID] = &pendingOp{id: id, props: body.Properties}
				a.mu.Unlock()
				status = http.StatusAccepted
			} else {
				apply(res, body.Properties)
				status, answer = http.StatusOK, armBody(res)
				w.Header().Set("ETag", etag(res))
			}
		}
		c.Calls = append(c.Calls, Call{Op: "arm " + strings.ToLower(r.Method), Token: token, Target: id, Error: errString(err)})
		return err
	})
	switch {
	case err != nil:
		e, ok := err.(*AzureError)
		if !ok {
			armError(w, http.StatusInternalServerError, "InternalServerError", "%v", err)
			return
		}
		armError(w, status, e.Code, "%s", e.Message)
	case status == http.StatusAccepted:
		w.Header().Set("Location", fmt.Sprintf("https://%s%s?api-version=%s&asyncId=%s&asyncCode=200", r.Host, id, ARMAPIVersion, opID))
		w.Header().Set("Azure-AsyncOperation", fmt.Sprintf("https://%s%s/tenant/operationResults/%s?api-version=%s", r.Host, serviceID(id), opID, ARMAPIVersion))
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusAccepted)
	default:
		writeJSON(w, status, answer)
	}
}

// apply writes a PATCH's or PUT's properties into a resource's outputs and inputs alike: both
// are what Azure now holds, and a later Pulumi refresh reads the outputs.
func apply(res *Resource, props map[string]any) {
	for k, v := range props {
		res.Inputs[k] = v
		if k == "value" && res.Token == "azure-native:apimanagement:NamedValue" && res.Inputs["secret"] == true {
			res.Secret, _ = v.(string)
			continue
		}
		res.Properties[k] = v
	}
}

// advance moves a long-running operation on by one poll, through either of its URLs: in
// progress on the first, done (with the change applied) on the next. It returns the entity once
// done; found is false for an operation it does not know (one already finished included).
func (a *ARM) advance(opID string) (answer map[string]any, done, found bool, err error) {
	a.mu.Lock()
	op, ok := a.pending[opID]
	if ok {
		op.polls++
	}
	a.mu.Unlock()
	if !ok {
		return nil, false, false, nil
	}
	if op.polls < 2 {
		return nil, false, true, nil
	}
	err = a.Fake.Store.Update(func(c *Cloud) error {
		res, ok := c.Get(op.id)
		if !ok {
			return azErr(404, "ResourceNotFound", "The Resource '%s' was not found.", op.id)
		}
		apply(res, op.props)
		answer = armBody(res)
		return nil
	})
	if err == nil {
		a.mu.Lock()
		delete(a.pending, opID)
		a.mu.Unlock()
	}
	return answer, err == nil, true, err
}

// poll answers a long-running operation's Location: 202 while in progress, then 200 with the
// entity.
func (a *ARM) poll(w http.ResponseWriter, opID string) {
	answer, done, found, err := a.advance(opID)
	switch {
	case !found:
		armError(w, http.StatusNotFound, "OperationNotFound", "Operation %s was not found.", opID)
	case err != nil:
		armError(w, http.StatusNotFound, "ResourceNotFound", "%v", err)
	case !done:
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusAccepted)
	default:
		writeJSON(w, http.StatusOK, answer)
	}
}

// operationResult answers a long-running operation's Azure-AsyncOperation URL,
// .../service/NAME/tenant/operationResults/ID, with API Management's OperationResultContract
// (apimanagement 2024-05-01 definitions.json): 200 with status InProgress, then Succeeded. The
// entity itself then comes from the final GET of the original URL, which azcore's poller makes
// for a PATCH or PUT (internal/pollers/async, Result). An operation that already finished is
// Succeeded, as an operation result stays readable after the operation.
func (a *ARM) operationResult(w http.ResponseWriter, opID string) {
	_, done, found, err := a.advance(opID)
	a.mu.Lock()
	finished := a.finished[opID]
	if done {
		if a.finished == nil {
			a.finished = map[string]bool{}
		}
		a.finished[opID] = true
	}
	a.mu.Unlock()
	switch {
	case !found && !finished:
		armError(w, http.StatusNotFound, "OperationNotFound", "Operation %s was not found.", opID)
	case err != nil:
		writeJSON(w, http.StatusOK, map[string]any{"id": opID, "name": opID, "status": "Failed", "error": map[string]any{"code": "ResourceNotFound", "message": err.Error()}})
	case done || finished:
		writeJSON(w, http.StatusOK, map[string]any{"id": opID, "name": opID, "status": "Succeeded"})
	default:
		writeJSON(w, http.StatusOK, map[string]any{"id": opID, "name": opID, "status": "InProgress"})
	}
}

// SecretSafeAPIVersion is the first API Management REST version that never returns a secret
// named value's value on GET: from it on, named values are namedValues, and their value comes
// only from POST .../listValue (NamedValue `value`: "This property will not be filled on 'GET'
// operations! Use '/listSecrets' POST request to get the value").
const SecretSafeAPIVersion = "2019-12-01"

// legacyProperty answers a GET of a named value through an API version older than
// SecretSafeAPIVersion, where named values were "properties" (APIM REST 2019-01-01,
// apimproperties.json Property_Get, whose PropertyContract carries the value, secret or not).
// A read action is all it needs, so Reader gets a secret's value, unless the service's
// apiVersionConstraint.minApiVersion refuses the version (Azure Policy built-in 549814b6,
// "API Management minimum API version should be set to 2019-12-01 or higher": "To prevent
// service secrets from being shared with read-only users"); the refusal's wording is APIM's
// as microsoft/vscode-apimanagement#343 quotes it. It reports whether it answered; any other
// request goes on to the checks of the supported version.
func (a *ARM) legacyProperty(w http.ResponseWriter, r *http.Request, principal string) bool {
	version := r.URL.Query().Get("api-version")
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if version == "" || version >= SecretSafeAPIVersion || r.Method != http.MethodGet || len(parts) != 10 ||
		!strings.EqualFold(parts[5], "Microsoft.ApiManagement") || !strings.EqualFold(parts[6], "service") || !strings.EqualFold(parts[8], "properties") {
		return false
	}
	service := "/" + strings.Join(parts[:8], "/")
	svc, ok := a.load(w, service)
	if !ok {
		return true
	}
	if min := MinAPIVersion(svc); min != "" && version < min {
		armError(w, http.StatusBadRequest, "InvalidApiVersionParameter", "API version query parameter is not specified or was specified incorrectly. Supported versions: %s and later. Example query param format: api-version=SupportedVersion", min)
		return true
	}
	id := service + "/namedValues/" + parts[9]
	if !a.allowed(w, principal, "Microsoft.ApiManagement/service/namedValues/read", id) {
		return true
	}
	nv, ok := a.load(w, id)
	if !ok {
		return true
	}
	value := nv.Secret
	if value == "" {
		value, _ = nv.Inputs["value"].(string)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": service + "/properties/" + parts[9], "name": parts[9], "type": "Microsoft.ApiManagement/service/properties",
		"properties": map[string]any{"displayName": nv.Inputs["displayName"], "value": value, "secret": nv.Inputs["secret"] == true, "tags": nv.Inputs["tags"]},
	})
	return true
}

// MinAPIVersion is a service's apiVersionConstraint.minApiVersion, "" when it sets none.
func MinAPIVersion(svc *Resource) string {
	constraint, _ := svc.Properties["apiVersionConstraint"].(map[string]any)
	min, _ := constraint["minApiVersion"].(string)
	return min
}
