package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/appservice/armappservice/v5"
	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/apiurl"
	"github.com/slotless/slotless/internal/credential"
	"github.com/slotless/slotless/internal/deploy"
	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/gatewayauth"
	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/internal/pool"
	"github.com/slotless/slotless/internal/release"
	"github.com/slotless/slotless/stack"
)

// deployOptions are the flags of deploy.
type deployOptions struct {
	slot, pkg, version, stack, dir string
	apiURL                         string
	timeout, healthTimeout         time.Duration
}

// packageDeployer uploads a package to one app and waits for it.
type packageDeployer interface {
	Deploy(ctx context.Context, pkg deploy.Package, progress io.Writer) error
}

// deployDeps are what deploy reaches beyond its flags: the deployed stack, Azure and the gate.
// newRootCmd passes the real ones; tests pass their own.
type deployDeps struct {
	outputs func(ctx context.Context, dir, name string) (map[string]any, error)
	// config reads the stack file, for the slots it lists in sharedHostStorage.
	config     func(dir, name string) (*stack.Config, error)
	credential func(getenv func(string) string) (azcore.TokenCredential, string, error)
	// deployer finds the app's deployment host and returns what uploads to it.
	deployer func(ctx context.Context, cred azcore.TokenCredential, subscription, resourceGroup, app string, timeout time.Duration, getenv func(string) string) (packageDeployer, error)
	// livePool reads the pool's weights as API Management holds them.
	livePool func(ctx context.Context, dir, stackName string, outs map[string]any, getenv func(string) string) (stack.Weights, error)
	health   func(ctx context.Context, cfg gate.HealthConfig, progress io.Writer) (gate.HealthResult, error)
	// functionKey reads a slot's function key from API Management, and directCall checks that
	// an app refuses a request around the gateway: the gateway-only path's check.
	functionKey func(ctx context.Context, cred azcore.TokenCredential, poolID string, slot stack.Slot, getenv func(string) string) (string, error)
	directCall  func(ctx context.Context, d gatewayauth.DirectCall, progress io.Writer) error
	getenv      func(string) string
}

// realDeployDeps reach the deployed stack, Azure and the slot for real.
func realDeployDeps() deployDeps {
	return deployDeps{
		outputs: func(ctx context.Context, dir, name string) (map[string]any, error) {
			return stackOutputs(ctx, dir, name)
		},
		config:      parsedStackConfig,
		credential:  credential.Azure,
		deployer:    oneDeployer,
		livePool:    livePoolWeights,
		health:      gate.Health,
		functionKey: armFunctionKey,
		directCall: func(ctx context.Context, d gatewayauth.DirectCall, progress io.Writer) error {
			return d.Check(ctx, progress)
		},
		getenv: os.Getenv,
	}
}

// parsedStackConfig reads and validates Pulumi.<stack>.yaml in dir.
func parsedStackConfig(dir, stackName string) (*stack.Config, error) {
	raw, err := plan.LoadConfig(dir, stackName)
	if err != nil {
		return nil, err
	}
	cfg, err := stack.ParseAll(raw.Source())
	if err != nil {
		return nil, fmt.Errorf("invalid stack config:\n%w", err)
	}
	return cfg, nil
}

