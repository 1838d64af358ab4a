// Package engine runs the slotless program through the real Pulumi engine, in-process. The
// Automation API's inline source hosts stack.Program inside this binary and the pulumi CLI drives
// the engine and the providers, so a shift, a promote or a rollback needs the slotless binary and
// the pulumi CLI: no Go toolchain, no Go language plugin and no compile of the program.
package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/slotless/slotless/internal/buildinfo"
	"github.com/slotless/slotless/internal/project"
	"github.com/slotless/slotless/stack"
)

// Options say which stack of which project directory to run, and how.
type Options struct {
	// Dir is the project directory, holding Pulumi.yaml and Pulumi.<stack>.yaml.
	Dir string
	// Stack is the stack name, e.g. dev.
	Stack string
	// Env is added to the environment of the pulumi CLI and the plugins it starts.
	Env map[string]string
	// PulumiRoot is a directory whose bin/pulumi is the CLI to use; empty means pulumi on PATH.
	PulumiRoot string
	// Program is the program to host; nil means stack.Program.
	Program pulumi.RunFunc
}

// Stack is one stack of the project, run in-process.
type Stack struct {
	auto.Stack
	opts Options
	// project is the project's name, from its Pulumi.yaml.
	project string
}

// Open selects an existing stack. Like `pulumi up`, it needs the pulumi CLI and a backend the
// user is logged in to (or PULUMI_BACKEND_URL).
func Open(ctx context.Context, o Options) (*Stack, error) {
	if o.Program == nil {
		dir := o.Dir
		o.Program = func(ctx *pulumi.Context) error {
			return stack.ProgramIn(dir, stack.Mover{By: stack.ByPulumiUp, At: time.Now(), Version: buildinfo.Version(), AllowLiveChange: stack.AllowLiveChangeFrom(os.Getenv)})(ctx)
		}
	}
	file, err := project.Load(o.Dir)
	if err != nil {
		return nil, err
	}
	wsOpts := []auto.LocalWorkspaceOption{auto.WorkDir(o.Dir), auto.EnvVars(o.Env)}
	cmd, err := pulumiCommand(o.PulumiRoot)
	if err != nil {
		return nil, err
	}
	wsOpts = append(wsOpts, auto.Pulumi(cmd), auto.Program(o.Program))
	// What auto.SelectStackInlineSource does for a directory with a Pulumi.yaml, with the
	// workspace's reads of outputs made cheap (maskedOutputs).
	ws, err := auto.NewLocalWorkspace(ctx, wsOpts...)
	if err != nil {
		return nil, fmt.Errorf("select stack %s in %s: %w", o.Stack, o.Dir, err)
	}
	s, err := auto.SelectStack(ctx, o.Stack, maskedOutputs{ws})
	if err != nil {
		return nil, fmt.Errorf("select stack %s in %s: %w", o.Stack, o.Dir, err)
	}
	return &Stack{Stack: s, opts: o, project: file.Name}, nil
}

// maskedOutputs is the Automation API's local workspace, reading a stack's outputs with one
// `pulumi stack output --json`, which shows each secret as "[secret]" and so never decrypts.
// The local workspace runs it a second time with --show-secrets to learn the secrets' values,
// and that run derives the passphrase's key, a deliberately slow function and most of the CPU
// of a read; the Automation API reads the outputs after every update too. Nothing here uses a
// secret output's value: a secret output reads as "[secret]", marked Secret.
type maskedOutputs struct{ auto.Workspace }

// noReadBack marks the context of an update whose result (auto.UpResult, auto.RefreshResult)
// nobody reads: the Automation API reads the stack's outputs and the newest history entry after
// every update only to fill that result in, two more pulumi processes each time. Under this
// mark the workspace answers both reads as empty instead.
type noReadBack struct{}

// withoutReadBack marks ctx with noReadBack.
func withoutReadBack(ctx context.Context) context.Context {
	return context.WithValue(ctx, noReadBack{}, true)
}

func skipsReadBack(ctx context.Context) bool { return ctx.Value(noReadBack{}) != nil }

// PulumiCommand implements auto.Workspace: the CLI, but for the history read after an update
// marked noReadBack, which the Automation API runs through it.
func (w maskedOutputs) PulumiCommand() auto.PulumiCommand {
	return readBackCommand{w.Workspace.PulumiCommand()}
}

// readBackCommand is the pulumi CLI, answering `stack history` under noReadBack with no
// history.
type readBackCommand struct{ auto.PulumiCommand }

// Run implements auto.PulumiCommand.
func (c readBackCommand) Run(ctx context.Context, workdir string, stdin io.Reader, out, errOut []io.Writer, env []string, args ...string) (string, string, int, error) {
	if skipsReadBack(ctx) && len(args) >= 2 && args[0] == "stack" && args[1] == "history" {
		return "[]", "", 0, nil
	}
	return c.PulumiCommand.Run(ctx, workdir, stdin, out, errOut, env, args...)
}

