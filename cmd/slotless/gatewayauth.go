package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/gatewayauth"
	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/stack"
)

// armFunctionKey reads a slot's function key from API Management through ARM, signed in with
// the release's credential.
func armFunctionKey(ctx context.Context, cred azcore.TokenCredential, poolID string, slot stack.Slot, getenv func(string) string) (string, error) {
	opts, err := pool.ARMClientOptions(pool.Options{Endpoint: getenv(envARMEndpoint), Audience: getenv(envARMAudience)})
	if err != nil {
		return "", err
	}
	return gatewayauth.FunctionKey(ctx, cred, opts, poolID, slot)
}

// directCall is the direct-call check of one slot's app, as the stack's outputs name it.
func directCall(outs map[string]any, slot stack.Slot, key string) gatewayauth.DirectCall {
	app, _ := outs[stack.OutAppName(slot)].(string)
	group, _ := outs[stack.OutResourceGroup].(string)
	host, _ := outs[stack.OutHostname(slot)].(string)
	return gatewayauth.DirectCall{App: app, ResourceGroup: group, Host: host, HealthPath: healthPathOf(outs), FunctionKey: key}
}

// healthPathOf is the stack's healthPath output, or its default for a stack from before it.
func healthPathOf(outs map[string]any) string {
	if p, _ := outs[stack.OutHealthPath].(string); p != "" {
		return p
	}
	return stack.DefaultHealthPath
}

// checkDirectCalls runs the direct-call check of each slot, with its key from API Management.
func checkDirectCalls(ctx context.Context, deps deployDeps, cred azcore.TokenCredential, outs map[string]any, slots []stack.Slot, out io.Writer) []error {
	poolID, _ := outs[stack.OutPoolID].(string)
	var errs []error
	for _, slot := range slots {
		key, err := deps.functionKey(ctx, cred, poolID, slot, deps.getenv)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: whether its app refuses direct calls could not be checked: %w", slot, err))
			continue
		}
		if err := deps.directCall(ctx, directCall(outs, slot, key), out); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", slot, err))
		}
	}
	return errs
}

// afterDeploy is what slotless deploy checks of the gateway-only path once the package is
// deployed: in require, that the slot's app refuses a direct call; in observe, it says how to
// check whether require is safe.
func afterDeploy(ctx context.Context, deps deployDeps, cred azcore.TokenCredential, outs map[string]any, stackName string, slot stack.Slot, out io.Writer) error {
	d, err := gatewayauth.FromOutputs(outs)
	if err != nil {
		fmt.Fprintf(out, "warning: %v; whether the apps refuse direct calls is not checked\n", err)
		return nil
	}
	switch d.Phase {
	case stack.AuthRequire:
		if errs := checkDirectCalls(ctx, deps, cred, outs, []stack.Slot{slot}, out); len(errs) > 0 {
			return fmt.Errorf("%s is deployed, but %w", slot, errors.Join(errs...))
		}
	case stack.AuthObserve:
		fmt.Fprintf(out, "gatewayAuthPhase observe: the apps still answer callers that go around API Management; `slotless gateway-auth --stack %s` says when require is safe\n", stackName)
	}
	return nil
}

// gatewayAuthOptions are the flags of gateway-auth.
type gatewayAuthOptions struct {
	stack, dir, apiURL string
}

