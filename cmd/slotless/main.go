// Command slotless is the release tool of the slotless stack: the offline plan, the release
// gates, traffic shifts with guard rails, and where a release stands. Laptops and pipelines run
// the same commands. `slotless --help` lists them, the exit codes and the environment they read;
// docs/commands.md is generated from the same help texts.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/slotless/slotless/internal/buildinfo"
	"github.com/slotless/slotless/internal/plan"
	"github.com/slotless/slotless/internal/release"
	"github.com/slotless/slotless/internal/rollout"
)

func main() {
	// The Pulumi CLI starts this binary as pulumi-language-slotless for a project whose runtime
	// is slotless: then it is the language host, not the CLI.
	if languageHost(os.Args[0]) {
		os.Exit(serveLanguageHost(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes. Pipelines tell a refusal from a failure by them, so they are part of the contract.
const (
	exitOK             = 0
	exitFailure        = 1
	exitUsage          = 2
	exitBlocked        = 3
	exitAborted        = 4
	exitRollbackFailed = 5
	exitBreakGlass     = 6
)

// exitCodesHelp documents the exit codes in `slotless --help`; docs/commands.md carries the same text
// through the generated command reference.
const exitCodesHelp = `Exit codes:
  0  success
  1  failure: a gate said no, a stack could not be read or applied, invalid stack config,
     a release that could not observe its canary (traffic left where it stands)
  2  usage error: an unknown command or flag, a bad or missing flag value, an unknown stack
  3  refused by a guard rail: a traffic step above maxStep, an advance whose health gate
     failed or is not configured, a plan --against that breaks a guard rail, a release
     that may not start (the slot is not idle or does not serve --version), a deploy to a
     slot that carries traffic or is still listed in sharedHostStorage
  4  release aborted: an analysis failed and the release slot was rolled back to 0% (or
     it carried no traffic yet)
  5  release aborted and its rollback failed: traffic may still reach the failing slot;
     roll it back by hand
  6  rollback done through ARM directly (break-glass), because the Pulumi update could not
     go through (the stack locked, the backend unreachable): traffic is at 0%, and Pulumi
     state lags until the next pulumi up, which converges it without moving traffic`

const envHelp = `Environment (secrets come from the environment, never from flags, so they stay out of
process listings and pipeline logs):
  SLOTLESS_API_URL           the API's URL, stack output apiUrl (gate health, shift, promote,
                             release): https, or http to a loopback address only
  SLOTLESS_PIN_TOKEN         the slot-pinning token, stack config pinToken
  SLOTLESS_SUBSCRIPTION_KEY  an APIM subscription key, when the API requires one
  SLOTLESS_FUNCTION_KEY      a function key, sent only to a direct --url, never to the gateway
  SLOTLESS_HISTORY_URL       the stack's history container (stack output historyUrl), for when
                             the Pulumi backend is down`

// usageError is bad command-line input: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// run executes one command line against Pulumi and Azure and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	return runWith(realDeps(), args, stdout, stderr)
}

// runWith executes one command line with the given deps and returns the process exit code.
func runWith(d deps, args []string, stdout, stderr io.Writer) int {
	// Ctrl-C or a cancelled pipeline stops a gate or a shift at once, reported as an
	// interruption rather than as a failed gate.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(d)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "slotless:", err)
	code := exitCode(err)
	if code == exitUsage && cmd != nil {
		fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", cmd.CommandPath())
	}
	return code
}

// exitCode maps an error to the documented exit codes.
func exitCode(err error) int {
	var ue usageError
	var us *plan.UnknownStackError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue), errors.As(err, &us):
		return exitUsage
	case errors.Is(err, release.ErrBreakGlass):
		return exitBreakGlass
	case errors.Is(err, rollout.ErrRollbackFailed):
		return exitRollbackFailed
	case errors.Is(err, rollout.ErrAborted):
		return exitAborted
	case errors.Is(err, rollout.ErrInvalid):
		return exitUsage
	case errors.Is(err, release.ErrBlocked), errors.Is(err, errGuardRail), errors.Is(err, rollout.ErrRefused):
		return exitBlocked
	}
	return exitFailure
}

func newRootCmd(d deps) *cobra.Command {
	root := &cobra.Command{
		Use:   "slotless",
		Short: "Zero-downtime, progressive releases of Azure Functions on Flex Consumption",
		Long: `slotless releases Azure Functions on Flex Consumption without downtime: two function apps,
green and blue, behind an API Management weighted backend pool whose weights are stack
config. It plans a stack offline, runs the release gates, shifts traffic with guard rails,
walks a release to GA with gates all the way and an automatic rollback, and reports where a
release stands. Laptops and pipelines run the same commands.

` + exitCodesHelp + "\n\n" + envHelp,
		Example: `  slotless plan --stack dev
  slotless status --stack dev
  slotless gate health --slot blue --expect-version 1.1.0
  slotless shift --slot blue --to 10
  slotless release --slot blue --version 1.1.0 --until 10`,
		Version:       buildinfo.Version(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.ArbitraryArgs,
		RunE:          needSubcommand,
	}
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetVersionTemplate("slotless {{.Version}}\n")
	// A command that groups others runs only to report a missing subcommand, so its usage
	// shows "slotless gate [command]" and not also "slotless gate [flags]".
	root.SetUsageTemplate(strings.Replace(root.UsageTemplate(), "{{if .Runnable}}", "{{if and .Runnable (not .HasAvailableSubCommands)}}", 1))
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{prefix(c) + err.Error()}
	})
	root.SetHelpCommand(&cobra.Command{
		Use:     "help [command]",
		Short:   "Help about any command",
		Example: "  slotless help gate health",
		Args:    cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			// cobra's own help command answers an unknown topic with exit code 0.
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usagef("help: unknown command %q", strings.Join(args, " "))
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		},
	})
	root.AddCommand(newPlanCmd(), newStatusCmd(d), newGateCmd(d), newDeployCmd(d.deploy),
		newShiftCmd(d), newPromoteCmd(d), newRollbackCmd(d), newReleaseRunCmd(d), newWatchCmd(d), newRecordCmd(d), newReportCmd(d), newHistoryCmd(d), newInitCmd(d), newVersionCmd(), newCompletionCmd(),
		newGatewayAuthCmd(d))
	root.AddCommand(newWatcherCmd(d))
	return root
}

// needSubcommand is the RunE of a command that only groups others: without a known
// subcommand it is a usage error, not a help page with exit code 0.
func needSubcommand(cmd *cobra.Command, args []string) error {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	want := strings.Join(names, ", ")
	if len(args) == 0 {
		return usagef("%swant a command: %s", prefix(cmd), want)
	}
	msg := fmt.Sprintf("%sunknown command %q, want one of %s", prefix(cmd), args[0], want)
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", s[0])
	}
	return usageError{msg}
}

// noArgs rejects positional arguments on a command that takes none.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%sunexpected argument %q", prefix(cmd), args[0])
	}
	return nil
}

// prefix names a subcommand at the start of its messages ("gate health: "), which follow
// the program's own "slotless: ".
func prefix(cmd *cobra.Command) string {
	p := strings.TrimSpace(strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()))
	if p == "" {
		return ""
	}
	return p + ": "
}
