package stack

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/apimanagement/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// CurrentSlotNamedValue is the named value recording the live slot's backend id: its logical
// name, and its id in a service the stack creates (APIMIDs).
const CurrentSlotNamedValue = "current-slot-name"

// APIID is the API's id in a service the stack creates; a reused service scopes it (APIMIDs).
const APIID = "slotless"

// Gateway is the API Management side: the service, the per-slot backends, the pool, the API.
type Gateway struct {
	// ServiceName is the service's name: the reused one, or the created service's name output.
	ServiceName pulumi.StringOutput
	GatewayURL  pulumi.StringOutput
	Backends    map[Slot]*apimanagement.Backend
	Pool        *apimanagement.Backend
	API         *apimanagement.Api
	// Products are the API's memberships of the service's products (apimProductIds).
	Products []*apimanagement.ProductApi
	// Policy is the API's policy, which the apps' authentication waits for (requireGateway).
	Policy      *apimanagement.ApiPolicy
	CurrentSlot *apimanagement.NamedValue
}

// apimService is the API Management service the stack routes through: the reused one, or the
// one it creates.
type apimService struct {
	// Name is the reused service's name, or the created service's name output.
	Name          pulumi.StringOutput
	ResourceGroup pulumi.StringInput
	GatewayURL    pulumi.StringOutput
	// Created is the service when the stack creates it, else nil.
	Created *apimanagement.ApiManagementService
}

// deps are what a child of the service depends on.
func (s apimService) deps() []pulumi.Resource {
	if s.Created == nil {
		return nil
	}
	return []pulumi.Resource{s.Created}
}

// readyInputs are what a read of the service's children waits for: a created service's id,
// which is known only once the service exists, so the read never runs against one that does
// not, at preview included.
func (s apimService) readyInputs() []any {
	in := []any{s.ResourceGroup, s.Name}
	if s.Created != nil {
		in = append(in, s.Created.ID())
	}
	return in
}

// readReusedService reads a reused service (apimName) before anything is declared: its tier
// decides what the backends may carry, and a tier that apimSku or circuitBreakerFailures
// disagrees with is invalid config, which fails before any resource is registered. It warns when
// the service lacks the minimum API version a created service gets. Nil for a created service.
// A reused service exists before any update, so the read runs at preview too.
func readReusedService(ctx *pulumi.Context, n Names, cfg *Config) (*apimanagement.LookupApiManagementServiceResult, error) {
	if !cfg.APIM.Reuse() {
		return nil, nil
	}
	existing, err := apimanagement.LookupApiManagementService(ctx, &apimanagement.LookupApiManagementServiceArgs{
		ResourceGroupName: n.APIMResourceGroup(),
		ServiceName:       n.APIM(),
	})
	if err != nil {
		return nil, fmt.Errorf("apimName %q in apimResourceGroupName %q: read the service: %w", n.APIM(), n.APIMResourceGroup(), err)
	}
	if err := cfg.ResolveSKU(existing.Sku.Name); err != nil {
		return nil, fmt.Errorf("invalid stack config:\n%w", err)
	}
	if msg := reusedServiceWarning(n.APIM(), existing.ApiVersionConstraint); msg != "" {
		_ = ctx.Log.Warn(msg, nil)
	}
	return existing, nil
}

// newAPIMService names the reused service (read by readReusedService) or creates one, with the
// gateway identity attached when there is one. It comes before the slots, whose host storage
// guard reads what the service holds.
func newAPIMService(ctx *pulumi.Context, n Names, cfg *Config, rg pulumi.StringInput, tags pulumi.StringMap, gatewayIdentity *managedidentity.UserAssignedIdentity, existing *apimanagement.LookupApiManagementServiceResult) (apimService, error) {
	if existing != nil {
		return apimService{
			Name:          pulumi.String(n.APIM()).ToStringOutput(),
			ResourceGroup: pulumi.String(n.APIMResourceGroup()),
			GatewayURL:    pulumi.String(existing.GatewayUrl).ToStringOutput(),
		}, nil
	}
	var identity *apimanagement.ApiManagementServiceIdentityArgs
	if gatewayIdentity != nil {
		identity = &apimanagement.ApiManagementServiceIdentityArgs{
			Type: pulumi.String(apimanagement.ApimIdentityTypeUserAssigned),
			UserAssignedIdentities: gatewayIdentity.ID().ToStringOutput().ApplyT(func(id string) map[string]apimanagement.UserIdentityProperties {
				return map[string]apimanagement.UserIdentityProperties{id: {}}
			}).(apimanagement.UserIdentityPropertiesMapOutput),
		}
	}
	// No name: a service name is global across Azure (it is the *.azure-api.net host), so
	// azure-native names it "apim" plus eight hex characters (see Names).
	svc, err := apimanagement.NewApiManagementService(ctx, "apim", &apimanagement.ApiManagementServiceArgs{
		Identity:          identity,
		ResourceGroupName: rg,
		Location:          pulumi.String(cfg.Location),
		PublisherName:     pulumi.String(cfg.APIM.PublisherName),
		PublisherEmail:    pulumi.String(cfg.APIM.PublisherEmail),
		Sku: &apimanagement.ApiManagementServiceSkuPropertiesArgs{
			Name:     pulumi.String(cfg.APIM.SKU),
			Capacity: pulumi.Int(cfg.APIM.Capacity),
		},
		// Older control-plane API versions return a secret named value's value to anyone who
		// can read the service, Reader included: the function keys and the pin token.
		ApiVersionConstraint: &apimanagement.ApiVersionConstraintArgs{MinApiVersion: pulumi.String(MinAPIVersion)},
		Tags:                 tags,
	})
	if err != nil {
		return apimService{}, fmt.Errorf("apim service: %w", err)
	}
	return apimService{Name: svc.Name, ResourceGroup: rg, GatewayURL: svc.GatewayUrl, Created: svc}, nil
}

