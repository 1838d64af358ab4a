package azurefake

import (
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
)

// Invoke runs a function of the schema against the cloud. Each call is recorded, so a test can
// tell which ran at preview against resources that did not exist yet.
func (f *Fake) Invoke(token string, args resource.PropertyMap) (resource.PropertyMap, error) {
	failures, err := f.Schema.CheckFunction(token, args)
	if err != nil {
		return nil, err
	}
	if len(failures) > 0 {
		return nil, fmt.Errorf("invalid arguments to %s: %v", token, failures)
	}
	in := plain(args)
	var out map[string]any
	err = f.Store.Update(func(c *Cloud) error {
		var target string
		var err error
		switch token {
		case "azure-native:web:listWebAppHostKeys":
			target = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Web/sites/%s", f.Subscription, str(in, "resourceGroupName"), str(in, "name"))
			out, err = listHostKeys(c, target, in)
		case "azure-native:apimanagement:getApiManagementService":
			target = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ApiManagement/service/%s", f.Subscription, str(in, "resourceGroupName"), str(in, "serviceName"))
			out, err = getService(c, target, in)
		case "azure-native:apimanagement:getBackend":
			target = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ApiManagement/service/%s/backends/%s", f.Subscription, str(in, "resourceGroupName"), str(in, "serviceName"), str(in, "backendId"))
			out, err = getChild(c, target, "Backend")
		case "azure-native:apimanagement:getNamedValue":
			target = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ApiManagement/service/%s/namedValues/%s", f.Subscription, str(in, "resourceGroupName"), str(in, "serviceName"), str(in, "namedValueId"))
			out, err = getChild(c, target, "Named value")
		case "azure-native:applicationinsights:getComponent":
			target = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.Insights/components/%s", f.Subscription, str(in, "resourceGroupName"), str(in, "resourceName"))
			out, err = getResource(c, target, "Microsoft.Insights/components", str(in, "resourceGroupName"))
		case "azure-native:operationalinsights:getWorkspace":
			target = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.OperationalInsights/workspaces/%s", f.Subscription, str(in, "resourceGroupName"), str(in, "workspaceName"))
			out, err = getResource(c, target, "Microsoft.OperationalInsights/workspaces", str(in, "resourceGroupName"))
		case "azure-native:apimanagement:listNamedValue":
			target = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ApiManagement/service/%s/namedValues/%s", f.Subscription, str(in, "resourceGroupName"), str(in, "serviceName"), str(in, "namedValueId"))
			out, err = listNamedValue(c, target)
		case "azure-native:apimanagement:listSubscriptionSecrets":
			target = fmt.Sprintf("/subscriptions/%s/resourceGroups/%s/providers/Microsoft.ApiManagement/service/%s/subscriptions/%s", f.Subscription, str(in, "resourceGroupName"), str(in, "serviceName"), str(in, "sid"))
			out, err = listSubscriptionSecrets(c, target)
		default:
			err = fmt.Errorf("invoke type %s not found", token)
		}
		if act, ok := invokeActions[token]; ok && err == nil {
			if aerr := f.authorize(c, act, target); aerr != nil {
				out, err = nil, aerr
			}
		}
		c.Calls = append(c.Calls, Call{Op: "invoke", Token: token, Target: target, Error: errString(err)})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("request failed %s: %w", token, err)
	}
	return resource.NewPropertyMapFromMap(out), nil
}

// invokeActions are the RBAC actions of the functions: each is an ARM read or action
// (resource-provider-operations.md).
var invokeActions = map[string]string{
	"azure-native:web:listWebAppHostKeys":                "Microsoft.Web/sites/host/listkeys/action",
	"azure-native:apimanagement:getApiManagementService": "Microsoft.ApiManagement/service/read",
	"azure-native:apimanagement:getBackend":              "Microsoft.ApiManagement/service/backends/read",
	"azure-native:apimanagement:getNamedValue":           "Microsoft.ApiManagement/service/namedValues/read",
	"azure-native:apimanagement:listNamedValue":          "Microsoft.ApiManagement/service/namedValues/listValue/action",
	"azure-native:apimanagement:listSubscriptionSecrets": "Microsoft.ApiManagement/service/subscriptions/listSecrets/action",
	"azure-native:applicationinsights:getComponent":      "Microsoft.Insights/components/read",
	"azure-native:operationalinsights:getWorkspace":      "Microsoft.OperationalInsights/workspaces/read",
}

// listHostKeys is served by the app's Functions host, not by ARM alone
// (Azure/azure-functions-host#4426): it fails while the host is down, as well as for an app that
// does not exist.
func listHostKeys(c *Cloud, id string, in map[string]any) (map[string]any, error) {
	r, ok := c.Get(id)
	if !ok {
		return nil, azErr(404, "ResourceNotFound", "The Resource 'Microsoft.Web/sites/%s' under resource group '%s' was not found.", str(in, "name"), str(in, "resourceGroupName"))
	}
	r.KeyCalls++
	if c.HostDown(r.Name()) || r.KeyCalls <= c.HostStartCalls {
		return nil, azErr(400, "BadRequest", "Encountered an error (ServiceUnavailable) from host runtime.")
	}
	return map[string]any{
		"masterKey":    "master-" + r.FunctionKey,
		"functionKeys": map[string]any{"default": r.FunctionKey},
		"systemKeys":   map[string]any{},
	}, nil
}

func getService(c *Cloud, id string, in map[string]any) (map[string]any, error) {
	r, ok := c.Get(id)
	if !ok {
		return nil, azErr(404, "ResourceNotFound", "The Resource 'Microsoft.ApiManagement/service/%s' under resource group '%s' was not found.", str(in, "serviceName"), str(in, "resourceGroupName"))
	}
	out := map[string]any{"id": r.ID}
	for k, v := range r.Properties {
		out[k] = v
	}
	return out, nil
}

// getResource is ARM's GET of a top-level resource (Components_Get, Workspaces_Get): what ARM
// holds for it with its id, or ResourceNotFound naming its type, name and resource group, as
// ARM words a GET of a resource that does not exist.
func getResource(c *Cloud, id, armType, group string) (map[string]any, error) {
	r, ok := c.Get(id)
	if !ok {
		return nil, azErr(404, "ResourceNotFound", "The Resource '%s/%s' under resource group '%s' was not found.", armType, lastSegment(id), group)
	}
	out := map[string]any{"id": r.ID}
	for k, v := range r.Properties {
		out[k] = v
	}
	return out, nil
}

// listNamedValue is the POST .../namedValues/{id}/listValue that returns a secret named value's
// value, which GET never does.
func listNamedValue(c *Cloud, id string) (map[string]any, error) {
	r, ok := c.Get(id)
	if !ok {
		return nil, azErr(404, "ResourceNotFound", "NamedValue not found.")
	}
	v := r.Secret
	if v == "" {
		v, _ = r.Inputs["value"].(string)
	}
	return map[string]any{"value": v}, nil
}

// getChild is ARM's GET of an API Management child (a backend, a named value): what APIM holds
// now, a portal edit or an ARM write included, with its id, or ResourceNotFound. A secret named
// value's value is never in it: ARM does not return it on GET.
func getChild(c *Cloud, id, what string) (map[string]any, error) {
	r, ok := c.Get(id)
	if !ok {
		return nil, azErr(404, "ResourceNotFound", "%s not found: %s.", what, lastSegment(id))
	}
	out := map[string]any{"id": r.ID}
	for k, v := range r.Properties {
		out[k] = v
	}
	return out, nil
}
