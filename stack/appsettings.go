package stack

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// A team's own app settings (appSettings in the stack file): connection strings, feature flags,
// Key Vault references. They are the same on both slots, and join the settings the stack owns
// (host storage, Application Insights, SLOT_NAME). ARM replaces a site's settings as a whole, so
// settings set beside the stack (az functionapp config appsettings set) are gone at the next site
// update; they belong here.

// maxAppSettings bounds appSettings; App Service documents no count, and hundreds of settings are
// a sign of configuration that belongs in App Configuration or Key Vault.
const maxAppSettings = 200

// appSettingNameRE is App Service's rule for setting names: "App setting names can contain only
// letters, numbers (0-9), periods (.), and underscores (_)" (MicrosoftDocs, app-service
// configure-common.md, "Configure app settings").
var appSettingNameRE = regexp.MustCompile(`^[A-Za-z0-9_.]{1,256}$`)

// ownedSettingPrefixes are settings the stack writes on every app: a team's value would fight the
// stack's, or silently lose at the next update. Names compare without case, as App Service's do.
var ownedSettingPrefixes = []struct{ prefix, why string }{
	{"AZUREWEBJOBSSTORAGE", "the stack points the Functions host at the slot's own host storage, by identity"},
	{"APPLICATIONINSIGHTS_", "the stack connects both slots to Application Insights, with Entra-only ingestion"},
	{"FUNCTIONS_", "Flex Consumption takes the runtime from functionAppConfig and rejects or ignores the FUNCTIONS_* settings (Functions app settings reference, \"Flex Consumption plan deprecations\"); set functionRuntime and functionRuntimeVersion instead"},
}

// ownedSettings are single names the stack owns or Flex Consumption rejects or ignores.
var ownedSettings = map[string]string{
	"SLOT_NAME":                                 "the stack sets it to green or blue on each slot; the health contract reads it",
	"APPINSIGHTS_INSTRUMENTATIONKEY":            "the stack connects Application Insights by connection string (APPLICATIONINSIGHTS_CONNECTION_STRING)",
	"WEBSITE_RUN_FROM_PACKAGE":                  "Flex Consumption runs the package from its deployment container (functionAppConfig.deployment), and rejects it",
	"WEBSITE_CONTENTSHARE":                      "Flex Consumption has no content share",
	"WEBSITE_CONTENTAZUREFILECONNECTIONSTRING":  "Flex Consumption has no content share",
	"WEBSITE_CONTENTOVERVNET":                   "Flex Consumption has no content share",
	"WEBSITE_SKIP_CONTENTSHARE_VALIDATION":      "Flex Consumption has no content share",
	"WEBSITE_NODE_DEFAULT_VERSION":              "Flex Consumption takes the runtime version from functionAppConfig; set functionRuntimeVersion",
	"WEBSITE_MAX_DYNAMIC_APPLICATION_SCALE_OUT": "Flex Consumption's scale-out limit is maximumInstanceCount",
	"WEBSITE_VNET_ROUTE_ALL":                    "Flex Consumption routes all outbound traffic through its virtual network integration",
	"WEBSITE_DNS_SERVER":                        "Flex Consumption takes DNS from its virtual network",
	"SCM_DO_BUILD_DURING_DEPLOYMENT":            "Flex Consumption builds with the deployment's remote build, not the SCM site's",
	"ENABLE_ORYX_BUILD":                         "Flex Consumption builds with the deployment's remote build, not Oryx",
}

// ownedSetting says why the stack keeps a setting name to itself, or "" when a team may set it.
func ownedSetting(name string) string {
	upper := strings.ToUpper(name)
	if why, ok := ownedSettings[upper]; ok {
		return why
	}
	for _, p := range ownedSettingPrefixes {
		if strings.HasPrefix(upper, p.prefix) {
			return p.why
		}
	}
	return ""
}