// reusedServiceWarning says what a reused service lacks that a created one has: a minimum
// control-plane API version of MinAPIVersion or later, without which a Reader of the service can
// read its secret named values, this stack's among them, through older API versions. The service
// is its owner's to change; "" when it has one.
func reusedServiceWarning(service string, c *apimanagement.ApiVersionConstraintResponse) string {
	min := ""
	if c != nil && c.MinApiVersion != nil {
		min = *c.MinApiVersion
	}
	if min >= MinAPIVersion {
		return ""
	}
	has := "sets no apiVersionConstraint.minApiVersion"
	if min != "" {
		has = fmt.Sprintf("sets apiVersionConstraint.minApiVersion %s", min)
	}
	return fmt.Sprintf("apimName %q %s: anyone who can read the service, Reader included, can read its secret named values (this stack's function keys and pin token among them) through API versions older than %s; ask its owner to set minApiVersion %s or later (docs/security.md#a-reused-api-management-service)", service, has, MinAPIVersion, MinAPIVersion)
}

// BackendURL is a slot's backend: the app's host and the apps' route prefix (host.json's
// extensions.http.routePrefix), so the path of an operation under the API is the route of the
// function that answers it.
func BackendURL(host, routePrefix string) string {
	if routePrefix == "" {
		return "https://" + host
	}
	return "https://" + host + "/" + routePrefix
}

// gatewayArgs are what the gateway needs from the rest of the stack.
type gatewayArgs struct {
	names         Names
	cfg           *Config
	resourceGroup pulumi.StringInput
	service       apimService
	colours       map[Slot]*Colour
	// mover is what runs the program, for the pool's record and the traffic guard.
	mover Mover
	// api is the API's surface: an OpenAPI document to import, or passthrough operations.
	api APISurface
	// gatewayIdentity is the identity API Management calls the apps with, or nil.
	gatewayIdentity *managedidentity.UserAssignedIdentity
}