// StackOutputs implements auto.Workspace. An output is secret when its value holds the
// sentinel, the test the local workspace applies. Under noReadBack there are none.
func (w maskedOutputs) StackOutputs(ctx context.Context, stackName string) (auto.OutputMap, error) {
	if skipsReadBack(ctx) {
		return auto.OutputMap{}, nil
	}
	var env []string
	if home := w.PulumiHome(); home != "" {
		env = append(env, "PULUMI_HOME="+home)
	}
	for k, v := range w.GetEnvVars() {
		env = append(env, k+"="+v)
	}
	stdout, stderr, code, err := w.PulumiCommand().Run(ctx, w.WorkDir(), nil, nil, nil, env, "stack", "output", "--json", "--stack", stackName)
	if err != nil {
		return nil, fmt.Errorf("could not get outputs: pulumi stack output exited %d: %w: %s", code, err, strings.TrimSpace(stderr))
	}
	var outs map[string]json.RawMessage
	if err := json.Unmarshal([]byte(stdout), &outs); err != nil {
		return nil, fmt.Errorf("stack outputs: %w", err)
	}
	m := auto.OutputMap{}
	for k, raw := range outs {
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("stack output %s: %w", k, err)
		}
		m[k] = auto.OutputValue{Value: v, Secret: strings.Contains(string(raw), secretSentinel)}
	}
	return m, nil
}

// secretSentinel is how `pulumi stack output` shows a secret without --show-secrets.
const secretSentinel = "[secret]"

// commands holds the CLI found for each root: finding it runs `pulumi version`, a process
// worth starting once per slotless run rather than once per stack opened.
var commands sync.Map

func pulumiCommand(root string) (auto.PulumiCommand, error) {
	if c, ok := commands.Load(root); ok {
		return c.(auto.PulumiCommand), nil
	}
	if root == "" {
		if _, err := exec.LookPath("pulumi"); err != nil {
			return nil, fmt.Errorf("the pulumi CLI is not on PATH: install it (https://www.pulumi.com/docs/install/) or run make engine")
		}
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root})
	if err != nil {
		return nil, fmt.Errorf("pulumi CLI: %w", err)
	}
	commands.Store(root, cmd)
	return cmd, nil
}

// Step is one resource operation the engine planned or carried out.
type Step struct {
	Op   string `json:"op"`
	URN  string `json:"urn"`
	Type string `json:"type"`
	// Name is the resource's logical name.
	Name string `json:"name"`
	// Diffs are the top-level properties that differ.
	Diffs []string `json:"diffs,omitempty"`
	// OldInputs and NewInputs are the resource's inputs before and after the step, as the
	// engine reports them (secrets filtered out), so a caller can tell what within a property
	// changes; nil when the engine reports no state on that side.
	OldInputs map[string]any `json:"-"`
	NewInputs map[string]any `json:"-"`
}

// Changes is what an update or a preview did: every step other than "same", and counts by
// operation.
type Changes struct {
	Steps  []Step         `json:"steps"`
	Counts map[string]int `json:"counts"`
}

// Changed lists the steps that change something, in URN order.
func (c Changes) Changed() []Step {
	var out []Step
	for _, s := range c.Steps {
		if s.Op != string(apitype.OpSame) && s.Op != string(apitype.OpRead) && s.Type != "pulumi:pulumi:Stack" {
			out = append(out, s)
		}
	}
	return out
}

// String summarises the counts the way the CLI does: "1 updated, 24 unchanged".
func (c Changes) String() string {
	words := map[string]string{"create": "created", "update": "updated", "delete": "deleted", "replace": "replaced", "same": "unchanged"}
	var parts []string
	for _, op := range []string{"create", "update", "replace", "delete", "same"} {
		if n := c.Counts[op]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, words[op]))
		}
	}
	if len(parts) == 0 {
		return "no changes"
	}
	return strings.Join(parts, ", ")
}

// collector gathers step events from the engine's event stream.
type collector struct {
	ch    chan events.EngineEvent
	done  chan struct{}
	mu    sync.Mutex
	steps map[string]Step
}

func newCollector() *collector {
	c := &collector{ch: make(chan events.EngineEvent), done: make(chan struct{}), steps: map[string]Step{}}
	go func() {
		defer close(c.done)
		for e := range c.ch {
			if e.ResourcePreEvent == nil {
				continue
			}
			m := e.ResourcePreEvent.Metadata
			if m.Op == apitype.OpRefresh {
				continue
			}
			c.mu.Lock()
			st := Step{Op: string(m.Op), URN: m.URN, Type: m.Type, Name: urnName(m.URN), Diffs: m.Diffs}
			if m.Old != nil {
				st.OldInputs = m.Old.Inputs
			}
			if m.New != nil {
				st.NewInputs = m.New.Inputs
			}
			c.steps[m.URN] = st
			c.mu.Unlock()
		}
	}()
	return c
}

