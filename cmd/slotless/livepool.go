package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"github.com/slotless/slotless/internal/credential"
	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/stack"
)

// Environment naming a Resource Manager other than Azure's public cloud, as azure-native reads
// it; the audience defaults to the endpoint's origin.
const (
	envARMEndpoint = "ARM_RESOURCE_MANAGER_ENDPOINT"
	envARMAudience = "ARM_RESOURCE_MANAGER_AUDIENCE"
)

// azAccountTimeout bounds `az account show`, the last way to learn the subscription.
const azAccountTimeout = 30 * time.Second

// newLivePool is the stack's pool in API Management, reached through ARM with the release
// credential. It is located from the stack's poolId output when outputs can be read; else from
// the config alone, so a rollback finds it with the Pulumi backend down: the resource group the
// program derives (or apimResourceGroupName), the service by name (apimName) or by the tags
// the program gives it, and the subscription from azure-native:subscriptionId,
// ARM_SUBSCRIPTION_ID, AZURE_SUBSCRIPTION_ID, else the one `az login` selected.
func newLivePool(raw plan.StackConfig, cfg *stack.Config, stackName string, outputs func(context.Context) (map[string]any, error), getenv func(string) string) (*pool.Located, error) {
	cred, _, err := credential.Azure(getenv)
	if err != nil {
		return nil, err
	}
	c, err := pool.NewClient(cred, pool.Options{Endpoint: getenv(envARMEndpoint), Audience: getenv(envARMAudience)})
	if err != nil {
		return nil, err
	}
	ids := stack.NewAPIMIDs(cfg)
	locate := func(ctx context.Context, c *pool.Client) (pool.Target, error) {
		if outputs != nil {
			if outs, err := outputs(ctx); err == nil {
				if id, _ := outs[stack.OutPoolID].(string); id != "" {
					t, err := pool.TargetFromPoolID(id)
					if err == nil {
						t.CurrentSlotID = ids.CurrentSlot()
					}
					return t, err
				}
			}
		}
		sub := credential.FirstOf(func(k string) string {
			if k == "azure-native:subscriptionId" {
				return raw.Values[k]
			}
			return getenv(k)
		}, "azure-native:subscriptionId", "ARM_SUBSCRIPTION_ID", "AZURE_SUBSCRIPTION_ID")
		if sub == "" {
			var err error
			if sub, err = azSubscription(ctx); err != nil {
				return pool.Target{}, fmt.Errorf("no subscription: set azure-native:subscriptionId or ARM_SUBSCRIPTION_ID, or sign in with az login (%w)", err)
			}
		}
		names := stack.NewNames(raw.Project, stackName, cfg)
		t := pool.Target{Subscription: sub, ResourceGroup: names.APIMResourceGroup(), Service: cfg.APIM.ExistingName, PoolID: ids.Pool(), CurrentSlotID: ids.CurrentSlot()}
		if t.Service == "" {
			if t.Service, err = c.FindService(ctx, sub, t.ResourceGroup, raw.Project, stackName); err != nil {
				return pool.Target{}, err
			}
		}
		return t, nil
	}
	return &pool.Located{Client: c, Locate: locate}, nil
}

// azSubscription asks the az CLI for the subscription it is signed in to.
func azSubscription(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, azAccountTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "az", "account", "show", "--query", "id", "-o", "tsv").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("az account show: %s", strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("az account show: %w", err)
	}
	sub := strings.TrimSpace(string(out))
	if sub == "" {
		return "", errors.New("az account show printed no subscription")
	}
	return sub, nil
}