// keyVaultReferenceRE is an App Service Key Vault reference, in either documented form:
// @Microsoft.KeyVault(SecretUri=...) or @Microsoft.KeyVault(VaultName=...;SecretName=...[;SecretVersion=...])
// (MicrosoftDocs, app-service-key-vault-references.md, "Reference syntax").
var keyVaultReferenceRE = regexp.MustCompile(`^@Microsoft\.KeyVault\((SecretUri=https://[^)\s]+|VaultName=[^;)\s]+;SecretName=[^;)\s]+(;SecretVersion=[^;)\s]+)?)\)$`)

// IsKeyVaultReference reports whether a setting's value is a Key Vault reference, which the
// platform resolves with the app's keyVaultReferenceIdentity.
func IsKeyVaultReference(v string) bool { return keyVaultReferenceRE.MatchString(strings.TrimSpace(v)) }

// AppSettings are a team's own settings.
type AppSettings struct {
	// Values are the settings by name.
	Values map[string]string
	// Secret is set when Pulumi holds the key as a secret (a value set with --secret --path):
	// Pulumi's granularity is the key, so every value is then kept secret in state.
	Secret bool
}

// Names are the settings' names, sorted, so the list the app gets never shows as a diff.
func (a AppSettings) Names() []string {
	names := make([]string, 0, len(a.Values))
	for n := range a.Values {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// KeyVaultReferences are the names of the settings whose values are Key Vault references.
func (a AppSettings) KeyVaultReferences() []string {
	var out []string
	for _, n := range a.Names() {
		if IsKeyVaultReference(a.Values[n]) {
			out = append(out, n)
		}
	}
	return out
}

// appSettings reads appSettings: a map of name to string, as Pulumi passes a structured value
// (JSON). A value that is not a string (a number, true) is taken as its text, as YAML users
// expect; nested objects and lists are refused.
func (p *parser) appSettings(key string) AppSettings {
	raw, ok := p.src(key)
	if !ok || strings.TrimSpace(raw) == "" {
		return AppSettings{}
	}
	const allowed = `a map of setting name to value, such as {"FeatureX": "on", "Db": "@Microsoft.KeyVault(SecretUri=https://vault.vault.azure.net/secrets/db)"}`
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		p.failf("%s: not a map of setting name to value (%v); want %s", key, err, allowed)
		return AppSettings{}
	}
	if len(m) > maxAppSettings {
		p.failf("%s: %d settings, want at most %d", key, len(m), maxAppSettings)
		return AppSettings{}
	}
	out := AppSettings{Values: map[string]string{}}
	seen := map[string]string{}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var bad []string
	for _, n := range names {
		where := fmt.Sprintf("%s.%s", key, n)
		switch {
		case !appSettingNameRE.MatchString(n):
			bad = append(bad, fmt.Sprintf("%s: the name %q is not valid, want 1..256 letters, digits, '.' and '_' (App Service's rule for setting names)", where, n))
			continue
		case ownedSetting(n) != "":
			bad = append(bad, fmt.Sprintf("%s: the stack owns this setting: %s", where, ownedSetting(n)))
			continue
		}
		if other, dup := seen[strings.ToUpper(n)]; dup {
			bad = append(bad, fmt.Sprintf("%s: the same setting as %s.%s (App Service's names ignore case)", where, key, other))
			continue
		}
		seen[strings.ToUpper(n)] = n
		switch v := m[n].(type) {
		case string:
			out.Values[n] = v
		case float64, bool:
			out.Values[n] = fmt.Sprint(v)
		case nil:
			bad = append(bad, fmt.Sprintf("%s: has no value; remove it, or set a string (an empty one is \"\")", where))
		default:
			bad = append(bad, fmt.Sprintf("%s: is a %s, want a string", where, jsonKind(v)))
		}
	}
	if len(bad) > 0 {
		// One line per bad setting, so every one is fixed in one round.
		for _, b := range bad {
			p.failf("%s", b)
		}
		return AppSettings{}
	}
	if len(out.Values) == 0 {
		return AppSettings{}
	}
	return out
}

func jsonKind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "map"
	case []any:
		return "list"
	}
	return fmt.Sprintf("%T", v)
}
