package stack

import (
	"github.com/pulumi/pulumi-azure-native-sdk/web/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// AlwaysReadyGroup is the Flex Consumption function group whose always-ready instances the
// program sets: "http" covers every HTTP-triggered function, which is all the app serves.
const AlwaysReadyGroup = "http"

// alwaysReady is a slot's Flex alwaysReady setting, or nil (no entry at all) when the slot gets
// no instances at these weights (Weights.AlwaysReady). So with alwaysReadyInstances 0, and for
// the idle slot, the app's inputs are exactly those of a stack without the key: turning the key
// on, or off again, never shows a diff beyond the count itself.
func alwaysReady(cfg *Config, slot Slot) web.FunctionsAlwaysReadyConfigArrayInput {
	n := cfg.Weights.AlwaysReady(slot, cfg.AlwaysReadyInstances)
	if n <= 0 {
		// An untyped nil: a typed empty array would be sent as [] and differ from today's inputs.
		return nil
	}
	return web.FunctionsAlwaysReadyConfigArray{
		web.FunctionsAlwaysReadyConfigArgs{Name: pulumi.String(AlwaysReadyGroup), InstanceCount: pulumi.Int(n)},
	}
}

// AppResourceName is the logical name newColour gives a slot's function app, which previews and
// updates report its steps by.
func AppResourceName(s Slot) string { return string(s) + "-app" }