func newGatewayAuthCmd(d deps) *cobra.Command {
	var o gatewayAuthOptions
	cmd := &cobra.Command{
		Use:   "gateway-auth",
		Short: "Check that only the gateway reaches the apps, and say when requiring its token is safe",
		Long: `Gateway-auth checks the gateway-only path of a stack with gatewayAudience, as its last
update left it (the outputs gatewayAuthPhase, gatewayAudience, gatewayPrincipalId).

Each slot gets its health operation through API Management, pinned to it and marked
slotless-probe=1, and must name the gateway identity's principal as clientPrincipalId: the
X-MS-CLIENT-PRINCIPAL-ID header that App Service gives the app's code only for a token it
validated. So a slot that names it has been sent a token Entra issued and its app accepted. In
observe, both slots naming it means pulumi config set gatewayAuthPhase require && pulumi up
refuses none of the requests API Management forwards. In require, each app's own host must
also answer 401 to a request with its function key (read from API Management) and no token.

It needs the pinning token in SLOTLESS_PIN_TOKEN, and SLOTLESS_SUBSCRIPTION_KEY when the API
requires a subscription. It exits 0 when every check passes and 1 otherwise, each failed check
saying what the slot saw and where to look.`,
		Example: `  SLOTLESS_PIN_TOKEN=... slotless gateway-auth --stack dev`,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), d, cmd.OutOrStdout())
		},
	}
	stackFlags(cmd, &o.stack, &o.dir, "stack to check")
	cmd.Flags().StringVar(&o.apiURL, "api-url", "", "the API's URL; default $"+envAPIURL+", else the stack output apiUrl")
	return cmd
}

func (o gatewayAuthOptions) run(ctx context.Context, d deps, out io.Writer) error {
	token := d.getenv(envPinToken)
	if token == "" {
		return usagef("gateway-auth: needs the pinning token (stack config pinToken) in %s: each slot is asked through API Management, pinned to it", envPinToken)
	}
	outs, err := d.stackOutputs(ctx, o.dir, o.stack)
	if err != nil {
		return err
	}
	dep, err := gatewayauth.FromOutputs(outs)
	if err != nil {
		return err
	}
	if dep.Phase == stack.AuthOff {
		return fmt.Errorf("gateway-auth: stack %s has no gatewayAudience: the apps answer at their own hosts to their function keys; set it to let only API Management reach them (docs/security.md#only-the-gateway-reaches-the-apps)", o.stack)
	}
	fmt.Fprintf(out, "stack %s: gatewayAuthPhase %s, audience %s, gateway principal %s\n", o.stack, dep.Phase, dep.Audience, dep.Principal)
	apiURL := firstNonEmpty(o.apiURL, d.getenv(envAPIURL))
	if apiURL == "" {
		apiURL, _ = outs[stack.OutAPIURL].(string)
	}
	if !absoluteHTTP(apiURL) {
		return fmt.Errorf("gateway-auth: no API URL: pass --api-url or set %s, or deploy the stack so it has an apiUrl output", envAPIURL)
	}
	headers := map[string]string{}
	if key := d.getenv(envSubscriptionKey); key != "" {
		headers[headerSubscriptionKey] = key
	}
	probe := gatewayauth.Probe{HealthURL: strings.TrimSuffix(apiURL, "/") + healthPathOf(outs), Headers: headers, PinToken: token}
	var failed []error
	for _, slot := range stack.Slots {
		seen, err := probe.Ask(ctx, slot)
		if err == nil {
			err = seen.Judge(dep.Principal, dep.Audience)
		}
		if err != nil {
			failed = append(failed, err)
			continue
		}
		fmt.Fprintf(out, "%s: sees the gateway's principal on requests through API Management\n", slot)
	}
	if dep.Phase == stack.AuthRequire {
		cred, how, err := d.deploy.credential(d.getenv)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "signed in with %s to read the function keys from API Management\n", how)
		failed = append(failed, checkDirectCalls(ctx, d.deploy, cred, outs, stack.Slots, out)...)
	}
	switch {
	case len(failed) > 0 && dep.Phase == stack.AuthObserve:
		return fmt.Errorf("gateway-auth: require is not safe yet, keep gatewayAuthPhase observe:\n%w", errors.Join(failed...))
	case len(failed) > 0:
		return fmt.Errorf("gateway-auth:\n%w", errors.Join(failed...))
	case dep.Phase == stack.AuthObserve:
		fmt.Fprintf(out, "require is safe: both slots see the gateway's principal. Next: pulumi config set gatewayAuthPhase require --stack %s && pulumi up --stack %s\n", o.stack, o.stack)
	default:
		fmt.Fprintln(out, "only the gateway reaches the apps: both slots see its principal and both apps refuse direct calls")
	}
	return nil
}

// firstNonEmpty is the first of values that is not empty.
func firstNonEmpty(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}
