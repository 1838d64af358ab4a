package stack

import (
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/managedidentity/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/web/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// With gatewayAudience, only API Management reaches the apps. IP access restrictions cannot
// do it on every tier the stack supports: the Consumption tier has no static outbound
// address, and the ApiManagement service tag covers the management plane, not the gateway's
// calls. So API Management authenticates instead: its user-assigned identity gets a token for
// the audience (the authentication-managed-identity policy, NewPolicyInput), and each app's
// built-in authentication (authsettingsV2) accepts only a token for that audience issued to
// that identity, answering 401 to anything else, a direct call with the function key included
// (MicrosoftDocs azure-docs, app-service/configure-authentication-provider-aad.md: "Use a
// built-in authorization policy", the client application requirement; overview-
// authentication-authorization.md, "HTTP 401 Unauthorized" for unauthenticated requests).
//
// The audience is an app registration the user creates: azure-native manages Azure resources,
// not Entra applications.

// newGatewayIdentity declares the identity API Management calls the apps with, or nothing
// without gatewayAudience.
func newGatewayIdentity(ctx *pulumi.Context, n Names, cfg *Config, rg pulumi.StringInput, tags pulumi.StringMap) (*managedidentity.UserAssignedIdentity, error) {
	if cfg.GatewayAudience == "" {
		return nil, nil
	}
	id, err := managedidentity.NewUserAssignedIdentity(ctx, "gateway-identity", &managedidentity.UserAssignedIdentityArgs{
		ResourceName:      pulumi.String(n.GatewayIdentity()),
		ResourceGroupName: rg,
		Location:          pulumi.String(cfg.Location),
		Tags:              tags,
	})
	if err != nil {
		return nil, fmt.Errorf("gateway identity: %w", err)
	}
	return id, nil
}

// GatewayAudiences are the audiences an app accepts: the registration's client id, as a token
// requested for it carries, and its default application id URI.
func GatewayAudiences(audience string) []string {
	return []string{audience, "api://" + audience}
}

// requireGateway turns on each app's built-in authentication, accepting only the gateway
// identity's tokens for the audience. It waits for the API policy, so API Management sends
// the token before any app requires it.
func requireGateway(ctx *pulumi.Context, cfg *Config, colours map[Slot]*Colour, rg pulumi.StringInput, identity *managedidentity.UserAssignedIdentity, policy pulumi.Resource) error {
	if cfg.GatewayAudience == "" {
		return nil
	}
	for _, slot := range Slots {
		c := colours[slot]
		_, err := web.NewWebAppAuthSettingsV2(ctx, string(slot)+"-auth", &web.WebAppAuthSettingsV2Args{
			Name:              c.App.Name,
			ResourceGroupName: rg,
			Platform:          &web.AuthPlatformArgs{Enabled: pulumi.Bool(true)},
			GlobalValidation: &web.GlobalValidationArgs{
				RequireAuthentication:       pulumi.Bool(true),
				UnauthenticatedClientAction: web.UnauthenticatedClientActionV2Return401,
			},
			IdentityProviders: &web.IdentityProvidersArgs{AzureActiveDirectory: &web.AzureActiveDirectoryArgs{
				Enabled: pulumi.Bool(true),
				Registration: &web.AzureActiveDirectoryRegistrationArgs{
					ClientId:     pulumi.String(cfg.GatewayAudience),
					OpenIdIssuer: pulumi.Sprintf("https://sts.windows.net/%s/v2.0", identity.TenantId),
				},
				Validation: &web.AzureActiveDirectoryValidationArgs{
					AllowedAudiences: pulumi.ToStringArray(GatewayAudiences(cfg.GatewayAudience)),
					DefaultAuthorizationPolicy: &web.DefaultAuthorizationPolicyArgs{
						AllowedApplications: pulumi.StringArray{identity.ClientId},
					},
				},
			}},
		}, pulumi.Parent(c), pulumi.DependsOn([]pulumi.Resource{policy}))
		if err != nil {
			return fmt.Errorf("colour %s authentication: %w", slot, err)
		}
	}
	return nil
}
