package azurefake

// API Management subscriptions, as the watcher's key needs them (stack/watcherkey.go):
//
//   - A subscription created without a state is "submitted", not active: "Initial subscription
//     state. If no value is specified, subscription is created with Submitted state"
//     (@pulumi/azure-native 3.28.0 apimanagement SubscriptionArgs.state; APIM REST 2024-05-01
//     SubscriptionCreateParameterProperties.state), and a submitted subscription's key opens
//     nothing.
//   - Its keys are generated on create when none is given ("Primary subscription key. If not
//     specified during request key will be generated automatically", SubscriptionArgs.primaryKey)
//     and kept across updates that give none.
//   - A GET never answers them ("This property will not be filled on 'GET' operations! Use
//     '/listSecrets' POST request to get the value", Subscription.primaryKey): only
//     Subscription_ListSecrets does, with the action
//     Microsoft.ApiManagement/service/subscriptions/listSecrets/action
//     (resource-provider-operations.md).

const subscriptionToken = "azure-native:apimanagement:Subscription"

// subscriptionWritten keeps a subscription's generated keys on r: made on create, kept after.
func subscriptionWritten(r *Resource) {
	if r.Secret == "" {
		r.Secret = randomKey()
	}
	if r.SecondaryKey == "" {
		r.SecondaryKey = randomKey()
	}
}

// subscriptionOutputs are what ARM answers for a subscription: its state "submitted" when the
// create gave none, and never a key.
func subscriptionOutputs(out map[string]any) {
	if _, ok := out["state"]; !ok {
		out["state"] = "submitted"
	}
	delete(out, "primaryKey")
	delete(out, "secondaryKey")
}

// listSubscriptionSecrets is Subscription_ListSecrets: the keys, or ResourceNotFound.
func listSubscriptionSecrets(c *Cloud, id string) (map[string]any, error) {
	r, ok := c.Get(id)
	if !ok || r.Token != subscriptionToken {
		return nil, azErr(404, "ResourceNotFound", "Subscription not found.")
	}
	return map[string]any{"primaryKey": r.Secret, "secondaryKey": r.SecondaryKey}, nil
}
