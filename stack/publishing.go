package stack

import (
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/web/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Basic-auth publishing. A function app on Flex Consumption has basic publishing credentials: a
// publish profile's user and password, which its deployment host (the SCM site) accepts for a
// deploy unless the app's scm basicPublishingCredentialsPolicies says no (Azure/functions-action
// deploys Flex apps with a publish profile while "SCM Basic Auth Publishing" is on; the portal's
// General settings for a Flex app show that switch and hide the FTP one, Azure/azure-functions-ux
// #7660; MicrosoftDocs azure-functions, functions-how-to-github-actions.md: the publish profile
// works only while "SCM Basic Auth Publishing Credentials" is on). Anyone who reads the profile
// (Microsoft.Web/sites/config/list/action) could then deploy to a slot around the release.
// slotless deploys with an Entra token (Microsoft.Web/sites/publish/Action), so each app turns
// both policies off: scm for the deployment host, ftp for FTP, which Flex does not offer but
// whose policy Azure Policy's built-in audit "App Service should have local authentication
// methods disabled for FTP deployments" checks on every site (MicrosoftDocs azure-docs,
// app-service/configure-basic-auth-disable.md for both switches).
func disableBasicPublishing(ctx *pulumi.Context, slot Slot, app *web.WebApp, rg pulumi.StringInput, opts ...pulumi.ResourceOption) error {
	name := string(slot)
	if _, err := web.NewWebAppScmAllowed(ctx, name+"-scm-basic-auth", &web.WebAppScmAllowedArgs{
		Name: app.Name, ResourceGroupName: rg, Allow: pulumi.Bool(false),
	}, opts...); err != nil {
		return fmt.Errorf("colour %s scm basic publishing: %w", slot, err)
	}
	if _, err := web.NewWebAppFtpAllowed(ctx, name+"-ftp-basic-auth", &web.WebAppFtpAllowedArgs{
		Name: app.Name, ResourceGroupName: rg, Allow: pulumi.Bool(false),
	}, opts...); err != nil {
		return fmt.Errorf("colour %s ftp basic publishing: %w", slot, err)
	}
	return nil
}
