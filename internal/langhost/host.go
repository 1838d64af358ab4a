// Package langhost is the Pulumi language host of a team's project: the Pulumi CLI starts the
// slotless binary as pulumi-language-slotless for a Pulumi.yaml that says runtime: slotless, and
// this host runs the stack's program in-process. A machine with slotless and pulumi, and no Go
// toolchain, can then run `pulumi preview` and `pulumi up` as written.
//
// It speaks the language host protocol (proto/pulumi/language.proto in pulumi/pulumi) the way
// the Automation API's inline host does (sdk/go/auto/stack.go, languageRuntimeServer): Run
// builds a pulumi.Context from the request and runs the program with pulumi.RunWithContext.
// Where a language host would install or inspect packages, there is nothing to do: the program
// and its bindings are linked into the binary, so the only package it needs is the provider.
package langhost

import (
	"context"
	"fmt"
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/slotless/slotless/internal/pin"
	"github.com/slotless/slotless/internal/project"
	"github.com/slotless/slotless/stack"
)

// ProgramFunc is the program run for the project rooted at root (the folder of its
// Pulumi.yaml, which apiSpec is relative to), by slotless version.
type ProgramFunc func(root, version string) pulumi.RunFunc

// Host answers the engine for one project.
type Host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	version    string
	program    ProgramFunc
	engineAddr string
}

// New is a host for the slotless of the given version that runs program.
func New(version, engineAddr string, program ProgramFunc) *Host {
	return &Host{version: version, program: program, engineAddr: engineAddr}
}

// Handshake takes the engine's address and the project's folders, as the CLI sends them to a
// host before anything else (hosts that do not implement it get the address as an argument).
func (h *Host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest) (*pulumirpc.LanguageHandshakeResponse, error) {
	if a := req.GetEngineAddress(); a != "" {
		h.engineAddr = a
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

// GetPluginInfo reports the host's version: slotless's own, without its leading v.
func (h *Host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: pluginVersion(h.version)}, nil
}

// GetRequiredPackages names the one package the program needs: the azure-native provider at
// the version its bindings were generated for, which the CLI installs before the run.
func (h *Host) GetRequiredPackages(context.Context, *pulumirpc.GetRequiredPackagesRequest) (*pulumirpc.GetRequiredPackagesResponse, error) {
	name, version := provider()
	return &pulumirpc.GetRequiredPackagesResponse{Packages: []*pulumirpc.PackageDependency{{Kind: "resource", Name: name, Version: version}}}, nil
}

// GetRequiredPlugins is GetRequiredPackages for engines from before packages.
func (h *Host) GetRequiredPlugins(context.Context, *pulumirpc.GetRequiredPluginsRequest) (*pulumirpc.GetRequiredPluginsResponse, error) {
	name, version := provider()
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: []*pulumirpc.PluginDependency{{Kind: "resource", Name: name, Version: version}}}, nil
}

// provider is the azure-native provider the linked bindings call, and its version.
func provider() (name, version string) { return "azure-native", stack.AzureNativeVersion }

// InstallDependencies has nothing to install: `pulumi install` and `pulumi new` call it, and say
// so to the user.
func (h *Host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest, stream pulumirpc.LanguageRuntime_InstallDependenciesServer) error {
	msg := fmt.Sprintf("slotless %s runs the program itself: there are no dependencies to install\n", h.version)
	return stream.Send(&pulumirpc.InstallDependenciesResponse{Stdout: []byte(msg)})
}

// About describes the runtime for `pulumi about`.
func (h *Host) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = "pulumi-language-slotless"
	}
	return &pulumirpc.AboutResponse{Executable: exe, Version: h.version, Metadata: map[string]string{"program": "linked into slotless"}}, nil
}

// GetProgramDependencies lists what the program is built from, for `pulumi about`.
func (h *Host) GetProgramDependencies(context.Context, *pulumirpc.GetProgramDependenciesRequest) (*pulumirpc.GetProgramDependenciesResponse, error) {
	name, version := provider()
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: []*pulumirpc.DependencyInfo{
		{Name: "slotless", Version: h.version},
		{Name: "pulumi-" + name + " (bindings)", Version: version},
	}}, nil
}

// RuntimeOptionsPrompts asks nothing: the one option, the version, `slotless init` writes.
func (h *Host) RuntimeOptionsPrompts(context.Context, *pulumirpc.RuntimeOptionsRequest) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

// Run runs the program for one preview or update. A slotless other than the version the
// project pins refuses (package pin) before the program starts, so nothing is registered.
func (h *Host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	pinned := ""
	if v, ok := info.GetOptions().GetFields()[project.VersionOption]; ok {
		pinned = v.GetStringValue()
	}
	warnings, err := pin.Check(h.version, pinned, "")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error(), Bail: false}, nil
	}
	root := info.GetRootDirectory()
	if root == "" {
		root = req.GetPwd()
	}
	runInfo := pulumi.RunInfo{
		EngineAddr:       h.engineAddr,
		MonitorAddr:      req.GetMonitorAddress(),
		Config:           req.GetConfig(),
		ConfigSecretKeys: req.GetConfigSecretKeys(),
		Project:          req.GetProject(),
		Stack:            req.GetStack(),
		Parallel:         req.GetParallel(),
		DryRun:           req.GetDryRun(),
		Organization:     req.GetOrganization(),
		RootDirectory:    root,
	}
	pctx, err := pulumi.NewContext(ctx, runInfo)
	if err != nil {
		return nil, err
	}
	defer pctx.Close()
	for _, w := range warnings {
		_ = pctx.Log.Warn(w, nil)
	}
	program := h.program(root, h.version)
	err = func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("slotless %s: the program panicked: %v", h.version, r)
			}
		}()
		return pulumi.RunWithContext(pctx, program)
	}()
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// pluginVersion is a plugin version as Pulumi writes them: semver without the leading v. A
// development build has none Pulumi could parse, so it reports 0.0.0.
func pluginVersion(v string) string {
	if !pin.Release(v) {
		return "0.0.0"
	}
	return v[1:]
}
