package stack

import (
	"fmt"

	"github.com/pulumi/pulumi-azure-native-sdk/apimanagement/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// The watcher's health gate and probes reach the slots through the gateway, as a release's do.
// When the API requires a subscription key (subscriptionRequired, on by default), a call without
// one is answered 401 by API Management itself ("Access denied due to missing subscription
// key"), so every check would fail and the watcher would roll back every canary. A release gets
// its key from the pipeline (SLOTLESS_SUBSCRIPTION_KEY); the watcher has no pipeline, so the
// stack gives it a subscription of its own, scoped to this API alone, and hands its key to the
// watcher as a Pulumi secret app setting.

// watcherSubscription is the watcher's API Management subscription and its key.
type watcherSubscription struct {
	Subscription *apimanagement.Subscription
	// Key is the subscription's primary key, a Pulumi secret.
	Key pulumi.StringOutput
	// Scope is the subscription's ARM id, where the release identity may list its keys.
	Scope pulumi.StringOutput
}

// newWatcherSubscription declares the watcher's subscription when the watcher is on and the API
// requires a key, and reads its key back; nil otherwise. The subscription is created active (API
// Management creates one "submitted", unusable, when no state is given), scoped to /apis/<this
// API> so the key opens nothing else of a reused service, with tracing off (a key that leaked
// could not ask the gateway to trace, which reveals the policies' work). The key is API
// Management's own, generated on create: never in the program, read with listSecrets (a GET
// never answers it) on each run, and held as a Pulumi secret.
func newWatcherSubscription(ctx *pulumi.Context, cfg *Config, serviceGroup pulumi.StringInput, gw *Gateway) (*watcherSubscription, error) {
	if !cfg.Watcher || !cfg.API.SubscriptionRequired {
		return nil, nil
	}
	sub, err := apimanagement.NewSubscription(ctx, watcherName+"-subscription", &apimanagement.SubscriptionArgs{
		ResourceGroupName: serviceGroup,
		ServiceName:       gw.ServiceName,
		DisplayName:       pulumi.Sprintf("slotless watcher %s/%s", ctx.Project(), ctx.Stack()),
		Scope:             pulumi.Sprintf("/apis/%s", gw.API.Name),
		State:             apimanagement.SubscriptionStateEnumActive,
		AllowTracing:      pulumi.Bool(false),
	})
	if err != nil {
		return nil, fmt.Errorf("watcher subscription: %w", err)
	}
	keys := apimanagement.ListSubscriptionSecretsOutput(ctx, apimanagement.ListSubscriptionSecretsOutputArgs{
		ResourceGroupName: serviceGroup,
		ServiceName:       gw.ServiceName,
		Sid:               sub.Name,
	})
	key := pulumi.ToSecret(keys.PrimaryKey().Elem()).(pulumi.StringOutput)
	scope := pulumi.All(gw.Pool.ID().ToStringOutput(), sub.Name).ApplyT(func(v []any) (string, error) {
		svc, err := prefixOf(v[0].(string), 8)
		return svc + "/subscriptions/" + v[1].(string), err
	}).(pulumi.StringOutput)
	return &watcherSubscription{Subscription: sub, Key: key, Scope: scope}, nil
}
