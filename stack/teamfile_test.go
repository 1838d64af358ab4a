package stack_test

import (
	"os"
	"strings"
	"testing"

	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/stack"
)

// teamStackFile is the stack file docs/configuration.md shows under "A team's whole stack file".
func teamStackFile(t *testing.T) []byte {
	t.Helper()
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "<!-- team-stack-file -->\n```yaml\n")
	if !ok {
		t.Fatal("docs/configuration.md has no team stack file")
	}
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("the team stack file's block is not closed")
	}
	return []byte(block)
}

// TestTeamStackFile: the .NET team's whole Pulumi.prod.yaml from docs/configuration.md, read as
// `slotless plan` reads a stack file (its encrypted values stood in for), plans with no code:
// both slots get the five settings of the team's own (the secret shown as [secret], the Key Vault
// reference as itself and resolved with each slot's identity), the subnet and the team's
// Application Insights, none of the stack's own telemetry, and the API in the team's product.
func TestTeamStackFile(t *testing.T) {
	cfg := plan.StackConfig{Project: "orders", Values: map[string]string{}}
	if err := cfg.MergeStack(teamStackFile(t)); err != nil {
		t.Fatal(err)
	}
	p, err := plan.Run("prod", cfg)
	if err != nil {
		t.Fatalf("plan of the documented stack file: %v", err)
	}
	const kv = "@Microsoft.KeyVault(SecretUri=https://orders-kv.vault.azure.net/secrets/orders-db)"
	const subnet = "/resourceGroups/network-rg/providers/Microsoft.Network/virtualNetworks/orders-vnet/subnets/functions"
	for _, slot := range stack.Slots {
		settings, _ := appSettingsOf(t, p, slot)
		// The engine holds the whole appSettings key as a secret once one value is, so every
		// value of the map shows as [secret] in a plan; the reference is checked on the input.
		for _, name := range []string{"OrdersApi__PageSize", "FeatureFlags__NewCheckout", "ASPNETCORE_ENVIRONMENT", "PaymentsApiKey", "ConnectionStrings__OrdersDb"} {
			if got, ok := settings[name]; !ok || got != plan.SecretPlaceholder {
				t.Errorf("%s %s: got %q (set %v), want it held as a secret", slot, name, got, ok)
			}
		}
		if settings["SLOT_NAME"] != string(slot) {
			t.Errorf("%s SLOT_NAME: got %q", slot, settings["SLOT_NAME"])
		}
		app := plan.Flatten(find(t, p, "azure-native:web:WebApp", string(slot)+"-app").Inputs)
		if got := app["keyVaultReferenceIdentity"]; !strings.Contains(got, "-"+string(slot)+"-id") {
			t.Errorf("%s resolves Key Vault references as %s, want its own identity", slot, got)
		}
		if got := app["virtualNetworkSubnetId"]; !strings.Contains(got, subnet) {
			t.Errorf("%s subnet: got %s, want the team's", slot, got)
		}
		if got := app["functionAppConfig.runtime.name"]; got != `"dotnet-isolated"` {
			t.Errorf("%s runtime: got %s, want dotnet-isolated", slot, got)
		}
	}
	if !strings.Contains(cfg.Values["orders:appSettings"], kv) {
		t.Errorf("appSettings: the Key Vault reference is not kept as written: %s", cfg.Values["orders:appSettings"])
	}
	for _, r := range p.Resources {
		switch r.Type {
		case "azure-native:applicationinsights:Component", "azure-native:operationalinsights:Workspace", "azure-native:apimanagement:ApiManagementService":
			t.Errorf("%s %s registered, want the team's own", r.Type, r.Name)
		}
	}
	var linked bool
	for _, r := range p.Resources {
		if r.Type == "azure-native:apimanagement:ProductApi" && plan.Flatten(r.Inputs)["productId"] == `"orders-partners"` {
			linked = true
		}
	}
	if !linked {
		t.Error("the API is in no orders-partners product")
	}
}
