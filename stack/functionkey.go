package stack

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi-azure-native-sdk/apimanagement/v3"
	"github.com/pulumi/pulumi-azure-native-sdk/web/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// keyWait bounds how long the first deploy waits for a new app's host keys. Keys lag an app's
// creation, and the identity's role assignments the host needs to start can take many minutes
// to apply, so the wait is minutes, not seconds; it ends with an error naming the app.
var keyWait = struct {
	Budget, First, Max time.Duration
}{Budget: 10 * time.Minute, First: 5 * time.Second, Max: 30 * time.Second}

// functionKey is the key APIM sends to a slot's app. It is read from the Functions host only
// when APIM does not hold the key of this very app yet: the slot's first deploy, or an app
// replaced (a new generated name after a resource group change, say), whose old key the new
// host answers with 401. listWebAppHostKeys is answered by the host itself, so reading it on
// every update would make every traffic change, a rollback included, depend on both hosts being
// up. Otherwise the named value's value is the key, read with listNamedValue from API
// Management; its tags name the app the key came from (newSlotBackend sets them). A named value
// without tags (written before they were) is taken as the current app's.
//
// The lookup waits on the app's id, not its name: at preview azure-native already knows a new
// app's name (its outputs echo its inputs) but not its id, so it never runs against an app that
// does not exist yet.
//
// The same goes for a slot whose host storage moved (guardedHostAccount): its host made new keys
// in the new account. Waiting on the app's id is what makes that read come after the update that
// moved it, once the host has restarted there.
func functionKey(ctx *pulumi.Context, c *Colour, appRG, svcRG, svcName pulumi.StringInput, namedValueID string) pulumi.StringOutput {
	app := c.App
	return pulumi.All(app.ID(), app.Name, appRG, svcRG, svcName, c.HostStorage, c.SharedStorage).ApplyT(func(v []any) (string, error) {
		name, group, apimGroup, service := v[1].(string), v[2].(string), v[3].(string), v[4].(string)
		host, shared := v[5].(string), v[6].(string)
		id, g, svc := namedValueID, apimGroup, service
		nv, err := apimanagement.LookupNamedValue(ctx, &apimanagement.LookupNamedValueArgs{NamedValueId: id, ResourceGroupName: g, ServiceName: svc})
		switch {
		case err != nil && notFound(err):
			return hostKey(ctx, name, group)
		case err != nil:
			return "", fmt.Errorf("function key of %s: read named value %s from API Management: %w", name, namedValueID, err)
		case len(nv.Tags) > 0 && !slices.Contains(nv.Tags, name):
			_ = ctx.Log.Info(fmt.Sprintf("the key API Management holds for %s came from %s, not from this app (replaced): reading the new app's key from its host", namedValueID, strings.Join(nv.Tags, ", ")), nil)
			return hostKey(ctx, name, group)
		case keyHostAccount(nv.Tags, shared) != host:
			_ = ctx.Log.Info(fmt.Sprintf("the key API Management holds for %s came from host storage %s; %s now keeps its keys in %s: reading its new key from its host", namedValueID, keyHostAccount(nv.Tags, shared), name, host), nil)
			return hostKey(ctx, name, group)
		}
		held, err := apimanagement.ListNamedValue(ctx, &apimanagement.ListNamedValueArgs{NamedValueId: id, ResourceGroupName: g, ServiceName: svc})
		switch {
		case err == nil && held.Value != nil && *held.Value != "":
			return *held.Value, nil
		case err != nil && !notFound(err):
			return "", fmt.Errorf("function key of %s: read named value %s from API Management: %w", name, namedValueID, err)
		}
		return hostKey(ctx, name, group)
	}).(pulumi.StringOutput)
}

// notFound reports whether an invoke failed because the resource does not exist (ARM's 404),
// as opposed to failing to answer.
func notFound(err error) bool {
	s := err.Error()
	return strings.Contains(s, "Status=404") || strings.Contains(s, "NotFound")
}

// hostKey reads a new app's default function key from its host, waiting within keyWait and
// saying so while it waits.
func hostKey(ctx *pulumi.Context, name, group string) (string, error) {
	start := time.Now()
	delay := keyWait.First
	for attempt := 1; ; attempt++ {
		keys, err := web.ListWebAppHostKeys(ctx, &web.ListWebAppHostKeysArgs{Name: name, ResourceGroupName: group})
		switch {
		case err == nil && keys.FunctionKeys["default"] != "":
			return keys.FunctionKeys["default"], nil
		case err == nil:
			err = errors.New("the host has no default function key yet")
		}
		waited := time.Since(start)
		if waited+delay > keyWait.Budget {
			return "", fmt.Errorf("function key of %s: not ready after %s (%d attempts): %w; the app's host may not have started (check its role assignments and logs), then run pulumi up again", name, waited.Round(time.Second), attempt, err)
		}
		_ = ctx.Log.Info(fmt.Sprintf("waiting for the function key of %s: %s of at most %s (attempt %d): %v", name, waited.Round(time.Second), keyWait.Budget, attempt, err), nil)
		time.Sleep(delay)
		delay = min(2*delay, keyWait.Max)
	}
}
