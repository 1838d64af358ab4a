package main

import (
	"context"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/slotless/slotless/internal/buildinfo"
	"github.com/slotless/slotless/internal/credential"
	"github.com/slotless/slotless/internal/gate"
	"github.com/slotless/slotless/internal/release"
)

// deps are what the commands reach beyond their flags: Pulumi, Log Analytics, the gates and
// Azure. run passes realDeps to newRootCmd; a test passes its own to runWith.
type deps struct {
	// openStack opens the deployed stack for shift, promote, rollback and record.
	openStack func(ctx context.Context, dir, name, by string) (release.Stack, error)
	// openReleaseStack opens it for release and watch.
	openReleaseStack func(ctx context.Context, dir, name string) (releaseStack, error)
	// stackOutputs reads a deployed stack's outputs (status, deploy).
	stackOutputs func(ctx context.Context, dir, name string) (map[string]any, error)
	// logsQuerier builds the metrics gate's Log Analytics client; endpoint overrides the query
	// API's URL (empty: Azure's public cloud). It names the credential it signs in with.
	logsQuerier func(endpoint string, getenv func(string) string) (gate.LogsQuerier, string, error)
	// healthGate and metricsGate run the gates of slotless gate.
	healthGate  func(ctx context.Context, cfg gate.HealthConfig, progress io.Writer) (gate.HealthResult, error)
	metricsGate func(ctx context.Context, q gate.LogsQuerier, cfg gate.MetricsConfig, progress io.Writer) (gate.MetricsResult, error)
	// deploy is what slotless deploy reaches.
	deploy deployDeps
	getenv func(string) string
	// version is this slotless's version (buildinfo.Version), which moves check against the
	// project's pin and the stack's record.
	version string
	// stdin is where slotless init reads its answers, and stdinTerminal says whether it is a
	// terminal: only then does init ask for the inputs not given as flags.
	stdin         io.Reader
	stdinTerminal func() bool
}

// realDeps reach Pulumi, Azure and the slots for real.
func realDeps() deps {
	return deps{
		openStack:        openStack,
		openReleaseStack: openReleaseStack,
		stackOutputs:     stackOutputs,
		logsQuerier:      credential.Logs,
		healthGate:       gate.Health,
		metricsGate:      gate.Metrics,
		deploy:           realDeployDeps(),
		getenv:           os.Getenv,
		version:          buildinfo.Version(),
		stdin:            os.Stdin,
		stdinTerminal:    func() bool { return term.IsTerminal(int(os.Stdin.Fd())) },
	}
}
