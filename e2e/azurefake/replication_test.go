package azurefake

import (
	"strings"
	"testing"
)

// TestEntraReplicatesNewPrincipalsLater: while Entra lags, a service principal created since,
// the gateway identity's or the audience's, is unknown to token issuance (AADSTS700016 for the
// caller, AADSTS500011 for the resource) until the test lets replication finish; one created
// before, or without the lag, gets its token at once.
func TestEntraReplicatesNewPrincipalsLater(t *testing.T) {
	for _, tt := range []struct {
		name                  string
		lagIdentity, lagSP    bool
		wantErrBeforeReplicas string
	}{
		{"no lag", false, false, ""},
		{"a new identity", true, false, "AADSTS700016"},
		{"a new service principal for the audience", false, true, "AADSTS500011"},
		{"both", true, true, "AADSTS700016"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f := apimWorld(t, "Consumption")
			lag := func(on bool) {
				t.Helper()
				if err := f.Store.Update(func(c *Cloud) error { c.EntraLags = on; return nil }); err != nil {
					t.Fatal(err)
				}
			}
			lag(tt.lagIdentity)
			mi := mustCreate(t, f, "azure-native:managedidentity:UserAssignedIdentity", map[string]any{"resourceGroupName": "rg", "resourceName": "gw"})
			lag(tt.lagSP)
			if err := f.Store.Update(func(c *Cloud) error { c.CreateServicePrincipal("aud-1"); return nil }); err != nil {
				t.Fatal(err)
			}
			c, _ := f.Store.Load()
			r, _ := c.Get(mi)
			clientID := str(r.Properties, "clientId")
			for _, resource := range []string{"aud-1", "api://aud-1"} {
				_, err := c.IssueToken(clientID, resource)
				if tt.wantErrBeforeReplicas == "" && err != nil || tt.wantErrBeforeReplicas != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErrBeforeReplicas)) {
					t.Errorf("%s before replication: got %v, want error %q", resource, err, tt.wantErrBeforeReplicas)
				}
			}
			c.Replicate()
			if _, err := c.IssueToken(clientID, "aud-1"); err != nil {
				t.Errorf("after replication: %v", err)
			}
		})
	}
}