func newGateway(ctx *pulumi.Context, a gatewayArgs) (*Gateway, error) {
	g := &Gateway{Backends: map[Slot]*apimanagement.Backend{}, ServiceName: a.service.Name, GatewayURL: a.service.GatewayURL}
	ids := NewAPIMIDs(a.cfg)
	svcRG := a.service.ResourceGroup
	svcDeps := a.service.deps()
	on := pulumi.DependsOn(svcDeps)
	svcName := g.ServiceName

	// Logical names stay the same whatever the ids: the release path addresses the pool and
	// current-slot-name by URN.
	for _, slot := range Slots {
		b, err := newSlotBackend(ctx, slot, ids, a.colours[slot], a.cfg, svcRG, svcName, a.resourceGroup, on)
		if err != nil {
			return nil, err
		}
		g.Backends[slot] = b
	}

	pool, err := apimanagement.NewBackend(ctx, PoolID, &apimanagement.BackendArgs{
		BackendId:         pulumi.String(ids.Pool()),
		ResourceGroupName: svcRG,
		ServiceName:       svcName,
		Type:              pulumi.String(apimanagement.BackendTypePool),
		// Who set the weights, read back by the next update's traffic guard.
		Description: guardedPoolDescription(ctx, a.service, ids.Pool(), a.cfg.Weights, a.mover),
		// No url and no protocol: APIM rejects both on a pool. No circuit breaker either: it
		// belongs on the single backends.
		Pool: &apimanagement.BackendBaseParametersPoolArgs{Services: poolMembers(a.cfg.Weights, g.Backends)},
	}, on)
	if err != nil {
		return nil, fmt.Errorf("apim backend %s: %w", ids.Pool(), err)
	}
	g.Pool = pool

	if err := g.declareAPI(ctx, a, ids, svcRG, svcName, on); err != nil {
		return nil, err
	}

	// During a release the name stays what it was when the release began (see
	// Weights.SlotNameFrozen); at 0 and 100 it follows the weights. Its value names the slot by
	// its unscoped backend id (green-backend) in every stack, as the release path reads it.
	nvOpts := []pulumi.ResourceOption{on}
	if a.cfg.Weights.SlotNameFrozen() {
		nvOpts = append(nvOpts, pulumi.IgnoreChanges([]string{"value"}))
	}
	current, err := apimanagement.NewNamedValue(ctx, CurrentSlotNamedValue, &apimanagement.NamedValueArgs{
		NamedValueId:      pulumi.String(ids.CurrentSlot()),
		DisplayName:       pulumi.String(ids.CurrentSlot()),
		ResourceGroupName: svcRG,
		ServiceName:       svcName,
		Value:             pulumi.String(a.cfg.Weights.CurrentSlotName()),
		Secret:            pulumi.Bool(false),
	}, nvOpts...)
	if err != nil {
		return nil, fmt.Errorf("apim named value %s: %w", ids.CurrentSlot(), err)
	}
	g.CurrentSlot = current
	return g, nil
}

// guardedPoolDescription reads the pool as API Management holds it (getBackend; not found
// before the first deploy) and decides its description with PoolDescription, failing the
// update when the traffic guard refuses it. The read waits on the service, so it runs against
// a service that exists, at preview too once it does.
func guardedPoolDescription(ctx *pulumi.Context, svc apimService, poolID string, w Weights, m Mover) pulumi.StringOutput {
	inputs := svc.readyInputs()
	return pulumi.All(inputs...).ApplyT(func(v []any) (string, error) {
		group, service := v[0].(string), v[1].(string)
		got, err := apimanagement.LookupBackend(ctx, &apimanagement.LookupBackendArgs{BackendId: poolID, ResourceGroupName: group, ServiceName: service})
		var live *LivePool
		switch {
		case err == nil:
			live = &LivePool{Weights: poolWeights(got)}
			if got.Description != nil {
				live.Description = *got.Description
			}
		case !notFound(err):
			return "", fmt.Errorf("traffic guard: read pool %s of %s: %w", poolID, service, err)
		}
		desc, err := PoolDescription(live, w, m, ctx.Stack())
		if msg := rollbackWarning(live, w); err == nil && msg != "" && m.PlainUpdate() {
			_ = ctx.Log.Warn(msg, nil)
		}
		return desc, err
	}).(pulumi.StringOutput)
}

// poolWeights reads a pool's weights by its members' backend ids.
func poolWeights(b *apimanagement.LookupBackendResult) Weights {
	var w Weights
	if b.Pool == nil {
		return w
	}
	for _, m := range b.Pool.Services {
		id := m.Id[strings.LastIndex(m.Id, "/")+1:]
		slot, ok := SlotOfBackendID(id)
		if !ok || m.Weight == nil {
			continue
		}
		if slot == Blue {
			w.Blue = *m.Weight
		} else {
			w.Green = *m.Weight
		}
	}
	return w
}

// policyNamedValue is a named value the API policy refers to: its logical name, its id (and
// display name), its value and whether it is secret.
type policyNamedValue struct {
	logical, id string
	value       pulumi.StringOutput
	secret      bool
}

// poolMembers lists both single backends with the configured weights, green first, at equal
// priority so the weights alone decide.
func poolMembers(w Weights, backends map[Slot]*apimanagement.Backend) apimanagement.BackendPoolItemArray {
	var items apimanagement.BackendPoolItemArray
	for _, slot := range Slots {
		items = append(items, apimanagement.BackendPoolItemArgs{
			Id:       backends[slot].ID().ToStringOutput(),
			Priority: pulumi.Int(1),
			Weight:   pulumi.Int(w.Of(slot)),
		})
	}
	return items
}

// functionKeyName is the logical name of the named value holding a slot's function key, and its
// id in a service the stack creates (see APIMIDs).
func functionKeyName(slot Slot) string { return string(slot) + "-function-key" }

