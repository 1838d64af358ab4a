package azurefake

import (
	"slices"
	"strings"
)

// Entra ID is eventually consistent: "A successful write to Microsoft Entra does not guarantee
// that an immediate read will reflect that change", and during the replication window "it is
// normal for ... A newly created object to return a 'Not Found'" (Microsoft Entra Identity
// Developer Blog, "Designing for Eventual Consistency for Microsoft Entra", 24 March 2026,
// devblogs.microsoft.com/identity/designing-for-eventual-consistency-for-microsoft-entra).
// Issuing a token reads two such objects: the caller's service principal (a user-assigned
// identity is one, made when ARM creates the identity) and the resource's (made by `az ad sp
// create --id <appId>`). So nothing in one `pulumi up` can order the gateway's first token
// after the identity that asks for it: DependsOn orders ARM's writes, not Entra's replicas.
//
// With Cloud.EntraLags set, every service principal created from then on, a user-assigned
// identity's (Fake.create) or an application's (CreateServicePrincipal), is unknown to token
// issuance until the test calls Replicate: a state the test ends, never a duration. An identity
// not yet replicated is refused as one that does not exist (AADSTS700016), a resource as one
// without a service principal (AADSTS500011); which codes Entra answers during the window is
// not documented, and only the refusal matters to the gateway.

// newPrincipal notes a service principal just created, by its client (application) id: not
// yet replicated while EntraLags is set.
func (c *Cloud) newPrincipal(clientID string) {
	if c.EntraLags && clientID != "" {
		c.Unreplicated = append(c.Unreplicated, strings.ToLower(clientID))
	}
}

// replicated reports whether token issuance sees the service principal of this client id.
func (c *Cloud) replicated(clientID string) bool {
	return !slices.Contains(c.Unreplicated, strings.ToLower(strings.TrimPrefix(clientID, "api://")))
}

// Replicate ends the replication window: every service principal created so far is seen by
// token issuance. Principals created later lag again while EntraLags stays set.
func (c *Cloud) Replicate() { c.Unreplicated = nil }
