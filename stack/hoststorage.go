package stack

import (
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-azure-native-sdk/apimanagement/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// A slot's Functions host keeps its keys in its host storage: "By default, keys are stored in a
// Blob storage container in the account provided by the AzureWebJobsStorage setting"
// (MicrosoftDocs azure-functions, function-keys-how-to.md, "Manage key storage";
// functions-app-settings.md, AzureWebJobsSecretStorageType). An app whose AzureWebJobsStorage
// moves to another account finds no keys there and makes new ones, while API Management still
// sends the key it holds: the slot answers 401 until that key is re-read (functionKey). So a
// slot's host storage moves only while the slot carries no traffic.

// hostTagPrefix starts the tag of a function key's named value that names the host storage
// account the key was read from.
const hostTagPrefix = "host-"

// hostTag is the tag naming the host storage account a key was read from.
func hostTag(account string) string { return hostTagPrefix + account }

// keyHostAccount is the host storage account a held key was read from, by its named value's
// tags. A key tagged before host tags were written came from the shared account, where every
// slot's host storage was then.
func keyHostAccount(tags []string, shared string) string {
	for _, t := range tags {
		if a, ok := strings.CutPrefix(t, hostTagPrefix); ok {
			return a
		}
	}
	return shared
}

// HostStorageMoveError refuses to move the host storage of a slot that carries traffic.
type HostStorageMoveError struct {
	Slot   Slot
	Weight int
	// Where says which reading of the weights gave the slot its share.
	Where    string
	From, To string
	// Shared is the shared account's name, to say which of From and To it is.
	Shared string
}

func (e *HostStorageMoveError) Error() string {
	describe := func(account string) string {
		if account == e.Shared {
			return "the shared account " + account
		}
		return "its own account " + account
	}
	fix := fmt.Sprintf("keep %s in sharedHostStorage (`pulumi config set --path 'sharedHostStorage[0]' %s`) until a release leaves it at 0%%, then take it out", e.Slot, e.Slot)
	if e.To == e.Shared {
		fix = fmt.Sprintf("take %s out of sharedHostStorage, or move it while it is at 0%%", e.Slot)
	}
	where := ""
	if e.Where != "" && e.Where != "this config" {
		where = " (in " + e.Where + ")"
	}
	return fmt.Sprintf("sharedHostStorage: %s carries %d%% of traffic%s and its Functions host keeps its keys in %s; "+
		"moving its host storage to %s now would give it new function keys while API Management still sends the old one, "+
		"so it would answer 401 until this update had read the new key. A slot's host storage moves only while it carries no traffic: %s",
		e.Slot, e.Weight, where, describe(e.From), describe(e.To), fix)
}

// guardedHostAccount is the name of the account a slot's AzureWebJobsStorage points at: target,
// the one this config puts it in, unless that moves the host storage of a slot with traffic,
// which fails the update before the app is touched. Where the slot's host storage is now is told
// by the tags of the key API Management holds for it (newSlotBackend writes them); a slot that
// has no key there yet is new and goes straight to target.
//
// Whether the slot carries traffic is the larger of its share in this config, in the last
// update (deployed) and in the pool as API Management holds it (poolID, read as the traffic
// guard reads it): after a break-glass rollback nobody recorded, or from a checkout whose stack
// file lags a release, the config alone can say 0 for the slot users are on.
func guardedHostAccount(ctx *pulumi.Context, slot Slot, cfg *Config, deployed *Weights, target, shared pulumi.StringOutput, svc apimService, keyName, poolID string) pulumi.StringOutput {
	inputs := append([]any{target, shared}, svc.readyInputs()...)
	return pulumi.All(inputs...).ApplyT(func(v []any) (string, error) {
		to, sharedName, group, service := v[0].(string), v[1].(string), v[2].(string), v[3].(string)
		nv, err := apimanagement.LookupNamedValue(ctx, &apimanagement.LookupNamedValueArgs{NamedValueId: keyName, ResourceGroupName: group, ServiceName: service})
		switch {
		case err != nil && notFound(err):
			return to, nil
		case err != nil:
			return "", fmt.Errorf("host storage of %s: read named value %s from API Management: %w", slot, keyName, err)
		}
		from := keyHostAccount(nv.Tags, sharedName)
		if from == to {
			return to, nil
		}
		weight, where := cfg.Weights.Of(slot), "this config"
		if deployed != nil && deployed.Of(slot) > weight {
			weight, where = deployed.Of(slot), "the last update"
		}
		pool, err := apimanagement.LookupBackend(ctx, &apimanagement.LookupBackendArgs{BackendId: poolID, ResourceGroupName: group, ServiceName: service})
		switch {
		case err == nil:
			if live := poolWeights(pool).Of(slot); live > weight {
				weight, where = live, "the pool as API Management holds it"
			}
		case !notFound(err):
			return "", fmt.Errorf("host storage of %s: read pool %s from API Management, to know whether %s carries traffic: %w", slot, poolID, slot, err)
		}
		if weight > 0 {
			return "", &HostStorageMoveError{Slot: slot, Weight: weight, Where: where, From: from, To: to, Shared: sharedName}
		}
		_ = ctx.Log.Info(fmt.Sprintf("%s carries no traffic: its host storage moves from %s to %s, and its new function key is read from its host after the app restarts", slot, from, to), nil)
		return to, nil
	}).(pulumi.StringOutput)
}