// newSlotBackend stores the slot's function key as a secret named value and declares the single
// backend that sends it as x-functions-key by reference, so the key is never in a backend's
// properties, title or description.
func newSlotBackend(ctx *pulumi.Context, slot Slot, ids APIMIDs, c *Colour, cfg *Config, svcRG, svcName, appRG pulumi.StringInput, on pulumi.ResourceOption) (*apimanagement.Backend, error) {
	// A backend refers to a named value by its display name, so id and display name are one.
	keyName := ids.FunctionKey(slot)
	key := functionKey(ctx, c, appRG, svcRG, svcName, keyName)
	nv, err := apimanagement.NewNamedValue(ctx, functionKeyName(slot), &apimanagement.NamedValueArgs{
		NamedValueId:      pulumi.String(keyName),
		DisplayName:       pulumi.String(keyName),
		ResourceGroupName: svcRG,
		ServiceName:       svcName,
		Value:             pulumi.ToSecret(key).(pulumi.StringOutput),
		Secret:            pulumi.Bool(true),
		// The app and the host storage the key came from: a replaced app's new name, or a moved
		// host storage, tells the next update that the key held here is stale (functionKey).
		Tags: pulumi.StringArray{c.App.Name, c.HostStorage.ApplyT(hostTag).(pulumi.StringOutput)},
	}, on)
	if err != nil {
		return nil, fmt.Errorf("apim named value %s: %w", keyName, err)
	}
	id := ids.Backend(slot)
	b, err := apimanagement.NewBackend(ctx, slot.BackendID(), &apimanagement.BackendArgs{
		BackendId:         pulumi.String(id),
		ResourceGroupName: svcRG,
		ServiceName:       svcName,
		Title:             pulumi.String(string(slot) + " slot"),
		Description:       pulumi.String("The " + string(slot) + " Flex Consumption function app"),
		Url: c.Hostname.ApplyT(func(host string) string {
			return BackendURL(host, cfg.API.RoutePrefix)
		}).(pulumi.StringOutput),
		// "http" is APIM's protocol value for any HTTP(S) backend; "https" is not valid.
		Protocol: pulumi.String(apimanagement.BackendProtocolHttp),
		Credentials: &apimanagement.BackendCredentialsContractArgs{
			Header: pulumi.StringArrayMap{"x-functions-key": pulumi.StringArray{pulumi.String("{{" + keyName + "}}")}},
		},
		Tls: &apimanagement.BackendTlsPropertiesArgs{
			ValidateCertificateChain: pulumi.Bool(true),
			ValidateCertificateName:  pulumi.Bool(true),
		},
		CircuitBreaker: circuitBreaker(cfg.CircuitBreaker),
	}, on, pulumi.DependsOn([]pulumi.Resource{nv}))
	if err != nil {
		return nil, fmt.Errorf("apim backend %s: %w", id, err)
	}
	return b, nil
}

// circuitBreaker is the one rule APIM allows per single backend: trip on repeated 5xx answers,
// so the pool routes around a failing canary before any pipeline reacts. Nil when off.
func circuitBreaker(cb CircuitBreakerConfig) apimanagement.BackendCircuitBreakerPtrInput {
	if cb.Failures == 0 {
		return nil
	}
	return &apimanagement.BackendCircuitBreakerArgs{Rules: apimanagement.CircuitBreakerRuleArray{
		apimanagement.CircuitBreakerRuleArgs{
			Name:             pulumi.String("slotless-5xx"),
			AcceptRetryAfter: pulumi.Bool(true),
			TripDuration:     pulumi.String(cb.TripDuration),
			FailureCondition: &apimanagement.CircuitBreakerFailureConditionArgs{
				Count:    pulumi.Int(cb.Failures),
				Interval: pulumi.String(cb.Interval),
				StatusCodeRanges: apimanagement.FailureStatusCodeRangeArray{
					apimanagement.FailureStatusCodeRangeArgs{Min: pulumi.Int(500), Max: pulumi.Int(599)},
				},
			},
		},
	}}
}

// Operation is one API operation, mapped onto a function route.
type Operation struct {
	ID, Method, URLTemplate, DisplayName string
	// Params are the URL template parameters, which APIM requires to be declared.
	Params []string
}

