package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/slotless/slotless/internal/scaffold"
)

// initOptions are the flags of slotless init. Which inputs were given is read from the flags
// themselves (pflag's Changed), since an input left out is asked for on a terminal.
type initOptions struct {
	dir                                       string
	project, stack, runtime, runtimeVersion   string
	apiPath, apiSpec, buildCommand, pkg, ci   string
	location, publisherEmail, slotlessVersion string
}

const initLong = `Init scaffolds a team repository in the project folder (--dir, default the current one):

  Pulumi.yaml             the project: its name, and the slotless runtime at the pinned version
  Pulumi.<stack>.yaml     the stack's config in the project's namespace, checked with the
                          same parser and program as slotless plan before anything is written
  the CI callers          --ci github: .github/workflows/slotless-<stack>.yml (release, watch)
                          and slotless-plan.yml; --ci azure-devops: azure-pipelines/
                          slotless-<stack>-{release,watch,infra}.yml; all pinned to the version
  the health function     for the runtime, to drop into the app: src/functions/health.js,
                          health_blueprint.py, Health.cs, src/main/java/slotless/Health.java
                          or health/ (PowerShell); it answers the health contract, with the
                          version the build writes into the package's VERSION file

On a terminal it asks for each input not given as a flag, showing the default; otherwise it
takes the defaults, and an input without one (--runtime, --publisher-email) is a usage error.
The CI callers go to the root of the git repository that holds the folder, when there is one.

It never overwrites a file: when one is in the way with other content, it names them all,
writes nothing and exits 2. A file already there with the same content is kept, so init with
another --stack in the same repository adds that stack's files.`

func newInitCmd(d deps) *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Scaffold a team repository: Pulumi.yaml, a stack file, the CI callers and the health function",
		Long:  initLong,
		Example: `  slotless init
  slotless init --runtime dotnet-isolated --publisher-email ops@example.com --api-spec openapi.yaml
  slotless init --stack prod --runtime node --publisher-email ops@example.com --ci azure-devops`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			given := scaffold.Answers{}
			cmd.Flags().Visit(func(f *pflag.Flag) {
				if f.Name != "dir" {
					given[f.Name] = f.Value.String()
				}
			})
			return o.run(d, given, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", ".", "the project folder to write Pulumi.yaml into (created when missing)")
	f.StringVar(&o.project, scaffold.FlagProject, "", "the Pulumi project name, which namespaces the stack's config (default: the folder's name, or the name in an existing Pulumi.yaml)")
	f.StringVar(&o.stack, scaffold.FlagStack, scaffold.DefaultStack, "the stack whose Pulumi.<stack>.yaml and CI callers to write")
	f.StringVar(&o.runtime, scaffold.FlagRuntime, "", "the app's Functions runtime: "+strings.Join(scaffold.Runtimes, ", "))
	f.StringVar(&o.runtimeVersion, scaffold.FlagRuntimeVersion, "", "the runtime's version on Flex Consumption (default: the runtime's Flex default)")
	f.StringVar(&o.apiPath, scaffold.FlagAPIPath, "", "the API's path under the gateway (default: the project name)")
	f.StringVar(&o.apiSpec, scaffold.FlagAPISpec, "", "the app's OpenAPI document, relative to the project folder (default: none, every route passes through)")
	f.StringVar(&o.buildCommand, scaffold.FlagBuildCommand, "", "the shell command, run in the project folder with VERSION set, that builds the package (default: the runtime's, which writes VERSION into it)")
	f.StringVar(&o.pkg, scaffold.FlagPackage, "", "the zip the build command writes, relative to the project folder (default: "+scaffold.DefaultPackage+")")
	f.StringVar(&o.ci, scaffold.FlagCI, scaffold.DefaultCI, "the CI callers to write: "+strings.Join(scaffold.CIs, ", "))
	f.StringVar(&o.location, scaffold.FlagLocation, scaffold.DefaultLocation, "the Azure region, azure-native:location")
	f.StringVar(&o.publisherEmail, scaffold.FlagPublisherEmail, "", "the publisher e-mail of the API Management service the stack creates")
	f.StringVar(&o.slotlessVersion, scaffold.FlagSlotlessVersion, "", "the slotless release to pin, v<major>.<minor>.<patch> (default: this binary's version, or the one an existing Pulumi.yaml pins; a development build must be given one)")
	_ = cmd.RegisterFlagCompletionFunc(scaffold.FlagRuntime, cobra.FixedCompletions(scaffold.Runtimes, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc(scaffold.FlagCI, cobra.FixedCompletions(scaffold.CIs, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

func (o initOptions) run(d deps, given scaffold.Answers, stdout, stderr io.Writer) error {
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return usagef("init: --dir: %v", err)
	}
	var ask *scaffold.Prompter
	if d.stdinTerminal != nil && d.stdinTerminal() {
		ask = scaffold.NewPrompter(d.stdin, stderr)
	}
	opts, err := scaffold.Resolve(scaffold.Env{Dir: dir, BinaryVersion: d.version}, given, ask)
	if err != nil {
		return initError(err)
	}
	res, err := scaffold.Init(opts)
	if err != nil {
		return initError(err)
	}
	res.Print(stdout)
	return nil
}

// initError makes a bad input and a file in the way usage errors (exit 2).
func initError(err error) error {
	var ie *scaffold.InputError
	var ce *scaffold.ConflictError
	if errors.As(err, &ie) || errors.As(err, &ce) {
		return usagef("init: %v", err)
	}
	return fmt.Errorf("init: %w", err)
}