// changes returns what the events said. After a failed operation the Automation API may never
// close the event stream (the CLI can fail before it writes the event log), so then it waits
// only briefly.
func (c *collector) changes(failed bool) Changes {
	if failed {
		select {
		case <-c.done:
		case <-time.After(5 * time.Second):
		}
	} else {
		<-c.done
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := Changes{Counts: map[string]int{}}
	for _, s := range c.steps {
		if s.Type == "pulumi:pulumi:Stack" {
			continue
		}
		out.Steps = append(out.Steps, s)
		op := s.Op
		if strings.HasPrefix(op, "create-replacement") || strings.HasPrefix(op, "delete-replaced") || op == "replace" {
			op = "replace"
		}
		out.Counts[op]++
	}
	sort.Slice(out.Steps, func(i, j int) bool { return out.Steps[i].URN < out.Steps[j].URN })
	return out
}

func urnName(urn string) string { return urn[strings.LastIndex(urn, "::")+2:] }

// Preview runs `pulumi preview` through the engine and returns the steps it plans.
func (s *Stack) Preview(ctx context.Context, out io.Writer, opts ...optpreview.Option) (Changes, error) {
	c := newCollector()
	opts = append(opts, optpreview.EventStreams(c.ch))
	if out != nil {
		opts = append(opts, optpreview.ProgressStreams(out))
	}
	_, err := s.Stack.Preview(ctx, opts...)
	return c.changes(err != nil), err
}

// Message is the one line of an Automation API error worth showing: the CLI's own "error: ..."
// line when there is one (a locked stack, a backend that cannot be reached), else the first
// line.
func Message(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for _, l := range lines {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "stderr:"))
		if strings.HasPrefix(l, "error:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "error:"))
		}
	}
	return strings.TrimSpace(lines[0])
}

// IsConcurrentUpdate reports whether an update failed because another update holds the stack
// (`[409] Another update is currently in progress`).
func IsConcurrentUpdate(err error) bool { return auto.IsConcurrentUpdateError(err) }

// Project is the project's name, the namespace of its config keys.
func (s *Stack) Project() string { return s.project }

// URN is the URN of a top-level resource of this stack.
func (s *Stack) URN(typ, name string) string {
	st := s.Name()
	st = st[strings.LastIndex(st, "/")+1:]
	return "urn:pulumi:" + st + "::" + s.project + "::" + typ + "::" + name
}

// UpTargets runs Up on the given URNs alone, or on everything when targets is empty.
func (s *Stack) UpTargets(ctx context.Context, out io.Writer, targets []string) (Changes, error) {
	if len(targets) == 0 {
		return s.Up(ctx, out)
	}
	return s.Up(ctx, out, optup.Target(targets))
}

// Up runs `pulumi up` through the engine (the Automation API skips the CLI's own preview) and
// returns the steps it carried out.
func (s *Stack) Up(ctx context.Context, out io.Writer, opts ...optup.Option) (Changes, error) {
	c := newCollector()
	// What an update did comes from its events; its result, which the Automation API reads back
	// from the stack's outputs and history afterwards, is not used (noReadBack). Were the
	// history read, it would be without secrets, since showing them derives the passphrase's
	// key.
	opts = append(opts, optup.EventStreams(c.ch), optup.ShowSecrets(false))
	if out != nil {
		opts = append(opts, optup.ProgressStreams(out))
	}
	_, err := s.Stack.Up(withoutReadBack(ctx), opts...)
	return c.changes(err != nil), err
}

// RefreshTargets runs `pulumi refresh` on the given URNs: their state is read back from the
// provider, inputs included, so an edit made outside Pulumi shows in the next diff.
func (s *Stack) RefreshTargets(ctx context.Context, out io.Writer, targets []string) error {
	opts := []optrefresh.Option{optrefresh.Target(targets), optrefresh.ShowSecrets(false)}
	if out != nil {
		opts = append(opts, optrefresh.ProgressStreams(out))
	}
	_, err := s.Stack.Refresh(withoutReadBack(ctx), opts...)
	return err
}

// PlainOutputs returns the stack's outputs as plain values; secret outputs are left out. It
// reads them without decrypting anything (maskedOutputs).
func (s *Stack) PlainOutputs(ctx context.Context) (map[string]any, error) {
	outs, err := s.Stack.Outputs(ctx)
	if err != nil {
		return nil, fmt.Errorf("stack outputs: %w", err)
	}
	m := map[string]any{}
	for k, v := range outs {
		if !v.Secret {
			m[k] = v.Value
		}
	}
	return m, nil
}
