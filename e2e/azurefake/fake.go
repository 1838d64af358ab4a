package azurefake

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// createBeforeDeleteKey is the input azure-native adds to a randomly named resource, so a
// replacement creates the new one before deleting the old.
const createBeforeDeleteKey = "__createBeforeDelete"

// Fake is the stand-in's behaviour, free of gRPC so that unit tests drive it directly: Check
// against the schema, CRUD against a Cloud, invokes, and Azure's refusals.
type Fake struct {
	Schema *Schema
	Store  Store
	// Subscription is the subscription the provider is configured for.
	Subscription string
	// Location is azure-native:location, the default location of new resources.
	Location string
	// ClientID is the client id the provider signs in with (ARM_CLIENT_ID or
	// azure-native:clientId). When the cloud knows it as a service principal
	// (Cloud.ServicePrincipals), every call is authorized by that principal's role
	// assignments (rbac.go); otherwise the provider acts as the deploying identity, Owner.
	ClientID string
}

// authorize is RBAC for the provider's own call: action on id, as the signed-in principal.
func (f *Fake) authorize(c *Cloud, action, id string) error {
	principal := c.ServicePrincipals[strings.ToLower(f.ClientID)]
	if f.ClientID == "" || principal == "" {
		return nil
	}
	return authorize(c, principal, action, id)
}

// authorizeWrite is RBAC for the provider's write of a resource with inputs in: the write
// itself, then ARM's linked access check of what the body names (linksOf).
func (f *Fake) authorizeWrite(c *Cloud, token, id string, in map[string]any) error {
	if err := f.authorize(c, action(token, "write"), id); err != nil {
		return err
	}
	principal := c.ServicePrincipals[strings.ToLower(f.ClientID)]
	if f.ClientID == "" || principal == "" {
		return nil
	}
	return authorizeLinked(c, principal, action(token, "write"), id, linksOf(token, in))
}

// lroPollAction is the action of polling a named value write: API Management answers it with
// 202 and an Azure-AsyncOperation header at the service's tenant/operationResults
// (azure-rest-api-specs, apimanagement 2024-05-01 examples ApiManagementCreateNamedValue.json
// and ApiManagementUpdateNamedValue.json), which azcore's poller follows before any Location
// (azcore runtime.NewPoller: async.Applicable first), and azure-native polls every 202 with it
// (pulumi-azure-native provider/pkg/azure/client_azcore.go, putOrPatch). The action is
// resource-provider-operations.md's "Get list of operation results or Get result of a specific
// operation".
const lroPollAction = "Microsoft.ApiManagement/service/tenant/operationResults/read"

// authorizePoll is RBAC for the provider's polling of a long-running write, after ARM accepted
// it: a caller that may write but not poll changes Azure and still sees the update fail.
func (f *Fake) authorizePoll(token, id string) error {
	if token != "azure-native:apimanagement:NamedValue" {
		return nil
	}
	c, err := f.Store.Load()
	if err != nil {
		return err
	}
	return f.authorize(c, lroPollAction, serviceID(id)+"/tenant/operationResults/"+lastSegment(id))
}

// action is the RBAC action of a verb ("read", "write", "delete") on a resource type.
func action(token, verb string) string {
	arm := armSpecs[token].armType
	if t := armSpecs[token].rbacType; t != "" {
		arm = t
	}
	if arm == "Microsoft.Resources/resourceGroups" {
		arm = "Microsoft.Resources/subscriptions/resourceGroups"
	}
	return arm + "/" + verb
}

// AzureError is an error as azure-native reports ARM's answers.
type AzureError struct {
	Status  int
	Code    string
	Message string
}

func (e *AzureError) Error() string {
	return fmt.Sprintf("Status=%d Code=%q Message=%q", e.Status, e.Code, e.Message)
}