// livePoolWeights reads the stack's pool through ARM, as the release's guard does.
func livePoolWeights(ctx context.Context, dir, stackName string, outs map[string]any, getenv func(string) string) (stack.Weights, error) {
	raw, err := plan.LoadConfig(dir, stackName)
	if err != nil {
		return stack.Weights{}, err
	}
	cfg, err := stack.ParseAll(raw.Source())
	if err != nil {
		return stack.Weights{}, fmt.Errorf("invalid stack config:\n%w", err)
	}
	lp, err := newLivePool(raw, cfg, stackName, func(context.Context) (map[string]any, error) { return outs, nil }, getenv)
	if err != nil {
		return stack.Weights{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, livePoolTimeout)
	defer cancel()
	live, err := lp.Read(ctx)
	if err != nil {
		return stack.Weights{}, err
	}
	return live.Weights, nil
}

// oneDeployer reads the app's deployment host through ARM and returns a one-deploy uploader for
// it, signed in with the release's credential.
func oneDeployer(ctx context.Context, cred azcore.TokenCredential, subscription, resourceGroup, app string, timeout time.Duration, getenv func(string) string) (packageDeployer, error) {
	opts, err := pool.ARMClientOptions(pool.Options{Endpoint: getenv(envARMEndpoint), Audience: getenv(envARMAudience)})
	if err != nil {
		return nil, err
	}
	sites, err := armappservice.NewWebAppsClient(subscription, cred, opts)
	if err != nil {
		return nil, fmt.Errorf("app service client: %w", err)
	}
	scm, err := deploy.SCMHost(ctx, sites, resourceGroup, app)
	if err != nil {
		return nil, err
	}
	d := deploy.NewDeployer(cred, scm, &opts.ClientOptions)
	d.Timeout = timeout
	return d, nil
}

func newDeployCmd(deps deployDeps) *cobra.Command {
	var o deployOptions
	cmd := &cobra.Command{
		Use:   "deploy",
		Short: "Deploy a package to the idle slot, never to one that carries traffic",
		Long: `Deploy a function app package (a zip with host.json at its root, at most 1 GiB) to one
slot's app, then check the slot through API Management.

The slot must carry no traffic, in the deployed stack and in the live pool API Management
holds (read through ARM, as a release reads it): a slot with any weight in either is refused
with exit code 3, and no flag overrides it. So is a slot still listed in sharedHostStorage, in
the stack file or the deployed stack: its identity may write the whole shared account, the
other slot's package included, so it moves to its own host storage first. A hotfix goes to the idle slot and is released. The
package is checked before anything is uploaded (a zip, host.json at its root, and host.json's
extensions.http.routePrefix the stack's routePrefix, under which API Management sends every
request; the Functions host's default is api), then pushed with one deploy (POST /api/publish
on the app's deployment host, the deployment Flex Consumption supports), signed in with the
release's credential; the command waits for the deployment to complete, printing its status.
Then the pinned health gate checks the slot (--version, when given, must answer); it needs the
pinning token in SLOTLESS_PIN_TOKEN, and is skipped with a warning without it, unless --version
asks for it. The API's URL must be https (plain http only to a loopback address, for a local
test server): the gate's requests carry the pinning token.

With gatewayAudience required (the stack's gatewayAuthPhase output is require), the deployment
counts as done only once the slot's app refuses, with 401, a request to its own host that
carries its function key (read from API Management) and no token: an app that answers it is
open to anyone holding the key, and the command fails naming the app and the status.`,
		Example: `  slotless deploy --slot blue --package app.zip --version 1.1.0
  slotless deploy --slot green --package dist/app.zip --stack prod --timeout 15m`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), deps, cmd.OutOrStdout())
		},
	}
	slotFlag(cmd, &o.slot, "the slot to deploy to: green or blue; it must carry no traffic (required)")
	f := cmd.Flags()
	f.StringVar(&o.pkg, "package", "", "the zip to deploy, host.json at its root (required)")
	f.StringVar(&o.version, "version", "", "the version the package reports, which the health gate then expects")
	f.StringVar(&o.apiURL, "api-url", "", "the API's URL for the health gate; default $"+envAPIURL+", else the stack output apiUrl")
	stackFlags(cmd, &o.stack, &o.dir, "stack to deploy into")
	f.DurationVar(&o.timeout, "timeout", deploy.DefaultTimeout, "how long to wait for the deployment to complete")
	f.DurationVar(&o.healthTimeout, "health-timeout", gate.DefaultTimeout, "how long the health gate polls the slot after the deployment")
	return cmd
}