func (g *Gateway) declareAPI(ctx *pulumi.Context, a gatewayArgs, ids APIMIDs, svcRG, svcName pulumi.StringInput, on pulumi.ResourceOption) error {
	args := &apimanagement.ApiArgs{
		ApiId:                pulumi.String(ids.API()),
		ResourceGroupName:    svcRG,
		ServiceName:          svcName,
		DisplayName:          pulumi.String(a.cfg.API.DisplayName),
		Description:          pulumi.String("Routes every request through the green/blue weighted pool"),
		Path:                 pulumi.String(a.cfg.API.Path),
		Protocols:            pulumi.StringArray{pulumi.String(string(apimanagement.ProtocolHttps))},
		SubscriptionRequired: pulumi.Bool(a.cfg.API.SubscriptionRequired),
	}
	var declared []Operation
	if a.api.Spec != "" {
		// API Management imports the document's operations itself (Apis - Create Or Update
		// with format and value), so none is declared apart: a re-import replaces them.
		args.Format = pulumi.String(string(apimanagement.ContentFormat_Openapi_json))
		args.Value = pulumi.String(a.api.Spec)
	} else {
		declared = a.api.Operations
	}
	api, err := apimanagement.NewApi(ctx, "api", args, on)
	if err != nil {
		return fmt.Errorf("apim api: %w", err)
	}
	g.API = api
	for _, op := range declared {
		var params apimanagement.ParameterContractArray
		for _, p := range op.Params {
			params = append(params, apimanagement.ParameterContractArgs{Name: pulumi.String(p), Type: pulumi.String("string"), Required: pulumi.Bool(true)})
		}
		if _, err := apimanagement.NewApiOperation(ctx, "op-"+op.ID, &apimanagement.ApiOperationArgs{
			OperationId:        pulumi.String(op.ID),
			ApiId:              api.Name,
			ResourceGroupName:  svcRG,
			ServiceName:        svcName,
			DisplayName:        pulumi.String(op.DisplayName),
			Method:             pulumi.String(op.Method),
			UrlTemplate:        pulumi.String(op.URLTemplate),
			TemplateParameters: params,
		}, pulumi.DependsOn([]pulumi.Resource{api})); err != nil {
			return fmt.Errorf("apim operation %s: %w", op.ID, err)
		}
	}
	policyIn := NewPolicyInput(a.cfg)
	policyDeps := []pulumi.Resource{api, g.Pool}
	for _, b := range g.Backends {
		policyDeps = append(policyDeps, b)
	}
	// The policy names these named values by reference; APIM rejects a policy whose named value
	// does not exist yet.
	var referenced []policyNamedValue
	if policyIn.PinTokenNamedValue != "" {
		referenced = append(referenced, policyNamedValue{PinTokenNamedValue, policyIn.PinTokenNamedValue, pulumi.ToSecret(pulumi.String(a.cfg.PinToken)).(pulumi.StringOutput), true})
	}
	if policyIn.GatewayAudience != "" {
		referenced = append(referenced, policyNamedValue{GatewayClientIDNamedValue, policyIn.GatewayClientIDNamedValue, a.gatewayIdentity.ClientId, false})
	}
	for _, nv := range referenced {
		r, err := apimanagement.NewNamedValue(ctx, nv.logical, &apimanagement.NamedValueArgs{
			NamedValueId:      pulumi.String(nv.id),
			DisplayName:       pulumi.String(nv.id),
			ResourceGroupName: svcRG,
			ServiceName:       svcName,
			Value:             nv.value,
			Secret:            pulumi.Bool(nv.secret),
		}, on)
		if err != nil {
			return fmt.Errorf("apim named value %s: %w", nv.id, err)
		}
		policyDeps = append(policyDeps, r)
	}
	xml, err := RenderPolicy(policyIn)
	if err != nil {
		return err
	}
	policy, err := apimanagement.NewApiPolicy(ctx, "api-policy", &apimanagement.ApiPolicyArgs{
		ApiId:             api.Name,
		PolicyId:          pulumi.String("policy"),
		ResourceGroupName: svcRG,
		ServiceName:       svcName,
		// "xml": the policy is an XML document whose expressions are XML-encoded (&quot;), as the
		// template writes them. "rawxml" would hand the entities to the expression compiler as written.
		Format: pulumi.String(apimanagement.PolicyContentFormatXml),
		Value:  pulumi.String(xml),
	}, pulumi.DependsOn(policyDeps))
	if err != nil {
		return fmt.Errorf("apim api policy: %w", err)
	}
	g.Policy = policy
	// A product's subscribers reach the API only once its policy routes every request to the
	// pool.
	for _, id := range a.cfg.API.ProductIDs {
		link, err := apimanagement.NewProductApi(ctx, "product-"+id, &apimanagement.ProductApiArgs{
			ApiId:             api.Name,
			ProductId:         pulumi.String(id),
			ResourceGroupName: svcRG,
			ServiceName:       svcName,
		}, pulumi.DependsOn([]pulumi.Resource{api, policy}))
		if err != nil {
			return fmt.Errorf("apim product %s: %w", id, err)
		}
		g.Products = append(g.Products, link)
	}
	return nil
}