func azErr(status int, code, format string, args ...any) error {
	return &AzureError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Check fills in what azure-native fills in (the name when absent, the location, the API
// version) and validates the result against the schema. urnName is the resource's logical
// name; olds are its previous checked inputs, so a generated name stays what it was.
func (f *Fake) Check(token, urnName string, olds, news resource.PropertyMap, randomSeed []byte) (resource.PropertyMap, []string, error) {
	spec, ok := armSpecs[token]
	if !ok {
		return nil, nil, fmt.Errorf("resource type %s not found", token)
	}
	checked := news.Copy()
	key := resource.PropertyKey(spec.nameKey)
	if v, has := checked[key]; !has || v.IsNull() {
		if old, ok := olds[key]; ok {
			checked[key] = old
			if flag, ok := olds[createBeforeDeleteKey]; ok {
				checked[createBeforeDeleteKey] = flag
			}
		} else {
			name, random, err := generateName(spec, urnName, randomSeed)
			if err != nil {
				return nil, nil, err
			}
			checked[key] = resource.NewStringProperty(name)
			if random {
				checked[createBeforeDeleteKey] = resource.NewBoolProperty(true)
			}
		}
	}
	if in, ok := f.Schema.Resources[token].InputProperties["location"]; ok && in.Type != "" && !checked.HasValue("location") && f.Location != "" {
		checked["location"] = resource.NewStringProperty(f.Location)
	}
	if !checked.HasValue("azureApiVersion") {
		v := resourceAPIVersions[token]
		if v == "" {
			v = apiVersions[strings.Split(token, ":")[1]]
		}
		if v != "" {
			checked["azureApiVersion"] = resource.NewStringProperty(v)
		}
	}
	failures, err := f.Schema.CheckResource(token, checked)
	return checked, failures, err
}

// apiVersions are the default REST API versions of azure-native 3.28.0 per module.
var apiVersions = map[string]string{
	"apimanagement":       "2024-05-01",
	"web":                 "2025-05-01",
	"storage":             "2024-01-01",
	"applicationinsights": "2020-02-02",
	"operationalinsights": "2023-09-01",
	"managedidentity":     "2023-01-31",
	"authorization":       "2022-04-01",
	"resources":           "2024-03-01",
}

// resourceAPIVersions are the resources whose default REST API version in azure-native 3.28.0
// is not their module's (each resource's "Uses Azure REST API version" in the schema).
var resourceAPIVersions = map[string]string{
	"azure-native:web:WebAppAuthSettingsV2":     "2021-02-01",
	"azure-native:authorization:RoleDefinition": "2022-05-01-preview",
}

func generateName(spec armSpec, urnName string, seed []byte) (string, bool, error) {
	switch spec.autoname {
	case autoUUID:
		hex, err := resource.NewUniqueName(seed, "", 32, 0, nil)
		if err != nil {
			return "", false, err
		}
		return uuid.MustParse(hex).String(), true, nil
	case autoFixed:
		return spec.fixedName, false, nil
	}
	// azure-native: "Resource name is URN name + random suffix."
	name, err := resource.NewUniqueName(seed, urnName, 8, 0, nil)
	return name, true, err
}

// Diff compares checked inputs, as azure-native does (inputs against inputs, not against
// ARM's state). It returns the top-level keys that changed, and those among them that force a
// replacement: the name and the parents in the resource's ARM path.
func (f *Fake) Diff(token string, olds, news resource.PropertyMap) (changed, replaces []string) {
	spec := armSpecs[token]
	keys := map[resource.PropertyKey]bool{}
	for k := range olds {
		keys[k] = true
	}
	for k := range news {
		keys[k] = true
	}
	for k := range keys {
		if k == createBeforeDeleteKey {
			continue
		}
		o, n := olds[k], news[k]
		if o.DeepEquals(n) {
			continue
		}
		changed = append(changed, string(k))
		if pathKey(spec, string(k)) {
			replaces = append(replaces, string(k))
		}
	}
	sort.Strings(changed)
	sort.Strings(replaces)
	return changed, replaces
}

// pathKey reports whether an input is part of the resource's ARM id; changing one means a
// different resource, so azure-native replaces.
func pathKey(spec armSpec, key string) bool {
	probe := map[string]any{}
	for _, k := range []string{"resourceGroupName", "serviceName", "apiId", "productId", "accountName", "scope", spec.nameKey} {
		probe[k] = "{" + k + "}"
	}
	return key == spec.nameKey || strings.Contains(spec.path("sub", probe), "{"+key+"}")
}

// ID is the ARM id a resource with these checked inputs has in the configured subscription.
func (f *Fake) ID(token string, inputs map[string]any) string {
	return armSpecs[token].path(f.Subscription, inputs)
}

// Create creates a resource. At preview it only computes the outputs the way azure-native's
// PreviewOutputs does: every output property that has a same-named input takes that input,
// every other one is unknown. It refuses what ARM and azure-native refuse.
func (f *Fake) Create(token string, inputs resource.PropertyMap, preview bool) (string, resource.PropertyMap, error) {
	if preview {
		return "", f.previewOutputs(token, inputs, nil), nil
	}
	in := plain(inputs)
	id := f.ID(token, in)
	f.slow(token)
	var outputs map[string]any
	err := f.Store.Update(func(c *Cloud) error {
		err := f.authorizeWrite(c, token, id, in)
		if err == nil {
			err = f.create(c, token, id, in)
		}
		call := Call{Op: "create", Token: token, Target: id, Error: errString(err)}
		if err == nil && token == "azure-native:web:WebAppAuthSettingsV2" {
			call.Note = restartSite(c, parentID(id))
		}
		c.Calls = append(c.Calls, call)
		if err != nil {
			return err
		}
		c.watchUsers(f.Subscription)
		r, _ := c.Get(id)
		outputs = r.Properties
		return nil
	})
	if err != nil {
		return "", nil, err
	}
	return id, resource.NewPropertyMapFromMap(outputs), nil
}

func (f *Fake) create(c *Cloud, token, id string, in map[string]any) error {
	spec := armSpecs[token]
	if _, exists := c.Get(id); exists {
		// azure-native's CanCreate: ARM would upsert, so the provider refuses instead.
		return fmt.Errorf("cannot create already existing resource '%s'", id)
	}
	if err := checkParent(c, id); err != nil {
		return err
	}
	if err := checkName(token, lastSegment(id)); err != nil {
		return err
	}
	if spec.global != "" {
		if err := checkGlobalName(c, token, spec, lastSegment(id)); err != nil {
			return err
		}
	}
	if err := f.refuse(c, token, id, in); err != nil {
		return err
	}
	if token == "azure-native:web:WebApp" {
		if err := f.joinSubnet(c, id, nil, in); err != nil {
			return err
		}
	}
	var ops []importedOperation
	imports := false
	if token == "azure-native:apimanagement:Api" {
		var err error
		if ops, imports, err = parseImport(in); err != nil {
			return err
		}
	}
	r := &Resource{ID: id, Token: token, Subscription: f.Subscription, Inputs: in}
	r.Properties = f.outputs(token, id, in, nil)
	computeOnCreate(r, in)
	computeOnWrite(c, r)
	c.Put(r)
	if token == "azure-native:managedidentity:UserAssignedIdentity" {
		// ARM creates the identity's service principal with it, which Entra replicates later.
		c.newPrincipal(str(r.Properties, "clientId"))
	}
	if token == "azure-native:apimanagement:ApiManagementService" && slices.Contains(sampleProductTiers, skuName(r)) {
		for _, p := range sampleProducts {
			c.PutProduct(id, p)
		}
	}
	if imports {
		applyImport(c, f.Subscription, id, ops)
	}
	return nil
}

// Update changes a resource in place, refusing what ARM refuses. At preview it returns the
// outputs the update would give, with ARM-computed properties carried over.
func (f *Fake) Update(token, id string, olds resource.PropertyMap, news resource.PropertyMap, preview bool) (resource.PropertyMap, error) {
	if preview {
		return f.previewOutputs(token, news, olds), nil
	}
	in := plain(news)
	f.slow(token)
	var outputs map[string]any
	err := f.Store.Update(func(c *Cloud) error {
		r, ok := c.Get(id)
		var err error
		switch {
		case !ok:
			err = azErr(404, "ResourceNotFound", "The Resource '%s' was not found.", id)
		default:
			if err = f.authorizeWrite(c, token, id, in); err == nil {
				err = f.refuse(c, token, id, in)
			}
			if err == nil && token == "azure-native:web:WebApp" {
				err = f.joinSubnet(c, id, r.Inputs, in)
			}
		}
		var ops []importedOperation
		imports := false
		if err == nil && token == "azure-native:apimanagement:Api" {
			ops, imports, err = parseImport(in)
		}
		call := Call{Op: "update", Token: token, Target: id, Error: errString(err)}
		switch {
		case err == nil && token == "azure-native:web:WebApp":
			call.Note = restartSite(c, id)
		case err == nil && token == "azure-native:web:WebAppAuthSettingsV2":
			call.Note = restartSite(c, parentID(id))
		}
		if err == nil && token == "azure-native:web:WebApp" {
			if from, to := HostStorageOf(r.Inputs), HostStorageOf(in); from != to {
				// The host keeps its keys in its host storage (MicrosoftDocs azure-functions,
				// function-keys-how-to.md, "Manage key storage": "By default, keys are stored in a
				// Blob storage container in the account provided by the AzureWebJobsStorage
				// setting"): in an account it has not used, it finds none and makes new ones.
				r.FunctionKey = randomKey()
				call.Note = strings.TrimPrefix(call.Note+"; ", "; ") + fmt.Sprintf("host storage moved from %s to %s: new host keys", from, to)
			}
		}
		c.Calls = append(c.Calls, call)
		if err != nil {
			return err
		}
		r.Properties = f.outputs(token, id, in, r.Properties)
		r.Inputs = in
		computeOnWrite(c, r)
		if imports {
			applyImport(c, f.Subscription, id, ops)
		}
		if token == "azure-native:apimanagement:NamedValue" {
			r.Secret = secretOf(in)
		}
		if token == subscriptionToken {
			subscriptionWritten(r)
		}
		c.watchUsers(f.Subscription)
		outputs = r.Properties
		return nil
	})
	if err != nil {
		return nil, err
	}
	// ARM has accepted the write and it lands; only then does the provider poll it.
	if err := f.authorizePoll(token, id); err != nil {
		_ = f.Store.Update(func(c *Cloud) error {
			c.Calls = append(c.Calls, Call{Op: "poll denied", Token: token, Target: id, Error: errString(err)})
			return nil
		})
		return nil, err
	}
	return resource.NewPropertyMapFromMap(outputs), nil
}

// slow waits as long as the cloud says a long-running operation takes, outside the lock, then
// while the cloud holds operations on this type: it sets Held and waits for Hold to clear.
func (f *Fake) slow(token string) {
	c, err := f.Store.Load()
	if err != nil {
		return
	}
	if c.SlowMs > 0 {
		time.Sleep(time.Duration(c.SlowMs) * time.Millisecond)
	}
	held := func(c *Cloud) bool { return c.Hold != "" && (c.Hold == "*" || c.Hold == token) }
	if !held(c) {
		return
	}
	_ = f.Store.Update(func(c *Cloud) error { c.Held, c.HeldBy = true, os.Getpid(); return nil })
	parent := os.Getppid()
	for {
		// A condition, not a duration: the poll only notices when the test lets go.
		time.Sleep(50 * time.Millisecond)
		if os.Getppid() != parent {
			// The engine that asked died (kill -9 of pulumi up): its request dies with it, as
			// an ARM call not yet sent would, rather than landing after the test moved on.
			os.Exit(1)
		}
		if c, err := f.Store.Load(); err != nil || !held(c) {
			return
		}
	}
}

// Read returns a resource's current outputs, and its inputs as a refresh leaves them; ok is
// false when it no longer exists. Like azure-native, the inputs are the old inputs with every
// input property whose output changed since the last write (a portal edit, a direct ARM call)
// taken from the new outputs, so the next update puts back what the program says
// (pulumi-azure-native provider.go, Read: "Calculate the difference between two projections"
// of old and new outputs, "apply this difference to the actual inputs").
func (f *Fake) Read(token, id string, oldOutputs, oldInputs resource.PropertyMap) (resource.PropertyMap, resource.PropertyMap, bool, error) {
	c, err := f.Store.Load()
	if err != nil {
		return nil, nil, false, err
	}
	if err := f.authorize(c, action(token, "read"), id); err != nil {
		return nil, nil, false, err
	}
	r, ok := c.Get(id)
	if !ok {
		return nil, nil, false, nil
	}
	outputs := resource.NewPropertyMapFromMap(r.Properties)
	if oldInputs == nil {
		return outputs, nil, true, nil
	}
	inputs := oldInputs.Copy()
	for name := range f.Schema.Resources[token].InputProperties {
		k := resource.PropertyKey(name)
		was, now := oldOutputs[k], outputs[k]
		if was.DeepEquals(now) {
			continue
		}
		if now.IsNull() {
			delete(inputs, k)
		} else {
			inputs[k] = now
		}
	}
	return outputs, inputs, true, nil
}

// Delete deletes a resource; deleting one that is already gone succeeds, as ARM's DELETE does.
func (f *Fake) Delete(token, id string) error {
	return f.Store.Update(func(c *Cloud) error {
		if err := f.authorize(c, action(token, "delete"), id); err != nil {
			c.Calls = append(c.Calls, Call{Op: "delete", Token: token, Target: id, Error: errString(err)})
			return err
		}
		c.Delete(id)
		if token == "azure-native:apimanagement:Api" {
			deleteLinksOf(c, id)
		}
		c.Calls = append(c.Calls, Call{Op: "delete", Token: token, Target: id})
		c.watchUsers(f.Subscription)
		return nil
	})
}

// outputs are the resource's properties as ARM returns them: the inputs that are also output
// properties, the name and type, and what ARM computed before (prev).
func (f *Fake) outputs(token, id string, in map[string]any, prev map[string]any) map[string]any {
	spec := armSpecs[token]
	out := map[string]any{}
	for name := range f.Schema.Resources[token].Properties {
		if v, ok := in[name]; ok {
			out[name] = v
		} else if v, ok := prev[name]; ok {
			out[name] = v
		}
	}
	out["name"] = lastSegment(id)
	out["type"] = spec.armType
	if spec.outputType != "" {
		out["type"] = spec.outputType
	}
	if v, ok := in["azureApiVersion"]; ok {
		out["azureApiVersion"] = v
	}
	if token == "azure-native:apimanagement:NamedValue" && in["secret"] == true {
		// ARM never returns a secret named value's value on GET.
		delete(out, "value")
	}
	if token == subscriptionToken {
		subscriptionOutputs(out)
	}
	return out
}

// previewOutputs mirrors azure-native's PreviewOutputs: an output property takes the
// same-named input, or is unknown. For an update, what ARM computed stays as it was.
func (f *Fake) previewOutputs(token string, inputs, olds resource.PropertyMap) resource.PropertyMap {
	out := resource.PropertyMap{}
	for name := range f.Schema.Resources[token].Properties {
		k := resource.PropertyKey(name)
		switch {
		case inputs.HasValue(k):
			out[k] = inputs[k]
		case olds.HasValue(k):
			out[k] = olds[k]
		default:
			out[k] = resource.MakeComputed(resource.NewStringProperty(""))
		}
	}
	return out
}

// restartSite models a Flex site update of the app with this id: with the default Recreate
// strategy, running instances are restarted (learn.microsoft.com,
// azure-functions/flex-consumption-site-updates: "A site update occurs whenever you deploy
// code, modify application settings, or change other configuration properties"; the
// authentication settings are site configuration). With SiteUpdateRestartMs the app does not
// answer for that long, and the note says which share of traffic it carried.
func restartSite(c *Cloud, appID string) string {
	app, ok := c.Get(appID)
	if !ok || c.SiteUpdateRestartMs <= 0 {
		return ""
	}
	host, _ := app.Properties["defaultHostName"].(string)
	app.RestartedUntilMs = time.Now().Add(time.Duration(c.SiteUpdateRestartMs) * time.Millisecond).UnixMilli()
	return fmt.Sprintf("site update: restarted while carrying %d%% of the traffic", c.Share(host))
}

// computeOnWrite sets what ARM computes from other resources on every write: a service's
// managed identities, by the identities it names (their principal and client ids, and the
// tenant's id), as ARM answers them.
func computeOnWrite(c *Cloud, r *Resource) {
	if r.Token == "azure-native:apimanagement:ProductApi" {
		// ARM answers with the API's contract: its path and display name.
		if api, ok := c.Get(productAPITarget(r.ID)); ok {
			r.Properties["path"], r.Properties["displayName"] = api.Properties["path"], api.Properties["displayName"]
		}
		return
	}
	if r.Token != "azure-native:apimanagement:ApiManagementService" {
		return
	}
	in, _ := r.Inputs["identity"].(map[string]any)
	if in == nil {
		delete(r.Properties, "identity")
		return
	}
	out := map[string]any{"type": in["type"], "principalId": "", "tenantId": ""}
	named, _ := in["userAssignedIdentities"].(map[string]any)
	users := map[string]any{}
	for id := range named {
		entry := map[string]any{}
		if mi, ok := c.Get(id); ok {
			entry["clientId"], entry["principalId"] = mi.Properties["clientId"], mi.Properties["principalId"]
			out["tenantId"] = mi.Properties["tenantId"]
		}
		users[id] = entry
	}
	if len(users) > 0 {
		out["userAssignedIdentities"] = users
	}
	r.Properties["identity"] = out
}

// computeOnCreate sets what ARM generates for a new resource.
func computeOnCreate(r *Resource, in map[string]any) {
	p := r.Properties
	name := r.Name()
	switch r.Token {
	case "azure-native:storage:StorageAccount":
		p["primaryEndpoints"] = map[string]any{
			"blob":  "https://" + name + ".blob.core.windows.net/",
			"queue": "https://" + name + ".queue.core.windows.net/",
			"table": "https://" + name + ".table.core.windows.net/",
			"file":  "https://" + name + ".file.core.windows.net/",
		}
	case "azure-native:operationalinsights:Workspace":
		p["customerId"] = uuid.NewString()
	case "azure-native:applicationinsights:Component":
		key := uuid.NewString()
		p["instrumentationKey"] = key
		p["appId"] = uuid.NewString()
		p["connectionString"] = fmt.Sprintf("InstrumentationKey=%s;IngestionEndpoint=https://%s-0.in.applicationinsights.azure.com/;ApplicationId=%s", key, str(in, "location"), p["appId"])
	case "azure-native:managedidentity:UserAssignedIdentity":
		p["principalId"] = uuid.NewString()
		p["clientId"] = uuid.NewString()
		p["tenantId"] = uuid.NewString()
	case "azure-native:web:WebApp":
		p["defaultHostName"] = name + ".azurewebsites.net"
		p["state"] = "Running"
		r.FunctionKey = randomKey()
	case "azure-native:apimanagement:ApiManagementService":
		p["gatewayUrl"] = "https://" + name + ".azure-api.net"
	case "azure-native:apimanagement:NamedValue":
		r.Secret = secretOf(in)
	case subscriptionToken:
		subscriptionWritten(r)
	}
}

// HostStorageOf is the storage account a function app's host storage is in, by the host name
// of its AzureWebJobsStorage__blobServiceUri setting (identity-based host storage, as the stack
// sets it); "" when it has none.
func HostStorageOf(in map[string]any) string {
	site, _ := in["siteConfig"].(map[string]any)
	settings, _ := site["appSettings"].([]any)
	for _, raw := range settings {
		s, _ := raw.(map[string]any)
		if s["name"] != "AzureWebJobsStorage__blobServiceUri" {
			continue
		}
		v, _ := s["value"].(string)
		account, _, _ := strings.Cut(strings.TrimPrefix(v, "https://"), ".")
		return account
	}
	return ""
}

func secretOf(in map[string]any) string {
	if in["secret"] == true {
		return str(in, "value")
	}
	return ""
}

// randomKey is shaped like a Functions host key: 56 URL-safe base64 characters.
func randomKey() string {
	b := make([]byte, 42)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// plain turns checked inputs into plain values: secrets unwrapped (the stand-in is Azure, which
// holds them), no unknowns (the engine sends none outside preview).
func plain(m resource.PropertyMap) map[string]any {
	return m.MapRepl(nil, func(v resource.PropertyValue) (any, bool) {
		if v.IsSecret() {
			return plain(resource.PropertyMap{"v": v.SecretValue().Element})["v"], true
		}
		return nil, false
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