func (o deployOptions) run(ctx context.Context, deps deployDeps, out io.Writer) error {
	slot, err := parseSlotFlag(o.slot)
	if err != nil {
		return err
	}
	if o.pkg == "" {
		return usagef("--package: required, the zip to deploy")
	}
	if o.timeout <= 0 || o.healthTimeout <= 0 {
		return usagef("--timeout and --health-timeout: want positive durations")
	}
	// A URL given by hand is checked before anything is uploaded; the stack's, once read.
	if given, source := apiurl.Resolve(o.apiURL, deps.getenv(envAPIURL), ""); given != "" {
		if err := checkAPIURL(source, given); err != nil {
			return err
		}
	}
	pkg, err := deploy.CheckPackage(o.pkg)
	if err != nil {
		return usageError{err.Error()}
	}
	token := deps.getenv(envPinToken)
	if token == "" && o.version != "" {
		return usagef("--version %s: the health gate that checks it pins its requests to the slot and needs the pinning token (stack config pinToken) in %s", o.version, envPinToken)
	}

	outs, err := deps.outputs(ctx, o.dir, o.stack)
	if err != nil {
		return err
	}
	d, err := release.DeployedFromOutputs(outs)
	if err != nil {
		return err
	}
	if w := d.Weights.Of(slot); w > 0 {
		return fmt.Errorf("%w: %s carries %d%% of the traffic in stack %s; deploy to the idle slot (%s) and release it, or roll %s back to 0%% first", release.ErrBlocked, slot, w, o.stack, slot.Other(), slot)
	}
	stackCfg, err := deps.config(o.dir, o.stack)
	if err != nil {
		return err
	}
	deployedShared, _ := stack.SharedHostStorageOf(outs)
	if err := deploy.CheckHostStorage(slot, o.stack, stackCfg.SharedHostStorage, deployedShared); err != nil {
		return fmt.Errorf("%w: %w", release.ErrBlocked, err)
	}
	prefix, ok := outs[stack.OutRoutePrefix].(string)
	if !ok {
		// A stack deployed before routePrefix was an output sends every request under /api.
		prefix = stack.DefaultRoutePrefix
	}
	if err := pkg.CheckRoutePrefix(prefix, out); err != nil {
		return usageError{err.Error()}
	}
	app, _ := outs[stack.OutAppName(slot)].(string)
	group, _ := outs[stack.OutResourceGroup].(string)
	poolID, _ := outs[stack.OutPoolID].(string)
	target, err := pool.TargetFromPoolID(poolID)
	if app == "" || group == "" || err != nil {
		return fmt.Errorf("the stack has no %s, %s or %s output: deploy it with this program (pulumi up)", stack.OutAppName(slot), stack.OutResourceGroup, stack.OutPoolID)
	}
	cred, how, err := deps.credential(deps.getenv)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "signed in with %s\n", how)
	// The stack says what Pulumi last applied; users follow the pool API Management holds, which
	// a portal edit or a break-glass rollback may have moved since.
	live, err := deps.livePool(ctx, o.dir, o.stack, outs, deps.getenv)
	if err != nil {
		return fmt.Errorf("read the live pool through ARM, which a deploy checks besides the stack: %w", err)
	}
	if w := live.Of(slot); w > 0 {
		return fmt.Errorf("%w: %s carries %d%% of the traffic in the live pool (API Management), though stack %s says %d%%: traffic was moved outside Pulumi (the portal, a break-glass rollback); roll %s back to 0%% first", release.ErrBlocked, slot, w, o.stack, d.Weights.Of(slot), slot)
	}
	fmt.Fprintf(out, "%s carries no traffic (stack: %s; live pool: %s): deploying to %s\n", slot, d.Weights, live, app)
	up, err := deps.deployer(ctx, cred, target.Subscription, group, app, o.timeout, deps.getenv)
	if err != nil {
		return err
	}
	if err := up.Deploy(ctx, pkg, out); err != nil {
		return fmt.Errorf("deploy to %s: %w", app, err)
	}
	fmt.Fprintf(out, "deployed %s to %s\n", pkg.Path, app)

	if token == "" {
		fmt.Fprintf(out, "warning: no health gate: set %s (stack config pinToken) to check %s through API Management\n", envPinToken, slot)
		return afterDeploy(ctx, deps, cred, outs, o.stack, slot, out)
	}
	output, _ := outs[stack.OutAPIURL].(string)
	apiURL, source := apiurl.Resolve(o.apiURL, deps.getenv(envAPIURL), output)
	healthPath, _ := outs[stack.OutHealthPath].(string)
	if healthPath == "" {
		healthPath = stack.DefaultHealthPath
	}
	if apiURL == "" {
		return fmt.Errorf("no API URL for the health gate: pass --api-url or set %s, or deploy the stack so it has an apiUrl output", envAPIURL)
	}
	if err := checkAPIURL(source, apiURL); err != nil {
		return fmt.Errorf("%s is deployed, but its health gate cannot run: %w", slot, err)
	}
	headers := map[string]string{headerPinSlot: string(slot), headerPinToken: token}
	if key := deps.getenv(envSubscriptionKey); key != "" {
		headers[headerSubscriptionKey] = key
	}
	cfg := gate.HealthConfig{URL: gate.MarkProbe(strings.TrimSuffix(apiURL, "/") + healthPath), Headers: headers, Slot: string(slot), ExpectVersion: o.version, Timeout: o.healthTimeout}
	if _, err := deps.health(ctx, cfg, out); err != nil {
		return fmt.Errorf("%s is deployed but its health gate failed: %w", slot, err)
	}
	return afterDeploy(ctx, deps, cred, outs, o.stack, slot, out)
}
