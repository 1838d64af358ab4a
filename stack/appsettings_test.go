package stack

import (
	"strings"
	"testing"
)

func TestParseAppSettings(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    map[string]string
		wantErr []string
	}{
		{"unset", "", nil, nil},
		{"plain values, numbers and booleans as text", `{"FeatureX": "on", "Retries": 3, "Strict": true, "Empty": ""}`,
			map[string]string{"FeatureX": "on", "Retries": "3", "Strict": "true", "Empty": ""}, nil},
		{"a Key Vault reference", `{"Db": "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/db)"}`,
			map[string]string{"Db": "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/db)"}, nil},
		{"periods and underscores", `{"Logging.Level": "Info", "My_Setting": "x"}`, map[string]string{"Logging.Level": "Info", "My_Setting": "x"}, nil},
		{"not a map", `["a"]`, nil, []string{"appSettings: not a map of setting name to value"}},
		{"the stack's own and Flex's rejected names, one line each", `{"AzureWebJobsStorage": "x", "azurewebjobsstorage__accountName": "y", "APPLICATIONINSIGHTS_CONNECTION_STRING": "z", "slot_name": "w", "FUNCTIONS_WORKER_RUNTIME": "node", "WEBSITE_RUN_FROM_PACKAGE": "1"}`, nil, []string{
			"appSettings.AzureWebJobsStorage: the stack owns this setting: the stack points the Functions host at the slot's own host storage",
			"appSettings.azurewebjobsstorage__accountName: the stack owns this setting",
			"appSettings.APPLICATIONINSIGHTS_CONNECTION_STRING: the stack owns this setting: the stack connects both slots to Application Insights",
			"appSettings.slot_name: the stack owns this setting: the stack sets it to green or blue",
			"appSettings.FUNCTIONS_WORKER_RUNTIME: the stack owns this setting: Flex Consumption takes the runtime from functionAppConfig",
			"appSettings.WEBSITE_RUN_FROM_PACKAGE: the stack owns this setting: Flex Consumption runs the package from its deployment container",
		}},
		{"a name App Service refuses", `{"my-setting": "x", "a b": "y"}`, nil, []string{
			`appSettings.a b: the name "a b" is not valid, want 1..256 letters, digits, '.' and '_'`,
			`appSettings.my-setting: the name "my-setting" is not valid`}},
		{"names that differ only in case", `{"Db": "a", "DB": "b"}`, nil, []string{"appSettings.Db: the same setting as appSettings.DB (App Service's names ignore case)"}},
		{"a nested value", `{"Db": {"host": "x"}}`, nil, []string{"appSettings.Db: is a map, want a string"}},
		{"a null", `{"Db": null}`, nil, []string{"appSettings.Db: has no value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := map[string]string{}
			if tt.raw != "" {
				set["appSettings"] = tt.raw
			}
			c, err := Parse(source(set))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("got %v, want errors", c.AppSettings)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error\n%v\nwant it to contain %q", err, w)
					}
				}
				if n := strings.Count(err.Error(), "\n") + 1; n != len(tt.wantErr) {
					t.Errorf("got %d lines, want one per bad setting (%d):\n%v", n, len(tt.wantErr), err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(c.AppSettings.Values) != len(tt.want) {
				t.Fatalf("got %v, want %v", c.AppSettings.Values, tt.want)
			}
			for k, v := range tt.want {
				if c.AppSettings.Values[k] != v {
					t.Errorf("%s: got %q, want %q", k, c.AppSettings.Values[k], v)
				}
			}
		})
	}
}

// TestOwnedSettingsCoverTheStacksOwn: every setting the stack writes on an app is one a team may
// not set, whatever its case.
func TestOwnedSettingsCoverTheStacksOwn(t *testing.T) {
	for _, name := range []string{"APPLICATIONINSIGHTS_AUTHENTICATION_STRING", "APPLICATIONINSIGHTS_CONNECTION_STRING", "AzureWebJobsStorage__blobServiceUri",
		"AzureWebJobsStorage__clientId", "AzureWebJobsStorage__credential", "AzureWebJobsStorage__queueServiceUri", "AzureWebJobsStorage__tableServiceUri", "SLOT_NAME"} {
		for _, n := range []string{name, strings.ToLower(name), strings.ToUpper(name)} {
			if ownedSetting(n) == "" {
				t.Errorf("%s is the stack's own setting, but a team may set it", n)
			}
		}
	}
}

func TestIsKeyVaultReference(t *testing.T) {
	for v, want := range map[string]bool{
		"@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/db/)":                   true,
		"@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/db/abc123)":             true,
		"@Microsoft.KeyVault(VaultName=v;SecretName=db)":                                         true,
		"@Microsoft.KeyVault(VaultName=v;SecretName=db;SecretVersion=abc)":                       true,
		"@Microsoft.KeyVault(SecretUri=http://v.vault.azure.net/secrets/db)":                     false,
		"Server=db;Password=@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/db)": false,
		"plain": false,
	} {
		if got := IsKeyVaultReference(v); got != want {
			t.Errorf("IsKeyVaultReference(%q) = %v, want %v", v, got, want)
		}
	}
}
