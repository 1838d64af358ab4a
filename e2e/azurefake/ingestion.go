package azurefake

import (
	"net/http"
	"strings"
)

// Application Insights ingestion, as far as the metrics gate depends on it: which component a
// function app's telemetry lands in, and who may send it there.
//
//   - The component is the one the connection string names, by its instrumentation key; Log
//     Analytics gives its rows that component's id as _ResourceId ("Standard columns in Azure
//     Monitor Logs": the resource "the record is associated with"). Nothing the app writes in
//     the telemetry itself (cloud_RoleName, OTEL_SERVICE_NAME) changes it.
//   - A component with local authentication off (disableLocalAuth) takes only telemetry sent
//     with a Microsoft Entra token, from a principal that holds Monitoring Metrics Publisher
//     (Microsoft.Insights/Telemetry/Write) on it ("Microsoft Entra authentication for
//     Application Insights": assign the role "by setting the target Application Insights
//     resource as the role scope"; once local authentication is disabled "only telemetry
//     exclusively authenticated by using managed identities and Microsoft Entra ID is
//     ingested"). The app sends as the identity APPLICATIONINSIGHTS_AUTHENTICATION_STRING names
//     by its client id; without it, the telemetry is unauthenticated.
//
// What the ingestion endpoint answers a refused sender is modelled as 401 without a token and
// 403 without the role, unchecked against Azure (README, Approximations); nothing of the stack
// reads them, and the gate only ever sees that the rows are not there.

// SendTelemetry is the ingestion of app's telemetry sent with connection string to, or with the
// app's own APPLICATIONINSIGHTS_CONNECTION_STRING when to is "": the component the rows land in
// (its ARM id, for Row.Component), or the error ingestion answers.
func (c *Cloud) SendTelemetry(app *Resource, to string) (component string, err error) {
	settings := appSettingsOf(app.Inputs)
	if to == "" {
		to = settings["APPLICATIONINSIGHTS_CONNECTION_STRING"]
	}
	key := connectionField(to, "InstrumentationKey")
	var comp *Resource
	for _, r := range c.ByType("azure-native:applicationinsights:Component") {
		if k, _ := r.Properties["instrumentationKey"].(string); k != "" && strings.EqualFold(k, key) {
			comp = r
		}
	}
	if comp == nil {
		return "", azErr(http.StatusBadRequest, "InvalidInstrumentationKey", "no Application Insights component has the instrumentation key %q of %s's connection string", key, app.Name())
	}
	if local, _ := comp.Inputs["disableLocalAuth"].(bool); !local {
		return comp.ID, nil
	}
	auth := settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"]
	client := connectionField(auth, "ClientId")
	if client == "" || !strings.EqualFold(connectionField(auth, "Authorization"), "AAD") {
		return "", azErr(http.StatusUnauthorized, "Unauthorized", "%s has local authentication disabled, and %s sends without a Microsoft Entra token", comp.ID, app.Name())
	}
	principal := ""
	for _, id := range c.ByType("azure-native:managedidentity:UserAssignedIdentity") {
		if cid, _ := id.Properties["clientId"].(string); strings.EqualFold(cid, client) {
			principal, _ = id.Properties["principalId"].(string)
		}
	}
	if principal == "" {
		return "", azErr(http.StatusUnauthorized, "Unauthorized", "no managed identity has the client id %s that %s sends as", client, app.Name())
	}
	if err := AuthorizeData(c, principal, "Microsoft.Insights/Telemetry/Write", comp.ID); err != nil {
		return "", azErr(http.StatusForbidden, "Forbidden", "the identity %s (principal %s) that %s sends as may not ingest telemetry into %s: %v", client, principal, app.Name(), comp.ID, err)
	}
	return comp.ID, nil
}

// ConnectionStringOf is a component's connection string, which an app may send with.
func (c *Cloud) ConnectionStringOf(componentID string) string {
	for _, r := range c.ByType("azure-native:applicationinsights:Component") {
		if strings.EqualFold(r.ID, componentID) {
			s, _ := r.Properties["connectionString"].(string)
			return s
		}
	}
	return ""
}

// appSettingsOf is a function app's siteConfig.appSettings by name.
func appSettingsOf(in map[string]any) map[string]string {
	out := map[string]string{}
	site, _ := in["siteConfig"].(map[string]any)
	settings, _ := site["appSettings"].([]any)
	for _, raw := range settings {
		s, _ := raw.(map[string]any)
		name, _ := s["name"].(string)
		value, _ := s["value"].(string)
		out[name] = value
	}
	return out
}

// connectionField is one Key=Value field of a connection or authentication string.
func connectionField(s, key string) string {
	for _, part := range strings.Split(s, ";") {
		if k, v, ok := strings.Cut(part, "="); ok && strings.EqualFold(strings.TrimSpace(k), key) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
